//! [`GridAggregateExec`]: a GROUP BY over dimension functions computed in
//! the scan, emitting the final aggregate values.

use std::fmt;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{Result as DfResult, Statistics};
use datafusion::error::DataFusionError;
use datafusion::execution::TaskContext;
use datafusion::execution::memory_pool::MemoryConsumer;
use datafusion::physical_expr::Distribution;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::MetricsSet;
use datafusion::physical_plan::statistics::StatisticsArgs;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning,
    PlanProperties, ReplaceChildrenOptions, SendableRecordBatchStream,
};
use futures::{TryStreamExt, stream};

use super::dense::dense_schema;
use super::emit::Emitted;
use super::owned::{OwnedCut, cut_along};
use super::spec::{AggSpec, GroupSpec};
use super::state::States;
use crate::cf::CfDecoding;
use crate::grid::plan::region_cells;
use crate::grid::{RawBuffer, Region, Selection};
use crate::io::IoCounters;
use crate::loader::{Loading, load_regions};
use crate::table::GridTable;

/// The shortest run of consecutive cells a piece of a chunk cut between
/// tasks may read (see [`GridAggregateExec::cut_to_own_groups`]): 64 Ki
/// cells, 256 KiB of `float32`, at least as long as the blocks blosc cuts
/// (up to 256 KiB), so that the blocks both tasks decode (at most one at
/// each end of a run) stay a small share of the blocks read.
pub const MIN_PIECE_RUN: u64 = 1 << 16;

/// Most groups a grid aggregate keeps dense (per partition).
pub const MAX_DENSE_GROUPS: usize = 1 << 26;

/// Bytes of one partition's dense states (see
/// [`state_bytes`](super::state::state_bytes)). Reserved from the session's
/// memory pool before they are allocated, so that an aggregate over too many
/// groups fails with DataFusion's "Resources exhausted" error instead of
/// exhausting the machine's memory.
pub fn dense_bytes(aggs: &[AggSpec], groups: usize) -> usize {
    let per_group: usize = aggs.iter().map(|a| super::state::state_bytes(a.func)).sum();
    groups.saturating_mul(per_group.max(8))
}

/// How a grid aggregate runs and what it emits.
///
/// On one machine the whole aggregate is one node ([`GridMode::Whole`]). On
/// a cluster Ballista runs each output partition as a task: either every
/// partition owns its groups outright ([`GridMode::PerPartition`]: no
/// exchange), or partitions emit dense partial states ([`GridMode::Dense`])
/// that one [`GridMode::Merge`] node adds up by index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum GridMode {
    /// Reads every partition and merges their states in memory; one output
    /// partition.
    Whole,
    /// One output partition per scan partition, each the final values of
    /// its own groups: no group has cells in two partitions (see
    /// [`GridAggregateExec::owns_groups`]).
    PerPartition,
    /// One output partition per scan partition, each its partial states in
    /// the dense layout of [`dense`](super::dense).
    Dense,
    /// Merges the dense blocks of its input (a [`GridMode::Dense`]
    /// aggregate's partitions) by group index and emits the final values;
    /// one output partition.
    Merge,
}

impl GridMode {
    fn name(self) -> &'static str {
        match self {
            GridMode::Whole => "whole",
            GridMode::PerPartition => "per_partition",
            GridMode::Dense => "dense",
            GridMode::Merge => "merge",
        }
    }

    /// Whether each scan partition is an output partition of its own (and
    /// so a task of its own on a cluster).
    pub fn is_split(self) -> bool {
        matches!(self, GridMode::PerPartition | GridMode::Dense)
    }
}

/// Aggregates a grid table's selection by dimension groups.
#[derive(Debug)]
pub struct GridAggregateExec {
    table: Arc<GridTable>,
    selection: Selection,
    partitions: Vec<Vec<Region>>,
    groups: GroupSpec,
    aggs: Vec<AggSpec>,
    /// The final output: one column per group key, then one per aggregate.
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
    mode: GridMode,
    /// Split modes in distributed plans: the partition tags (see
    /// [`partition_tags`](crate::partition_tags)), never executed. Merge:
    /// the dense aggregate whose blocks it merges.
    child: Option<Arc<dyn ExecutionPlan>>,
    /// Requests to remote stores made by its partitions.
    io: Arc<IoCounters>,
}

