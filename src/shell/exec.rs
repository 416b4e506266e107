//! Running statements: splitting a script, planning, streaming results to
//! the printer, timing; the last result is kept for `\plot`.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::{DFParser, Statement as DfStatement};
use datafusion::sql::sqlparser::ast::{DescribeAlias, Statement};
use datafusion::sql::sqlparser::dialect::dialect_from_str;
use futures::StreamExt;
use gridsql_engine::describe_table;

use super::plot::{self, PlotKind, ResultSet};
use super::print::Printer;
use super::progress::Progress;
use crate::shell::OutputFormat;
use gridsql_engine::units::column_units;

/// Most rows of a result kept for `\plot`: a quarter-degree global map
/// (1 036 800 cells) fits; a larger result is streamed and dropped, so that
/// `SELECT *` keeps running in bounded memory.
const PLOT_MAX_ROWS: usize = 2_000_000;

/// The shell's state: session, output format, options, the last result.
pub(crate) struct Shell {
    pub(crate) ctx: SessionContext,
    pub(crate) format: OutputFormat,
    pub(crate) quiet: bool,
    pub(crate) interactive: bool,
    /// The last statement's result, for `\plot`.
    last: LastResult,
}

/// What `\plot` can draw.
enum LastResult {
    /// No statement with columns has run yet.
    None,
    /// A result too large to keep, with its row count.
    TooLarge(usize),
    Kept(ResultSet),
}

impl Shell {
    pub(crate) fn new(
        ctx: SessionContext,
        format: OutputFormat,
        quiet: bool,
        interactive: bool,
    ) -> Self {
        Shell {
            ctx,
            format,
            quiet,
            interactive,
            last: LastResult::None,
        }
    }

    /// Draws the last result into `path` (as `kind`, or the kind its columns
    /// suggest) and prints what was drawn on standard error.
    pub(crate) fn plot(
        &self,
        kind: Option<PlotKind>,
        path: &Path,
        units: Option<String>,
    ) -> anyhow::Result<()> {
        let result = match &self.last {
            LastResult::Kept(r) => r,
            LastResult::None => {
                anyhow::bail!("nothing to plot: run a query first, then \\plot")
            }
            LastResult::TooLarge(rows) => anyhow::bail!(
                "the last result has {rows} rows, more than a plot takes ({PLOT_MAX_ROWS}); \
                 aggregate it first (e.g. GROUP BY latitude, longitude)"
            ),
        };
        let info = plot::render(result, kind, path, units)?;
        eprintln!("{info}");
        Ok(())
    }

    /// Runs every statement of `sql`, printing each result; stops at the first error.
    pub(crate) async fn run_script(&mut self, sql: &str) -> anyhow::Result<()> {
        let dialect_name = self
            .ctx
            .state()
            .config()
            .options()
            .sql_parser
            .dialect
            .to_string();
        let dialect = dialect_from_str(&dialect_name).context("unknown SQL dialect")?;
        let statements = DFParser::parse_sql_with_dialect(sql, dialect.as_ref())?;
        for stmt in statements {
            self.run_statement(stmt).await?;
        }
        Ok(())
    }

    async fn run_statement(&mut self, stmt: DfStatement) -> anyhow::Result<()> {
        let start = Instant::now();
        let progress = Progress::start(self.interactive);
        let mut printer = Printer::new(self.format, self.interactive);
        let result = crate::panics::caught(self.execute_into(stmt, &mut printer)).await;
        progress.finish();
        result.map_err(anyhow::Error::msg)??;
        let rows = printer.finish()?;
        if self.format == OutputFormat::Table
            && !self.quiet
            && let Some(rows) = rows
        {
            println!(
                "{rows} row{} in {:.3}s",
                if rows == 1 { "" } else { "s" },
                start.elapsed().as_secs_f64()
            );
        }
        Ok(())
    }

    async fn execute_into(
        &mut self,
        stmt: DfStatement,
        printer: &mut Printer,
    ) -> anyhow::Result<()> {
        if let Some(applied) = super::settings::apply(&stmt) {
            return applied;
        }
        if let Some(name) = describe_target(&stmt)
            && let Ok(batch) = describe_table(&self.ctx, &name).await
        {
            printer.begin(batch.schema());
            printer.batch(&batch)?;
            return Ok(());
        }
        let title = stmt.to_string();
        let state = self.ctx.state();
        let plan = state.statement_to_plan(stmt).await?;
        let units = column_units(&plan);
        let mut stream = gridsql_engine::copy_to::execute(&self.ctx, plan).await?;
        let schema = stream.schema();
        printer.begin(Arc::clone(&schema));
        let mut kept = Vec::new();
        let mut rows = 0usize;
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            rows += batch.num_rows();
            if rows <= PLOT_MAX_ROWS {
                kept.push(batch.clone());
            } else {
                kept.clear();
            }
            printer.batch(&batch)?;
        }
        if !schema.fields().is_empty() {
            self.last = if rows <= PLOT_MAX_ROWS {
                LastResult::Kept(ResultSet {
                    title,
                    schema,
                    batches: kept,
                    units,
                })
            } else {
                LastResult::TooLarge(rows)
            };
        }
        Ok(())
    }
}

/// The table of a `DESCRIBE t` statement.
fn describe_target(stmt: &DfStatement) -> Option<String> {
    match stmt {
        DfStatement::Statement(s) => match s.as_ref() {
            Statement::ExplainTable {
                describe_alias: DescribeAlias::Describe | DescribeAlias::Desc,
                table_name,
                ..
            } => Some(table_name.to_string()),
            _ => None,
        },
        _ => None,
    }
}
