//! The `gridsql` binary: the SQL shell, the servers (`serve`) and the
//! cluster roles (`scheduler`, `executor`). `main` is parse → run → exit
//! code; errors (panics included) print once, on one line, with their whole
//! cause chain.

mod cli;
mod cluster;
mod demo;
mod panics;
mod serve;
mod shell;

use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
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
            eprintln!("gridsql: {}", one_line(&error_chain(&e)));
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
            shell_args
                .datasets
                .insert(0, format!("sla={}", location.display()));
            shell_args
                .datasets
                .insert(1, format!("ensemble={}", ensemble.display()));
            shell::run(shell_args).await
        }
        Some(cli::Command::Scheduler(a)) => cluster::run_scheduler(a).await,
        Some(cli::Command::Executor(a)) => cluster::run_executor(a).await,
        Some(cli::Command::Serve(a)) => serve::run(a).await,
        None => shell::run(args.shell).await,
    }
}

/// The error and its causes, skipping causes whose text the message already holds
/// (DataFusion's external errors repeat their source), without the
/// `External error: ` prefix.
pub(crate) fn error_chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string().replace("External error: ", "");
        if !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
    }
    out
}

/// Folds a multi-line message onto one line.
pub(crate) fn one_line(s: &str) -> String {
    s.split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}