impl GridAggregateExec {
    /// An aggregate of `selection` (read as `partitions` of regions) with
    /// output `schema`: one column per group key, then one per aggregate.
    ///
    /// # Errors
    /// Too many groups, or a schema that does not fit the spec.
    pub fn try_new(
        table: Arc<GridTable>,
        selection: Selection,
        partitions: Vec<Vec<Region>>,
        groups: GroupSpec,
        aggs: Vec<AggSpec>,
        schema: SchemaRef,
    ) -> DfResult<Self> {
        Self::build(
            table,
            selection,
            partitions,
            groups,
            aggs,
            schema,
            GridMode::Whole,
        )
    }

    /// This aggregate in a split mode ([`GridMode::PerPartition`] or
    /// [`GridMode::Dense`]), untagged.
    ///
    /// # Errors
    /// `mode` is not a split mode.
    pub fn split(&self, mode: GridMode) -> DfResult<Self> {
        if !mode.is_split() {
            return Err(DataFusionError::Internal(format!(
                "{} is not a split grid aggregate mode",
                mode.name()
            )));
        }
        self.rebuild(self.partitions.clone(), mode)
    }

    /// The node that merges the dense blocks of `input` (this aggregate in
    /// [`GridMode::Dense`], its partitions coalesced) into this aggregate's
    /// final output.
    ///
    /// # Errors
    /// The aggregate cannot be rebuilt.
    pub fn merging(&self, input: Arc<dyn ExecutionPlan>) -> DfResult<Self> {
        let mut merge = self.rebuild(vec![], GridMode::Merge)?;
        merge.child = Some(input);
        Ok(merge)
    }

    /// Whether no group has cells in two of its partitions, so that each
    /// partition can emit its groups' final values (see [`Self::owning_dim`]).
    pub fn owns_groups(&self) -> bool {
        self.owning_dim().is_some()
    }

    /// The grouped dimension along which the classes (see [`GroupSpec`]) of
    /// different partitions' regions never meet, if any: time for a GROUP
    /// BY of time over a scan split by time, say, but none for a GROUP BY of
    /// cells over the same scan.
    pub fn owning_dim(&self) -> Option<usize> {
        if self.groups.dims.is_empty() || self.partitions.len() < 2 {
            return None;
        }
        let owns = |g: &super::spec::DimGroups| {
            let mut owner: Vec<Option<usize>> = vec![None; g.classes as usize];
            for (p, regions) in self.partitions.iter().enumerate() {
                for r in regions {
                    let Some(range) = r.get(g.dim) else {
                        return false;
                    };
                    for i in range.clone() {
                        let Some(&c) = g.class_of.get(i as usize) else {
                            return false;
                        };
                        match owner[c as usize] {
                            Some(o) if o != p => return false,
                            _ => owner[c as usize] = Some(p),
                        }
                    }
                }
            }
            true
        };
        self.groups.dims.iter().find(|g| owns(g)).map(|g| g.dim)
    }

    /// This aggregate's regions cut so that each partition owns its groups
    /// along some grouped dimension (see [`owned`](super::owned)), in
    /// [`GridMode::PerPartition`], when the cut costs little: it splits at
    /// most a tenth of the cells' regions, or the format reads parts of
    /// chunks for the cost of the part and every piece is a run of at least
    /// [`MIN_PIECE_RUN`] cells. Among such cuts, one that splits few regions
    /// first, then the outermost dimension (the longest runs). `None` when
    /// the partitions own their groups already or no cut qualifies.
    ///
    /// # Errors
    /// The aggregate cannot be rebuilt.
    pub fn cut_to_own_groups(&self) -> DfResult<Option<Self>> {
        let k = self.partitions.len();
        if k < 2 || self.owns_groups() {
            return Ok(None);
        }
        let regions: Vec<Region> = self.partitions.concat();
        let total: u64 = regions.iter().map(|r| region_cells(r)).sum();
        let few = |c: &OwnedCut| c.split_cells <= total / 10;
        let grid = &self.table.grid;
        let parts_cheap = self.aggs.iter().filter_map(|a| a.arg.var()).all(|v| {
            grid.variables
                .get(v)
                .is_some_and(|var| self.table.reader.reads_part_of_chunk(&var.name))
        });
        let best = self
            .groups
            .dims
            .iter()
            .filter_map(|g| cut_along(&regions, g, k))
            .filter(|c| few(c) || (parts_cheap && c.min_run >= MIN_PIECE_RUN))
            .min_by_key(|c| (!few(c), c.dim));
        let Some(cut) = best else {
            return Ok(None);
        };
        let agg = self.rebuild(cut.partitions, GridMode::PerPartition)?;
        Ok(agg.owns_groups().then_some(agg))
    }

