//! [`GridScanExec`]: the execution plan that streams a grid table's rows.
//!
//! Each partition loads its regions through the region loader
//! ([`crate::loader`]: in order, a bounded number ahead, only the projected
//! variables) and cuts each region into batches of the session's batch
//! size. Coordinate columns are gathered from the dimensions' values with
//! one index array per batch, never a per-row allocation. Memory stays
//! bounded by the prefetch window.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions, UInt64Array};
use arrow::datatypes::SchemaRef;
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{ColumnStatistics, Result as DfResult, ScalarValue, Statistics};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::MetricsSet;
use datafusion::physical_plan::statistics::StatisticsArgs;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning,
    PlanProperties, ReplaceChildrenOptions, SendableRecordBatchStream,
};
use futures::{StreamExt, TryStreamExt, stream};

use crate::grid::plan::region_cells;
use crate::grid::{GridColumn, Region, Selection};
use crate::io::IoCounters;
use crate::loader::{LoadedRegion, Loading, load_regions};
use crate::table::GridTable;

/// Scans a grid table: projected columns of the selected cells.
#[derive(Debug)]
pub struct GridScanExec {
    table: Arc<GridTable>,
    projection: Vec<usize>,
    schema: SchemaRef,
    selection: Selection,
    partitions: Vec<Vec<Region>>,
    limit: Option<usize>,
    properties: Arc<PlanProperties>,
    /// In distributed plans, the partition tags (see
    /// [`partition_tags`](crate::partition_tags)); never executed.
    tags: Option<Arc<dyn ExecutionPlan>>,
    /// Requests to remote stores made by its partitions.
    io: Arc<IoCounters>,
}

impl GridScanExec {
    /// Creates the scan of `selection` over `partitions` of regions.
    ///
    /// # Errors
    /// A projection index out of range.
    pub fn try_new(
        table: Arc<GridTable>,
        projection: Vec<usize>,
        selection: Selection,
        partitions: Vec<Vec<Region>>,
        limit: Option<usize>,
    ) -> DfResult<Self> {
        let schema = Arc::new(table.schema.project(&projection)?);
        for &c in &projection {
            if let Some(GridColumn::Unreadable(u)) = table.grid.column(c) {
                let v = &table.grid.unreadable[u];
                return Err(crate::error::ConnectorError::Variable {
                    dataset: table.spec.location.clone(),
                    variable: v.name.clone(),
                    reason: format!(
                        "cannot be read: {}",
                        v.unreadable().unwrap_or("unsupported")
                    ),
                }
                .into());
            }
        }
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
            Partitioning::UnknownPartitioning(partitions.len().max(1)),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        Ok(GridScanExec {
            table,
            projection,
            schema,
            selection,
            partitions,
            limit,
            properties,
            tags: None,
            io: Arc::default(),
        })
    }

    /// The table scanned.
    pub fn table(&self) -> &Arc<GridTable> {
        &self.table
    }

    /// Projected column indices of the table.
    pub fn projection(&self) -> &[usize] {
        &self.projection
    }

    /// The selected cells.
    pub fn selection(&self) -> &Selection {
        &self.selection
    }

    /// Regions per partition.
    pub fn partitions(&self) -> &[Vec<Region>] {
        &self.partitions
    }

    /// The row limit, if any.
    pub fn limit(&self) -> Option<usize> {
        self.limit
    }

    /// This scan with partition tags as its child, so that a Ballista
    /// scheduler can give each task its own partitions (see
    /// [`partition_tags`](crate::partition_tags)).
    ///
    /// # Errors
    /// Too many partitions to tag.
    pub fn with_partition_tags(&self) -> DfResult<Self> {
        let mut scan = self.with_partitions(self.partitions.clone())?;
        scan.tags = Some(crate::partition_tags::tags(self.partitions.len())?);
        Ok(scan)
    }

    /// This scan over `partitions` instead, untagged.
    fn with_partitions(&self, partitions: Vec<Vec<Region>>) -> DfResult<Self> {
        GridScanExec::try_new(
            Arc::clone(&self.table),
            self.projection.clone(),
            self.selection.clone(),
            partitions,
            self.limit,
        )
    }

