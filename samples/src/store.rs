//! Writing Zarr nodes laid out as xarray (via zarr-python 3) writes them.
//!
//! Zarr v2 (spec: <https://zarr-specs.readthedocs.io/en/latest/v2/v2.0.html>):
//! `.zarray` + `.zattrs` per array with `_ARRAY_DIMENSIONS`, Blosc(lz4, clevel
//! 5, byte shuffle), the CF `_FillValue` stored as the array's `fill_value`
//! (xarray writes no `_FillValue` attribute in v2), and a consolidated
//! `.zmetadata` at the root. The v2 array JSON is written here rather than
//! through zarrs, so that it is the document zarr-python writes: zarrs'
//! `ArrayMetadataV2` serialiser adds a non-standard `"node_type": "array"`
//! key (zarr-python 3.1 tolerates it, other readers may not). zarrs then opens
//! each array from that JSON, which also checks that zarrs (and so
//! `gridsql-connectors`) reads it.
//!
//! Zarr v3 (spec: <https://zarr-specs.readthedocs.io/en/latest/v3/core/index.html>):
//! arrays built with zarrs' [`ArrayBuilder`]: codecs `bytes`(little) +
//! `zstd`(level 3), `dimension_names`, and, as xarray writes v3, a `fill_value`
//! of 0 for integers and NaN for floats with the CF fill in the `_FillValue`
//! attribute (integers as numbers, floats as base64 of the little-endian
//! float64). The root `zarr.json` carries zarr-python's inline
//! `consolidated_metadata` so xarray opens it without falling back.
//!
//! Not here: what the values are (see `sea_level`).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value, json};
use zarrs::array::codec::{BytesCodec, ZstdCodec};
use zarrs::array::{Array, ArrayBuilder, ArrayMetadataOptions, Element, data_type};
use zarrs::filesystem::FilesystemStore;
use zarrs::group::{Group, GroupBuilder, GroupMetadata};
use zarrs::metadata::v2::GroupMetadataV2;
use zarrs::metadata::v3::{AdditionalFieldV3, AdditionalFieldsV3};
use zarrs::storage::{Bytes, StorageError, StoreKey, WritableStorageTraits};

use crate::{SampleError, ZarrFormat};

/// A writable array in a filesystem store.
pub(crate) type StoreArray = Array<FilesystemStore>;

/// Base64 of the little-endian float64 NaN: xarray's v3 `_FillValue` for floats.
const NAN_FILL_BASE64: &str = "AAAAAAAA+H8=";
/// zstd level of v3 chunks (gen.py's choice).
const ZSTD_LEVEL: i32 = 3;

/// Stored element type of an array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dtype {
    I16,
    F32,
    F64,
}

impl Dtype {
    /// NumPy type string of Zarr v2.
    fn v2(self) -> &'static str {
        match self {
            Self::I16 => "<i2",
            Self::F32 => "<f4",
            Self::F64 => "<f8",
        }
    }
}

/// The CF fill value of an array (what "missing" is stored as).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Fill {
    /// An integer sentinel (`_FillValue` of packed data).
    Int(i16),
    /// NaN (xarray's default for every float variable, coordinates included).
    NaN,
}

/// One array to create: name, dimensions, layout and CF attributes.
pub(crate) struct Variable {
    pub(crate) name: &'static str,
    pub(crate) dims: Vec<&'static str>,
    pub(crate) shape: Vec<u64>,
    pub(crate) chunks: Vec<u64>,
    pub(crate) dtype: Dtype,
    pub(crate) fill: Fill,
    /// CF attributes, without `_FillValue` and `_ARRAY_DIMENSIONS` (added per format).
    pub(crate) attrs: Map<String, Value>,
}

/// Creates the nodes of one store and its consolidated metadata.
pub(crate) struct StoreWriter {
    root: PathBuf,
    store: Arc<FilesystemStore>,
    format: ZarrFormat,
    /// v2: `.zmetadata` entries by key; v3: array `zarr.json` documents by name.
    consolidated: Map<String, Value>,
    arrays: Vec<String>,
}

/// What [`StoreWriter::finish`] reports.
pub(crate) struct Written {
    pub(crate) arrays: Vec<String>,
    pub(crate) bytes: u64,
}

