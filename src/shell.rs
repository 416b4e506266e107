//! The interactive SQL shell and its batch modes (`-c`, `-f`, piped input),
//! after datafusion-cli: statements run in [`exec`], `\` commands are parsed
//! in [`command`], results are rendered by [`print`].

mod args;
mod command;
mod exec;
mod plot;
mod print;
mod progress;
mod repl;
mod settings;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Context;
use gridsql_engine::{SessionOptions, cluster_context, new_context, register_dataset};

pub(crate) use args::{OutputFormat, ShellArgs};
pub(crate) use exec::Shell;

/// Runs the shell: opens the datasets, then runs commands, files, piped
/// input or the interactive loop.
pub(crate) async fn run(args: ShellArgs) -> anyhow::Result<ExitCode> {
    args.io.apply()?;
    let mut opts = SessionOptions::default();
    if let Some(p) = args.partitions {
        opts.target_partitions = p.max(1);
    }
    if let Some(m) = args.memory_limit {
        opts.memory_limit = m;
    }
    let ctx = match &args.cluster {
        Some(url) => cluster_context(&opts, url)
            .await
            .with_context(|| format!("cannot use the cluster at {url}"))?,
        None => new_context(&opts)?,
    };
    for d in &args.datasets {
        register_dataset(&ctx, &d.name, &d.location, None, BTreeMap::new())
            .await
            .with_context(|| format!("cannot open '{}' as table {}", d.location, d.name))?;
    }
    let interactive =
        args.commands.is_empty() && args.files.is_empty() && std::io::stdin().is_terminal();
    let mut shell = Shell::new(ctx, args.format, args.quiet, interactive);
    if !args.commands.is_empty() || !args.files.is_empty() {
        for c in &args.commands {
            shell.run_script(c).await?;
        }
        for f in &args.files {
            let text = std::fs::read_to_string(f)
                .with_context(|| format!("cannot read {}", f.display()))?;
            shell.run_script(&text).await?;
        }
        if let Some(path) = &args.plot {
            shell.plot(None, path, None)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if interactive {
        anyhow::ensure!(
            args.plot.is_none(),
            "--plot draws the last result of -c, -f or piped input; in the shell use \\plot"
        );
        repl::run(&mut shell).await?;
    } else {
        repl::run_piped(&mut shell).await?;
        if let Some(path) = &args.plot {
            shell.plot(None, path, None)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
