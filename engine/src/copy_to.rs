//! `COPY (query) TO 'out.zarr' STORED AS ZARR` and `... STORED AS NETCDF`:
//! DataFusion plans COPY through the file format registered for the name
//! after `STORED AS`; gridsql's formats only write. The sink collects the
//! result as it streams ([`gridsql_connectors::write::Layout`]), holds the
//! keyed rows under the session's memory pool ([`holding`]: in memory, else
//! spilled to disk), and writes the grid slab by slab to the target, which
//! on a server must be under its write roots (`--allow-write-root`).
//!
//! Reading the written store back is `CREATE EXTERNAL TABLE ... STORED AS
//! ZARR|NETCDF`, through gridsql's table factories, not these formats.

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{GetExt, Result, not_impl_err};
use datafusion::datasource::file_format::file_compression_type::FileCompressionType;
use datafusion::datasource::file_format::{FileFormat, FileFormatFactory};
use datafusion::datasource::physical_plan::{
    FileOpener, FileScanConfig, FileSinkConfig, FileSource,
};
use datafusion::datasource::sink::{DataSink, DataSinkExec};
use datafusion::datasource::table_schema::TableSchema;
use datafusion::error::DataFusionError;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{LexRequirement, PhysicalExpr};
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan};
use futures::StreamExt;
use gridsql_connectors::location::Access;
use gridsql_connectors::write::chunking::chunk_shape;
use gridsql_connectors::write::netcdf_out::{self, NetcdfWriter};
use gridsql_connectors::write::zarr_out::ZarrWriter;
use gridsql_connectors::write::{Grid, Layout, WriteOptions};

mod cluster_write;
mod holding;
mod parallel;
pub(crate) mod pinned;

pub use cluster_write::{OnCluster, execute};
pub use parallel::{ChunkRowExec, ChunkWriteExec};

use holding::{Held, Holding};
use object_store::ObjectStoreExt;

/// The grid formats COPY writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GridOutput {
    /// A Zarr store (v2 or v3).
    Zarr,
    /// A NetCDF-4 file.
    Netcdf,
}

/// The format factory of one name after `STORED AS` (`zarr`, `netcdf`,
/// `nc`).
#[derive(Debug)]
pub struct GridFormatFactory {
    output: GridOutput,
    name: &'static str,
    /// COPY's options, carried in the format itself when the plan travels
    /// to a cluster (the wire form of COPY has no options of its own).
    options: HashMap<String, String>,
}

/// The names after `STORED AS` that COPY writes as grids, and what each writes.
const NAMES: [(&str, GridOutput); 3] = [
    ("zarr", GridOutput::Zarr),
    ("netcdf", GridOutput::Netcdf),
    ("nc", GridOutput::Netcdf),
];

/// The grid output a name (`zarr`, `netcdf`, `nc`) writes, and the name as
/// the registry holds it.
fn output_named(name: &str) -> Option<(&'static str, GridOutput)> {
    NAMES.iter().copied().find(|(n, _)| *n == name)
}

/// Whether `STORED AS name` writes a grid (`zarr`, `netcdf`, `nc`, any
/// case).
pub fn is_grid_format(name: &str) -> bool {
    output_named(&name.to_ascii_lowercase()).is_some()
}

impl GridFormatFactory {
    /// The factories to register: `zarr`, `netcdf`, `nc`.
    pub fn all() -> Vec<Arc<dyn FileFormatFactory>> {
        NAMES
            .iter()
            .filter_map(|(n, _)| GridFormatFactory::named(n, HashMap::new()))
            .collect()
    }

    /// The factory of one name (`zarr`, `netcdf`, `nc`) holding `options`,
    /// as a codec decodes it.
    pub fn named(
        name: &str,
        options: HashMap<String, String>,
    ) -> Option<Arc<dyn FileFormatFactory>> {
        let (name, output) = output_named(name)?;
        Some(Arc::new(GridFormatFactory {
            output,
            name,
            options,
        }))
    }

    /// The options the factory carries.
    pub fn options(&self) -> &HashMap<String, String> {
        &self.options
    }
}

/// Prepares a COPY to a grid, as an analyzer rule (on the client, before a
/// plan leaves for a cluster):
///
/// - puts the COPY's options into its grid format, so that they travel with
///   the plan to a scheduler (DataFusion's wire form of COPY drops them);
/// - gives the result columns that lost their `units` (aggregates,
///   anomalies) the units [`crate::units::column_units`] finds, the rule the
///   plots use, as field metadata the writer then turns into attributes.
#[derive(Debug, Default)]
pub struct EmbedCopyOptions;

