//! Backslash commands: an enum parsed from the text after `\`, with a table
//! of names and descriptions that also renders `\?`.

use std::str::FromStr;

use crate::cli::OutputFormat;

/// A shell command.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Command {
    /// `\d`: list tables.
    ListTables,
    /// `\d NAME`: describe a table.
    Describe(String),
    /// `\format FMT`: change the output format.
    Format(OutputFormat),
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
    }
}
