//! kerchunk's Parquet reference layout (what `kerchunk.df.refs_to_dataframe`
//! and VirtualiZarr write for large archives): a folder holding
//!
//! ```text
//! .zmetadata                 {"metadata": {".zgroup": {...}, "v/.zarray": {...}, ...},
//!                             "record_size": N}
//! v/refs.0.parq, refs.1.parq one row per chunk of v, N rows per file, in the
//!                            C order of v's chunk grid: path, offset, size, raw
//! ```
//!
//! A row with `raw` is inline data; with a `path`, a byte range (`size` 0:
//! the whole file); with neither, a missing chunk (the fill value).

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Int64Type};
use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;

use super::document::{MAX_KEYS, Reference};

/// Whether a `.zmetadata` document is the Parquet layout's (it has a
/// `record_size`).
pub fn is_parquet_layout(zmetadata: &Value) -> bool {
    zmetadata.get("record_size").is_some_and(Value::is_u64)
}

/// The references of the Parquet layout under `root` of `store`, given its
/// parsed `.zmetadata`.
///
/// # Errors
/// Malformed metadata or Parquet files, named.
pub async fn read_parquet_layout(
    store: &Arc<dyn ObjectStore>,
    root: &Path,
    zmetadata: &Value,
) -> Result<HashMap<String, Reference>, String> {
    let record_size = zmetadata
        .get("record_size")
        .and_then(Value::as_u64)
        .filter(|&n| n > 0)
        .ok_or("'record_size' must be a positive integer")?;
    let Some(Value::Object(metadata)) = zmetadata.get("metadata") else {
        return Err("'.zmetadata' has no 'metadata' object".into());
    };
    let mut out: HashMap<String, Reference> = HashMap::new();
    for (key, value) in metadata {
        let text = match value {
            Value::String(s) => s.clone().into_bytes(),
            other => other.to_string().into_bytes(),
        };
        out.insert(key.clone(), Reference::Inline(text.into()));
    }
    for (key, value) in metadata {
        let Some(var) = key.strip_suffix("/.zarray") else {
            continue;
        };
        let zarray: Value = match value {
            Value::String(s) => {
                serde_json::from_str(s).map_err(|e| format!("'{key}' is not JSON: {e}"))?
            }
            other => other.clone(),
        };
        let grid = ChunkGrid::of(var, &zarray)?;
        let var_root = var.split('/').fold(root.clone(), |p, part| p.join(part));
        let mut files: Vec<(u64, Path)> = store
            .list(Some(&var_root))
            .try_filter_map(|m| async move {
                let number = m
                    .location
                    .filename()
                    .and_then(|f| f.strip_prefix("refs."))
                    .and_then(|f| f.strip_suffix(".parq"))
                    .and_then(|n| n.parse::<u64>().ok());
                Ok(number.map(|n| (n, m.location)))
            })
            .try_collect()
            .await
            .map_err(|e| format!("cannot list '{var_root}': {e}"))?;
        files.sort();
        for (number, file) in files {
            let bytes = store
                .get(&file)
                .await
                .map_err(|e| format!("'{file}': {e}"))?
                .bytes()
                .await
                .map_err(|e| format!("'{file}': {e}"))?;
            let first = number
                .checked_mul(record_size)
                .ok_or_else(|| format!("'{file}': record number too large"))?;
            read_records(bytes, first, &grid, &mut out).map_err(|e| format!("'{file}': {e}"))?;
        }
    }
    Ok(out)
}

/// A variable's chunk grid: how a chunk's number becomes its key.
struct ChunkGrid {
    var: String,
    counts: Vec<u64>,
    separator: String,
    total: u64,
}

impl ChunkGrid {
    fn of(var: &str, zarray: &Value) -> Result<Self, String> {
        let numbers = |name: &str| -> Result<Vec<u64>, String> {
            zarray
                .get(name)
                .and_then(Value::as_array)
                .ok_or_else(|| format!("'{var}/.zarray' has no '{name}'"))?
                .iter()
                .map(|v| {
                    v.as_u64()
                        .ok_or_else(|| format!("'{var}/.zarray': bad '{name}'"))
                })
                .collect()
        };
        let (shape, chunks) = (numbers("shape")?, numbers("chunks")?);
        if shape.len() != chunks.len() || chunks.contains(&0) {
            return Err(format!("'{var}/.zarray': shape and chunks do not match"));
        }
        let counts: Vec<u64> = shape
            .iter()
            .zip(&chunks)
            .map(|(s, c)| s.div_ceil(*c))
            .collect();
        let total = counts
            .iter()
            .try_fold(1u64, |n, c| n.checked_mul(*c))
            .filter(|&n| n <= MAX_KEYS as u64)
            .ok_or_else(|| format!("'{var}' has more than {MAX_KEYS} chunks"))?;
        let separator = zarray
            .get("dimension_separator")
            .and_then(Value::as_str)
            .unwrap_or(".")
            .to_string();
        Ok(ChunkGrid {
            var: var.to_string(),
            counts,
            separator,
            total,
        })
    }