impl datafusion::optimizer::AnalyzerRule for EmbedCopyOptions {
    fn analyze(
        &self,
        plan: datafusion::logical_expr::LogicalPlan,
        _: &datafusion::config::ConfigOptions,
    ) -> Result<datafusion::logical_expr::LogicalPlan> {
        use datafusion::datasource::file_format::{DefaultFileType, format_as_file_type};
        use datafusion::logical_expr::{LogicalPlan, dml::CopyTo};
        let LogicalPlan::Copy(copy) = &plan else {
            return Ok(plan);
        };
        pinned::refuse_pinned(&copy.options)?;
        let any: &dyn Any = copy.file_type.as_any();
        let Some(ours) = any
            .downcast_ref::<DefaultFileType>()
            .map(|d| d.as_format_factory())
            .and_then(|f| {
                let any: &dyn Any = f.as_ref();
                any.downcast_ref::<GridFormatFactory>()
            })
        else {
            return Ok(plan);
        };
        // On a scheduler the COPY arrives without options and the format
        // with them: keep what the format holds, add what the COPY says.
        let file_type = if copy.options.is_empty() {
            Arc::clone(&copy.file_type)
        } else {
            let mut options = ours.options.clone();
            options.extend(copy.options.iter().map(|(k, v)| (k.clone(), v.clone())));
            match GridFormatFactory::named(ours.name, options) {
                Some(f) => format_as_file_type(f),
                None => Arc::clone(&copy.file_type),
            }
        };
        let input = with_units(&copy.input)?;
        if copy.options.is_empty() && Arc::ptr_eq(&input, &copy.input) {
            return Ok(plan);
        }
        Ok(LogicalPlan::Copy(CopyTo::new(
            input,
            copy.output_url.clone(),
            copy.partition_by.clone(),
            file_type,
            copy.options.clone(),
        )))
    }

    fn name(&self) -> &str {
        "embed_copy_options"
    }
}

/// `input` under a projection that gives every column without `units` the
/// units its expression keeps, or `input` itself when none needs them.
fn with_units(
    input: &Arc<datafusion::logical_expr::LogicalPlan>,
) -> Result<Arc<datafusion::logical_expr::LogicalPlan>> {
    use datafusion::common::metadata::FieldMetadata;
    use datafusion::logical_expr::{Expr, LogicalPlanBuilder};
    use gridsql_connectors::grid::model::meta;
    let units = crate::units::column_units(input);
    let schema = input.schema();
    let missing = |i: usize| {
        let f = schema.field(i);
        !f.metadata().contains_key(meta::UNITS) && units.get(i).is_some_and(Option::is_some)
    };
    if !(0..schema.fields().len()).any(missing) {
        return Ok(Arc::clone(input));
    }
    let exprs: Vec<Expr> = schema
        .iter()
        .enumerate()
        .map(|(i, (qualifier, field))| {
            let column = Expr::Column(datafusion::common::Column::from((qualifier, field)));
            match (missing(i), units.get(i).cloned().flatten()) {
                (true, Some(u)) => {
                    let mut md = field.metadata().clone();
                    md.insert(meta::UNITS.to_string(), u);
                    let md: std::collections::BTreeMap<String, String> = md.into_iter().collect();
                    column.alias_with_metadata(field.name(), Some(FieldMetadata::from(md)))
                }
                _ => column,
            }
        })
        .collect();
    Ok(Arc::new(
        LogicalPlanBuilder::from(input.as_ref().clone())
            .project(exprs)?
            .build()?,
    ))
}

impl GetExt for GridFormatFactory {
    fn get_ext(&self) -> String {
        self.name.to_string()
    }
}

impl FileFormatFactory for GridFormatFactory {
    fn create(
        &self,
        _state: &dyn Session,
        format_options: &HashMap<String, String>,
    ) -> Result<Arc<dyn FileFormat>> {
        let mut raw = self.options.clone();
        raw.extend(format_options.iter().map(|(k, v)| (k.clone(), v.clone())));
        // the coordinates of a parallel write are not an option to parse
        let options =
            WriteOptions::parse(&pinned::without_pinned(&raw)).map_err(DataFusionError::from)?;
        Ok(Arc::new(GridFileFormat {
            output: self.output,
            name: self.name,
            options,
            raw_options: raw,
        }))
    }

    fn default(&self) -> Arc<dyn FileFormat> {
        Arc::new(GridFileFormat {
            output: self.output,
            name: self.name,
            raw_options: HashMap::new(),
            options: WriteOptions::parse(&HashMap::new())
                .unwrap_or_else(|_| unreachable!("no options parse")),
        })
    }
}

