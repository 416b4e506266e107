//! `COPY (query) TO 'out.zarr' STORED AS ZARR|NETCDF` over the PostgreSQL
//! wire. PostgreSQL's grammar has no `STORED AS`, so such a statement fails
//! datafusion-postgres' parser; it is then read as DataFusion SQL and, when
//! it is a COPY to a grid, planned by the path Flight SQL uses (the guard:
//! `--allow-ddl`; the target under `--allow-write-root`, checked on the
//! form the sink opens) and run. The client gets `COPY n`, as from
//! PostgreSQL's own COPY.

use datafusion::error::Result;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::{DFParser, Statement};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use futures::TryStreamExt;
use pgwire::api::results::{Response, Tag};

use super::state::{Planned, Shared};

/// Whether `sql` is one `COPY ... TO ... STORED AS` a grid format.
pub(crate) fn is_grid_copy(sql: &str) -> bool {
    let Ok(statements) = DFParser::parse_sql_with_dialect(sql, &GenericDialect {}) else {
        return false;
    };
    match statements.iter().collect::<Vec<_>>().as_slice() {
        [Statement::CopyTo(copy)] => copy
            .stored_as
            .as_deref()
            .is_some_and(gridsql_engine::copy_to::is_grid_format),
        _ => false,
    }
}

/// Plans and runs a COPY to a grid; the rows written.
///
/// # Errors
/// The guard's refusal, a target outside the write roots, the COPY's own.
pub(crate) async fn run(state: &Shared, ctx: &SessionContext, sql: &str) -> Result<Response> {
    let Planned::Plan(plan) = state.plan(ctx, sql).await? else {
        return Err(datafusion::error::DataFusionError::Plan(
            "not a COPY to a grid".into(),
        ));
    };
    let batches: Vec<_> = gridsql_engine::copy_to::execute(ctx, plan)
        .await?
        .try_collect()
        .await?;
    let rows = batches
        .first()
        .and_then(|b| {
            b.column(0)
                .as_any()
                .downcast_ref::<datafusion::arrow::array::UInt64Array>()
        })
        .and_then(|c| c.iter().next().flatten())
        .unwrap_or(0);
    Ok(Response::Execution(
        Tag::new("COPY").with_rows(rows as usize),
    ))
}