    /// This split aggregate with partition tags as its child, so that a
    /// Ballista scheduler can give each task its own partitions (see
    /// [`partition_tags`](crate::partition_tags)).
    ///
    /// # Errors
    /// Too many partitions to tag.
    pub fn with_partition_tags(&self) -> DfResult<Self> {
        let mut agg = self.rebuild(self.partitions.clone(), self.mode)?;
        if self.mode.is_split() {
            agg.child = Some(crate::partition_tags::tags(self.partitions.len())?);
        }
        Ok(agg)
    }

    /// This aggregate over `partitions` in `mode`, without a child.
    fn rebuild(&self, partitions: Vec<Vec<Region>>, mode: GridMode) -> DfResult<Self> {
        Self::build(
            Arc::clone(&self.table),
            self.selection.clone(),
            partitions,
            self.groups.clone(),
            self.aggs.clone(),
            Arc::clone(&self.schema),
            mode,
        )
    }

    /// Checks the group count and the schema against the spec.
    fn build(
        table: Arc<GridTable>,
        selection: Selection,
        partitions: Vec<Vec<Region>>,
        groups: GroupSpec,
        aggs: Vec<AggSpec>,
        schema: SchemaRef,
        mode: GridMode,
    ) -> DfResult<Self> {
        let n = groups.groups().unwrap_or(usize::MAX);
        if n > MAX_DENSE_GROUPS {
            return Err(DataFusionError::Plan(format!(
                "{n} groups are too many for a grid aggregate"
            )));
        }
        if schema.fields().len() != groups.keys.len() + aggs.len() {
            return Err(DataFusionError::Internal(
                "grid aggregate schema does not fit its spec".into(),
            ));
        }
        let (output, output_partitions) = match mode {
            GridMode::Whole | GridMode::Merge => (Arc::clone(&schema), 1),
            GridMode::PerPartition => (Arc::clone(&schema), partitions.len().max(1)),
            GridMode::Dense => (dense_schema(&aggs), partitions.len().max(1)),
        };
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(output),
            Partitioning::UnknownPartitioning(output_partitions),
            EmissionType::Final,
            Boundedness::Bounded,
        ));
        Ok(GridAggregateExec {
            table,
            selection,
            partitions,
            groups,
            aggs,
            schema,
            properties,
            mode,
            child: None,
            io: Arc::default(),
        })
    }

    /// How it runs.
    pub fn mode(&self) -> GridMode {
        self.mode
    }

    /// The final output schema (a dense aggregate emits blocks instead).
    pub fn final_schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// Partition `p` of a split aggregate: its own regions' groups, as
    /// final values or dense blocks.
    fn execute_split(
        &self,
        p: usize,
        context: &Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        let batch_size = context.session_config().batch_size();
        let n_groups = self.groups.groups().unwrap_or(0);
        let regions = self.partitions.get(p).cloned().unwrap_or_default();
        let groups = Arc::new(self.groups.clone());
        let emitted = Emitted::new(Arc::clone(&groups), |d| {
            regions.iter().filter_map(|r| r.get(d).cloned()).collect()
        });
        let schema = self.schema();
        let out_types: Vec<DataType> = self.aggs.iter().map(|a| a.output.clone()).collect();
        let reservation =
            MemoryConsumer::new(format!("GridAggregateExec[{p}]")).register(context.memory_pool());
        reservation.try_grow(dense_bytes(&self.aggs, n_groups))?;
        let fut = run_partition(
            Arc::clone(&self.table),
            regions,
            groups,
            Arc::new(self.aggs.clone()),
            n_groups,
            self.loading(),
        );
        let mode = self.mode;
        let out_schema = Arc::clone(&schema);
        let fut = async move {
            let states = fut.await?;
            let batches: Box<dyn Iterator<Item = DfResult<RecordBatch>> + Send> =
                if mode == GridMode::Dense {
                    let blocks = super::dense::blocks(states, out_schema);
                    // Held until the last block is emitted.
                    Box::new(blocks.inspect(move |_| {
                        let _reservation = &reservation;
                    }))
                } else {
                    Box::new(emitted.batches(out_schema, batch_size, move |ids| {
                        let _reservation = &reservation;
                        states
                            .states
                            .iter()
                            .zip(&out_types)
                            .map(|(st, ty)| Ok(st.finish(ids, ty)?))
                            .collect()
                    }))
                };
            Ok::<_, DataFusionError>(stream::iter(batches))
        };
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            schema,
            stream::once(fut).try_flatten(),
        )))
    }

    /// The merge: every partition of its input, added by group index, then
    /// the final values of the selection's groups.
    fn execute_merge(&self, context: &Arc<TaskContext>) -> DfResult<SendableRecordBatchStream> {
        let input = self
            .child
            .clone()
            .ok_or_else(|| DataFusionError::Internal("a grid merge has no input".into()))?;
        let batch_size = context.session_config().batch_size();
        let n_groups = self.groups.groups().unwrap_or(0);
        let aggs = Arc::new(self.aggs.clone());
        let reservation =
            MemoryConsumer::new("GridAggregateExec[merge]").register(context.memory_pool());
        reservation.try_grow(dense_bytes(&self.aggs, n_groups))?;
        let emitted = self.emitted_selection();
        let schema = Arc::clone(&self.schema);
        let out_types: Vec<DataType> = self.aggs.iter().map(|a| a.output.clone()).collect();
        let context = Arc::clone(context);
        let fut = async move {
            let mut merged = States::new(&aggs, n_groups);
            let parts = input.properties().output_partitioning().partition_count();
            for p in 0..parts {
                let mut s = input.execute(p, Arc::clone(&context))?;
                while let Some(batch) = s.try_next().await? {
                    super::dense::merge_blocks(&mut merged, &batch)?;
                }
            }
            let batches = emitted.batches(schema, batch_size, move |ids| {
                let _reservation = &reservation;
                merged
                    .states
                    .iter()
                    .zip(&out_types)
                    .map(|(st, ty)| Ok(st.finish(ids, ty)?))
                    .collect()
            });
            Ok::<_, DataFusionError>(stream::iter(batches))
        };
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&self.schema),
            stream::once(fut).try_flatten(),
        )))
    }

    /// The groups of the whole selection; over no selected cell, none (but
    /// the one row of an aggregate without GROUP BY).
    fn emitted_selection(&self) -> Emitted {
        Emitted::new(Arc::new(self.groups.clone()), |d| {
            if self.selection.is_empty() {
                vec![]
            } else {
                self.selection.ranges[d].clone()
            }
        })
    }

    /// How its partitions load: sharing the I/O budget, counted here.
    fn loading(&self) -> Loading {
        Loading {
            partitions: self.partitions.iter().filter(|p| !p.is_empty()).count(),
            io: Arc::clone(&self.io),
            limited: false,
        }
    }

    /// The table aggregated.
    pub fn table(&self) -> &Arc<GridTable> {
        &self.table
    }

    /// The selected cells.
    pub fn selection(&self) -> &Selection {
        &self.selection
    }

    /// Regions per scan partition.
    pub fn partitions(&self) -> &[Vec<Region>] {
        &self.partitions
    }

    /// The GROUP BY.
    pub fn groups(&self) -> &GroupSpec {
        &self.groups
    }

    /// The aggregates.
    pub fn aggs(&self) -> &[AggSpec] {
        &self.aggs
    }
}