/// A grid format as DataFusion's COPY sees it: a writer only.
#[derive(Debug)]
pub struct GridFileFormat {
    output: GridOutput,
    name: &'static str,
    raw_options: HashMap<String, String>,
    options: WriteOptions,
}

fn reads_elsewhere<T>() -> Result<T> {
    not_impl_err!(
        "grid formats are read with CREATE EXTERNAL TABLE ... STORED AS ZARR|NETCDF or read_zarr/read_netcdf"
    )
}

#[async_trait]
impl FileFormat for GridFileFormat {
    fn get_ext(&self) -> String {
        self.name.to_string()
    }

    fn get_ext_with_compression(&self, _: &FileCompressionType) -> Result<String> {
        Ok(self.get_ext())
    }

    fn compression_type(&self) -> Option<FileCompressionType> {
        None
    }

    async fn infer_schema(
        &self,
        _: &dyn Session,
        _: &Arc<dyn object_store::ObjectStore>,
        _: &[object_store::ObjectMeta],
    ) -> Result<SchemaRef> {
        reads_elsewhere()
    }

    async fn infer_stats(
        &self,
        _: &dyn Session,
        _: &Arc<dyn object_store::ObjectStore>,
        _: SchemaRef,
        _: &object_store::ObjectMeta,
    ) -> Result<datafusion::common::Statistics> {
        reads_elsewhere()
    }

    async fn create_physical_plan(
        &self,
        _: &dyn Session,
        _: FileScanConfig,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        reads_elsewhere()
    }

    async fn create_writer_physical_plan(
        &self,
        input: Arc<dyn ExecutionPlan>,
        _state: &dyn Session,
        conf: FileSinkConfig,
        order_requirements: Option<LexRequirement>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if !conf.table_partition_cols.is_empty() {
            return not_impl_err!(
                "COPY to a grid has no PARTITIONED BY; name dimensions with 'dims'"
            );
        }
        if self.output == GridOutput::Zarr && self.raw_options.contains_key(pinned::PINNED) {
            // a cluster client's COPY: written by the executors side by side
            let tagged = Arc::new(ChunkRowExec::try_new(input, self.raw_options.clone())?);
            return Ok(Arc::new(ChunkWriteExec::try_new(
                tagged,
                conf.original_url.clone(),
                self.raw_options.clone(),
            )?));
        }
        let sink = Arc::new(GridSink {
            output: self.output,
            target: conf.original_url.clone(),
            schema: Arc::clone(conf.output_schema()),
            raw_options: self.raw_options.clone(),
            options: self.options.clone(),
        });
        Ok(Arc::new(DataSinkExec::new(input, sink, order_requirements)))
    }

