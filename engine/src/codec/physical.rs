//! The physical codec: grid scans, grid aggregates and the sinks of COPY to
//! a grid, from the scheduler to the executors.

use std::sync::Arc;

use ballista_core::serde::BallistaPhysicalExtensionCodec;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{AggregateUDF, ScalarUDF, WindowUDF};
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::{ChildrenPropertiesMode, ExecutionPlan, ReplaceChildrenOptions};
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use gridsql_connectors::aggregate::exec::GridMode;
use gridsql_connectors::aggregate::{AggSpec, GridAggregateExec, GroupSpec};
use gridsql_connectors::scan::GridScanExec;
use gridsql_connectors::table_cache::open_cached;

use super::wire::{self, AggNode, OutputType, PlanNode};
use crate::copy_to::{ChunkRowExec, ChunkWriteExec, GridSink};
use datafusion::datasource::sink::DataSinkExec;

/// Ballista's physical codec plus gridsql's scans and aggregates.
#[derive(Debug, Default)]
pub struct GridPhysicalCodec {
    inner: BallistaPhysicalExtensionCodec,
}

impl GridPhysicalCodec {
    /// Our node for `node`, or `None` when it is not one of ours.
    fn to_wire(node: &dyn ExecutionPlan) -> Result<Option<PlanNode>> {
        if let Some(scan) = node.downcast_ref::<GridScanExec>() {
            return Ok(Some(PlanNode::Scan {
                spec: scan.table().spec.clone(),
                projection: scan.projection().to_vec(),
                selection: scan.selection().clone(),
                partitions: scan.partitions().to_vec(),
                limit: scan.limit(),
            }));
        }
        if let Some(agg) = node.downcast_ref::<GridAggregateExec>() {
            let keys = agg
                .groups()
                .keys
                .iter()
                .map(|(d, values)| Ok((*d, wire::array_to_ipc(values)?)))
                .collect::<Result<Vec<_>>>()?;
            let aggs = agg
                .aggs()
                .iter()
                .map(|a| {
                    Ok(AggNode {
                        func: a.func,
                        arg: a.arg.clone(),
                        output: OutputType::of(&a.output)?,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            return Ok(Some(PlanNode::Aggregate {
                spec: agg.table().spec.clone(),
                selection: agg.selection().clone(),
                partitions: agg.partitions().to_vec(),
                dims: agg.groups().dims.clone(),
                keys,
                aggs,
                schema: wire::schema_to_ipc(&agg.final_schema())?,
                mode: agg.mode(),
            }));
        }
        if let Some(tag) = node.downcast_ref::<ChunkRowExec>() {
            return Ok(Some(PlanNode::ChunkRows {
                options: tag.raw_options().clone(),
                schema: wire::schema_to_ipc(&tag.children()[0].schema())?,
            }));
        }
        if let Some(write) = node.downcast_ref::<ChunkWriteExec>() {
            let (target, options) = write.wire();
            return Ok(Some(PlanNode::ChunkWrite {
                target: target.to_string(),
                options: options.clone(),
                schema: wire::schema_to_ipc(&write.children()[0].schema())?,
            }));
        }
        if let Some(exec) = node.downcast_ref::<DataSinkExec>() {
            let sink: &dyn std::any::Any = exec.sink();
            if let Some(grid) = sink.downcast_ref::<GridSink>() {
                let (output, target, options) = grid.wire();
                return Ok(Some(PlanNode::Sink {
                    output: output.to_string(),
                    target: target.to_string(),
                    options: options.clone(),
                    schema: wire::schema_to_ipc(exec.sink().schema())?,
                }));
            }
        }
        Ok(None)
    }

    /// The plan a node describes, re-opening its table in this process.
    fn from_wire(node: PlanNode, ctx: &TaskContext) -> Result<Arc<dyn ExecutionPlan>> {
        match node {
            PlanNode::Scan {
                spec,
                projection,
                selection,
                partitions,
                limit,
            } => {
                let table = open_cached(&spec, &ctx.runtime_env())
                    .map_err(|e| e.context(format!("grid scan of '{}'", spec.location)))?;
                check_shape(&spec.location, &table.grid.shape(), &selection)?;
                Ok(Arc::new(GridScanExec::try_new(
                    table, projection, selection, partitions, limit,
                )?))
            }
            PlanNode::Sink {
                output,
                target,
                options,
                schema,
            } => {
                let schema = wire::schema_from_ipc(&schema)?;
                let sink = GridSink::new(&output, target, Arc::clone(&schema), options)?;
                // Its input comes as the decoded node's child.
                let pending: Arc<dyn ExecutionPlan> = Arc::new(EmptyExec::new(schema));
                Ok(Arc::new(DataSinkExec::new(pending, Arc::new(sink), None)))
            }
            // Their input comes as the decoded node's child.
            PlanNode::ChunkRows { options, schema } => {
                let pending: Arc<dyn ExecutionPlan> =
                    Arc::new(EmptyExec::new(wire::schema_from_ipc(&schema)?));
                Ok(Arc::new(ChunkRowExec::try_new(pending, options)?))
            }
            PlanNode::ChunkWrite {
                target,
                options,
                schema,
            } => {
                let pending: Arc<dyn ExecutionPlan> =
                    Arc::new(EmptyExec::new(wire::schema_from_ipc(&schema)?));
                Ok(Arc::new(ChunkWriteExec::try_new(pending, target, options)?))
            }
            PlanNode::Aggregate {
                spec,
                selection,
                partitions,
                dims,
                keys,
                aggs,
                schema,
                mode,
            } => {
                let table = open_cached(&spec, &ctx.runtime_env())
                    .map_err(|e| e.context(format!("grid aggregate of '{}'", spec.location)))?;
                check_shape(&spec.location, &table.grid.shape(), &selection)?;
                let keys = keys
                    .into_iter()
                    .map(|(d, text)| Ok((d, wire::array_from_ipc(&text)?)))
                    .collect::<Result<Vec<_>>>()?;
                let aggs = aggs
                    .into_iter()
                    .map(|a| AggSpec {
                        func: a.func,
                        arg: a.arg,
                        output: a.output.data_type(),
                    })
                    .collect();
                let groups = GroupSpec { dims, keys };
                let schema = wire::schema_from_ipc(&schema)?;
                let whole =
                    GridAggregateExec::try_new(table, selection, partitions, groups, aggs, schema)?;
                Ok(match mode {
                    GridMode::Whole => Arc::new(whole),
                    GridMode::PerPartition | GridMode::Dense => Arc::new(whole.split(mode)?),
                    // Its input comes as the decoded node's child.
                    GridMode::Merge => {
                        let pending: Arc<dyn ExecutionPlan> =
                            Arc::new(EmptyExec::new(whole.schema()));
                        Arc::new(whole.merging(pending)?)
                    }
                })
            }
        }
    }
}

/// Fails when the dataset an executor opened is not the grid the scheduler
/// planned on (it changed, or the executor sees another file at the path).
fn check_shape(
    location: &str,
    shape: &[u64],
    selection: &gridsql_connectors::grid::Selection,
) -> Result<()> {
    let fits = selection.ranges.len() == shape.len()
        && selection
            .ranges
            .iter()
            .zip(shape)
            .all(|(rs, &n)| rs.iter().all(|r| r.end <= n));
    if fits {
        Ok(())
    } else {
        Err(DataFusionError::Execution(format!(
            "'{location}' on this executor has shape {shape:?}, not the grid the query was planned on"
        )))
    }
}

impl PhysicalExtensionCodec for GridPhysicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match wire::decode::<PlanNode>(buf) {
            Some(node) => {
                let plan = Self::from_wire(node?, ctx)?;
                // The partition tags of a distributed plan, already cut to
                // this task's partitions by the scheduler; a merge's input.
                if inputs.is_empty() {
                    Ok(plan)
                } else {
                    plan.replace_children(
                        inputs.to_vec(),
                        ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
                    )
                }
            }
            None => self.inner.try_decode(buf, inputs, ctx, proto_converter),
        }
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        match Self::to_wire(node.as_ref())? {
            Some(ours) => wire::encode(&ours, buf),
            None => self.inner.try_encode(node, buf, proto_converter),
        }
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        self.inner.try_decode_udf(name, buf)
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode_udf(node, buf)
    }

    fn try_decode_udaf(&self, name: &str, buf: &[u8]) -> Result<Arc<AggregateUDF>> {
        self.inner.try_decode_udaf(name, buf)
    }

    fn try_encode_udaf(&self, node: &AggregateUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode_udaf(node, buf)
    }

    fn try_decode_udwf(&self, name: &str, buf: &[u8]) -> Result<Arc<WindowUDF>> {
        self.inner.try_decode_udwf(name, buf)
    }

    fn try_encode_udwf(&self, node: &WindowUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode_udwf(node, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::{DataType, Field, Schema};

    #[test]
    fn a_grid_sink_travels() {
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)]));
        let sink = GridSink::new(
            "zarr",
            "/tmp/x.zarr".into(),
            Arc::clone(&schema),
            Default::default(),
        )
        .expect("sink");
        let input: Arc<dyn ExecutionPlan> = Arc::new(EmptyExec::new(schema));
        let exec = DataSinkExec::new(input, Arc::new(sink), None);
        let node = GridPhysicalCodec::to_wire(&exec).expect("encodes");
        assert!(matches!(node, Some(PlanNode::Sink { .. })), "{node:?}");
    }