/// Reads and accumulates one partition's regions.
async fn run_partition(
    table: Arc<GridTable>,
    regions: Vec<Region>,
    groups: Arc<GroupSpec>,
    aggs: Arc<Vec<AggSpec>>,
    n_groups: usize,
    loading: Loading,
) -> DfResult<States> {
    let mut vars: Vec<usize> = aggs.iter().filter_map(|a| a.arg.var()).collect();
    vars.sort_unstable();
    vars.dedup();
    let nvars = table.grid.variables.len();
    let loaded = load_regions(Arc::clone(&table), vars, regions, loading);
    let mut states = States::new(&aggs, n_groups);
    let mut loaded = std::pin::pin!(loaded);
    while let Some(l) = loaded.try_next().await? {
        let mut values: Vec<Option<(RawBuffer, CfDecoding)>> = vec![None; nvars];
        for (v, buf) in l.values {
            values[v] = Some((buf, table.grid.variables[v].decoding.cf.clone()));
        }
        states.add_region(&groups, &aggs, &l.region, &values);
    }
    Ok(states)
}

impl DisplayAs for GridAggregateExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let regions: usize = self.partitions.iter().map(Vec::len).sum();
        let aggs: Vec<&str> = self.aggs.iter().map(|a| a.func.name()).collect();
        match t {
            DisplayFormatType::Default | DisplayFormatType::Verbose => write!(
                f,
                "GridAggregateExec: mode={}{} {} {} groups={}, aggregates=[{}], cells={}, regions={}",
                self.mode.name(),
                match self.mode {
                    // The dimension whose groups the partitions own.
                    GridMode::PerPartition => self
                        .owning_dim()
                        .and_then(|d| self.table.grid.dims.get(d))
                        .map(|d| format!(" along={}", d.name))
                        .unwrap_or_default(),
                    _ => String::new(),
                },
                self.table.spec.format,
                self.table.spec.location,
                self.groups.groups().unwrap_or(0),
                aggs.join(", "),
                self.selection.cells(),
                regions
            ),
            DisplayFormatType::TreeRender => write!(
                f,
                "groups={}\ncells={}",
                self.groups.groups().unwrap_or(0),
                self.selection.cells()
            ),
        }
    }
}

