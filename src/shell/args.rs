//! The shell's arguments.

use std::path::PathBuf;

use clap::ValueEnum;

use crate::args::{DatasetArg, parse_size};

/// Arguments of the shell.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ShellArgs {
    /// Datasets to open as tables: `PATH_OR_URL` (table named after the file)
    /// or `NAME=PATH_OR_URL`.
    pub(crate) datasets: Vec<DatasetArg>,
    /// Run these statements (separated by `;`) and exit.
    #[arg(short = 'c', long = "command")]
    pub(crate) commands: Vec<String>,
    /// Run the statements in these files and exit.
    #[arg(short = 'f', long = "file")]
    pub(crate) files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub(crate) format: OutputFormat,
    /// Do not print timings and row counts.
    #[arg(short, long)]
    pub(crate) quiet: bool,
    /// Partitions per scan (default: number of cores).
    #[arg(long)]
    pub(crate) partitions: Option<usize>,
    /// Memory limit of queries, e.g. 2G or 512M (default: 60% of memory).
    #[arg(long, value_parser = parse_size)]
    pub(crate) memory_limit: Option<usize>,
    /// With `-c`/`-f`: draw the last result into this PNG or SVG file, a map
    /// when it has latitude and longitude columns, else lines (see `\plot` in the shell).
    #[arg(long, value_name = "FILE.png|svg")]
    pub(crate) plot: Option<PathBuf>,
    /// Run every query on a Ballista cluster: `df://HOST:PORT` of its scheduler.
    #[arg(long, value_name = "df://HOST:PORT")]
    pub(crate) cluster: Option<String>,
    #[command(flatten)]
    pub(crate) io: crate::args::IoArgs,
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputFormat {
    /// Aligned table.
    Table,
    /// CSV with one header line per result set.
    Csv,
    /// One JSON array of objects per result set.
    Json,
    /// One JSON object per line.
    Ndjson,
}
