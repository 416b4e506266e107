//! A COPY to Zarr written by a cluster's executors side by side: the plan
//! the scheduler makes when the COPY carries its coordinates
//! ([`super::pinned`]).
//!
//! ```text
//! ChunkWriteExec      one task per partition: holds its rows, fills and
//!   │                 writes the chunks of its rows of chunks
//!   │  (hash by chunk row: DataFusion's repartition, a shuffle on Ballista)
//! ChunkRowExec        each row tagged with its row of chunks along the
//!   │                 first dimension
//! the query
//! ```
//!
//! A row of chunks (the chunks of one chunk-length of the first dimension)
//! then lives in one partition only, so no two tasks write one chunk. The
//! client created the store and wrote the coordinates before the job, and
//! writes every array's metadata after it ([`super::cluster_write`]).

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, Int64Array, RecordBatch, UInt64Array};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{Result, internal_err};
use datafusion::error::DataFusionError;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::{Distribution, EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, Partitioning,
    PlanProperties,
};
use futures::{StreamExt, TryStreamExt, stream};
use gridsql_connectors::write::WriteOptions;
use gridsql_connectors::write::zarr_out::ZarrWriter;

use super::holding::Holding;
use super::pinned::{PINNED, PinnedGrid};
use super::{Target, first_steps, slabs, write_slab};

/// The column [`ChunkRowExec`] adds: the row of chunks a row falls in.
pub(crate) const CHUNK_ROW: &str = "__gridsql_chunk_row";

/// What both nodes take from the COPY's options: the options, and the
/// coordinates.
#[derive(Debug, Clone)]
struct Pinned {
    raw: HashMap<String, String>,
    options: WriteOptions,
    coords: Vec<ArrayRef>,
}

impl Pinned {
    fn from_raw(raw: HashMap<String, String>) -> Result<Self> {
        let Some(coords) = super::pinned::coordinates(&raw)? else {
            return internal_err!("a parallel COPY without its coordinates ('{PINNED}')");
        };
        let options = WriteOptions::parse(&super::pinned::without_pinned(&raw))
            .map_err(DataFusionError::from)?;
        Ok(Pinned {
            raw,
            options,
            coords,
        })
    }

    fn grid(&self, schema: &Schema) -> Result<PinnedGrid> {
        PinnedGrid::new(schema, &self.options, &self.coords)
    }
}

fn properties(schema: SchemaRef, partitions: usize, emission: EmissionType) -> Arc<PlanProperties> {
    Arc::new(PlanProperties::new(
        EquivalenceProperties::new(schema),
        Partitioning::UnknownPartitioning(partitions.max(1)),
        emission,
        Boundedness::Bounded,
    ))
}

fn one_child(children: Vec<Arc<dyn ExecutionPlan>>, what: &str) -> Result<Arc<dyn ExecutionPlan>> {
    let [child] = <[_; 1]>::try_from(children).map_err(|c| {
        DataFusionError::Internal(format!("{what} takes one input, not {}", c.len()))
    })?;
    Ok(child)
}

/// Tags each row with its row of chunks along the output's first dimension.
#[derive(Debug)]
pub struct ChunkRowExec {
    input: Arc<dyn ExecutionPlan>,
    pinned: Pinned,
    properties: Arc<PlanProperties>,
}

impl ChunkRowExec {
    /// Tags `input`'s rows for the COPY whose options (with the
    /// coordinates) are `raw`.
    ///
    /// # Errors
    /// Options without coordinates, coordinates that do not fit the input.
    pub fn try_new(input: Arc<dyn ExecutionPlan>, raw: HashMap<String, String>) -> Result<Self> {
        Self::with_pinned(input, Pinned::from_raw(raw)?)
    }

    fn with_pinned(input: Arc<dyn ExecutionPlan>, pinned: Pinned) -> Result<Self> {
        let in_schema = input.schema();
        // the coordinates fit the input: checked once here, on the planner
        pinned.grid(&in_schema)?;
        let mut fields: Vec<Arc<Field>> = in_schema.fields().iter().cloned().collect();
        fields.push(Arc::new(Field::new(CHUNK_ROW, DataType::Int64, false)));
        let schema = Arc::new(Schema::new_with_metadata(
            fields,
            in_schema.metadata().clone(),
        ));
        let partitions = input.output_partitioning().partition_count();
        Ok(ChunkRowExec {
            properties: properties(schema, partitions, EmissionType::Incremental),
            input,
            pinned,
        })
    }

    /// The COPY's options, coordinates included (for the codec).
    pub fn raw_options(&self) -> &HashMap<String, String> {
        &self.pinned.raw
    }
}

impl DisplayAs for ChunkRowExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "ChunkRowExec: {CHUNK_ROW}")
    }
}

impl ExecutionPlan for ChunkRowExec {
    fn name(&self) -> &'static str {
        "ChunkRowExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let input = one_child(children, "ChunkRowExec")?;
        Ok(Arc::new(ChunkRowExec::with_pinned(
            input,
            self.pinned.clone(),
        )?))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let mut grid = self.pinned.grid(&self.input.schema())?;
        let c0 = grid.first_chunk();
        let schema = self.schema();
        let out = Arc::clone(&schema);
        let input = self.input.execute(partition, context)?;
        let tagged = input.map(move |batch| {
            let batch = batch?;
            let keys = grid
                .layout
                .dim_keys(&batch, 0)
                .map_err(DataFusionError::from)?;
            let rows = keys
                .iter()
                .map(|k| match grid.grid.position(0, *k) {
                    Some(p) => Ok(p as i64 / c0 as i64),
                    None => internal_err!("a pinned coordinate without a position"),
                })
                .collect::<Result<Vec<i64>>>()?;
            let mut columns = batch.columns().to_vec();
            columns.push(Arc::new(Int64Array::from(rows)));
            Ok(RecordBatch::try_new(Arc::clone(&out), columns)?)
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, tagged)))
    }
}