impl ExecutionPlan for GridAggregateExec {
    fn name(&self) -> &'static str {
        "GridAggregateExec"
    }

    /// A merge needs every dense block in one partition: said so, the
    /// coalescing under it stays in the plan, and a cluster's task builder
    /// (which cuts a stage's leaves to its task's partitions unless they
    /// sit under a collapse) gives the merge every block, not its task's
    /// share.
    fn required_input_distribution(&self) -> Vec<Distribution> {
        match self.mode {
            GridMode::Merge => vec![Distribution::SinglePartition],
            _ => vec![Distribution::UnspecifiedDistribution; self.children().len()],
        }
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        self.child.iter().collect()
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
        if self.mode == GridMode::Merge {
            let [input] = <[_; 1]>::try_from(children).map_err(|c| {
                DataFusionError::Internal(format!("a grid merge takes one input, not {}", c.len()))
            })?;
            return Ok(Arc::new(self.merging(input)?));
        }
        if children.is_empty() && self.child.is_none() {
            return Ok(self);
        }
        let (partitions, tags) =
            crate::partition_tags::retag(&self.partitions, &children, "GridAggregateExec")?;
        let mut agg = self.rebuild(partitions, self.mode)?;
        agg.child = tags;
        Ok(Arc::new(agg))
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
        match self.mode {
            GridMode::PerPartition | GridMode::Dense => {
                return self.execute_split(partition, &context);
            }
            GridMode::Merge if partition == 0 => return self.execute_merge(&context),
            GridMode::Whole | GridMode::Merge => {}
        }
        if partition != 0 {
            return Err(DataFusionError::Internal(format!(
                "GridAggregateExec has one partition, not {partition}"
            )));
        }
        let batch_size = context.session_config().batch_size();
        let n_groups = self.groups.groups().unwrap_or(0);
        let groups = Arc::new(self.groups.clone());
        let aggs = Arc::new(self.aggs.clone());
        // One dense state per scan partition plus the merged one.
        let reservation = MemoryConsumer::new("GridAggregateExec").register(context.memory_pool());
        let n_tasks = self.partitions.iter().filter(|p| !p.is_empty()).count();
        reservation.try_grow(dense_bytes(&self.aggs, n_groups).saturating_mul(n_tasks + 1))?;
        let tasks: Vec<_> = self
            .partitions
            .iter()
            .filter(|p| !p.is_empty())
            .map(|regions| {
                tokio::spawn(run_partition(
                    Arc::clone(&self.table),
                    regions.clone(),
                    Arc::clone(&groups),
                    Arc::clone(&aggs),
                    n_groups,
                    self.loading(),
                ))
            })
            .collect();
        let emitted = self.emitted_selection();
        let schema = Arc::clone(&self.schema);
        let out_types: Vec<DataType> = self.aggs.iter().map(|a| a.output.clone()).collect();
        let fut = async move {
            let mut merged: Option<States> = None;
            for t in tasks {
                let s = t
                    .await
                    .map_err(|e| DataFusionError::External(Box::new(e)))??;
                match merged.as_mut() {
                    None => merged = Some(s),
                    Some(m) => {
                        for (a, b) in m.states.iter_mut().zip(&s.states) {
                            a.merge(b);
                        }
                    }
                }
            }
            let merged = merged.unwrap_or_else(|| States::new(&aggs, n_groups));
            let batches = emitted.batches(schema, batch_size, move |ids| {
                // Held until the last batch is emitted.
                let _reservation = &reservation;
                merged
                    .states
                    .iter()
                    .zip(&out_types)
                    .map(|(st, ty)| Ok(st.finish(ids, ty)?))
                    .collect()
            });
            Ok::<_, DataFusionError>(stream::iter(batches))
        };
        let stream = stream::once(fut).try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&self.schema),
            stream,
        )))
    }

    fn statistics_from_inputs(
        &self,
        _input_stats: &[Arc<Statistics>],
        _args: &StatisticsArgs,
    ) -> DfResult<Arc<Statistics>> {
        Ok(Arc::new(Statistics::new_unknown(&self.schema)))
    }
}
