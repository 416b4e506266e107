//! What both servers share: the session with the catalog's tables and the
//! guarded table functions, the limits, the guard settings and the auth.

use std::sync::Arc;

use datafusion::error::{DataFusionError, Result};
use datafusion::execution::context::SQLOptions;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::DFParser;
use datafusion::sql::sqlparser::dialect::dialect_from_str;

use super::auth::{Credentials, Tokens};
use super::guard::{self, Kind};
use super::limits::QueryLimits;

/// The state every connection of every server sees.
pub(crate) struct ServeState {
    /// The session: catalog tables, functions, guarded locations. Queries
    /// run on copies from [`QueryLimits::query_context`], so a client's
    /// `SET` never changes another client's session.
    pub(crate) ctx: SessionContext,
    /// Slots, time limit and memory pool per query.
    pub(crate) limits: QueryLimits,
    /// Whether clients may run DDL and DML.
    pub(crate) allow_ddl: bool,
    /// Who may connect; `None`: anyone (loopback only).
    pub(crate) credentials: Option<Credentials>,
    /// Flight SQL bearer tokens.
    pub(crate) tokens: Tokens,
}

/// One planned client statement.
pub(crate) enum Planned {
    /// `DESCRIBE t` with units, long names and chunking.
    Describe(datafusion::arrow::array::RecordBatch),
    /// Anything else the guard let through.
    Plan(LogicalPlan),
}

impl ServeState {
    /// A fresh per-query context (own memory pool, own settings).
    ///
    /// # Errors
    /// When the runtime cannot be built.
    pub(crate) fn query_context(&self) -> Result<SessionContext> {
        self.limits.query_context(&self.ctx)
    }

    /// The SQL options that repeat the guard's DDL/DML rule at planning.
    pub(crate) fn sql_options(&self) -> SQLOptions {
        SQLOptions::new()
            .with_allow_ddl(self.allow_ddl)
            .with_allow_dml(self.allow_ddl)
            .with_allow_statements(true)
    }

    /// Parses one statement, checks it with the guard and plans it in `ctx`
    /// (`DESCRIBE t` is answered from the table's field metadata).
    ///
    /// # Errors
    /// Parse errors, more than one statement, refused statements, planning errors.
    pub(crate) async fn plan(&self, ctx: &SessionContext, sql: &str) -> Result<Planned> {
        let state = ctx.state();
        // The dialect is not Send: parse before any await.
        let mut statements = {
            let dialect_name = state.config().options().sql_parser.dialect.to_string();
            let dialect = dialect_from_str(&dialect_name).ok_or_else(|| {
                DataFusionError::Configuration(format!("unknown SQL dialect {dialect_name}"))
            })?;
            DFParser::parse_sql_with_dialect(sql, dialect.as_ref())?
        };
        if statements.len() != 1 {
            return Err(DataFusionError::Plan(format!(
                "send one statement per query, got {}",
                statements.len()
            )));
        }
        let Some(stmt) = statements.pop_front() else {
            return Err(DataFusionError::Plan("empty query".into()));
        };
        let kind = guard::classify_df(&stmt);
        guard::check(&kind, self.allow_ddl).map_err(DataFusionError::Plan)?;
        if let Kind::Describe(name) = &kind
            && let Ok(batch) = gridsql_engine::describe_table(ctx, name).await
        {
            return Ok(Planned::Describe(batch));
        }
        let plan = state.statement_to_plan(stmt).await?;
        self.sql_options().verify_plan(&plan)?;
        // COPY to a grid: the target under --allow-write-root, in the
        // canonical form the sink then opens
        let plan = gridsql_engine::copy_to::checked_copy(
            plan,
            std::sync::Arc::clone(state.runtime_env()),
            state.config(),
        )?;
        Ok(Planned::Plan(plan))
    }
}

/// A shared handle on the state.
pub(crate) type Shared = Arc<ServeState>;
