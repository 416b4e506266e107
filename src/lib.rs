//! The `gridsql` command: the SQL shell, the servers (`serve`) and the
//! cluster roles (`scheduler`, `executor`), as a library that the binary
//! (`src/main.rs`) only calls. [`main`] is parse → run → exit code; errors
//! (panics included) print once, on one line, with their whole cause chain.
//!
//! Modules depend one way: `cli` names the subcommands; each subcommand's
//! module (`shell`, `serve`, `cluster`, `demo`) owns its arguments; `args`
//! holds the argument types several of them share; `panics` turns a panic
//! into a query's error and `report` prints errors on one line.

pub(crate) mod args;
pub(crate) mod cli;
pub(crate) mod cluster;
pub(crate) mod demo;
pub(crate) mod executor_watch;
pub(crate) mod panics;
pub(crate) mod report;
pub(crate) mod serve;
pub(crate) mod shell;

use std::process::ExitCode;

use clap::Parser;

/// Runs the command line of this process.
pub fn main() -> ExitCode {
    // Warnings, plus each retry of an object-store request (object_store
    // logs them at info level), so that a flaky store is reported even when
    // its query succeeds. RUST_LOG overrides this.
    env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or("warn,object_store::client::retry=info"),
    )
    .init();
    panics::install_hook();
    let args = cli::Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("gridsql: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(panics::caught(run(args))) {
        Ok(Ok(code)) => code,
        Ok(Err(e)) => {
            eprintln!("gridsql: {}", report::one_line(&report::error_chain(&e)));
            ExitCode::from(1)
        }
        Err(panic) => {
            eprintln!("gridsql: {panic}");
            ExitCode::from(1)
        }
    }
}

async fn run(args: cli::Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Some(cli::Command::Demo(demo)) => {
            let location = demo::ensure_demo_store(&demo)?;
            let ensemble = demo::ensure_ensemble_store(&location)?;
            let mut shell_args = demo.shell.clone();
            shell_args.datasets.insert(
                0,
                crate::args::DatasetArg::named("sla", &location.display().to_string()),
            );
            shell_args.datasets.insert(
                1,
                crate::args::DatasetArg::named("ensemble", &ensemble.display().to_string()),
            );
            shell::run(shell_args).await
        }
        Some(cli::Command::Scheduler(a)) => cluster::run_scheduler(a).await,
        Some(cli::Command::Executor(a)) => cluster::run_executor(a).await,
        Some(cli::Command::Serve(a)) => serve::run(a).await,
        None => shell::run(args.shell).await,
    }
}
