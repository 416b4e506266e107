//! A [`Grid`] as a Zarr store (format 2 or 3), through any object store,
//! slab by slab: coordinates when the writer is created, each slab's chunks
//! as it is filled, then every array's metadata, and the root group's
//! metadata (with the consolidated metadata of every array) last, so an
//! interrupted write leaves no store a reader would open.
//!
//! Metadata follows what xarray writes and reads: `_ARRAY_DIMENSIONS` (v2)
//! or `dimension_names` (v3); the CF fill value as the v2 `fill_value`, or
//! as the v3 `_FillValue` attribute in xarray's encoding (base64 of the
//! float64 for floats); chunks that hold only fill values are not written.
//! Labels (string coordinates) are variable-length UTF-8, as xarray writes
//! object strings: v2 `|O` with the `vlen-utf8` filter, v3 `string` with the
//! `vlen-utf8` codec.

use std::sync::Arc;

use base64::Engine;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde_json::{Map, Value, json};

use super::layout::{CellType, Cells, CoordCells, Grid, I64_FILL, encoded_coordinate};
use super::options::{Compression, WriteOptions};
use crate::cf::{AttrValue, Attributes};
use crate::error::{ConnectorError, Result};

/// Chunks put at once.
const PUTS_IN_FLIGHT: usize = 8;

/// What was written: objects and bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    /// Objects put.
    pub objects: u64,
    /// Bytes put.
    pub bytes: u64,
}

impl Written {
    fn add(&mut self, other: Written) {
        self.objects += other.objects;
        self.bytes += other.bytes;
    }
}

/// What an array holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dtype {
    /// Numbers.
    Cells(CellType),
    /// Variable-length strings.
    Labels,
}

impl Dtype {
    /// Bytes of an item, as blosc's shuffle sees them.
    fn item_bytes(self) -> u64 {
        match self {
            Dtype::Cells(t) => t.item_bytes(),
            Dtype::Labels => 1,
        }
    }
}

/// One array: its name, shape, chunks, dimension names, type, attributes.
struct ArraySpec {
    name: String,
    shape: Vec<u64>,
    chunks: Vec<u64>,
    dims: Vec<String>,
    dtype: Dtype,
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

/// A Zarr store being written.
pub struct ZarrWriter {
    store: Arc<dyn ObjectStore>,
    root: Path,
    options: WriteOptions,
    dataset: String,
    coords: Vec<ArraySpec>,
    vars: Vec<ArraySpec>,
    group_attrs: Attributes,
    written: Written,
}

impl ZarrWriter {
    /// Starts a store for `grid` chunked `chunks` at `root` of `store`:
    /// clears the target (with `overwrite`) and writes the coordinates.
    ///
    /// # Errors
    /// An existing target (without `overwrite`), a failed put.
    pub async fn create(
        grid: &Grid,
        chunks: Vec<u64>,
        store: Arc<dyn ObjectStore>,
        root: Path,
        options: &WriteOptions,
        dataset: &str,
    ) -> Result<Self> {
        clear_target(&store, &root, options.overwrite, dataset).await?;
        let mut writer = ZarrWriter::open(grid, chunks, store, root, options, dataset);
        for d in &grid.dims {
            let (cells, attrs) = encoded_coordinate(&d.coords, &d.attrs);
            let n = d.coords.len() as u64;
            let mut spec = ArraySpec {
                name: d.name.clone(),
                shape: vec![n],
                chunks: vec![n.max(1)],
                dims: vec![d.name.clone()],
                dtype: Dtype::Labels,
                attrs,
                with_fill: false,
            };
            let put = match cells {
                CoordCells::Numbers(cells) => {
                    spec.dtype = Dtype::Cells(cells.cell_type());
                    writer.put_chunks(&spec, &cells, 0).await?
                }
                CoordCells::Labels(labels) => writer.put_labels(&spec, labels).await?,
            };
            writer.written.add(put);
            writer.coords.push(spec);
        }
        Ok(writer)
    }