    /// The key of chunk number `n` (C order).
    fn key(&self, n: u64) -> String {
        if self.counts.is_empty() {
            return format!("{}/0", self.var);
        }
        let mut index = vec![0u64; self.counts.len()];
        let mut rest = n;
        for (i, c) in self.counts.iter().enumerate().rev() {
            index[i] = rest % c;
            rest /= c;
        }
        let parts: Vec<String> = index.iter().map(u64::to_string).collect();
        format!("{}/{}", self.var, parts.join(&self.separator))
    }
}

/// The rows of one `refs.N.parq` file, chunk numbers from `first`.
fn read_records(
    bytes: Bytes,
    first: u64,
    grid: &ChunkGrid,
    out: &mut HashMap<String, Reference>,
) -> Result<(), String> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .map_err(|e| e.to_string())?
        .build()
        .map_err(|e| e.to_string())?;
    let mut n = first;
    for batch in reader {
        let batch = batch.map_err(|e| e.to_string())?;
        let column = |name: &str, to: &DataType| -> Result<Arc<dyn Array>, String> {
            let c = batch
                .column_by_name(name)
                .ok_or_else(|| format!("no column '{name}'"))?;
            arrow::compute::cast(c, to).map_err(|e| format!("column '{name}': {e}"))
        };
        let path = column("path", &DataType::Utf8)?;
        let offset = column("offset", &DataType::Int64)?;
        let size = column("size", &DataType::Int64)?;
        let raw = match batch.column_by_name("raw") {
            Some(_) => Some(column("raw", &DataType::Binary)?),
            None => None,
        };
        let (path, offset, size) = (
            path.as_string::<i32>(),
            offset.as_primitive::<Int64Type>(),
            size.as_primitive::<Int64Type>(),
        );
        let raw = raw.as_ref().map(|r| r.as_binary::<i32>());
        for row in 0..batch.num_rows() {
            if n >= grid.total {
                return Ok(());
            }
            let key = grid.key(n);
            n += 1;
            if let Some(raw) = raw.filter(|r| r.is_valid(row)) {
                out.insert(
                    key,
                    Reference::Inline(Bytes::copy_from_slice(raw.value(row))),
                );
                continue;
            }
            if !path.is_valid(row) {
                continue; // a missing chunk
            }
            let number = |a: &arrow::array::Int64Array, what: &str| -> Result<u64, String> {
                if a.is_valid(row) {
                    u64::try_from(a.value(row)).map_err(|_| format!("row {row}: negative {what}"))
                } else {
                    Ok(0)
                }
            };
            let (o, s) = (number(offset, "offset")?, number(size, "size")?);
            out.insert(
                key,
                Reference::Range {
                    url: path.value(row).to_string(),
                    offset: o,
                    length: (s > 0 || o > 0).then_some(s),
                },
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_numbers_become_keys_in_c_order() {
        let zarray: Value = serde_json::from_str(
            r#"{"shape": [5, 4, 10], "chunks": [2, 4, 3], "dimension_separator": "/"}"#,
        )
        .expect("json");
        let g = ChunkGrid::of("a/v", &zarray).expect("grid");
        assert_eq!(g.total, 3 * 4);
        assert_eq!(g.key(0), "a/v/0/0/0");
        assert_eq!(g.key(5), "a/v/1/0/1");
        assert_eq!(g.key(11), "a/v/2/0/3");
        let scalar =
            ChunkGrid::of("s", &serde_json::json!({"shape": [], "chunks": []})).expect("grid");
        assert_eq!((scalar.total, scalar.key(0)), (1, "s/0".to_string()));
        assert!(ChunkGrid::of("x", &serde_json::json!({"shape": [3], "chunks": [0]})).is_err());
    }
}
