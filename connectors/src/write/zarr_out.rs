//! A [`GridResult`] as a Zarr store (format 2 or 3), through any object
//! store: chunks first, each array's metadata after its chunks, the root
//! group's metadata (with the consolidated metadata of every array) last,
//! so an interrupted write leaves no store a reader would open.
//!
//! Metadata follows what xarray writes and reads: `_ARRAY_DIMENSIONS` (v2)
//! or `dimension_names` (v3); the CF fill value as the v2 `fill_value`, or
//! as the v3 `_FillValue` attribute in xarray's encoding (base64 of the
//! float64 for floats); chunks that hold only fill values are not written.

use std::sync::Arc;

use base64::Engine;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde_json::{Map, Value, json};

use super::layout::{Cells, GridResult, I64_FILL, encoded_coordinate};
use super::options::{Compression, WriteOptions};
use crate::cf::{AttrValue, Attributes};
use crate::error::{ConnectorError, Result};

/// Default chunk size, in bytes, when the options name none.
pub const DEFAULT_CHUNK_BYTES: u64 = 8 << 20;

/// What was written: objects and bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    /// Objects put.
    pub objects: u64,
    /// Bytes put.
    pub bytes: u64,
}

/// One array to write: its name, shape, chunks, dimension names, cells.
struct ArrayOut {
    name: String,
    shape: Vec<u64>,
    chunks: Vec<u64>,
    dims: Vec<String>,
    cells: Cells,
    attrs: Attributes,
    /// Whether missing cells exist (a fill value is declared).
    with_fill: bool,
}

fn write_error(dataset: &str, reason: String) -> ConnectorError {
    ConnectorError::Metadata {
        dataset: dataset.to_string(),
        reason,
    }
}

/// The default chunk shape: whole trailing dimensions, the leading ones
/// halved until a chunk is at most [`DEFAULT_CHUNK_BYTES`].
pub fn default_chunks(shape: &[u64], item_bytes: u64) -> Vec<u64> {
    let mut chunks: Vec<u64> = shape.iter().map(|s| (*s).max(1)).collect();
    for d in 0..chunks.len() {
        while chunks.iter().product::<u64>() * item_bytes > DEFAULT_CHUNK_BYTES && chunks[d] > 1 {
            chunks[d] = chunks[d].div_ceil(2);
        }
    }
    chunks
}

/// Refuses an existing target unless `overwrite`, in which case its objects
/// are deleted first.
async fn clear_target(
    store: &Arc<dyn ObjectStore>,
    root: &Path,
    overwrite: bool,
    dataset: &str,
) -> Result<()> {
    let existing: Vec<Path> = store
        .list(Some(root))
        .map_ok(|m| m.location)
        .try_collect()
        .await
        .map_err(|e| write_error(dataset, format!("cannot list the target: {e}")))?;
    if existing.is_empty() {
        return Ok(());
    }
    if !overwrite {
        return Err(write_error(
            dataset,
            "the target exists; add OPTIONS ('overwrite' 'true') to replace it".into(),
        ));
    }
    for p in existing {
        store
            .delete(&p)
            .await
            .map_err(|e| write_error(dataset, format!("cannot delete '{p}': {e}")))?;
    }
    Ok(())
}

/// Writes `grid` as a Zarr store at `root` of `store`.
///
/// # Errors
/// An existing target (without `overwrite`), a chunk shape that does not
/// fit, a failed put.
pub async fn write_zarr(
    grid: GridResult,
    store: Arc<dyn ObjectStore>,
    root: Path,
    options: &WriteOptions,
    dataset: &str,
) -> Result<Written> {
    let shape = grid.shape();
    if let Some(c) = &options.chunks
        && c.len() != shape.len()
    {
        return Err(ConnectorError::Option {
            option: "chunks".into(),
            reason: format!("{} lengths for {} dimensions", c.len(), shape.len()),
        });
    }
    clear_target(&store, &root, options.overwrite, dataset).await?;
    let dim_names: Vec<String> = grid.dims.iter().map(|d| d.name.clone()).collect();
    let mut arrays: Vec<ArrayOut> = Vec::new();
    for d in &grid.dims {
        let (cells, attrs) = encoded_coordinate(&d.coords, &d.attrs);
        arrays.push(ArrayOut {
            name: d.name.clone(),
            shape: vec![d.coords.len() as u64],
            chunks: vec![(d.coords.len() as u64).max(1)],
            dims: vec![d.name.clone()],
            cells,
            attrs,
            with_fill: false,
        });
    }
    for v in grid.vars {
        let item = match v.cells {
            Cells::F32(_) => 4,
            _ => 8,
        };
        arrays.push(ArrayOut {
            name: v.name,
            shape: shape.clone(),
            chunks: options
                .chunks
                .clone()
                .unwrap_or_else(|| default_chunks(&shape, item)),
            dims: dim_names.clone(),
            cells: v.cells,
            attrs: v.attrs,
            with_fill: true,
        });
    }
    let mut written = Written::default();
    let mut consolidated = Map::new();
    for a in &arrays {
        let (metadata, attributes) =
            write_array(a, &store, &root, options, dataset, &mut written).await?;
        match options.zarr_format {
            2 => {
                consolidated.insert(format!("{}/.zarray", a.name), metadata);
                consolidated.insert(format!("{}/.zattrs", a.name), attributes);
            }
            _ => {
                consolidated.insert(a.name.clone(), metadata);
            }
        }
    }
    let group_attrs = attrs_json(&grid.attrs);
    // the root last: until it is there, no reader opens the store
    match options.zarr_format {
        2 => {
            consolidated.insert(".zgroup".into(), json!({"zarr_format": 2}));
            consolidated.insert(".zattrs".into(), group_attrs.clone());
            let root_keys = [
                (".zattrs", group_attrs),
                (
                    ".zmetadata",
                    json!({"metadata": consolidated, "zarr_consolidated_format": 1}),
                ),
                // the group itself last
                (".zgroup", json!({"zarr_format": 2})),
            ];
            for (key, value) in &root_keys {
                put_json(&store, &root, key, value, dataset, &mut written).await?;
            }
        }
        _ => {
            let group = json!({
                "zarr_format": 3,
                "node_type": "group",
                "attributes": group_attrs,
                "consolidated_metadata": {"kind": "inline", "must_understand": false, "metadata": consolidated},
            });
            put_json(&store, &root, "zarr.json", &group, dataset, &mut written).await?;
        }
    }
    Ok(written)
}

