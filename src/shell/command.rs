//! Backslash commands: an enum parsed from the text after `\`, with a table
//! of names and descriptions that also renders `\?`.

use std::path::PathBuf;
use std::str::FromStr;

use super::plot::PlotKind;
use crate::shell::OutputFormat;

/// A shell command.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Command {
    /// `\d`: list tables.
    ListTables,
    /// `\d NAME`: describe a table.
    Describe(String),
    /// `\format FMT`: change the output format.
    Format(OutputFormat),
    /// `\plot [map|line] FILE [UNITS]`: draw the last result (kind inferred
    /// when not given; units from the dataset unless given).
    Plot(Option<PlotKind>, PathBuf, Option<String>),
    /// `\?`: help.
    Help,
    /// `\q`: quit.
    Quit,
}

/// (usage, description) of every command, for `\?`.
pub(crate) const COMMANDS: &[(&str, &str)] = &[
    ("\\d", "list tables"),
    (
        "\\d NAME",
        "describe table NAME: columns, types, units, long names, chunking",
    ),
    ("\\format table|csv|json|ndjson", "set the output format"),
    (
        "\\plot map FILE.png|svg [UNITS]",
        "draw the last result (latitude, longitude, value) as a map",
    ),
    (
        "\\plot line FILE.png|svg [UNITS]",
        "draw the last result (time, value...) as lines",
    ),
    (
        "\\plot FILE.png|svg [UNITS]",
        "a map when the result has latitude and longitude, else lines",
    ),
    ("\\?", "show this help"),
    ("\\q", "quit"),
];

impl FromStr for Command {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().trim_start_matches('\\').trim_end_matches(';');
        let mut parts = s.split_whitespace();
        let cmd = parts.next().unwrap_or_default();
        let arg = parts.next();
        if cmd == "plot" {
            return parse_plot(&parts.clone().collect::<Vec<_>>(), arg);
        }
        match (cmd, arg) {
            ("d", None) => Ok(Command::ListTables),
            ("d", Some(t)) => Ok(Command::Describe(t.to_string())),
            ("format", Some(f)) => match f.to_ascii_lowercase().as_str() {
                "table" => Ok(Command::Format(OutputFormat::Table)),
                "csv" => Ok(Command::Format(OutputFormat::Csv)),
                "json" => Ok(Command::Format(OutputFormat::Json)),
                "ndjson" => Ok(Command::Format(OutputFormat::Ndjson)),
                other => Err(format!("unknown format '{other}'")),
            },
            ("?" | "h" | "help", _) => Ok(Command::Help),
            ("q" | "quit", _) => Ok(Command::Quit),
            _ => Err(format!("unknown command '\\{s}' (\\? lists commands)")),
        }
    }
}

/// `\plot [map|line] FILE [UNITS]`: `first` is the word after `plot`, `rest` the others.
fn parse_plot(rest: &[&str], first: Option<&str>) -> Result<Command, String> {
    let usage = "usage: \\plot [map|line] FILE.png|svg [UNITS]";
    let (kind, args): (Option<PlotKind>, Vec<&str>) = match first {
        Some("map") => (Some(PlotKind::Map), rest.to_vec()),
        Some("line") => (Some(PlotKind::Line), rest.to_vec()),
        // no kind: `first` is the file
        Some(f) => (
            None,
            std::iter::once(f).chain(rest.iter().copied()).collect(),
        ),
        None => return Err(usage.to_string()),
    };
    match args.as_slice() {
        [file] => Ok(Command::Plot(kind, (*file).into(), None)),
        [file, units] => Ok(Command::Plot(
            kind,
            (*file).into(),
            Some((*units).to_string()),
        )),
        [] => Err(format!("{usage} (the file is missing)")),
        _ => Err(format!("{usage} (too many words)")),
    }
}

/// The help text.
pub(crate) fn help() -> String {
    let width = COMMANDS.iter().map(|(u, _)| u.len()).max().unwrap_or(0);
    let mut s: String = COMMANDS
        .iter()
        .map(|(u, d)| format!("  {u:width$}  {d}\n"))
        .collect();
    s.push_str("  SQL statements end with ';' and may span lines.\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        assert_eq!("\\d".parse::<Command>(), Ok(Command::ListTables));
        assert_eq!(
            "\\d sla".parse::<Command>(),
            Ok(Command::Describe("sla".into()))
        );
        assert_eq!("\\q".parse::<Command>(), Ok(Command::Quit));
        assert!("\\zz".parse::<Command>().is_err());
        assert_eq!(
            "\\format csv".parse::<Command>(),
            Ok(Command::Format(OutputFormat::Csv))
        );
        assert_eq!(
            "\\plot map out/m.png".parse::<Command>(),
            Ok(Command::Plot(Some(PlotKind::Map), "out/m.png".into(), None))
        );
        assert_eq!(
            "\\plot line t.svg;".parse::<Command>(),
            Ok(Command::Plot(Some(PlotKind::Line), "t.svg".into(), None))
        );
        assert_eq!(
            "\\plot x.png".parse::<Command>(),
            Ok(Command::Plot(None, "x.png".into(), None))
        );
        assert_eq!(
            "\\plot x.png degC".parse::<Command>(),
            Ok(Command::Plot(None, "x.png".into(), Some("degC".into())))
        );
        assert_eq!(
            "\\plot map x.svg mm/day".parse::<Command>(),
            Ok(Command::Plot(
                Some(PlotKind::Map),
                "x.svg".into(),
                Some("mm/day".into())
            ))
        );
        assert!("\\plot map x.svg a b".parse::<Command>().is_err());
        assert!("\\plot".parse::<Command>().is_err());
        assert!("\\plot map".parse::<Command>().is_err());
        assert!("\\plot bar x.png extra".parse::<Command>().is_err());
    }
}
