//! The `gridsql._gridsql` extension module: the engine embedded in a Python
//! process. A [`Session`] holds a gridsql session (the shell's: grid tables,
//! functions, pushdown) and a Tokio runtime; a query's result streams out as
//! Arrow IPC, one stream per batch, which the Python side reads with pyarrow
//! (no pyarrow version is tied to the engine's arrow). The Python API
//! (`gridsql/__init__.py`) builds on it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use arrow::array::RecordBatch;
use arrow::datatypes::{Field, Schema, SchemaRef};
use arrow::ipc::writer::StreamWriter;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use gridsql_engine::{SessionOptions, new_context, register_dataset};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// Errors as Python exceptions (the engine's messages name the dataset,
/// variable and chunk).
fn py_error(e: impl std::fmt::Display) -> PyErr {
    PyRuntimeError::new_err(e.to_string())
}

/// One batch (with its schema) as an Arrow IPC stream.
fn ipc(batch: &RecordBatch) -> PyResult<Vec<u8>> {
    let mut out = Vec::new();
    let mut w = StreamWriter::try_new(&mut out, &batch.schema()).map_err(py_error)?;
    w.write(batch).map_err(py_error)?;
    w.finish().map_err(py_error)?;
    drop(w);
    Ok(out)
}

/// A gridsql session.
#[pyclass(module = "gridsql._gridsql")]
struct Session {
    ctx: SessionContext,
    runtime: Arc<tokio::runtime::Runtime>,
}

#[pymethods]
impl Session {
    /// A session; `memory_limit` in bytes (default: the engine's).
    #[new]
    #[pyo3(signature = (memory_limit=None))]
    fn new(memory_limit: Option<usize>) -> PyResult<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(py_error)?;
        let mut opts = SessionOptions::default();
        if let Some(m) = memory_limit {
            opts.memory_limit = m;
        }
        let ctx = {
            let _guard = runtime.enter();
            new_context(&opts).map_err(py_error)?
        };
        Ok(Session {
            ctx,
            runtime: Arc::new(runtime),
        })
    }

    /// Opens the dataset at `location` (a Zarr store, NetCDF file or glob,
    /// GRIB file, references, Icechunk repository; local or in a bucket) as
    /// table `name`.
    fn register(&self, py: Python<'_>, name: &str, location: &str) -> PyResult<()> {
        if name.is_empty() {
            return Err(PyValueError::new_err("a table needs a name"));
        }
        let (ctx, runtime) = (&self.ctx, &self.runtime);
        py.detach(|| runtime.block_on(register_dataset(ctx, name, location, None, BTreeMap::new())))
            .map_err(|e| py_error(format!("cannot open '{location}' as table {name}: {e}")))
    }

    /// Runs `query`; its batches come from the returned stream.
    fn sql(&self, py: Python<'_>, query: &str) -> PyResult<Batches> {
        let (ctx, runtime) = (&self.ctx, &self.runtime);
        let (stream, units) = py
            .detach(|| {
                runtime.block_on(async {
                    let df = ctx.sql(query).await?;
                    // the units of aggregates and anomalies, by the plots' rule
                    let units = gridsql_engine::units::column_units(df.logical_plan());
                    Ok::<_, datafusion::error::DataFusionError>((df.execute_stream().await?, units))
                })
            })
            .map_err(py_error)?;
        let schema = with_units(&stream.schema(), &units);
        Ok(Batches {
            stream: Mutex::new(Some(stream)),
            schema: ipc(&RecordBatch::new_empty(Arc::clone(&schema)))?,
            with_units: schema,
            runtime: Arc::clone(&self.runtime),
        })
    }

    /// The names of the tables.
    fn tables(&self) -> Vec<String> {
        let mut names = Vec::new();
        for catalog in self.ctx.catalog_names() {
            let Some(c) = self.ctx.catalog(&catalog) else {
                continue;
            };
            for schema in c.schema_names() {
                if schema == "information_schema" {
                    continue;
                }
                if let Some(s) = c.schema(&schema) {
                    names.extend(s.table_names());
                }
            }
        }
        names.sort();
        names
    }
}

/// `schema` with `units` on the fields that lost theirs (an aggregate of a
/// variable keeps its units; `to_xarray` restores them as attributes).
fn with_units(schema: &SchemaRef, units: &[Option<String>]) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| match units.get(i).cloned().flatten() {
            Some(u) if !f.metadata().contains_key("units") => {
                let mut md = f.metadata().clone();
                md.insert("units".to_string(), u);
                f.as_ref().clone().with_metadata(md)
            }
            _ => f.as_ref().clone(),
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// The batches of a result, as Arrow IPC streams, as they are computed.
#[pyclass(module = "gridsql._gridsql")]
struct Batches {
    stream: Mutex<Option<SendableRecordBatchStream>>,
    /// The result's schema, as an IPC stream of no rows.
    schema: Vec<u8>,
    /// The schema batches are sent with (units added).
    with_units: SchemaRef,
    runtime: Arc<tokio::runtime::Runtime>,
}

#[pymethods]
impl Batches {
    /// The schema, as an Arrow IPC stream with no batch.
    fn schema<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.schema)
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// The next batch as an IPC stream, or the end.
    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let runtime = Arc::clone(&self.runtime);
        let next = py.detach(|| {
            let mut guard = self.stream.lock().unwrap_or_else(|e| e.into_inner());
            let Some(stream) = guard.as_mut() else {
                return Ok(None);
            };
            match runtime.block_on(stream.next()) {
                Some(batch) => batch.map(Some),
                None => {
                    *guard = None;
                    Ok(None)
                }
            }
        });
        match next.map_err(py_error)? {
            Some(batch) => {
                let batch = batch
                    .with_schema(Arc::clone(&self.with_units))
                    .map_err(py_error)?;
                Ok(Some(PyBytes::new(py, &ipc(&batch)?)))
            }
            None => Ok(None),
        }
    }
}

/// The module.
#[pymodule]
fn _gridsql(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Session>()?;
    m.add_class::<Batches>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
