//! [`GridTableProvider`]: a grid table as a DataFusion table, and
//! [`GridTableFactory`] for `CREATE EXTERNAL TABLE ... STORED AS ZARR`.
//!
//! The provider plans; [`GridScanExec`] streams. Filters that reference one
//! dimension column are evaluated on that dimension's coordinate values when
//! the scan is planned: the matching index ranges become the selection, whole
//! chunks outside it are never read and partial ones are sliced. Because the
//! very same expression is evaluated, such filters are reported `Exact`.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::{Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider, TableProviderFactory};
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, DFSchema, Result as DfResult, Statistics, plan_err};
use datafusion::datasource::TableType;
use datafusion::logical_expr::{CreateExternalTable, Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;

use crate::grid::Selection;
use crate::grid::plan::{plan_partitions, regions};
use crate::open::open_table;
use crate::scan::GridScanExec;
use crate::table::{Format, GridTable, TableSpec};

/// A grid table as a DataFusion table.
#[derive(Debug, Clone)]
pub struct GridTableProvider {
    table: Arc<GridTable>,
}

impl GridTableProvider {
    /// Wraps an opened table.
    pub fn new(table: Arc<GridTable>) -> Self {
        GridTableProvider { table }
    }

    /// Opens the table a spec describes.
    ///
    /// # Errors
    /// See [`open_table`].
    pub async fn open(spec: &TableSpec, state: &dyn Session) -> DfResult<Self> {
        let table = open_table(spec, state.runtime_env()).await?;
        Ok(GridTableProvider::new(Arc::new(table)))
    }

    /// The opened table.
    pub fn table(&self) -> &Arc<GridTable> {
        &self.table
    }

    /// The dimension a filter constrains, if it references exactly one
    /// dimension column and nothing that cannot be evaluated at planning.
    fn filter_dim(&self, expr: &Expr) -> Option<usize> {
        let cols = expr.column_refs();
        if cols.len() != 1 || expr.is_volatile() {
            return None;
        }
        let blocked = expr
            .exists(|e| {
                Ok(matches!(
                    e,
                    Expr::ScalarSubquery(_)
                        | Expr::Exists(_)
                        | Expr::InSubquery(_)
                        | Expr::Placeholder(_)
                ))
            })
            .unwrap_or(true);
        if blocked {
            return None;
        }
        let col = cols.into_iter().next()?;
        let d = self.table.grid.dim_index(&col.name)?;
        let dim = &self.table.grid.dims[d];
        (dim.values.len() as u64 == dim.size).then_some(d)
    }

    /// Evaluates a one-dimension filter on the coordinate values and narrows
    /// the selection.
    fn apply_filter(
        &self,
        state: &dyn Session,
        d: usize,
        expr: &Expr,
        sel: &mut Selection,
    ) -> DfResult<()> {
        let field = self.table.schema.field(d).clone();
        let schema = Arc::new(Schema::new(vec![field]));
        let df_schema = DFSchema::try_from(Arc::clone(&schema))?;
        let unqualified = expr
            .clone()
            .transform(|e| match e {
                Expr::Column(c) => Ok(Transformed::yes(Expr::Column(Column::new_unqualified(
                    c.name,
                )))),
                other => Ok(Transformed::no(other)),
            })?
            .data;
        let phys = state.create_physical_expr(unqualified, &df_schema)?;
        let batch =
            RecordBatch::try_new(schema, vec![Arc::clone(&self.table.grid.dims[d].values)])?;
        let result = phys.evaluate(&batch)?.into_array(batch.num_rows())?;
        let Some(mask) = result.as_boolean_opt() else {
            return plan_err!("filter {expr} is not a boolean expression");
        };
        sel.restrict(d, mask);
        Ok(())
    }

    /// The chunk shape regions align to: the first projected variable's.
    fn reference_chunks(&self, projection: &[usize]) -> Vec<u64> {
        let ndims = self.table.ndims();
        let var = projection
            .iter()
            .find(|&&c| c >= ndims)
            .map(|&c| &self.table.grid.variables[c - ndims])
            .or_else(|| self.table.grid.variables.first());
        match var {
            Some(v) => v.chunks.clone(),
            None => self.table.grid.shape(),
        }
    }
}

#[async_trait]
impl TableProvider for GridTableProvider {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.table.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DfResult<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|f| match self.filter_dim(f) {
                Some(_) => TableProviderFilterPushDown::Exact,
                None => TableProviderFilterPushDown::Unsupported,
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let projection: Vec<usize> = projection
            .cloned()
            .unwrap_or_else(|| (0..self.table.schema.fields().len()).collect());
        let mut selection = Selection::all(&self.table.grid.shape());
        for f in filters {
            match self.filter_dim(f) {
                Some(d) => self.apply_filter(state, d, f, &mut selection)?,
                None => return plan_err!("filter {f} cannot be pushed into a grid scan"),
            }
        }
        let chunks = self.reference_chunks(&projection);
        let n_regions = selection
            .ranges
            .iter()
            .zip(&chunks)
            .fold(1u64, |acc, (rs, &c)| {
                let c = c.max(1);
                acc.saturating_mul(rs.iter().map(|r| (r.end - 1) / c - r.start / c + 1).sum())
            });
        if n_regions > (1 << 22) {
            return Err(crate::error::ConnectorError::Metadata {
                dataset: self.table.spec.location.clone(),
                reason: format!(
                    "the scan would read {n_regions} chunks (limit {})",
                    1u64 << 22
                ),
            }
            .into());
        }
        let target = state.config().target_partitions();
        let partitions = plan_partitions(regions(&selection, &chunks), target);
        Ok(Arc::new(GridScanExec::try_new(
            Arc::clone(&self.table),
            projection,
            selection,
            partitions,
            limit,
        )?))
    }

    fn statistics(&self) -> Option<Statistics> {
        let mut s = Statistics::new_unknown(&self.table.schema);
        s.num_rows =
            Precision::Exact(usize::try_from(self.table.grid.cells()).unwrap_or(usize::MAX));
        Some(s)
    }
}

/// Creates grid tables for `CREATE EXTERNAL TABLE ... STORED AS ZARR|NETCDF`.
#[derive(Debug)]
pub struct GridTableFactory {
    format: Format,
}

impl GridTableFactory {
    /// A factory for one format.
    pub fn new(format: Format) -> Self {
        GridTableFactory { format }
    }
}

#[async_trait]
impl TableProviderFactory for GridTableFactory {
    async fn create(
        &self,
        state: &dyn Session,
        cmd: &CreateExternalTable,
    ) -> DfResult<Arc<dyn TableProvider>> {
        let options: BTreeMap<String, String> = cmd
            .options
            .iter()
            .map(|(k, v)| {
                (
                    k.strip_prefix("format.").unwrap_or(k).to_string(),
                    v.clone(),
                )
            })
            .collect();
        let spec = TableSpec {
            format: self.format,
            location: cmd.locations.first().cloned().unwrap_or_default(),
            options,
        };
        Ok(Arc::new(GridTableProvider::open(&spec, state).await?))
    }
}
