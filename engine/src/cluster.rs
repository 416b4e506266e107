//! Sessions whose queries run on a Ballista cluster, and what the cluster's
//! processes need to run gridsql's plans: codecs, the planning session,
//! the functions.

use std::sync::Arc;

use ballista::prelude::{SessionConfigExt, SessionContextExt};
use ballista_core::registry::BallistaFunctionRegistry;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::session_state::SessionState;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::SessionOptions;
use crate::codec::{GridLogicalCodec, GridPhysicalCodec};
use crate::session::session_state;

/// A session whose queries run on the Ballista cluster whose scheduler is at
/// `url` (`df://HOST:PORT`), with gridsql's tables, scans and functions.
///
/// Tables are opened here (to learn their schemas) and again by the
/// scheduler and the executors, from their specs.
///
/// # Errors
/// A malformed URL; a session that cannot be built.
pub async fn cluster_context(opts: &SessionOptions, url: &str) -> Result<SessionContext> {
    if !url.starts_with("df://") {
        return Err(DataFusionError::Configuration(format!(
            "cluster URL '{url}' must look like df://HOST:PORT"
        )));
    }
    let config = with_codecs(static_planner(
        SessionConfig::new_with_ballista()
            .with_target_partitions(opts.target_partitions.max(1))
            .with_batch_size(opts.batch_size.max(1))
            .with_information_schema(true),
    ))
    // its COPY to Zarr is written by the executors
    .with_extension(Arc::new(crate::copy_to::OnCluster));
    let state = session_state(opts, config)?;
    let ctx = SessionContext::remote_with_state(url, state).await?;
    // Ballista rebuilds the state for its planner; register the functions
    // and the analyzer rules (COPY's options, LIKE ... ESCAPE) on what it built.
    gridsql_udfs::register_all(&ctx);
    for rule in crate::session::analyzer_rules() {
        ctx.add_analyzer_rule(rule);
    }
    Ok(ctx)
}

/// `config` with gridsql's codecs, as clients, the scheduler and executors
/// must all use.
pub fn with_codecs(config: SessionConfig) -> SessionConfig {
    config
        .with_ballista_logical_extension_codec(Arc::new(GridLogicalCodec::default()))
        .with_ballista_physical_extension_codec(Arc::new(GridPhysicalCodec::default()))
}

/// The scheduler's session for a query: the client's configuration with
/// gridsql's table factories, optimizer rule and functions (the scheduler
/// plans the physical query).
///
/// # Errors
/// When the runtime cannot be built.
pub fn scheduler_session(opts: &SessionOptions, config: SessionConfig) -> Result<SessionState> {
    session_state(opts, with_codecs(static_planner(config)))
}

/// `config` with Ballista's static planner. Ballista 55's adaptive planner
/// (its default) plans jobs with its own fixed list of physical optimizer
/// rules, so the grid aggregate and the partition tags (see
/// [`crate::tag_partitions`]) never ran on the jobs, only on EXPLAIN; the
/// static planner uses the session's rules.
fn static_planner(config: SessionConfig) -> SessionConfig {
    config.with_ballista_adaptive_query_planner(false)
}

/// Ballista's functions plus gridsql's, for executors to resolve the
/// functions of the plans they run.
pub fn function_registry() -> BallistaFunctionRegistry {
    let mut registry = BallistaFunctionRegistry::default();
    for f in gridsql_udfs::scalar_functions() {
        registry
            .scalar_functions
            .insert(f.name().to_string(), Arc::new(f));
    }
    for f in gridsql_udfs::aggregate_functions() {
        registry
            .aggregate_functions
            .insert(f.name().to_string(), Arc::new(f));
    }
    registry
}