    /// The two nodes of a parallel COPY to Zarr travel with their options
    /// and coordinates, and come back as the same nodes.
    #[test]
    fn the_nodes_of_a_parallel_copy_travel() {
        use arrow::array::{ArrayRef, Float64Array};
        let schema = Arc::new(Schema::new(vec![
            Field::new("lat", DataType::Float64, false),
            Field::new("v", DataType::Float64, true),
        ]));
        let coords: Vec<ArrayRef> = vec![Arc::new(Float64Array::from(vec![1.0, 2.0, 3.0]))];
        let raw = std::collections::HashMap::from([
            ("dims".to_string(), "lat".to_string()),
            (
                crate::copy_to::pinned::PINNED.to_string(),
                crate::copy_to::pinned::encode(&coords).expect("encodes"),
            ),
        ]);
        let input: Arc<dyn ExecutionPlan> = Arc::new(EmptyExec::new(schema));
        let tagged: Arc<dyn ExecutionPlan> =
            Arc::new(ChunkRowExec::try_new(input, raw.clone()).expect("tags"));
        let write = ChunkWriteExec::try_new(Arc::clone(&tagged), "/tmp/x.zarr".into(), raw)
            .expect("writes");
        let ctx = TaskContext::default();
        for node in [tagged.as_ref(), &write as &dyn ExecutionPlan] {
            let wire = GridPhysicalCodec::to_wire(node)
                .expect("encodes")
                .expect("one of ours");
            let back = GridPhysicalCodec::from_wire(wire, &ctx).expect("decodes");
            assert_eq!(back.name(), node.name());
        }
    }
}
