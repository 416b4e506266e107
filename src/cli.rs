//! The command line: the subcommands, each with the arguments its own
//! module defines.

use clap::{Parser, Subcommand};

use crate::demo::DemoArgs;
use crate::shell::ShellArgs;

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