fn attrs_json(attrs: &Attributes) -> Value {
    Value::Object(
        attrs
            .iter()
            .map(|(k, v)| (k.clone(), attr_json(v)))
            .collect(),
    )
}

fn attr_json(v: &AttrValue) -> Value {
    match v {
        AttrValue::Int(i) => json!(i),
        AttrValue::Float { value, .. } if value.is_finite() => json!(value),
        AttrValue::Float { value, .. } => json!(value.to_string()),
        AttrValue::Str(s) => json!(s),
        AttrValue::Bool(b) => json!(b),
        AttrValue::List(l) => Value::Array(l.iter().map(attr_json).collect()),
        AttrValue::Null => Value::Null,
    }
}

async fn put_json(
    store: &Arc<dyn ObjectStore>,
    root: &Path,
    key: &str,
    value: &Value,
    dataset: &str,
    written: &mut Written,
) -> Result<()> {
    let bytes =
        serde_json::to_vec_pretty(value).map_err(|e| write_error(dataset, e.to_string()))?;
    put(store, &key_path(root, key), bytes, dataset, written).await
}

fn key_path(root: &Path, key: &str) -> Path {
    key.split('/').fold(root.clone(), |p, part| p.join(part))
}

async fn put(
    store: &Arc<dyn ObjectStore>,
    at: &Path,
    bytes: Vec<u8>,
    dataset: &str,
    written: &mut Written,
) -> Result<()> {
    let n = bytes.len() as u64;
    store
        .put(at, PutPayload::from(bytes))
        .await
        .map_err(|e| write_error(dataset, format!("cannot write '{at}': {e}")))?;
    written.objects += 1;
    written.bytes += n;
    Ok(())
}

/// The v2 dtype / v3 data type and the fill value of some cells.
fn types(cells: &Cells) -> (&'static str, &'static str) {
    match cells {
        Cells::F32(_) => ("<f4", "float32"),
        Cells::F64(_) => ("<f8", "float64"),
        Cells::I64(_) => ("<i8", "int64"),
    }
}

