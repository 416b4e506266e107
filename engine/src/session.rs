//! Building the session every front end uses.

use std::collections::HashMap;
use std::sync::Arc;

use crate::memory_pool::QueryMemoryPool;
use datafusion::catalog::TableProviderFactory;
use datafusion::error::Result;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::session_state::{SessionState, SessionStateBuilder};
use datafusion::optimizer::AnalyzerRule;
use datafusion::prelude::{SessionConfig, SessionContext};
use gridsql_connectors::{Format, GridTableFactory};

/// Settings of a session.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// Partitions per scan (default: the number of cores).
    pub target_partitions: usize,
    /// Rows per batch (default 8192).
    pub batch_size: usize,
    /// Memory pool limit in bytes (default: 60% of physical memory, at least 1 GiB).
    pub memory_limit: usize,
    /// Compute aggregates over grid scans inside the scan (default true);
    /// off, every aggregate runs as DataFusion's hash aggregate.
    pub grid_aggregate: bool,
    /// Plans for a cluster: each scan partition of a grid aggregate is a
    /// task of its own, emitting final values or dense partial states (see
    /// [`crate::grid_aggregate`]).
    pub distributed: bool,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            target_partitions: std::thread::available_parallelism().map_or(2, |n| n.get()),
            batch_size: 8192,
            memory_limit: default_memory_limit(),
            grid_aggregate: true,
            distributed: false,
        }
    }
}

/// 60% of physical memory (from /proc/meminfo), at least 1 GiB; 4 GiB if unknown.
fn default_memory_limit() -> usize {
    let total_kib = std::fs::read_to_string("/proc/meminfo").ok().and_then(|s| {
        s.lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|n| n.parse::<usize>().ok())
    });
    match total_kib {
        Some(k) => (k.saturating_mul(1024) / 10 * 6).max(1 << 30),
        None => 4 << 30,
    }
}

/// A session context with gridsql's table factories, functions and limits.
///
/// # Errors
/// When the runtime cannot be built.
pub fn new_context(opts: &SessionOptions) -> Result<SessionContext> {
    let state = session_state(opts, local_config(opts))?;
    Ok(SessionContext::new_with_state(state))
}

/// gridsql's analyzer rules, after DataFusion's: COPY's options and units
/// ([`crate::copy_to::EmbedCopyOptions`]) and `LIKE ... ESCAPE`
/// ([`crate::like_escape::LikeEscape`]). Every session gets them, a
/// cluster client's too (Ballista rebuilds its state).
pub fn analyzer_rules() -> Vec<Arc<dyn AnalyzerRule + Send + Sync>> {
    vec![
        Arc::new(crate::copy_to::EmbedCopyOptions),
        Arc::new(crate::like_escape::LikeEscape),
    ]
}

/// The name of gridsql's catalog (DataFusion's is `datafusion`): what
/// Flight SQL and `information_schema` show, and JDBC/ADBC tools list.
pub const CATALOG: &str = "gridsql";

/// The configuration of a local session: partitions, batch size and
/// `information_schema` from `opts`.
pub fn local_config(opts: &SessionOptions) -> SessionConfig {
    SessionConfig::new()
        .with_target_partitions(opts.target_partitions.max(1))
        .with_batch_size(opts.batch_size.max(1))
        .with_information_schema(true)
}

/// A session state over `config` with gridsql's table factories, optimizer
/// rule, functions and memory limit: what a local session, a cluster client
/// and a cluster scheduler all plan with.
///
/// # Errors
/// When the runtime cannot be built.
pub fn session_state(opts: &SessionOptions, config: SessionConfig) -> Result<SessionState> {
    let config = config.with_default_catalog_and_schema(CATALOG, "public");
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_pool(Arc::new(QueryMemoryPool::new(opts.memory_limit)))
        .build_arc()?;
    let mut factories: HashMap<String, Arc<dyn TableProviderFactory>> = HashMap::new();
    factories.insert("ZARR".into(), Arc::new(GridTableFactory::new(Format::Zarr)));
    factories.insert(
        "NETCDF".into(),
        Arc::new(GridTableFactory::new(Format::Netcdf)),
    );
    factories.insert("GRIB".into(), Arc::new(GridTableFactory::new(Format::Grib)));
    factories.insert(
        "ICECHUNK".into(),
        Arc::new(GridTableFactory::new(Format::Icechunk)),
    );
    let mut builder = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_default_features()
        .with_table_factories(factories);
    for rule in analyzer_rules() {
        builder = builder.with_analyzer_rule(rule);
    }
    if opts.grid_aggregate {
        builder = builder.with_physical_optimizer_rule(Arc::new(
            crate::grid_aggregate::GridAggregateRule {
                distributed: opts.distributed,
            },
        ));
    }
    if opts.distributed {
        builder = builder
            .with_physical_optimizer_rule(Arc::new(crate::tag_partitions::TagGridPartitions));
    }
    // Functions are registered through a context so that table functions,
    // which have no builder method, come along.
    let mut state = builder.build();
    // COPY ... TO ... STORED AS ZARR | NETCDF
    for format in crate::copy_to::GridFormatFactory::all() {
        state.register_file_format(format, true)?;
    }
    let ctx = SessionContext::new_with_state(state);
    gridsql_udfs::register_all(&ctx);
    Ok(ctx.state())
}