    fn statistics_for(&self, partition: Option<usize>) -> Statistics {
        let rows = match partition {
            None => self.selection.cells(),
            Some(p) => self
                .partitions
                .get(p)
                .map_or(0, |rs| rs.iter().map(|r| region_cells(r)).sum()),
        };
        let rows = usize::try_from(rows).unwrap_or(usize::MAX);
        let rows = match self.limit {
            Some(l) => rows.min(l),
            None => rows,
        };
        let mut stats = Statistics::new_unknown(&self.schema);
        stats.num_rows = Precision::Exact(rows);
        if partition.is_none() {
            for (out, &col) in self.projection.iter().enumerate() {
                if col < self.table.ndims() {
                    stats.column_statistics[out] = self.dim_stats(col);
                }
            }
        }
        stats
    }

    /// Min and max of the selected coordinate values of dimension `d`.
    fn dim_stats(&self, d: usize) -> ColumnStatistics {
        let dim = &self.table.grid.dims[d];
        // Coordinates may be unsorted; only report bounds for monotonic ones,
        // where range ends are the extremes.
        if !dim.is_monotonic() {
            return ColumnStatistics::new_unknown();
        }
        let mut min: Option<ScalarValue> = None;
        let mut max: Option<ScalarValue> = None;
        for r in self.selection.ranges[d].iter().filter(|r| r.end > r.start) {
            for i in [r.start, r.end - 1] {
                let Some(v) = dim.value(i) else {
                    continue;
                };
                if v.is_null() {
                    continue;
                }
                if min
                    .as_ref()
                    .is_none_or(|m| v.partial_cmp(m) == Some(std::cmp::Ordering::Less))
                {
                    min = Some(v.clone());
                }
                if max
                    .as_ref()
                    .is_none_or(|m| v.partial_cmp(m) == Some(std::cmp::Ordering::Greater))
                {
                    max = Some(v);
                }
            }
        }
        ColumnStatistics {
            min_value: min.map_or(Precision::Absent, Precision::Exact),
            max_value: max.map_or(Precision::Absent, Precision::Exact),
            ..ColumnStatistics::new_unknown()
        }
    }
}

impl DisplayAs for GridScanExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let cols: Vec<&str> = self
            .projection
            .iter()
            .map(|&i| self.table.schema.field(i).name().as_str())
            .collect();
        let regions: usize = self.partitions.iter().map(Vec::len).sum();
        match t {
            DisplayFormatType::Default | DisplayFormatType::Verbose => {
                write!(
                    f,
                    "GridScanExec: {} {} projection=[{}], cells={}, regions={}",
                    self.table.spec.format,
                    self.table.spec.location,
                    cols.join(", "),
                    self.selection.cells(),
                    regions
                )?;
                if let Some(l) = self.limit {
                    write!(f, ", limit={l}")?;
                }
                Ok(())
            }
            DisplayFormatType::TreeRender => {
                write!(f, "cells={}\nregions={}", self.selection.cells(), regions)
            }
        }
    }
}

