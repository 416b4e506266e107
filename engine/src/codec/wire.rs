//! The bytes of gridsql's plan nodes: a magic prefix, then JSON.
//!
//! The prefix tells our nodes from Ballista's (which are protobuf and never
//! start with it). JSON keeps the format readable in logs; the few Arrow
//! values a node holds (group key arrays, an output schema) are Arrow IPC
//! streams, base64-encoded.

use std::ops::Range;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use datafusion::error::{DataFusionError, Result};
use gridsql_connectors::TableSpec;
use gridsql_connectors::aggregate::exec::GridMode;
use gridsql_connectors::aggregate::{AggArg, AggFn, DimGroups};
use gridsql_connectors::grid::Selection;
use serde::{Deserialize, Serialize};

/// Starts every gridsql node or table.
pub(crate) const MAGIC: &[u8] = b"gridsql1";

/// A grid table provider: its spec.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct TableNode {
    pub(crate) spec: TableSpec,
}

/// A physical plan node of gridsql.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum PlanNode {
    /// A grid scan.
    Scan {
        spec: TableSpec,
        projection: Vec<usize>,
        selection: Selection,
        partitions: Vec<Vec<Vec<Range<u64>>>>,
        limit: Option<usize>,
    },
    /// A grid aggregate.
    Aggregate {
        spec: TableSpec,
        selection: Selection,
        partitions: Vec<Vec<Vec<Range<u64>>>>,
        dims: Vec<DimGroups>,
        /// Per GROUP BY key: the index into `dims` and its values (IPC).
        keys: Vec<(usize, String)>,
        aggs: Vec<AggNode>,
        /// Output schema (IPC).
        schema: String,
        /// How it runs: whole, per partition, dense partial states, or
        /// their merge.
        mode: GridMode,
    },
    /// The sink of a COPY to a grid (its input comes as the node's child).
    Sink {
        /// `zarr` or `netcdf`.
        output: String,
        /// The canonical target.
        target: String,
        /// COPY's options.
        options: std::collections::HashMap<String, String>,
        /// The sink's input schema (IPC).
        schema: String,
    },
    /// Rows tagged with their row of chunks (a parallel COPY to Zarr).
    ChunkRows {
        /// COPY's options, with the coordinates.
        options: std::collections::HashMap<String, String>,
        /// The input schema (IPC).
        schema: String,
    },
    /// One partition's chunks written (a parallel COPY to Zarr).
    ChunkWrite {
        /// The canonical target.
        target: String,
        /// COPY's options, with the coordinates.
        options: std::collections::HashMap<String, String>,
        /// The input schema, tag included (IPC).
        schema: String,
    },
}

/// One aggregate of a grid aggregate.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct AggNode {
    pub(crate) func: AggFn,
    pub(crate) arg: AggArg,
    pub(crate) output: OutputType,
}

/// The output types a grid aggregate produces.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(crate) enum OutputType {
    Float64,
    Float32,
    Int64,
}

impl OutputType {
    pub(crate) fn of(t: &DataType) -> Result<Self> {
        match t {
            DataType::Float64 => Ok(OutputType::Float64),
            DataType::Float32 => Ok(OutputType::Float32),
            DataType::Int64 => Ok(OutputType::Int64),
            other => Err(DataFusionError::Internal(format!(
                "grid aggregate output type {other} cannot be sent to executors"
            ))),
        }
    }

    pub(crate) fn data_type(self) -> DataType {
        match self {
            OutputType::Float64 => DataType::Float64,
            OutputType::Float32 => DataType::Float32,
            OutputType::Int64 => DataType::Int64,
        }
    }
}

/// Appends `MAGIC` and the JSON of `value` to `buf`.
pub(crate) fn encode<T: Serialize>(value: &T, buf: &mut Vec<u8>) -> Result<()> {
    buf.extend_from_slice(MAGIC);
    serde_json::to_writer(buf, value)
        .map_err(|e| DataFusionError::Internal(format!("cannot encode a gridsql node: {e}")))
}

/// The value after `MAGIC`, or `None` when `buf` is not ours.
pub(crate) fn decode<T: for<'de> Deserialize<'de>>(buf: &[u8]) -> Option<Result<T>> {
    let body = buf.strip_prefix(MAGIC)?;
    Some(serde_json::from_slice(body).map_err(|e| {
        DataFusionError::Internal(format!(
            "cannot decode a gridsql node (is every process the same gridsql version?): {e}"
        ))
    }))
}

/// An array as a base64 Arrow IPC stream.
pub(crate) fn array_to_ipc(array: &ArrayRef) -> Result<String> {
    let schema = Arc::new(Schema::new(vec![Field::new(
        "k",
        array.data_type().clone(),
        true,
    )]));
    let batch = RecordBatch::try_new(Arc::clone(&schema), vec![Arc::clone(array)])?;
    let mut out = Vec::new();
    {
        let mut w = StreamWriter::try_new(&mut out, &schema)?;
        w.write(&batch)?;
        w.finish()?;
    }
    Ok(B64.encode(out))
}

/// The array [`array_to_ipc`] wrote.
pub(crate) fn array_from_ipc(text: &str) -> Result<ArrayRef> {
    let bytes = B64
        .decode(text)
        .map_err(|e| DataFusionError::Internal(format!("bad group key bytes: {e}")))?;
    let mut reader = StreamReader::try_new(std::io::Cursor::new(bytes), None)?;
    match reader.next() {
        Some(batch) => Ok(Arc::clone(batch?.column(0))),
        None => Err(DataFusionError::Internal("empty group key stream".into())),
    }
}

/// A schema as a base64 Arrow IPC stream without batches.
pub(crate) fn schema_to_ipc(schema: &SchemaRef) -> Result<String> {
    let mut out = Vec::new();
    {
        let mut w = StreamWriter::try_new(&mut out, schema)?;
        w.finish()?;
    }
    Ok(B64.encode(out))
}

/// The schema [`schema_to_ipc`] wrote.
pub(crate) fn schema_from_ipc(text: &str) -> Result<SchemaRef> {
    let bytes = B64
        .decode(text)
        .map_err(|e| DataFusionError::Internal(format!("bad schema bytes: {e}")))?;
    let reader = StreamReader::try_new(std::io::Cursor::new(bytes), None)?;
    Ok(reader.schema())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{StringArray, TimestampNanosecondArray};

    #[test]
    fn arrays_and_schemas_round_trip() {
        let a: ArrayRef = Arc::new(StringArray::from(vec![Some("DJF"), None, Some("JJA")]));
        assert_eq!(
            &array_from_ipc(&array_to_ipc(&a).expect("enc")).expect("dec"),
            &a
        );
        let t: ArrayRef = Arc::new(TimestampNanosecondArray::from(vec![0, 86_400_000_000_000]));
        assert_eq!(
            &array_from_ipc(&array_to_ipc(&t).expect("enc")).expect("dec"),
            &t
        );
        let s: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("time", t.data_type().clone(), false),
            Field::new("avg(sla)", DataType::Float64, true),
        ]));
        assert_eq!(
            schema_from_ipc(&schema_to_ipc(&s).expect("enc")).expect("dec"),
            s
        );
    }

    #[test]
    fn foreign_bytes_are_not_ours() {
        assert!(decode::<TableNode>(b"\x0a\x03abc").is_none());
        assert!(matches!(decode::<TableNode>(b"gridsql1{bad"), Some(Err(_))));
    }
}