    fn file_source(&self, table_schema: TableSchema) -> Arc<dyn FileSource> {
        Arc::new(WriteOnlySource {
            table_schema,
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }
}

/// The read side DataFusion's trait asks every file format for; grid
/// formats are never scanned through it (see [`reads_elsewhere`]).
struct WriteOnlySource {
    table_schema: TableSchema,
    metrics: ExecutionPlanMetricsSet,
}

impl FileSource for WriteOnlySource {
    fn create_file_opener(
        &self,
        _: Arc<dyn object_store::ObjectStore>,
        _: &FileScanConfig,
        _: usize,
    ) -> Result<Arc<dyn FileOpener>> {
        reads_elsewhere()
    }

    fn table_schema(&self) -> &TableSchema {
        &self.table_schema
    }

    fn with_batch_size(&self, _: usize) -> Arc<dyn FileSource> {
        Arc::new(WriteOnlySource {
            table_schema: self.table_schema.clone(),
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }

    fn metrics(&self) -> &ExecutionPlanMetricsSet {
        &self.metrics
    }

    fn file_type(&self) -> &str {
        "grid"
    }

    /// No expressions: the source never scans.
    fn apply_expressions(
        &self,
        _: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }
}

/// Writes a COPY's result as a grid.
#[derive(Debug)]
pub struct GridSink {
    output: GridOutput,
    target: String,
    schema: SchemaRef,
    raw_options: HashMap<String, String>,
    options: WriteOptions,
}

impl GridSink {
    /// The sink of a COPY to `target` (`zarr` or `netcdf` output), as the
    /// codec rebuilds it on an executor.
    ///
    /// # Errors
    /// Bad options or output name.
    pub fn new(
        output: &str,
        target: String,
        schema: SchemaRef,
        raw_options: HashMap<String, String>,
    ) -> Result<Self> {
        let Some((_, output)) = output_named(output) else {
            return not_impl_err!("no grid output '{output}'");
        };
        let options = WriteOptions::parse(&raw_options).map_err(DataFusionError::from)?;
        Ok(GridSink {
            output,
            target,
            schema,
            raw_options,
            options,
        })
    }

    /// What the codec sends: output name, target, options.
    pub fn wire(&self) -> (&'static str, &str, &HashMap<String, String>) {
        let output = match self.output {
            GridOutput::Zarr => "zarr",
            GridOutput::Netcdf => "netcdf",
        };
        (output, &self.target, &self.raw_options)
    }
}

/// A COPY to a grid with its target checked for writing and replaced by
/// its canonical form, so that the sink (in this process or on an
/// executor) opens exactly what was checked; other plans unchanged. A
/// server runs this on every plan: on a cluster, executors have no roots.
///
/// # Errors
/// A target outside the session's write roots, or a server without any.
pub fn checked_copy(
    plan: datafusion::logical_expr::LogicalPlan,
    runtime: Arc<datafusion::execution::runtime_env::RuntimeEnv>,
    config: &datafusion::prelude::SessionConfig,
) -> Result<datafusion::logical_expr::LogicalPlan> {
    use datafusion::logical_expr::{LogicalPlan, dml::CopyTo};
    let LogicalPlan::Copy(copy) = &plan else {
        return Ok(plan);
    };
    if output_named(&copy.file_type.get_ext().to_ascii_lowercase()).is_none() {
        return Ok(plan);
    }
    let access = Access::for_writing(runtime, config).map_err(DataFusionError::from)?;
    let canonical = access
        .locate(&copy.output_url)
        .map_err(DataFusionError::from)?
        .to_string();
    Ok(LogicalPlan::Copy(CopyTo::new(
        Arc::clone(&copy.input),
        canonical,
        copy.partition_by.clone(),
        Arc::clone(&copy.file_type),
        copy.options.clone(),
    )))
}

impl DisplayAs for GridSink {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "GridSink: {:?} to {}", self.output, self.target)
    }
}

#[async_trait]
impl DataSink for GridSink {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    async fn write_all(
        &self,
        mut data: SendableRecordBatchStream,
        context: &Arc<TaskContext>,
    ) -> Result<u64> {
        let mut layout = Layout::new(data.schema().as_ref(), self.options.dims.as_deref())
            .map_err(DataFusionError::from)?;
        let mut holding = Holding::new(context, layout.keyed_schema(), &self.target);
        let mut rows = 0u64;
        while let Some(batch) = data.next().await {
            let batch = batch?;
            rows += batch.num_rows() as u64;
            holding.push(layout.key(&batch).map_err(DataFusionError::from)?)?;
        }
        let grid = Arc::new(layout.finish().map_err(DataFusionError::from)?);
        let chunks = chunk_shape(&grid, &self.options).map_err(DataFusionError::from)?;
        let held = Arc::new(holding.finish(&grid, chunks[0])?);
        let target = Target::open(
            context.runtime_env(),
            context.session_config(),
            &self.target,
        )?;
        let steps = 0..first_steps(&grid);
        match self.output {
            GridOutput::Zarr => {
                // the first slab (the whole grid when it fits) is filled
                // before an existing target is cleared, so a result that is
                // not a grid (two rows for a cell) leaves it as it was
                let mut slabs = slabs(steps, held.slab);
                let first = match slabs.next() {
                    Some(range) => Some((range.start, fill(&grid, &held, range).await?)),
                    None => None,
                };
                let mut writer = ZarrWriter::create(
                    &grid,
                    chunks,
                    target.store,
                    target.path,
                    &self.options,
                    &target.dataset,
                )
                .await
                .map_err(DataFusionError::from)?;
                if let Some((start, cells)) = first {
                    writer
                        .write_slab(start, &cells)
                        .await
                        .map_err(DataFusionError::from)?;
                }
                for range in slabs {
                    write_slab(&mut writer, &grid, &held, range).await?;
                }
                writer.finish().await.map_err(DataFusionError::from)?;
            }
            GridOutput::Netcdf => {
                write_netcdf(grid, chunks, held, target, &self.options).await?;
            }
        }
        Ok(rows)
    }
}

/// The target of a COPY as this process writes it: under the session's
/// write roots (if it has any), in the canonical form every process opens.
pub(crate) struct Target {
    location: gridsql_connectors::location::Location,
    /// The location as messages name it.
    dataset: String,
    store: Arc<dyn object_store::ObjectStore>,
    path: object_store::path::Path,
}

impl Target {
    /// The target `raw` of a COPY run with `runtime` and `config`.
    ///
    /// # Errors
    /// A target outside the write roots, a store that cannot be built.
    pub(crate) fn open(
        runtime: Arc<datafusion::execution::runtime_env::RuntimeEnv>,
        config: &datafusion::prelude::SessionConfig,
        raw: &str,
    ) -> Result<Self> {
        let access = Access::for_writing(runtime, config).map_err(DataFusionError::from)?;
        let location = access.locate(raw).map_err(DataFusionError::from)?;
        let (store, path) = access.store(&location).map_err(DataFusionError::from)?;
        Ok(Target {
            dataset: location.to_string(),
            location,
            store,
            path,
        })
    }
}

/// The steps of a grid's first dimension.
fn first_steps(grid: &Grid) -> u64 {
    grid.shape().first().copied().unwrap_or(0)
}

/// `steps` of the first dimension in slabs of `slab` steps (the last may be
/// shorter); none when `steps` is empty.
fn slabs(steps: std::ops::Range<u64>, slab: u64) -> impl Iterator<Item = std::ops::Range<u64>> {
    let slab = slab.max(1);
    (steps.start..steps.end)
        .step_by(usize::try_from(slab).unwrap_or(usize::MAX))
        .map(move |start| start..(start.saturating_add(slab)).min(steps.end))
}

/// Fills `range` of the first dimension and writes its chunks.
async fn write_slab(
    writer: &mut ZarrWriter,
    grid: &Arc<Grid>,
    held: &Arc<Held>,
    range: std::ops::Range<u64>,
) -> Result<()> {
    let start = range.start;
    let cells = fill(grid, held, range).await?;
    writer
        .write_slab(start, &cells)
        .await
        .map_err(DataFusionError::from)
}

/// The cells of `range` of the first dimension, filled from the held rows
/// on a blocking thread.
async fn fill(
    grid: &Arc<Grid>,
    held: &Arc<Held>,
    range: std::ops::Range<u64>,
) -> Result<Vec<gridsql_connectors::write::layout::Cells>> {
    let (g, h) = (Arc::clone(grid), Arc::clone(held));
    tokio::task::spawn_blocking(move || g.fill(range, &h.rows))
        .await
        .map_err(|e| DataFusionError::External(Box::new(e)))?
        .map_err(DataFusionError::from)
}

/// Writes a NetCDF file: beside a local target then renamed, or into a
/// temporary folder then uploaded.
async fn write_netcdf(
    grid: Arc<Grid>,
    chunks: Vec<u64>,
    held: Arc<Held>,
    target: Target,
    options: &WriteOptions,
) -> Result<()> {
    let Target {
        location,
        dataset,
        store,
        path,
    } = target;
    let fail = |e: String| DataFusionError::Execution(format!("COPY to '{dataset}': {e}"));
    if store.head(&path).await.is_ok() && !options.overwrite {
        return Err(fail(
            "the target exists; add OPTIONS ('overwrite' 'true') to replace it".into(),
        ));
    }
    let (scratch, _dir) = match location.as_local() {
        Some(target) => (netcdf_out::partial_name(target), None),
        None => {
            let dir = tempfile::tempdir().map_err(|e| fail(e.to_string()))?;
            (dir.path().join("out.nc"), Some(dir))
        }
    };
    let file = scratch.clone();
    let options = options.clone();
    let name = dataset.clone();
    let written = tokio::task::spawn_blocking(move || {
        let mut writer = NetcdfWriter::create(&grid, &chunks, &file, &options, &name)?;
        for range in slabs(0..first_steps(&grid), held.slab) {
            let start = range.start;
            let cells = grid.fill(range, &held.rows)?;
            writer.write_slab(start, &cells)?;
        }
        writer.finish()
    })
    .await
    .map_err(|e| fail(e.to_string()))?;
    if let Err(e) = written {
        let _ = std::fs::remove_file(&scratch);
        return Err(e.into());
    }
    match location.as_local() {
        Some(target) => std::fs::rename(&scratch, target).map_err(|e| {
            let _ = std::fs::remove_file(&scratch);
            fail(format!("cannot move the written file into place: {e}"))
        }),
        None => {
            let bytes = std::fs::read(&scratch).map_err(|e| fail(e.to_string()))?;
            store
                .put(&path, bytes.into())
                .await
                .map(|_| ())
                .map_err(|e| fail(e.to_string()))
        }
    }
}