impl ExecutionPlan for GridScanExec {
    fn name(&self) -> &'static str {
        "GridScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        self.tags.iter().collect()
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn replace_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        _options: ReplaceChildrenOptions,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        if children.is_empty() && self.tags.is_none() {
            return Ok(self);
        }
        let (partitions, tags) =
            crate::partition_tags::retag(&self.partitions, &children, "GridScanExec")?;
        let mut scan = self.with_partitions(partitions)?;
        scan.tags = tags;
        Ok(Arc::new(scan))
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        self.replace_children(
            children,
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
        )
    }

    fn metrics(&self) -> Option<MetricsSet> {
        crate::io::counters::metrics(&self.io)
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        let regions = self.partitions.get(partition).cloned().unwrap_or_default();
        let batch_size = context.session_config().batch_size().max(1);
        let grid = &self.table.grid;
        let variables: Vec<usize> = self
            .projection
            .iter()
            .filter_map(|&c| match grid.column(c) {
                Some(GridColumn::Var(v)) => Some(v),
                _ => None,
            })
            .collect();
        let loading = Loading {
            partitions: self.partitions.len(),
            io: Arc::clone(&self.io),
            limited: self.limit.is_some(),
        };
        let loaded = load_regions(Arc::clone(&self.table), variables, regions, loading);
        let batcher = Arc::new(RegionBatcher {
            table: Arc::clone(&self.table),
            projection: self.projection.clone(),
            schema: Arc::clone(&self.schema),
        });
        let batches = loaded
            .map_ok(move |l| {
                let batcher = Arc::clone(&batcher);
                stream::iter(batcher.batches(l, batch_size))
            })
            .try_flatten();
        let limited: futures::stream::BoxStream<'static, DfResult<RecordBatch>> = match self.limit {
            None => batches.boxed(),
            Some(limit) => batches
                .scan(limit, |left, b| {
                    let out = match b {
                        Err(e) => Some(Err(e)),
                        Ok(_) if *left == 0 => None,
                        Ok(b) => {
                            let n = b.num_rows().min(*left);
                            *left -= n;
                            Some(Ok(b.slice(0, n)))
                        }
                    };
                    futures::future::ready(out)
                })
                .boxed(),
        };
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&self.schema),
            limited,
        )))
    }

    fn statistics_from_inputs(
        &self,
        _input_stats: &[Arc<Statistics>],
        args: &StatisticsArgs,
    ) -> DfResult<Arc<Statistics>> {
        Ok(Arc::new(self.statistics_for(args.partition())))
    }

    fn supports_limit_pushdown(&self) -> bool {
        true
    }

    fn fetch(&self) -> Option<usize> {
        self.limit
    }
}

/// Cuts loaded regions into record batches.
struct RegionBatcher {
    table: Arc<GridTable>,
    projection: Vec<usize>,
    schema: SchemaRef,
}

impl RegionBatcher {
    fn batches(
        self: Arc<Self>,
        loaded: LoadedRegion,
        batch_size: usize,
    ) -> impl Iterator<Item = DfResult<RecordBatch>> {
        let cells = region_cells(&loaded.region) as usize;
        let loaded = Arc::new(loaded);
        (0..cells).step_by(batch_size).map(move |start| {
            let end = (start + batch_size).min(cells);
            self.batch(&loaded, start..end)
        })
    }

    fn batch(&self, loaded: &LoadedRegion, rows: Range<usize>) -> DfResult<RecordBatch> {
        let ndims = self.table.ndims();
        let grid = &self.table.grid;
        let mut columns: Vec<Option<ArrayRef>> = vec![None; self.projection.len()];
        for (out, &c) in self.projection.iter().enumerate() {
            match grid.column(c) {
                Some(GridColumn::Dim(d)) => {
                    columns[out] = Some(self.coordinate_column(&loaded.region, d, rows.clone())?);
                }
                Some(GridColumn::Aux(a)) => {
                    columns[out] = Some(grid.aux[a].values_in(&loaded.region, rows.clone())?);
                }
                _ => {}
            }
        }
        for (v, buf) in &loaded.values {
            let var = &self.table.grid.variables[*v];
            for (out, &c) in self.projection.iter().enumerate() {
                if c == ndims + v {
                    columns[out] = Some(buf.decode(rows.clone(), &var.decoding)?);
                }
            }
        }
        let columns: Vec<ArrayRef> = columns.into_iter().flatten().collect();
        let options = RecordBatchOptions::new().with_row_count(Some(rows.len()));
        Ok(RecordBatch::try_new_with_options(
            Arc::clone(&self.schema),
            columns,
            &options,
        )?)
    }

    /// Coordinate values of dimension `d` for `rows` of `region` (C order).
    fn coordinate_column(
        &self,
        region: &Region,
        d: usize,
        rows: Range<usize>,
    ) -> DfResult<ArrayRef> {
        let stride: u64 = region[d + 1..].iter().map(|r| r.end - r.start).product();
        let len = region[d].end - region[d].start;
        let start = region[d].start;
        let mut idx: Vec<u64> = Vec::with_capacity(rows.len());
        let mut row = rows.start as u64;
        let end = rows.end as u64;
        while row < end {
            let i = (row / stride) % len;
            let run_end = ((row / stride) + 1).saturating_mul(stride).min(end);
            idx.extend(std::iter::repeat_n(start + i, (run_end - row) as usize));
            row = run_end;
        }
        Ok(self.table.grid.dims[d].take(&UInt64Array::from(idx))?)
    }
}
