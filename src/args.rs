//! Argument types that more than one subcommand takes, each parsed once, by
//! clap, into the value the subcommand uses.

use std::str::FromStr;

use gridsql_engine::table_name_for;

/// A dataset named on the command line: `PATH_OR_URL` (the table is named
/// after the file) or `NAME=PATH_OR_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DatasetArg {
    /// Table name.
    pub(crate) name: String,
    /// Path or URL, as written.
    pub(crate) location: String,
}

impl DatasetArg {
    /// A dataset with an explicit table name.
    pub(crate) fn named(name: &str, location: &str) -> Self {
        DatasetArg {
            name: name.to_string(),
            location: location.to_string(),
        }
    }
}

impl FromStr for DatasetArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s.trim().is_empty() {
            return Err("a dataset is PATH_OR_URL or NAME=PATH_OR_URL".into());
        }
        Ok(match s.split_once('=') {
            // A `=` inside a path or URL (after a `/`) is not a name.
            Some((n, l)) if !n.contains('/') && !n.is_empty() => DatasetArg::named(n, l),
            _ => DatasetArg::named(&table_name_for(s), s),
        })
    }
}

/// A size in bytes: a number with an optional `K`, `M`, `G` or `T` (binary
/// multiples; `B` and `iB` allowed), e.g. `512M`, `2G`, `1.5GiB`.
///
/// # Errors
/// Not a number, or not positive.
pub(crate) fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim().to_ascii_uppercase();
    let t = t.trim_end_matches("IB").trim_end_matches('B');
    let (num, mult) = match t.chars().last() {
        Some('K') => (&t[..t.len() - 1], 1usize << 10),
        Some('M') => (&t[..t.len() - 1], 1 << 20),
        Some('G') => (&t[..t.len() - 1], 1 << 30),
        Some('T') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a size (e.g. 512M, 2G)"))?;
    if !(v.is_finite() && v > 0.0) {
        return Err(format!("'{s}': a size must be positive"));
    }
    Ok((v * mult as f64) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datasets_and_sizes() {
        let d: DatasetArg = "sla=s3://b/a=b.zarr".parse().expect("a dataset");
        assert_eq!(d, DatasetArg::named("sla", "s3://b/a=b.zarr"));
        let d: DatasetArg = "data/x=1/sst.mnmean.nc".parse().expect("a dataset");
        assert_eq!(d, DatasetArg::named("sst_mnmean", "data/x=1/sst.mnmean.nc"));
        assert!("".parse::<DatasetArg>().is_err());
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("1.5k"), Ok(1536));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("-1M").is_err());
    }
}

/// How this process reads remote stores: the I/O budget's settings
/// (`gridsql_connectors::io`), for the shell, the servers and executors.
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct IoArgs {
    /// Requests in flight to remote stores, at most (default 64, or
    /// GRIDSQL_IO_CONCURRENCY).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub(crate) io_concurrency: Option<u32>,
}

impl IoArgs {
    /// Puts the settings in force for this process.
    ///
    /// # Errors
    /// An invalid `GRIDSQL_IO_*` variable.
    pub(crate) fn apply(&self) -> anyhow::Result<()> {
        let mut s = gridsql_connectors::io::IoSettings::from_env().map_err(anyhow::Error::msg)?;
        if let Some(n) = self.io_concurrency {
            s.requests = n as usize;
        }
        gridsql_connectors::io::budget::configure(s);
        Ok(())
    }
}
