//! [`GridTableProvider`]: a grid table as a DataFusion table, and
//! [`GridTableFactory`] for `CREATE EXTERNAL TABLE ... STORED AS ZARR`.
//!
//! The provider plans; [`GridScanExec`] streams. Filters that reference one
//! dimension column are evaluated on that dimension's coordinate values when
//! the scan is planned: the matching index ranges become the selection, whole
//! chunks outside it are never read and partial ones are sliced. Because the
//! very same expression is evaluated, such filters are reported `Exact`.
//! So is `in_box(lat, lon, south, north, west, east)` on two dimension
//! columns with constant bounds: a product of one mask per dimension
//! (see `pushdown`).

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider, TableProviderFactory};
use datafusion::common::stats::Precision;
use datafusion::common::{DFSchema, DataFusionError, Result as DfResult, Statistics, plan_err};
use datafusion::datasource::TableType;
use datafusion::logical_expr::{CreateExternalTable, Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::filter::FilterExecBuilder;
use datafusion::physical_plan::limit::GlobalLimitExec;
use tokio::sync::OnceCell;

use crate::grid::GridColumn;
use crate::grid::Selection;
use crate::grid::model::meta;
use crate::grid::plan::{ChunkGrid, plan_partitions, regions};
use crate::location::Access;
use crate::open::open_table;
use crate::pushdown;
use crate::scan::GridScanExec;
use crate::table::{DeferredTable, Format, GridTable, OpenedTable, TableSpec};

/// A grid table as a DataFusion table.
///
/// The table may be deferred (a collection of files whose headers are read
/// on first use): the schema is known at once, the rest on the first scan.
#[derive(Debug, Clone)]
pub struct GridTableProvider {
    spec: TableSpec,
    schema: SchemaRef,
    ndims: usize,
    table: Arc<OnceCell<Arc<GridTable>>>,
    deferred: Option<Arc<dyn DeferredTable>>,
}

impl GridTableProvider {
    /// Wraps an opened table.
    pub fn new(table: Arc<GridTable>) -> Self {
        GridTableProvider {
            spec: table.spec.clone(),
            schema: Arc::clone(&table.schema),
            ndims: table.ndims(),
            table: Arc::new(OnceCell::new_with(Some(table))),
            deferred: None,
        }
    }

    /// Wraps what opening a location gave.
    pub fn from_opened(opened: OpenedTable) -> Self {
        match opened {
            OpenedTable::Ready(t) => GridTableProvider::new(Arc::new(t)),
            OpenedTable::Deferred {
                spec,
                schema,
                resolver,
            } => {
                let ndims = schema
                    .fields()
                    .iter()
                    .take_while(|f| {
                        f.metadata().get(meta::ROLE).map(String::as_str) == Some("dimension")
                    })
                    .count();
                GridTableProvider {
                    spec,
                    schema,
                    ndims,
                    table: Arc::new(OnceCell::new()),
                    deferred: Some(resolver),
                }
            }
        }
    }

    /// Opens the table a spec describes.
    ///
    /// # Errors
    /// See [`open_table`].
    pub async fn open(spec: &TableSpec, state: &dyn Session) -> DfResult<Self> {
        let opened = open_table(spec, &Access::of(state)).await?;
        Ok(GridTableProvider::from_opened(opened))
    }

    /// How the table was opened.
    pub fn spec(&self) -> &TableSpec {
        &self.spec
    }

    /// The table, reading what a deferred table still lacks.
    ///
    /// # Errors
    /// Errors of [`DeferredTable::resolve`].
    pub async fn table(&self) -> DfResult<Arc<GridTable>> {
        let t = self
            .table
            .get_or_try_init(|| async {
                match &self.deferred {
                    Some(d) => d.resolve().await.map(Arc::new),
                    None => Err(crate::error::ConnectorError::Metadata {
                        dataset: self.spec.location.clone(),
                        reason: "table was never opened".into(),
                    }),
                }
            })
            .await?;
        Ok(Arc::clone(t))
    }

    /// The dimension a filter constrains, if it references exactly one
    /// dimension column and nothing that cannot be evaluated at planning.
    fn filter_dim(&self, expr: &Expr) -> Option<usize> {
        if !pushdown::plannable(expr) {
            return None;
        }
        pushdown::single_dim(expr, &self.schema, self.ndims)
    }

    /// Evaluates a one-dimension filter on the coordinate values and narrows
    /// the selection.
    fn apply_filter(
        table: &GridTable,
        state: &dyn Session,
        d: usize,
        expr: &Expr,
        sel: &mut Selection,
    ) -> DfResult<()> {
        let keep = pushdown::ranges_on_dim(table, state, d, expr)?;
        sel.restrict_ranges(d, &keep);
        Ok(())
    }

    /// The chunk grid regions align to: the first projected variable's.
    fn reference_chunks(table: &GridTable, projection: &[usize]) -> ChunkGrid {
        let var = projection
            .iter()
            .find_map(|&c| match table.grid.column(c) {
                Some(GridColumn::Var(v)) => table.grid.variables.get(v),
                _ => None,
            })
            .or_else(|| table.grid.variables.first());
        let chunks = match var {
            Some(v) => v.chunks.clone(),
            None => table.grid.shape(),
        };
        table.grid.chunk_grid(&chunks)
    }
}

#[async_trait]
impl TableProvider for GridTableProvider {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
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
                None if pushdown::in_box_dims(f, &self.schema, self.ndims).is_some() => {
                    TableProviderFilterPushDown::Exact
                }
                None if pushdown::coordinates::on_coordinates(f, &self.schema) => {
                    TableProviderFilterPushDown::Inexact
                }
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
        let table = self.table().await?;
        let projection: Vec<usize> = projection
            .cloned()
            .unwrap_or_else(|| (0..table.schema.fields().len()).collect());
        let mut selection = Selection::all(&table.grid.shape());
        // Filters on an index dimension too long to evaluate at planning
        // run after the scan instead.
        let mut residual: Vec<Expr> = Vec::new();
        let plannable = |d: usize| table.grid.dims[d].has_all_values(pushdown::MAX_PLANNED_INDEX);
        // A box evaluates both dimensions whole.
        let in_memory = |d: usize| table.grid.dims[d].has_all_values(1 << 24);
        let mut on_coordinates: Vec<Expr> = Vec::new();
        for f in filters {
            match self.filter_dim(f) {
                Some(d) if plannable(d) => {
                    Self::apply_filter(&table, state, d, f, &mut selection)?;
                }
                Some(_) => residual.push(f.clone()),
                None => match pushdown::in_box_dims(f, &table.schema, table.ndims()) {
                    Some((a, b)) if in_memory(a) && in_memory(b) => {
                        pushdown::apply_in_box(&table, state, f, (a, b), &mut selection)?;
                    }
                    Some(_) => residual.push(f.clone()),
                    // Inexact: DataFusion filters the rows again.
                    None if pushdown::coordinates::on_coordinates(f, &table.schema) => {
                        on_coordinates.push(f.clone());
                    }
                    None => return plan_err!("filter {f} cannot be pushed into a grid scan"),
                },
            }
        }
        pushdown::coordinates::narrow_all(&table, state, &on_coordinates, &mut selection)?;
        let chunks = Self::reference_chunks(&table, &projection);
        let n_regions = chunks.count_regions(&selection);
        if n_regions > (1 << 22) {
            return Err(crate::error::ConnectorError::Metadata {
                dataset: self.spec.location.clone(),
                reason: format!(
                    "the scan would read {n_regions} chunks (limit {})",
                    1u64 << 22
                ),
            }
            .into());
        }
        let target = state.config().target_partitions();
        let partitions = plan_partitions(regions(&selection, &chunks), target);
        let scan: Arc<dyn ExecutionPlan> = if residual.is_empty() {
            Arc::new(GridScanExec::try_new(
                Arc::clone(&table),
                projection,
                selection,
                partitions,
                limit,
            )?)
        } else {
            // The residual filter needs its columns, and a limit cannot be
            // applied before it.
            let mut full = projection.clone();
            for f in &residual {
                for c in f.column_refs() {
                    let i = table.schema.index_of(&c.name)?;
                    if !full.contains(&i) {
                        full.push(i);
                    }
                }
            }
            let inner: Arc<dyn ExecutionPlan> = Arc::new(GridScanExec::try_new(
                Arc::clone(&table),
                full.clone(),
                selection,
                partitions,
                None,
            )?);
            let inner_schema = inner.schema();
            let df_schema = DFSchema::try_from(Arc::clone(&inner_schema))?;
            let predicate = residual
                .into_iter()
                .reduce(Expr::and)
                .ok_or_else(|| DataFusionError::Internal("empty residual".into()))?;
            let phys =
                state.create_physical_expr(pushdown::unqualified(&predicate)?, &df_schema)?;
            let keep: Vec<usize> = (0..projection.len()).collect();
            let filter = FilterExecBuilder::new(phys, inner)
                .apply_projection(Some(keep))?
                .build()?;
            let plan: Arc<dyn ExecutionPlan> = Arc::new(filter);
            match limit {
                Some(l) => Arc::new(GlobalLimitExec::new(plan, 0, Some(l))),
                None => plan,
            }
        };
        Ok(scan)
    }

    fn statistics(&self) -> Option<Statistics> {
        let table = self.table.get()?;
        let mut s = Statistics::new_unknown(&table.schema);
        s.num_rows = Precision::Exact(usize::try_from(table.grid.cells()).unwrap_or(usize::MAX));
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
