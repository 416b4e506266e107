//! A COPY to Zarr from a cluster client, written by the executors side by
//! side ([`super::parallel`]). The client:
//!
//! 1. runs a coordinates pass on the cluster: the distinct values of each
//!    dimension column of the query (a scan's dimension columns cost no
//!    chunk reads);
//! 2. creates the store: clears the target (with `overwrite`) and writes
//!    the coordinate arrays;
//! 3. runs the COPY with the coordinates among its grid format's options,
//!    which the scheduler plans as tagged rows, a shuffle by row of chunks
//!    and one writing task per partition;
//! 4. writes every array's metadata, then the root's, last: a COPY that
//!    fails or is cancelled before leaves no store a reader opens.
//!
//! A COPY to NetCDF (one file, one writer) takes the single sink
//! ([`super::GridSink`]) on one executor, and every COPY of a local session
//! the sink in this process. On a cluster, a relative target is made
//! absolute on the client first, so that every process writes the same one.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, RecordBatch, UInt64Array, new_empty_array};
use arrow::datatypes::{DataType, Field, Schema, UInt64Type};
use datafusion::common::Result;
use datafusion::datasource::file_format::{DefaultFileType, format_as_file_type};
use datafusion::error::DataFusionError;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::logical_expr::dml::CopyTo;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder};
use datafusion::optimizer::AnalyzerRule;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::prelude::SessionContext;
use gridsql_connectors::write::WriteOptions;
use gridsql_connectors::write::zarr_out::ZarrWriter;

use super::pinned::{self, PINNED, PinnedGrid};
use super::{EmbedCopyOptions, GridFormatFactory, GridOutput, Target};

/// Marks a session whose queries run on a cluster (set by
/// [`crate::cluster_context`]): its COPY to Zarr is written by the
/// executors.
#[derive(Debug, Default)]
pub struct OnCluster;

/// Runs `plan` in `ctx`: a COPY to Zarr of a cluster session as described
/// above (its one row of count computed here, not on the cluster), anything
/// else as `ctx.execute_logical_plan(plan)?.execute_stream()` does.
///
/// # Errors
/// The plan's own; bad COPY options; a target that cannot be written.
pub async fn execute(ctx: &SessionContext, plan: LogicalPlan) -> Result<SendableRecordBatchStream> {
    let state = ctx.state();
    if state.config().get_extension::<OnCluster>().is_none() {
        return ctx.execute_logical_plan(plan).await?.execute_stream().await;
    }
    // every process opens the target the client names: a relative path
    // made absolute here, not in each executor's working directory
    let plan = super::checked_copy(plan, Arc::clone(state.runtime_env()), state.config())?;
    // the options in the format, the units in the input: what the
    // analyzer does on every COPY, done here to plan from its result
    let plan = EmbedCopyOptions.analyze(plan, state.config_options())?;
    let LogicalPlan::Copy(copy) = &plan else {
        return ctx.execute_logical_plan(plan).await?.execute_stream().await;
    };
    let Some(factory) = grid_factory(copy) else {
        return ctx.execute_logical_plan(plan).await?.execute_stream().await;
    };
    if factory.output != GridOutput::Zarr {
        return ctx.execute_logical_plan(plan).await?.execute_stream().await;
    }
    let mut raw = factory.options.clone();
    raw.extend(copy.options.iter().map(|(k, v)| (k.clone(), v.clone())));
    let options = WriteOptions::parse(&raw).map_err(DataFusionError::from)?;
    let schema: Schema = copy.input.schema().as_arrow().clone();
    let layout = gridsql_connectors::write::Layout::new(&schema, options.dims.as_deref())
        .map_err(DataFusionError::from)?;
    let coords = coordinates(ctx, &copy.input, &layout.dim_columns()).await?;
    let pinned = PinnedGrid::new(&schema, &options, &coords)?;

    let target = Target::open(
        Arc::clone(state.runtime_env()),
        state.config(),
        &copy.output_url,
    )?;
    let writer = ZarrWriter::create(
        &pinned.grid,
        pinned.chunks.clone(),
        target.store,
        target.path,
        &options,
        &target.dataset,
    )
    .await
    .map_err(DataFusionError::from)?;

    // the executors key rows by name, whatever their schema's metadata says
    raw.insert("dims".into(), layout.dim_names().join(","));
    raw.insert(PINNED.into(), pinned::encode(&coords)?);
    let Some(format) = GridFormatFactory::named(factory.name, raw) else {
        return Err(DataFusionError::Internal(format!(
            "no grid format '{}'",
            factory.name
        )));
    };
    let write = LogicalPlan::Copy(CopyTo::new(
        Arc::clone(&copy.input),
        copy.output_url.clone(),
        copy.partition_by.clone(),
        format_as_file_type(format),
        HashMap::new(),
    ));
    let counts = ctx.execute_logical_plan(write).await?.collect().await?;
    let rows: u64 = counts
        .iter()
        .filter_map(|b| b.column(0).as_primitive_opt::<UInt64Type>())
        .flat_map(|c| c.values().iter().copied())
        .sum();
    writer.finish().await.map_err(DataFusionError::from)?;

    let schema = Arc::new(Schema::new(vec![Field::new(
        "count",
        DataType::UInt64,
        false,
    )]));
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![Arc::new(UInt64Array::from(vec![rows]))],
    )?;
    Ok(Box::pin(RecordBatchStreamAdapter::new(
        schema,
        futures::stream::iter([Ok(batch)]),
    )))
}

/// The grid format of a COPY, when it writes a grid.
fn grid_factory(copy: &CopyTo) -> Option<&GridFormatFactory> {
    let any: &dyn std::any::Any = copy.file_type.as_any();
    let format = any.downcast_ref::<DefaultFileType>()?.as_format_factory();
    let any: &dyn std::any::Any = format.as_ref();
    any.downcast_ref::<GridFormatFactory>()
}

/// The distinct values of each of `columns` of `input`, from one query per
/// column, run side by side.
async fn coordinates(
    ctx: &SessionContext,
    input: &Arc<LogicalPlan>,
    columns: &[usize],
) -> Result<Vec<ArrayRef>> {
    let schema = input.schema();
    let passes = columns.iter().map(|&c| {
        let (qualifier, field) = schema.qualified_field(c);
        let column = Expr::Column(datafusion::common::Column::from((qualifier, field)));
        let data_type = field.data_type().clone();
        let plan = LogicalPlanBuilder::from(input.as_ref().clone())
            .project(vec![column])
            .and_then(|b| b.distinct())
            .and_then(|b| b.build());
        async move {
            let batches = ctx.execute_logical_plan(plan?).await?.collect().await?;
            let arrays: Vec<&dyn arrow::array::Array> =
                batches.iter().map(|b| b.column(0).as_ref()).collect();
            if arrays.is_empty() {
                return Ok(new_empty_array(&data_type));
            }
            Ok::<_, DataFusionError>(arrow::compute::concat(&arrays)?)
        }
    });
    futures::future::try_join_all(passes).await
}
