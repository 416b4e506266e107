//! Running statements: splitting a script, planning, streaming results to
//! the printer, timing.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::{DFParser, Statement as DfStatement};
use datafusion::sql::sqlparser::ast::{DescribeAlias, Statement};
use datafusion::sql::sqlparser::dialect::dialect_from_str;
use futures::StreamExt;
use gridsql_engine::describe_table;

use super::print::Printer;
use super::progress::Progress;
use crate::cli::OutputFormat;

/// The shell's state: session, output format, options.
pub(crate) struct Shell {
    pub(crate) ctx: SessionContext,
    pub(crate) format: OutputFormat,
    pub(crate) quiet: bool,
    pub(crate) interactive: bool,
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
        }
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
        let result = self.execute_into(stmt, &mut printer).await;
        progress.finish();
        result?;
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
        if let Some(name) = describe_target(&stmt)
            && let Ok(batch) = describe_table(&self.ctx, &name).await
        {
            printer.begin(batch.schema());
            printer.batch(&batch)?;
            return Ok(());
        }
        let state = self.ctx.state();
        let plan = state.statement_to_plan(stmt).await?;
        let df = self.ctx.execute_logical_plan(plan).await?;
        let schema = Arc::clone(df.schema().inner());
        let mut stream = df.execute_stream().await?;
        printer.begin(schema);
        while let Some(batch) = stream.next().await {
            printer.batch(&batch?)?;
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