/// Writes one array's chunks, then its metadata; returns the metadata and
/// attributes (as consolidated metadata holds them).
async fn write_array(
    a: &ArrayOut,
    store: &Arc<dyn ObjectStore>,
    root: &Path,
    options: &WriteOptions,
    dataset: &str,
    written: &mut Written,
) -> Result<(Value, Value)> {
    let counts: Vec<u64> = a
        .shape
        .iter()
        .zip(&a.chunks)
        .map(|(s, c)| s.div_ceil(*c))
        .collect();
    let total: u64 = counts.iter().product();
    let mut index = vec![0u64; counts.len()];
    for _ in 0..total {
        if let Some(bytes) = chunk_bytes(a, &index) {
            let encoded = match options.compression {
                Compression::Zstd => zstd::bulk::compress(&bytes, 3).map_err(|e| {
                    write_error(dataset, format!("variable '{}': zstd: {e}", a.name))
                })?,
                Compression::None => bytes,
            };
            let parts: Vec<String> = index.iter().map(u64::to_string).collect();
            let key = match options.zarr_format {
                2 => format!(
                    "{}/{}",
                    a.name,
                    if parts.is_empty() {
                        "0".into()
                    } else {
                        parts.join(".")
                    }
                ),
                _ => format!("{}/c/{}", a.name, parts.join("/")),
            };
            put(store, &key_path(root, &key), encoded, dataset, written).await?;
        }
        // next chunk index, C order
        for d in (0..index.len()).rev() {
            index[d] += 1;
            if index[d] < counts[d] {
                break;
            }
            index[d] = 0;
        }
    }
    let (dtype, data_type) = types(&a.cells);
    let fill = match (&a.cells, a.with_fill) {
        (_, false) => Value::Null,
        (Cells::I64(_), true) => json!(I64_FILL),
        (_, true) => json!("NaN"),
    };
    let mut attributes = attrs_json(&a.attrs);
    match options.zarr_format {
        2 => {
            if let Value::Object(m) = &mut attributes {
                m.insert("_ARRAY_DIMENSIONS".into(), json!(a.dims));
            }
            let compressor = match options.compression {
                Compression::Zstd => json!({"id": "zstd", "level": 3, "checksum": false}),
                Compression::None => Value::Null,
            };
            let metadata = json!({
                "zarr_format": 2,
                "shape": a.shape,
                "chunks": a.chunks,
                "dtype": dtype,
                "compressor": compressor,
                "fill_value": fill,
                "order": "C",
                "filters": null,
                "dimension_separator": ".",
            });
            put_json(
                store,
                root,
                &format!("{}/.zattrs", a.name),
                &attributes,
                dataset,
                written,
            )
            .await?;
            put_json(
                store,
                root,
                &format!("{}/.zarray", a.name),
                &metadata,
                dataset,
                written,
            )
            .await?;
            Ok((metadata, attributes))
        }
        _ => {
            if let Value::Object(m) = &mut attributes
                && a.with_fill
            {
                let cf_fill = match &a.cells {
                    Cells::I64(_) => json!(I64_FILL),
                    _ => json!(
                        base64::engine::general_purpose::STANDARD.encode(f64::NAN.to_le_bytes())
                    ),
                };
                m.insert("_FillValue".into(), cf_fill);
            }
            let mut codecs = vec![json!({"name": "bytes", "configuration": {"endian": "little"}})];
            if options.compression == Compression::Zstd {
                codecs.push(
                    json!({"name": "zstd", "configuration": {"level": 3, "checksum": false}}),
                );
            }
            let fill_value = match (&a.cells, a.with_fill) {
                (Cells::I64(_), true) => json!(I64_FILL),
                (Cells::I64(_), false) => json!(0),
                _ => json!("NaN"),
            };
            let metadata = json!({
                "zarr_format": 3,
                "node_type": "array",
                "shape": a.shape,
                "data_type": data_type,
                "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": a.chunks}},
                "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
                "fill_value": fill_value,
                "codecs": codecs,
                "attributes": attributes,
                "dimension_names": a.dims,
            });
            put_json(
                store,
                root,
                &format!("{}/zarr.json", a.name),
                &metadata,
                dataset,
                written,
            )
            .await?;
            Ok((metadata, Value::Null))
        }
    }
}

/// The bytes of one chunk (little endian, padded with the fill value at the
/// edges), or `None` when it holds only fill values.
fn chunk_bytes(a: &ArrayOut, index: &[u64]) -> Option<Vec<u8>> {
    let n = a.chunks.len();
    let cells: u64 = a.chunks.iter().product();
    let mut strides = vec![1u64; n];
    for d in (0..n.saturating_sub(1)).rev() {
        strides[d] = strides[d + 1] * a.shape[d + 1];
    }
    let mut out = Vec::with_capacity((cells * 8) as usize);
    let mut any = !a.with_fill;
    let mut pos = vec![0u64; n];
    for _ in 0..cells {
        let inside = (0..n).all(|d| index[d] * a.chunks[d] + pos[d] < a.shape[d]);
        let at: u64 = (0..n)
            .map(|d| (index[d] * a.chunks[d] + pos[d]) * strides[d])
            .sum();
        match &a.cells {
            Cells::F32(v) => {
                let x = if inside { v[at as usize] } else { f32::NAN };
                any |= !x.is_nan();
                out.extend_from_slice(&x.to_le_bytes());
            }
            Cells::F64(v) => {
                let x = if inside { v[at as usize] } else { f64::NAN };
                any |= !x.is_nan();
                out.extend_from_slice(&x.to_le_bytes());
            }
            Cells::I64(v) => {
                let x = if inside { v[at as usize] } else { I64_FILL };
                any |= x != I64_FILL;
                out.extend_from_slice(&x.to_le_bytes());
            }
        }
        for d in (0..n).rev() {
            pos[d] += 1;
            if pos[d] < a.chunks[d] {
                break;
            }
            pos[d] = 0;
        }
    }
    any.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_chunks_keep_trailing_dimensions_whole() {
        assert_eq!(default_chunks(&[365, 720, 1440], 4), vec![2, 720, 1440]);
        assert_eq!(default_chunks(&[12, 89, 180], 8), vec![12, 89, 180]);
        assert_eq!(default_chunks(&[0], 8), vec![1]);
    }
}