    /// A writer of the variables' chunks of `grid` into a store another
    /// process created ([`ZarrWriter::create`]) and finishes: a cluster
    /// task's share of a COPY. Does no I/O.
    pub fn open(
        grid: &Grid,
        chunks: Vec<u64>,
        store: Arc<dyn ObjectStore>,
        root: Path,
        options: &WriteOptions,
        dataset: &str,
    ) -> Self {
        let shape = grid.shape();
        let dim_names: Vec<String> = grid.dims.iter().map(|d| d.name.clone()).collect();
        ZarrWriter {
            store,
            root,
            options: options.clone(),
            dataset: dataset.to_string(),
            coords: Vec::new(),
            vars: grid
                .vars
                .iter()
                .map(|v| ArraySpec {
                    name: v.name.clone(),
                    shape: shape.clone(),
                    chunks: chunks.clone(),
                    dims: dim_names.clone(),
                    dtype: Dtype::Cells(v.cell_type),
                    attrs: v.attrs.clone(),
                    with_fill: true,
                })
                .collect(),
            group_attrs: grid.attrs.clone(),
            written: Written::default(),
        }
    }

    /// What was written so far.
    pub fn written(&self) -> Written {
        self.written
    }

    /// Writes the chunks of a slab: `cells` (one per variable) hold rows
    /// `start..` of the first dimension, a whole number of chunks (the last
    /// slab may end with the grid).
    ///
    /// # Errors
    /// A failed put, a compressor that fails.
    pub async fn write_slab(&mut self, start: u64, cells: &[Cells]) -> Result<()> {
        for (spec, cells) in self.vars.iter().zip(cells) {
            let put = self.put_chunks(spec, cells, start).await?;
            self.written.add(put);
        }
        Ok(())
    }

    /// Puts the chunks of `spec` that `cells` (rows `start..` of its first
    /// dimension) cover; what was put.
    async fn put_chunks(&self, spec: &ArraySpec, cells: &Cells, start: u64) -> Result<Written> {
        let inner: u64 = spec.shape.iter().skip(1).product();
        let rows = (cells.len() as u64).checked_div(inner).unwrap_or(0);
        let c0 = spec.chunks[0];
        let first = start / c0;
        let end = (start + rows).div_ceil(c0).min(spec.shape[0].div_ceil(c0));
        let counts: Vec<u64> = spec
            .shape
            .iter()
            .zip(&spec.chunks)
            .map(|(s, c)| s.div_ceil(*c))
            .collect();
        let per_first: u64 = counts.iter().skip(1).product();
        let indices = (first * per_first..end * per_first).map(|flat| {
            let mut index = vec![0u64; counts.len()];
            let mut rest = flat;
            for d in (0..counts.len()).rev() {
                index[d] = rest % counts[d];
                rest /= counts[d];
            }
            index
        });
        let (store, root, options, dataset) =
            (&self.store, &self.root, &self.options, &self.dataset);
        let puts = futures::stream::iter(indices)
            .map(|index| async move {
                let Some(bytes) = chunk_bytes(spec, cells, start, &index) else {
                    return Ok::<_, ConnectorError>(None);
                };
                let encoded = encode(bytes, spec, options.compression)
                    .map_err(|e| write_error(dataset, format!("variable '{}': {e}", spec.name)))?;
                let key = chunk_key(options.zarr_format, &spec.name, &index);
                let n = encoded.len() as u64;
                put(store, &key_path(root, &key), encoded, dataset).await?;
                Ok(Some(n))
            })
            .buffer_unordered(PUTS_IN_FLIGHT);
        let sizes: Vec<Option<u64>> = puts.try_collect().await?;
        let mut written = Written::default();
        for n in sizes.into_iter().flatten() {
            written.add(Written {
                objects: 1,
                bytes: n,
            });
        }
        Ok(written)
    }

