//! [`GridAggregateExec`]: a GROUP BY over dimension functions computed in
//! the scan, emitting the final aggregate values.

use std::fmt;
use std::sync::Arc;

use arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{Result as DfResult, Statistics};
use datafusion::error::DataFusionError;
use datafusion::execution::TaskContext;
use datafusion::execution::memory_pool::MemoryConsumer;
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

use super::emit::Emitted;
use super::spec::{AggSpec, GroupSpec};
use super::state::States;
pub use super::state::state_width;
use crate::cf::CfDecoding;
use crate::grid::{RawBuffer, Region, Selection};
use crate::io::IoCounters;
use crate::loader::{Loading, load_regions};
use crate::table::GridTable;

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

/// Aggregates a grid table's selection by dimension groups.
#[derive(Debug)]
pub struct GridAggregateExec {
    table: Arc<GridTable>,
    selection: Selection,
    partitions: Vec<Vec<Region>>,
    groups: GroupSpec,
    aggs: Vec<AggSpec>,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
    partial: bool,
    /// In distributed plans, the partial aggregate's partition tags (see
    /// [`partition_tags`](crate::partition_tags)); never executed.
    tags: Option<Arc<dyn ExecutionPlan>>,
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
        Self::build(table, selection, partitions, groups, aggs, schema, false)
    }

    /// The partial half of an aggregate, for a cluster: one output partition
    /// per scan partition, each emitting the GROUP BY keys and DataFusion's
    /// partial states (see [`state_width`]) of its own regions, in
    /// `schema` (the schema of the partial `AggregateExec` it replaces), for
    /// DataFusion's final aggregate to merge. Ballista can then run the
    /// partitions on different executors.
    ///
    /// # Errors
    /// Too many groups, or a schema that does not fit the spec.
    pub fn try_new_partial(
        table: Arc<GridTable>,
        selection: Selection,
        partitions: Vec<Vec<Region>>,
        groups: GroupSpec,
        aggs: Vec<AggSpec>,
        schema: SchemaRef,
    ) -> DfResult<Self> {
        Self::build(table, selection, partitions, groups, aggs, schema, true)
    }

    /// This partial aggregate with partition tags as its child, so that a
    /// Ballista scheduler can give each task its own partitions (see
    /// [`partition_tags`](crate::partition_tags)). A final aggregate has one
    /// partition and comes back untagged.
    ///
    /// # Errors
    /// Too many partitions to tag.
    pub fn with_partition_tags(&self) -> DfResult<Self> {
        let mut agg = self.with_partitions(self.partitions.clone())?;
        if self.partial {
            agg.tags = Some(crate::partition_tags::tags(self.partitions.len())?);
        }
        Ok(agg)
    }

    /// This aggregate over `partitions` instead, untagged.
    fn with_partitions(&self, partitions: Vec<Vec<Region>>) -> DfResult<Self> {
        Self::build(
            Arc::clone(&self.table),
            self.selection.clone(),
            partitions,
            self.groups.clone(),
            self.aggs.clone(),
            Arc::clone(&self.schema),
            self.partial,
        )
    }

    /// Checks the group count and the schema against the spec; a partial
    /// aggregate has one output partition per scan partition, a final one
    /// a single partition.
    fn build(
        table: Arc<GridTable>,
        selection: Selection,
        partitions: Vec<Vec<Region>>,
        groups: GroupSpec,
        aggs: Vec<AggSpec>,
        schema: SchemaRef,
        partial: bool,
    ) -> DfResult<Self> {
        let n = groups.groups().unwrap_or(usize::MAX);
        if n > MAX_DENSE_GROUPS {
            return Err(DataFusionError::Plan(format!(
                "{n} groups are too many for a grid aggregate"
            )));
        }
        let values: usize = if partial {
            aggs.iter().map(|a| state_width(a.func)).sum()
        } else {
            aggs.len()
        };
        if schema.fields().len() != groups.keys.len() + values {
            return Err(DataFusionError::Internal(format!(
                "{}grid aggregate schema does not fit its spec",
                if partial { "partial " } else { "" }
            )));
        }
        let output_partitions = if partial { partitions.len().max(1) } else { 1 };
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
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
            partial,
            tags: None,
            io: Arc::default(),
        })
    }

    /// Whether this emits partial states (see [`Self::try_new_partial`]).
    pub fn is_partial(&self) -> bool {
        self.partial
    }

    /// Partition `p` of a partial aggregate.
    fn execute_partial(
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
        let schema = Arc::clone(&self.schema);
        let state_fields: Vec<_> = schema.fields()[self.groups.keys.len()..].to_vec();
        let widths: Vec<usize> = self.aggs.iter().map(|a| state_width(a.func)).collect();
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
        let out_schema = Arc::clone(&schema);
        let fut = async move {
            let states = fut.await?;
            let batches = emitted.batches(out_schema, batch_size, move |ids| {
                // Held until the last batch is emitted.
                let _reservation = &reservation;
                let mut columns = Vec::new();
                let mut at = 0;
                for (st, &w) in states.states.iter().zip(&widths) {
                    columns.extend(st.partial(ids, &state_fields[at..at + w])?);
                    at += w;
                }
                Ok(columns)
            });
            Ok::<_, DataFusionError>(stream::iter(batches))
        };
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            schema,
            stream::once(fut).try_flatten(),
        )))
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
                "GridAggregateExec: {} {} groups={}, aggregates=[{}], cells={}, regions={}",
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
            crate::partition_tags::retag(&self.partitions, &children, "GridAggregateExec")?;
        let mut agg = self.with_partitions(partitions)?;
        agg.tags = tags;
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
        if self.partial {
            return self.execute_partial(partition, &context);
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
        // Over no selected cell, no group is emitted (but the one row of an
        // aggregate without GROUP BY).
        let emitted = Emitted::new(Arc::clone(&groups), |d| {
            if self.selection.is_empty() {
                vec![]
            } else {
                self.selection.ranges[d].clone()
            }
        });
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