impl StoreWriter {
    /// Starts a store at `root`, which must not exist or be an empty directory.
    pub(crate) fn create(root: &Path, format: ZarrFormat) -> Result<Self, SampleError> {
        let io_err = |source| SampleError::Io {
            path: root.to_path_buf(),
            source,
        };
        if root.exists() {
            let empty = root.is_dir() && fs::read_dir(root).map_err(io_err)?.next().is_none();
            if !empty {
                return Err(SampleError::NotEmpty {
                    path: root.to_path_buf(),
                });
            }
        }
        fs::create_dir_all(root).map_err(io_err)?;
        let store = FilesystemStore::new(root).map_err(|source| SampleError::Store {
            path: root.to_path_buf(),
            source,
        })?;
        Ok(Self {
            root: root.to_path_buf(),
            store: Arc::new(store),
            format,
            consolidated: Map::new(),
            arrays: Vec::new(),
        })
    }

    /// Writes the metadata of `var` and returns the array, ready for chunks.
    pub(crate) fn create_array(&mut self, var: &Variable) -> Result<StoreArray, SampleError> {
        let array = match self.format {
            ZarrFormat::V2 => self.create_array_v2(var)?,
            ZarrFormat::V3 => self.create_array_v3(var)?,
        };
        self.arrays.push(var.name.to_string());
        Ok(array)
    }

    fn create_array_v2(&mut self, var: &Variable) -> Result<StoreArray, SampleError> {
        let fill_value = match var.fill {
            Fill::Int(v) => json!(v),
            Fill::NaN => json!("NaN"),
        };
        // Key order as zarr-python writes it.
        let zarray = json!({
            "shape": var.shape,
            "chunks": var.chunks,
            "dtype": var.dtype.v2(),
            "fill_value": fill_value,
            "order": "C",
            "filters": null,
            "dimension_separator": ".",
            "compressor": {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1, "blocksize": 0},
            "zarr_format": 2,
        });
        let mut zattrs = var.attrs.clone();
        zattrs.insert("_ARRAY_DIMENSIONS".into(), json!(var.dims));
        let zattrs = Value::Object(zattrs);
        self.set_json(var.name, &format!("{}/.zarray", var.name), &zarray)?;
        self.set_json(var.name, &format!("{}/.zattrs", var.name), &zattrs)?;
        self.consolidated
            .insert(format!("{}/.zarray", var.name), zarray);
        self.consolidated
            .insert(format!("{}/.zattrs", var.name), zattrs);
        Array::open(Arc::clone(&self.store), &format!("/{}", var.name)).map_err(|source| {
            SampleError::CreateArray {
                array: var.name.to_string(),
                source: Box::new(source),
            }
        })
    }

    fn create_array_v3(&mut self, var: &Variable) -> Result<StoreArray, SampleError> {
        let mut attrs = var.attrs.clone();
        let mut builder = match (var.dtype, var.fill) {
            (Dtype::I16, Fill::Int(v)) => {
                attrs.insert("_FillValue".into(), json!(v));
                ArrayBuilder::new(
                    var.shape.clone(),
                    var.chunks.clone(),
                    data_type::int16(),
                    0i16,
                )
            }
            (Dtype::I16, Fill::NaN) => {
                return Err(SampleError::InvalidSpec(format!(
                    "{}: an int16 array cannot have a NaN fill value",
                    var.name
                )));
            }
            (Dtype::F32, _) => {
                attrs.insert("_FillValue".into(), json!(NAN_FILL_BASE64));
                ArrayBuilder::new(
                    var.shape.clone(),
                    var.chunks.clone(),
                    data_type::float32(),
                    f32::NAN,
                )
            }
            (Dtype::F64, _) => {
                attrs.insert("_FillValue".into(), json!(NAN_FILL_BASE64));
                ArrayBuilder::new(
                    var.shape.clone(),
                    var.chunks.clone(),
                    data_type::float64(),
                    f64::NAN,
                )
            }
        };
        let array = builder
            .array_to_bytes_codec(Arc::new(BytesCodec::little()))
            .bytes_to_bytes_codecs(vec![Arc::new(ZstdCodec::new(ZSTD_LEVEL, false))])
            .dimension_names(Some(var.dims.iter().copied()))
            .attributes(attrs)
            .build(Arc::clone(&self.store), &format!("/{}", var.name))
            .map_err(|source| SampleError::CreateArray {
                array: var.name.to_string(),
                source: Box::new(source),
            })?;
        // No `_zarrs` provenance attribute: xarray would show it on the variable.
        let options = ArrayMetadataOptions::default().with_include_zarrs_metadata(false);
        array
            .store_metadata_opt(&options)
            .map_err(|source| SampleError::Metadata {
                node: var.name.to_string(),
                source,
            })?;
        let document = serde_json::to_value(array.metadata_opt(&options)).map_err(|source| {
            SampleError::Json {
                node: var.name.to_string(),
                source,
            }
        })?;
        self.consolidated.insert(var.name.to_string(), document);
        Ok(array)
    }

