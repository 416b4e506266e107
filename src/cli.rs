//! Command-line arguments.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// SQL over Zarr and NetCDF gridded data.
#[derive(Debug, Parser)]
#[command(name = "gridsql", version, args_conflicts_with_subcommands = true)]
pub(crate) struct Args {
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
    #[command(flatten)]
    pub(crate) shell: ShellArgs,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Generate (once) a sample sea-level store and a sample ensemble over the USA
    /// and open the shell on them as tables `sla` and `ensemble`.
    Demo(DemoArgs),
    /// Run a Ballista scheduler that knows gridsql's tables, scans and functions.
    Scheduler(crate::cluster::SchedulerArgs),
    /// Run a Ballista executor that runs gridsql's scans and functions.
    Executor(crate::cluster::ExecutorArgs),
    /// Serve SQL to remote clients over Arrow Flight SQL and the PostgreSQL wire protocol.
    Serve(crate::serve::ServeArgs),
}

/// Arguments of `gridsql demo`.
#[derive(Debug, clap::Args)]
pub(crate) struct DemoArgs {
    /// Where the sample store is written (default: ~/.cache/gridsql/demo/sla.zarr).
    #[arg(long)]
    pub(crate) path: Option<PathBuf>,
    /// Days of data in the sample store.
    #[arg(long, default_value_t = 60)]
    pub(crate) days: u32,
    #[command(flatten)]
    pub(crate) shell: ShellArgs,
}

/// Arguments of the shell.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ShellArgs {
    /// Datasets to open as tables: `PATH_OR_URL` (table named after the file)
    /// or `NAME=PATH_OR_URL`.
    pub(crate) datasets: Vec<String>,
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
    #[arg(long)]
    pub(crate) memory_limit: Option<String>,
    /// With `-c`/`-f`: draw the last result into this PNG or SVG file, a map
    /// when it has latitude and longitude columns, else lines (see `\plot` in the shell).
    #[arg(long, value_name = "FILE.png|svg")]
    pub(crate) plot: Option<PathBuf>,
    /// Run every query on a Ballista cluster: `df://HOST:PORT` of its scheduler.
    #[arg(long, value_name = "df://HOST:PORT")]
    pub(crate) cluster: Option<String>,
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
