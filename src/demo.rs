//! `gridsql demo`: a sample sea-level store and a sample ensemble over the
//! USA, generated once, opened as `sla` and `ensemble`.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::shell::ShellArgs;

/// Writes the demo store if it is not there yet; returns its path.
pub(crate) fn ensure_demo_store(args: &DemoArgs) -> anyhow::Result<PathBuf> {
    let path = match &args.path {
        Some(p) => p.clone(),
        None => {
            let base = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
                .unwrap_or_else(std::env::temp_dir);
            base.join("gridsql")
                .join("demo")
                .join(format!("sla_{}d.zarr", args.days))
        }
    };
    if !path.join(".zmetadata").exists() {
        eprintln!(
            "writing the sample store {} ({} days)...",
            path.display(),
            args.days
        );
        let spec = gridsql_samples::SeaLevelSpec {
            days: args.days,
            ..Default::default()
        };
        gridsql_samples::write_sea_level(&path, &spec)
            .with_context(|| format!("cannot write the sample store {}", path.display()))?;
    }
    Ok(path)
}

/// Writes the ensemble store (beside the sea-level store at `sla`) if it is
/// not there yet; returns its path.
pub(crate) fn ensure_ensemble_store(sla: &Path) -> anyhow::Result<PathBuf> {
    let path = sla
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join("ensemble_usa.zarr");
    if !path.join(".zmetadata").exists() {
        eprintln!("writing the sample ensemble {}...", path.display());
        gridsql_samples::write_ensemble(&path, &gridsql_samples::EnsembleSpec::default())
            .with_context(|| format!("cannot write the sample ensemble {}", path.display()))?;
    }
    Ok(path)
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