    /// Writes the root group with `attrs` and the consolidated metadata; the
    /// root goes last so that it lists every array.
    pub(crate) fn finish(self, attrs: Map<String, Value>) -> Result<Written, SampleError> {
        let group_err = |source| SampleError::CreateGroup {
            group: "/".into(),
            source: Box::new(source),
        };
        let root_err = |source| SampleError::Metadata {
            node: "/".into(),
            source,
        };
        match self.format {
            ZarrFormat::V2 => {
                let metadata = GroupMetadataV2::new().with_attributes(attrs.clone());
                let group = Group::new_with_metadata(
                    Arc::clone(&self.store),
                    "/",
                    GroupMetadata::V2(metadata),
                )
                .map_err(group_err)?;
                group.store_metadata().map_err(root_err)?;
                let mut entries = Map::new();
                entries.insert(".zattrs".into(), Value::Object(attrs));
                entries.insert(".zgroup".into(), json!({"zarr_format": 2}));
                entries.extend(self.consolidated.clone());
                let zmetadata = json!({"metadata": entries, "zarr_consolidated_format": 1});
                self.set_json("/", ".zmetadata", &zmetadata)?;
            }
            ZarrFormat::V3 => {
                let consolidated = json!({"kind": "inline", "metadata": self.consolidated});
                let mut fields = AdditionalFieldsV3::new();
                fields.insert(
                    "consolidated_metadata".into(),
                    AdditionalFieldV3::new(consolidated, false),
                );
                let group = GroupBuilder::new()
                    .attributes(attrs)
                    .additional_fields(fields)
                    .build(Arc::clone(&self.store), "/")
                    .map_err(group_err)?;
                group.store_metadata().map_err(root_err)?;
            }
        }
        let bytes = dir_size(&self.root).map_err(|source| SampleError::Io {
            path: self.root.clone(),
            source,
        })?;
        Ok(Written {
            arrays: self.arrays,
            bytes,
        })
    }

    fn set_json(&self, node: &str, key: &str, value: &Value) -> Result<(), SampleError> {
        let json = serde_json::to_vec_pretty(value).map_err(|source| SampleError::Json {
            node: node.to_string(),
            source,
        })?;
        StoreKey::new(key)
            .map_err(StorageError::from)
            .and_then(|key| self.store.set(&key, Bytes::from(json)))
            .map_err(|source| SampleError::Metadata {
                node: node.to_string(),
                source,
            })
    }
}

/// Encodes one full chunk (edge chunks padded by the caller) and stores it.
pub(crate) fn store_chunk<T: Element>(
    array: &StoreArray,
    name: &str,
    chunk: &[u64],
    data: &[T],
) -> Result<(), SampleError> {
    array
        .store_chunk(chunk, data)
        .map_err(|source| SampleError::Chunk {
            array: name.to_string(),
            chunk: chunk.to_vec(),
            source: Box::new(source),
        })
}

/// Total size of the files under `path`.
fn dir_size(path: &Path) -> std::io::Result<u64> {
    let mut total = 0;
    for entry in fs::read_dir(path)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() {
            dir_size(&entry.path())?
        } else {
            meta.len()
        };
    }
    Ok(total)
}