/// Writes the chunks of the rows of chunks its partition holds, into the
/// store the client created; one row per partition: the rows it wrote.
#[derive(Debug)]
pub struct ChunkWriteExec {
    input: Arc<dyn ExecutionPlan>,
    target: String,
    pinned: Pinned,
    properties: Arc<PlanProperties>,
}

impl ChunkWriteExec {
    /// Writes `input` (tagged by [`ChunkRowExec`]) to `target`.
    ///
    /// # Errors
    /// Options without coordinates; an input without the tag.
    pub fn try_new(
        input: Arc<dyn ExecutionPlan>,
        target: String,
        raw: HashMap<String, String>,
    ) -> Result<Self> {
        Self::with_pinned(input, target, Pinned::from_raw(raw)?)
    }

    fn with_pinned(input: Arc<dyn ExecutionPlan>, target: String, pinned: Pinned) -> Result<Self> {
        let in_schema = input.schema();
        if in_schema.fields().last().map(|f| f.name().as_str()) != Some(CHUNK_ROW) {
            return internal_err!("ChunkWriteExec's input has no {CHUNK_ROW}");
        }
        let schema = Arc::new(Schema::new(vec![Field::new(
            "count",
            DataType::UInt64,
            false,
        )]));
        let partitions = input.output_partitioning().partition_count();
        Ok(ChunkWriteExec {
            properties: properties(schema, partitions, EmissionType::Final),
            input,
            target,
            pinned,
        })
    }

    /// The target and the COPY's options, coordinates included (for the
    /// codec).
    pub fn wire(&self) -> (&str, &HashMap<String, String>) {
        (&self.target, &self.pinned.raw)
    }
}

impl DisplayAs for ChunkWriteExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "ChunkWriteExec: Zarr to {}", self.target)
    }
}

impl ExecutionPlan for ChunkWriteExec {
    fn name(&self) -> &'static str {
        "ChunkWriteExec"
    }

    /// Every row of one row of chunks in one partition.
    fn required_input_distribution(&self) -> Vec<Distribution> {
        let at = self.input.schema().fields().len().saturating_sub(1);
        let tag: Arc<dyn PhysicalExpr> = Arc::new(Column::new(CHUNK_ROW, at));
        vec![Distribution::KeyPartitioned(vec![tag])]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![true]
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let input = one_child(children, "ChunkWriteExec")?;
        Ok(Arc::new(ChunkWriteExec::with_pinned(
            input,
            self.target.clone(),
            self.pinned.clone(),
        )?))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, Arc::clone(&context))?;
        let tagged_schema = self.input.schema();
        let untagged: Vec<usize> = (0..tagged_schema.fields().len().saturating_sub(1)).collect();
        let grid = self
            .pinned
            .grid(&Arc::new(tagged_schema.project(&untagged)?))?;
        let write = write_partition(
            input,
            untagged,
            grid,
            self.pinned.options.clone(),
            self.target.clone(),
            partition,
            context,
        );
        let schema = self.schema();
        let out = Arc::clone(&schema);
        let batch = async move {
            let rows = write.await?;
            Ok::<_, DataFusionError>(RecordBatch::try_new(
                out,
                vec![Arc::new(UInt64Array::from(vec![rows]))],
            )?)
        };
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            schema,
            stream::once(batch),
        )))
    }
}

/// One partition's share of the write: its rows held, then the slabs that
/// hold its rows of chunks filled and written; the rows written.
async fn write_partition(
    mut input: SendableRecordBatchStream,
    untagged: Vec<usize>,
    mut pinned: PinnedGrid,
    options: WriteOptions,
    target: String,
    partition: usize,
    context: Arc<TaskContext>,
) -> Result<u64> {
    let mut holding = Holding::new(&context, pinned.layout.keyed_schema(), &target);
    let mut owned = BTreeSet::new();
    let mut rows = 0u64;
    while let Some(batch) = input.try_next().await? {
        let tags = batch
            .columns()
            .last()
            .and_then(|c| c.as_primitive_opt::<Int64Type>())
            .ok_or_else(|| DataFusionError::Internal(format!("no {CHUNK_ROW} column")))?;
        owned.extend(tags.values().iter().map(|r| *r as u64));
        rows += batch.num_rows() as u64;
        let batch = batch.project(&untagged)?;
        holding.push(pinned.layout.key(&batch).map_err(DataFusionError::from)?)?;
    }
    let (Some(&first), Some(&last)) = (owned.first(), owned.last()) else {
        return Ok(0);
    };
    let c0 = pinned.first_chunk();
    let grid = Arc::new(pinned.grid);
    let held = Arc::new(holding.finish(&grid, c0)?);
    let target = Target::open(context.runtime_env(), context.session_config(), &target)?;
    let dataset = target.dataset;
    let mut writer = ZarrWriter::open(
        &grid,
        pinned.chunks,
        target.store,
        target.path,
        &options,
        &dataset,
    );
    let steps = first * c0..((last + 1) * c0).min(first_steps(&grid));
    for range in slabs(steps, held.slab) {
        // a slab with none of this partition's rows of chunks holds only
        // fill values here: another partition writes it
        if owned
            .range(range.start / c0..=(range.end - 1) / c0)
            .next()
            .is_none()
        {
            continue;
        }
        write_slab(&mut writer, &grid, &held, range).await?;
    }
    let written = writer.written();
    log::info!(
        "COPY to {dataset}: partition {partition} wrote {} chunks ({} bytes) from {rows} rows",
        written.objects,
        written.bytes
    );
    Ok(rows)
}