    /// Puts the one chunk of a label coordinate (none when it is empty), in
    /// the `vlen-utf8` layout: the number of labels, then each label's
    /// length and bytes (little-endian `u32`s).
    async fn put_labels(&self, spec: &ArraySpec, labels: &[String]) -> Result<Written> {
        if labels.is_empty() {
            return Ok(Written::default());
        }
        let dataset = &self.dataset;
        let len = |n: usize| {
            u32::try_from(n).map(u32::to_le_bytes).map_err(|_| {
                write_error(
                    dataset,
                    format!("coordinate '{}': more than 4 GiB of labels", spec.name),
                )
            })
        };
        let mut bytes = Vec::with_capacity(4 + labels.iter().map(|l| 4 + l.len()).sum::<usize>());
        bytes.extend_from_slice(&len(labels.len())?);
        for label in labels {
            bytes.extend_from_slice(&len(label.len())?);
            bytes.extend_from_slice(label.as_bytes());
        }
        let encoded = encode(bytes, spec, self.options.compression)
            .map_err(|e| write_error(dataset, format!("coordinate '{}': {e}", spec.name)))?;
        let key = chunk_key(self.options.zarr_format, &spec.name, &[0]);
        let n = encoded.len() as u64;
        put(&self.store, &key_path(&self.root, &key), encoded, dataset).await?;
        Ok(Written {
            objects: 1,
            bytes: n,
        })
    }

    /// Writes every array's metadata, then the root group's: the store is
    /// complete.
    ///
    /// # Errors
    /// A failed put.
    pub async fn finish(mut self) -> Result<Written> {
        let mut consolidated = Map::new();
        let specs: Vec<ArraySpec> = std::mem::take(&mut self.coords)
            .into_iter()
            .chain(std::mem::take(&mut self.vars))
            .collect();
        for a in &specs {
            let (metadata, attributes) = self.put_metadata(a).await?;
            match self.options.zarr_format {
                2 => {
                    consolidated.insert(format!("{}/.zarray", a.name), metadata);
                    consolidated.insert(format!("{}/.zattrs", a.name), attributes);
                }
                _ => {
                    consolidated.insert(a.name.clone(), metadata);
                }
            }
        }
        let group_attrs = attrs_json(&self.group_attrs);
        // the root last: until it is there, no reader opens the store
        match self.options.zarr_format {
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
                    self.put_json(key, value).await?;
                }
            }
            _ => {
                let group = json!({
                    "zarr_format": 3,
                    "node_type": "group",
                    "attributes": group_attrs,
                    "consolidated_metadata": {"kind": "inline", "must_understand": false, "metadata": consolidated},
                });
                self.put_json("zarr.json", &group).await?;
            }
        }
        Ok(self.written)
    }

    async fn put_json(&mut self, key: &str, value: &Value) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(value)
            .map_err(|e| write_error(&self.dataset, e.to_string()))?;
        let n = bytes.len() as u64;
        put(
            &self.store,
            &key_path(&self.root, key),
            bytes,
            &self.dataset,
        )
        .await?;
        self.written.add(Written {
            objects: 1,
            bytes: n,
        });
        Ok(())
    }

    /// Writes one array's metadata; returns it and its attributes (as
    /// consolidated metadata holds them).
    async fn put_metadata(&mut self, a: &ArraySpec) -> Result<(Value, Value)> {
        let (dtype, data_type) = match a.dtype {
            Dtype::Cells(CellType::F32) => ("<f4", "float32"),
            Dtype::Cells(CellType::F64) => ("<f8", "float64"),
            Dtype::Cells(CellType::I64) => ("<i8", "int64"),
            Dtype::Labels => ("|O", "string"),
        };
        let mut attributes = attrs_json(&a.attrs);
        let item = a.dtype.item_bytes();
        match self.options.zarr_format {
            2 => {
                if let Value::Object(m) = &mut attributes {
                    m.insert("_ARRAY_DIMENSIONS".into(), json!(a.dims));
                }
                let compressor = match self.options.compression {
                    Compression::Zstd => json!({"id": "zstd", "level": 3, "checksum": false}),
                    Compression::Blosc => json!({
                        "id": "blosc", "cname": BLOSC_CNAME, "clevel": BLOSC_LEVEL,
                        "shuffle": 1, "blocksize": 0,
                    }),
                    Compression::None => Value::Null,
                };
                let fill = match (a.dtype, a.with_fill) {
                    (_, false) | (Dtype::Labels, _) => Value::Null,
                    (Dtype::Cells(CellType::I64), true) => json!(I64_FILL),
                    (_, true) => json!("NaN"),
                };
                let filters = match a.dtype {
                    Dtype::Labels => json!([{"id": "vlen-utf8"}]),
                    Dtype::Cells(_) => Value::Null,
                };
                let metadata = json!({
                    "zarr_format": 2,
                    "shape": a.shape,
                    "chunks": a.chunks,
                    "dtype": dtype,
                    "compressor": compressor,
                    "fill_value": fill,
                    "order": "C",
                    "filters": filters,
                    "dimension_separator": ".",
                });
                self.put_json(&format!("{}/.zattrs", a.name), &attributes)
                    .await?;
                self.put_json(&format!("{}/.zarray", a.name), &metadata)
                    .await?;
                Ok((metadata, attributes))
            }
            _ => {
                if let Value::Object(m) = &mut attributes
                    && a.with_fill
                {
                    let cf_fill = match a.dtype {
                        Dtype::Cells(CellType::I64) => json!(I64_FILL),
                        _ => json!(
                            base64::engine::general_purpose::STANDARD
                                .encode(f64::NAN.to_le_bytes())
                        ),
                    };
                    m.insert("_FillValue".into(), cf_fill);
                }
                let mut codecs = match a.dtype {
                    Dtype::Labels => vec![json!({"name": "vlen-utf8", "configuration": {}})],
                    Dtype::Cells(_) => {
                        vec![json!({"name": "bytes", "configuration": {"endian": "little"}})]
                    }
                };
                match self.options.compression {
                    Compression::Zstd => codecs.push(
                        json!({"name": "zstd", "configuration": {"level": 3, "checksum": false}}),
                    ),
                    Compression::Blosc => codecs.push(json!({"name": "blosc", "configuration": {
                        "cname": BLOSC_CNAME, "clevel": BLOSC_LEVEL, "shuffle": "shuffle",
                        "typesize": item, "blocksize": 0,
                    }})),
                    Compression::None => {}
                }
                let fill_value = match (a.dtype, a.with_fill) {
                    (Dtype::Labels, _) => json!(""),
                    (Dtype::Cells(CellType::I64), true) => json!(I64_FILL),
                    (Dtype::Cells(CellType::I64), false) => json!(0),
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
                self.put_json(&format!("{}/zarr.json", a.name), &metadata)
                    .await?;
                Ok((metadata, Value::Null))
            }
        }
    }
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

/// The key of chunk `index` of array `name`: v2's `name/0.1`, v3's
/// default encoding `name/c/0/1`.
fn chunk_key(zarr_format: u8, name: &str, index: &[u64]) -> String {
    let parts: Vec<String> = index.iter().map(u64::to_string).collect();
    match zarr_format {
        2 => format!("{name}/{}", parts.join(".")),
        _ => format!("{name}/c/{}", parts.join("/")),
    }
}

fn key_path(root: &Path, key: &str) -> Path {
    key.split('/').fold(root.clone(), |p, part| p.join(part))
}

async fn put(store: &Arc<dyn ObjectStore>, at: &Path, bytes: Vec<u8>, dataset: &str) -> Result<()> {
    store
        .put(at, PutPayload::from(bytes))
        .await
        .map(|_| ())
        .map_err(|e| write_error(dataset, format!("cannot write '{at}': {e}")))
}

/// Blosc's compressor and level, numcodecs' defaults.
const BLOSC_CNAME: &str = "lz4";
const BLOSC_LEVEL: i32 = 5;

/// A chunk's bytes compressed as the options say.
fn encode(
    bytes: Vec<u8>,
    spec: &ArraySpec,
    compression: Compression,
) -> std::result::Result<Vec<u8>, String> {
    match compression {
        Compression::Zstd => zstd::bulk::compress(&bytes, 3).map_err(|e| format!("zstd: {e}")),
        Compression::Blosc => blosc(&bytes, spec.dtype.item_bytes() as usize),
        Compression::None => Ok(bytes),
    }
}

/// c-blosc's frame of `bytes` (lz4, byte shuffle, one thread).
fn blosc(bytes: &[u8], typesize: usize) -> std::result::Result<Vec<u8>, String> {
    // BLOSC_MAX_OVERHEAD: a frame never grows more than its header
    let mut dest = vec![0u8; bytes.len() + 16];
    let cname = std::ffi::CString::new(BLOSC_CNAME).map_err(|e| e.to_string())?;
    // SAFETY: `src` is `bytes` with its length; `dest` has room for
    // `nbytes` + BLOSC_MAX_OVERHEAD, which c-blosc guarantees is enough, and
    // its length is passed as `destsize`; `cname` is NUL-terminated.
    let n = unsafe {
        blosc_src::blosc_compress_ctx(
            BLOSC_LEVEL,
            1,
            typesize,
            bytes.len(),
            bytes.as_ptr().cast(),
            dest.as_mut_ptr().cast(),
            dest.len(),
            cname.as_ptr(),
            0,
            1,
        )
    };
    match usize::try_from(n) {
        Ok(n) if n > 0 => {
            dest.truncate(n);
            Ok(dest)
        }
        _ => Err(format!("blosc: compression failed ({n})")),
    }
}

/// A cell type's little-endian bytes and its fill test.
trait Cell: Copy {
    const FILL: Self;
    fn is_fill(self) -> bool;
    fn put(self, out: &mut Vec<u8>);
}

impl Cell for f32 {
    const FILL: f32 = f32::NAN;
    fn is_fill(self) -> bool {
        self.is_nan()
    }
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl Cell for f64 {
    const FILL: f64 = f64::NAN;
    fn is_fill(self) -> bool {
        self.is_nan()
    }
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl Cell for i64 {
    const FILL: i64 = I64_FILL;
    fn is_fill(self) -> bool {
        self == I64_FILL
    }
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

/// The bytes of chunk `index` of `spec` (little endian, padded with the
/// fill value at the edges) from `cells`, which hold rows `offset..` of the
/// first dimension; `None` when it holds only fill values.
fn chunk_bytes(spec: &ArraySpec, cells: &Cells, offset: u64, index: &[u64]) -> Option<Vec<u8>> {
    match cells {
        Cells::F32(v) => chunk_of(spec, v, offset, index),
        Cells::F64(v) => chunk_of(spec, v, offset, index),
        Cells::I64(v) => chunk_of(spec, v, offset, index),
    }
}

fn chunk_of<T: Cell>(spec: &ArraySpec, cells: &[T], offset: u64, index: &[u64]) -> Option<Vec<u8>> {
    let n = spec.chunks.len();
    let (shape, chunks) = (&spec.shape, &spec.chunks);
    let mut strides = vec![1u64; n];
    for d in (0..n.saturating_sub(1)).rev() {
        strides[d] = strides[d + 1] * shape[d + 1];
    }
    let origin: Vec<u64> = (0..n).map(|d| index[d] * chunks[d]).collect();
    let last = n - 1;
    let run = chunks[last];
    let inside = shape[last].saturating_sub(origin[last]).min(run) as usize;
    let size = std::mem::size_of::<T>();
    let mut out = Vec::with_capacity(chunks.iter().product::<u64>() as usize * size);
    let mut any = !spec.with_fill;
    // one run along the last dimension per position of the others
    let runs: u64 = chunks[..last].iter().product();
    let mut pos = vec![0u64; last];
    for _ in 0..runs {
        let lead_inside = (0..last).all(|d| origin[d] + pos[d] < shape[d]);
        let mut filled = 0;
        if lead_inside {
            let at = (0..last)
                .map(|d| (origin[d] + pos[d]) * strides[d])
                .sum::<u64>()
                + origin[last];
            let values = at
                .checked_sub(offset * strides[0])
                .and_then(|at| cells.get(at as usize..at as usize + inside));
            if let Some(values) = values {
                for &x in values {
                    any |= !x.is_fill();
                    x.put(&mut out);
                }
                filled = inside;
            }
        }
        for _ in filled..run as usize {
            T::FILL.put(&mut out);
        }
        for d in (0..last).rev() {
            pos[d] += 1;
            if pos[d] < chunks[d] {
                break;
            }
            pos[d] = 0;
        }
    }
    any.then_some(out)
}
