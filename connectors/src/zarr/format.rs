//! Opens a Zarr store: finds its arrays, reads their metadata with `zarrs`
//! and builds the grid model (Zarr v2 spec, Zarr v3 core spec, and the
//! xarray conventions on top: `_ARRAY_DIMENSIONS`, `_FillValue`).
//!
//! CF fill values follow xarray: in v2 the array's `fill_value` is the CF
//! `_FillValue`; in v3 only the `_FillValue` attribute is, while the array's
//! `fill_value` (often 0) is just what missing chunks hold.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt};
use zarrs::array::{Array, ArrayMetadata, data_type};
use zarrs::storage::AsyncReadableStorageTraits;

use super::blosc_blocks::ChunkObjects;
use super::reader::{ZarrArray, ZarrReader, ZarrVariable};
use super::text::TextKind;
use crate::cf::attrs::decode_v3_fill;
use crate::cf::{AttrValue, Attributes, CfDecoding, RawType};
use crate::error::{ConnectorError, Result};
use crate::grid::build::{CoordReads, DatasetVariables, build_grid};
use crate::grid::model::VariableDecoding;
use crate::grid::model::meta;
use crate::grid::{GridVariable, VarKind};
use crate::io::ZarrStorage;
use crate::open::time_decoding;
use crate::table::{GridTable, TableSpec};

/// Opens the Zarr store at `prefix` of `store` as a table.
///
/// # Errors
/// Missing or malformed metadata, unknown table options, unsupported codecs.
pub async fn open_zarr(
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    spec: &TableSpec,
) -> Result<GridTable> {
    let dataset = spec.location.clone();
    let (ds, handles) = dataset_variables(store, prefix, spec).await?;
    let reader = ZarrReader::new(dataset.clone(), handles.clone());
    let grid = build_grid(ds, &spec.options, CoordReads::All(&reader)).await?;
    Ok(GridTable::new(spec.clone(), grid, Arc::new(reader)))
}

/// The arrays of the Zarr group a spec names (its `group` option, else the
/// root): their models, the group's attributes and the array handles.
///
/// # Errors
/// Missing or malformed metadata.
pub async fn dataset_variables(
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    spec: &TableSpec,
) -> Result<(DatasetVariables, HashMap<String, ZarrVariable>)> {
    let dataset = spec.location.clone();
    let group = spec
        .options
        .get("group")
        .map(|g| g.trim_matches('/').to_string())
        .unwrap_or_default();
    // `A/B/C` is a path of groups, each part its own key segment (names may
    // hold any character but `/`).
    let root = group
        .split('/')
        .filter(|p| !p.is_empty())
        .fold(prefix.clone(), |p, part| p.join(part));
    let found = discover_arrays(&store, &root, &dataset).await?;
    if found.names.is_empty() {
        return Err(ConnectorError::Metadata {
            dataset,
            reason: format!(
                "no Zarr arrays found at '{root}' (expected zarr.json, .zmetadata or .zarray metadata)"
            ),
        });
    }
    let rooted: Arc<dyn ObjectStore> = Arc::new(PrefixStore::new(Arc::clone(&store), root.clone()));
    let storage: Arc<dyn AsyncReadableStorageTraits> =
        Arc::new(ZarrStorage::new(Arc::clone(&rooted)));
    let objects = ChunkObjects {
        store: rooted,
        id: format!("{dataset}#{root}").into(),
        remote: spec.is_remote(),
    };
    let global_attrs = match found.group_attrs {
        Some(attrs) => attrs,
        None => read_group_attrs(&store, &root, &dataset)
            .await?
            .unwrap_or_default(),
    };
    // From a remote store, arrays described by consolidated metadata open
    // without a request (the others read their metadata, all at once).
    // Local arrays read their own metadata: it costs nothing, and each
    // array's folder is then checked against a server's allowed roots as it
    // is read (a folder linking out of the roots is refused at open).
    let mut consolidated = if spec.is_remote() {
        found.metadata
    } else {
        HashMap::new()
    };
    let opened = futures::future::join_all(found.names.into_iter().map(|name| {
        let storage = Arc::clone(&storage);
        let metadata = consolidated.remove(&name);
        let store = &store;
        let root = &root;
        let dataset = &dataset;
        async move {
            let opened = open_array(storage, store, root, &name, metadata, dataset).await;
            (name, opened)
        }
    }))
    .await;
    let mut variables = Vec::new();
    let mut handles: HashMap<String, ZarrVariable> = HashMap::new();
    for (name, opened) in opened {
        let (array, text) = match opened {
            Ok(a) => a,
            Err(Unopened { reason, metadata }) => {
                log::warn!("dataset '{dataset}': variable '{name}' cannot be read: {reason}");
                variables.push(unreadable(&name, metadata.as_ref(), reason));
                continue;
            }
        };
        if let Some(raw) = raw_type(array.data_type()) {
            let (var, handle) = describe(&dataset, &name, array, raw, &objects)?;
            handles.insert(name, handle);
            variables.push(var);
            continue;
        }
        let kind = match text {
            Some(text) => match super::text::read_text(&array, text).await {
                Ok(values) => VarKind::Text(values),
                Err(reason) => VarKind::Unreadable(reason),
            },
            None => VarKind::Unreadable(format!("unsupported type {}", array.data_type())),
        };
        if let VarKind::Unreadable(reason) = &kind {
            log::warn!("dataset '{dataset}': variable '{name}' cannot be read: {reason}");
        }
        let stored = array.data_type().to_string();
        let (mut var, _) = describe(&dataset, &name, array, RawType::U8, &objects)?;
        var.attrs
            .insert(meta::STORED_TYPE.to_string(), AttrValue::Str(stored));
        var.kind = kind;
        variables.push(var);
    }
    Ok((
        DatasetVariables::new(dataset, variables, global_attrs),
        handles,
    ))
}

/// An array zarrs could not open: why, and its metadata if it parsed.
struct Unopened {
    reason: String,
    metadata: Option<ArrayMetadata>,
}

/// Opens one array: from its consolidated metadata, else from its own.
/// String types zarrs 0.23 does not know (`|S n`, `null_terminated_bytes`)
/// or whose v2 fill value it refuses (`<U n` with `null`) are opened with
/// their metadata rewritten to a type zarrs reads byte for byte
/// ([`super::text`]).
async fn open_array(
    storage: Arc<dyn AsyncReadableStorageTraits>,
    store: &Arc<dyn ObjectStore>,
    root: &Path,
    name: &str,
    metadata: Option<ArrayMetadata>,
    dataset: &str,
) -> std::result::Result<(ZarrArray, Option<TextKind>), Unopened> {
    let path = format!("/{name}");
    // The metadata is read and checked here before zarrs sees it: a hostile
    // string width would make zarrs allocate its fill value.
    let metadata = match metadata {
        Some(m) => m,
        None => match own_metadata(store, root, name, dataset).await {
            Some(m) => m,
            None => {
                return Array::async_open(Arc::clone(&storage), &path)
                    .await
                    .map(|a| {
                        let text = super::text::text_kind(a.metadata());
                        (a, text)
                    })
                    .map_err(|e| Unopened {
                        reason: e.to_string(),
                        metadata: None,
                    });
            }
        },
    };
    if let Err(reason) = super::text::check_width(&metadata) {
        return Err(Unopened {
            reason,
            metadata: Some(metadata),
        });
    }
    let text = super::text::text_kind(&metadata);
    let rewritten = super::text::readable_metadata(&metadata);
    Array::new_with_metadata(
        storage,
        &path,
        rewritten.unwrap_or_else(|| metadata.clone()),
    )
    .map(|a| (a, text))
    .map_err(|e| Unopened {
        reason: e.to_string(),
        metadata: Some(metadata),
    })
}

/// An array's own metadata document (v3 `zarr.json`, v2 `.zarray` with its
/// `.zattrs`), when it parses.
async fn own_metadata(
    store: &Arc<dyn ObjectStore>,
    root: &Path,
    name: &str,
    dataset: &str,
) -> Option<ArrayMetadata> {
    let dir = root.clone().join(name);
    if let Ok(Some(j)) = get_json(store, &dir.clone().join("zarr.json"), dataset).await {
        return serde_json::from_value(j).ok().map(ArrayMetadata::V3);
    }
    let j = get_json(store, &dir.clone().join(".zarray"), dataset)
        .await
        .ok()??;
    let mut m: zarrs::metadata::v2::ArrayMetadataV2 = serde_json::from_value(j).ok()?;
    if let Ok(Some(serde_json::Value::Object(a))) =
        get_json(store, &dir.clone().join(".zattrs"), dataset).await
    {
        m.attributes = a;
    }
    Some(ArrayMetadata::V2(m))
}

/// The model of a variable that cannot be read: dims and shape from its
/// metadata when it parsed (so the table lists it), else none.
fn unreadable(name: &str, metadata: Option<&ArrayMetadata>, reason: String) -> GridVariable {
    let (shape, dims, stored, attrs) = match metadata {
        Some(ArrayMetadata::V2(m)) => (
            m.shape.clone(),
            m.attributes
                .get("_ARRAY_DIMENSIONS")
                .and_then(|d| serde_json::from_value::<Vec<String>>(d.clone()).ok()),
            serde_json::to_string(&m.dtype).unwrap_or_default(),
            m.attributes.clone(),
        ),
        Some(ArrayMetadata::V3(m)) => (
            m.shape.clone(),
            m.dimension_names
                .as_ref()
                .map(|d| d.iter().map(|n| n.clone().unwrap_or_default()).collect()),
            m.data_type.name().to_string(),
            m.attributes.clone(),
        ),
        None => (vec![], None, "unknown".to_string(), serde_json::Map::new()),
    };
    let dims = dims.filter(|d| d.len() == shape.len()).unwrap_or_else(|| {
        (0..shape.len())
            .map(|i| format!("{name}_dim_{i}"))
            .collect()
    });
    let mut attrs: Attributes = attrs
        .iter()
        .filter(|(k, _)| k.as_str() != "_ARRAY_DIMENSIONS")
        .map(|(k, v)| (k.clone(), AttrValue::from_json(v)))
        .collect();
    attrs.insert(meta::STORED_TYPE.to_string(), AttrValue::Str(stored));
    GridVariable {
        name: name.to_string(),
        dims,
        chunks: shape.clone(),
        shape,
        decoding: VariableDecoding {
            cf: CfDecoding::from_attrs(RawType::U8, &Attributes::new(), None),
            time: None,
        },
        attrs,
        kind: VarKind::Unreadable(reason),
    }
}

/// Maps a zarrs data type to a stored type gridsql decodes.
fn raw_type(dt: &zarrs::array::DataType) -> Option<RawType> {
    let table = [
        (data_type::int8(), RawType::I8),
        (data_type::int16(), RawType::I16),
        (data_type::int32(), RawType::I32),
        (data_type::int64(), RawType::I64),
        (data_type::uint8(), RawType::U8),
        (data_type::uint16(), RawType::U16),
        (data_type::uint32(), RawType::U32),
        (data_type::uint64(), RawType::U64),
        (data_type::float32(), RawType::F32),
        (data_type::float64(), RawType::F64),
    ];
    table.into_iter().find(|(d, _)| d == dt).map(|(_, r)| r)
}

/// Builds the model of one array.
fn describe(
    dataset: &str,
    name: &str,
    array: Array<dyn AsyncReadableStorageTraits>,
    raw: RawType,
    objects: &ChunkObjects,
) -> Result<(GridVariable, ZarrVariable)> {
    let var_err = |reason: String| ConnectorError::Variable {
        dataset: dataset.to_string(),
        variable: name.to_string(),
        reason,
    };
    let shape = array.shape().to_vec();
    let json_attrs = array.attributes();
    let mut attrs: Attributes = json_attrs
        .iter()
        .filter(|(k, _)| k.as_str() != "_ARRAY_DIMENSIONS")
        .map(|(k, v)| (k.clone(), AttrValue::from_json(v)))
        .collect();
    let (dims, fill) = match array.metadata() {
        ArrayMetadata::V2(m) => {
            let dims = match json_attrs.get("_ARRAY_DIMENSIONS") {
                Some(serde_json::Value::Array(a)) => a
                    .iter()
                    .map(|v| v.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| var_err("_ARRAY_DIMENSIONS must be a list of strings".into()))?,
                Some(_) => {
                    return Err(var_err(
                        "_ARRAY_DIMENSIONS must be a list of strings".into(),
                    ));
                }
                None => vec![],
            };
            let fill = match json_attrs.get("_FillValue") {
                Some(v) => AttrValue::from_json(v).as_f64(),
                None => serde_json::to_value(&m.fill_value)
                    .ok()
                    .and_then(|v| AttrValue::from_json(&v).as_f64()),
            };
            if let Some(f) = fill {
                attrs
                    .entry("_FillValue".to_string())
                    .or_insert(AttrValue::Float {
                        value: f,
                        f32: false,
                    });
            }
            (dims, fill)
        }
        ArrayMetadata::V3(_) => {
            let dims = array
                .dimension_names()
                .as_ref()
                .map(|d| {
                    d.iter()
                        .enumerate()
                        .map(|(i, n)| n.clone().unwrap_or_else(|| format!("{name}_dim_{i}")))
                        .collect()
                })
                .unwrap_or_default();
            let fill = json_attrs.get("_FillValue").and_then(decode_v3_fill);
            if let Some(f) = fill {
                attrs.insert(
                    "_FillValue".to_string(),
                    AttrValue::Float {
                        value: f,
                        f32: false,
                    },
                );
            }
            (dims, fill)
        }
    };
    let dims: Vec<String> = if dims.is_empty() {
        (0..shape.len())
            .map(|i| format!("{name}_dim_{i}"))
            .collect()
    } else {
        dims
    };
    if dims.len() != shape.len() {
        return Err(var_err(format!(
            "{} dimension names for an array of {} dimensions",
            dims.len(),
            shape.len()
        )));
    }
    let chunks = chunk_shape(&array, &shape);
    let cf = CfDecoding::from_attrs(raw, &attrs, fill);
    let time = time_decoding(dataset, name, &attrs);
    let var = GridVariable {
        name: name.to_string(),
        dims,
        shape,
        chunks,
        decoding: VariableDecoding { cf, time },
        attrs,
        kind: VarKind::Numeric,
    };
    Ok((
        var,
        ZarrVariable {
            blosc_blocks: super::blosc_blocks::applies(&array),
            array: Arc::new(array),
            raw,
            objects: objects.clone(),
        },
    ))
}

/// The shape of the array's first chunk (regular grids: every chunk).
fn chunk_shape(array: &Array<dyn AsyncReadableStorageTraits>, shape: &[u64]) -> Vec<u64> {
    let zeros = vec![0u64; shape.len()];
    match array.chunk_shape(&zeros) {
        Ok(c) => c.iter().map(|n| n.get()).collect(),
        Err(_) => shape.iter().map(|&n| n.max(1)).collect(),
    }
}

/// What a group's metadata tells before any array is opened.
#[derive(Default)]
struct Discovered {
    /// Names of the arrays directly in the group, sorted.
    names: Vec<String>,
    /// Their metadata, where the group's consolidated metadata holds it.
    metadata: HashMap<String, ArrayMetadata>,
    /// The group's attributes, when already read.
    group_attrs: Option<Attributes>,
}

/// Group attributes from a JSON object.
fn attributes_of(m: &serde_json::Map<String, serde_json::Value>) -> Attributes {
    m.iter()
        .map(|(k, v)| (k.clone(), AttrValue::from_json(v)))
        .collect::<BTreeMap<_, _>>()
}

/// The arrays directly in the group at `root`. A consolidated store (v3
/// `zarr.json` with consolidated metadata, v2 `.zmetadata`) is described by
/// the one document; both are asked for at once.
async fn discover_arrays(
    store: &Arc<dyn ObjectStore>,
    root: &Path,
    dataset: &str,
) -> Result<Discovered> {
    let v3_key = root.clone().join("zarr.json");
    let v2_key = root.clone().join(".zmetadata");
    let (v3, v2) = futures::future::join(
        get_json(store, &v3_key, dataset),
        get_json(store, &v2_key, dataset),
    )
    .await;
    // Zarr v3: the group's zarr.json, possibly with consolidated metadata.
    if let Some(json) = v3? {
        if json.get("node_type").and_then(|v| v.as_str()) == Some("array") {
            return Err(ConnectorError::Metadata {
                dataset: dataset.to_string(),
                reason: "the location is a single Zarr array; point it at the group holding it"
                    .into(),
            });
        }
        let group_attrs = Some(
            json.get("attributes")
                .and_then(|a| a.as_object())
                .map(attributes_of)
                .unwrap_or_default(),
        );
        if let Some(meta) = json
            .pointer("/consolidated_metadata/metadata")
            .and_then(|m| m.as_object())
        {
            let mut found = Discovered {
                group_attrs,
                ..Discovered::default()
            };
            for (k, v) in meta {
                if k.contains('/') || v.get("node_type").and_then(|t| t.as_str()) != Some("array") {
                    continue;
                }
                found.names.push(k.clone());
                // What does not parse here is read (and reported) by zarrs.
                if let Ok(m) = serde_json::from_value(v.clone()) {
                    found.metadata.insert(k.clone(), ArrayMetadata::V3(m));
                }
            }
            found.names.sort();
            return Ok(found);
        }
        return Ok(Discovered {
            names: list_arrays(store, root, dataset).await?,
            group_attrs,
            ..Discovered::default()
        });
    }
    // Zarr v2: consolidated .zmetadata.
    if let Some(json) = v2? {
        let meta = json
            .get("metadata")
            .and_then(|m| m.as_object())
            .ok_or_else(|| ConnectorError::Metadata {
                dataset: dataset.to_string(),
                reason: ".zmetadata has no 'metadata' object".into(),
            })?;
        let mut found = Discovered {
            group_attrs: Some(
                meta.get(".zattrs")
                    .and_then(|a| a.as_object())
                    .map(attributes_of)
                    .unwrap_or_default(),
            ),
            ..Discovered::default()
        };
        for (k, v) in meta {
            let Some(name) = k.strip_suffix("/.zarray").filter(|n| !n.contains('/')) else {
                continue;
            };
            found.names.push(name.to_string());
            let parsed: std::result::Result<zarrs::metadata::v2::ArrayMetadataV2, _> =
                serde_json::from_value(v.clone());
            if let Ok(mut m) = parsed {
                if let Some(attrs) = meta
                    .get(&format!("{name}/.zattrs"))
                    .and_then(|a| a.as_object())
                {
                    m.attributes = attrs.clone();
                }
                found
                    .metadata
                    .insert(name.to_string(), ArrayMetadata::V2(m));
            }
        }
        found.names.sort();
        return Ok(found);
    }
    Ok(Discovered {
        names: list_arrays(store, root, dataset).await?,
        ..Discovered::default()
    })
}

/// Most groups listed below one group (a guard against hostile stores).
const MAX_GROUPS: usize = 10_000;

/// Deepest group path listed.
const MAX_GROUP_DEPTH: usize = 16;

/// Paths (relative to the store's root, `/`-separated) of the groups below
/// the group a spec names: from consolidated metadata when the store has
/// it, else by listing, level by level.
///
/// # Errors
/// Store errors other than "not found", metadata that is not JSON.
pub async fn child_groups(
    store: &Arc<dyn ObjectStore>,
    prefix: &Path,
    spec: &TableSpec,
) -> Result<Vec<String>> {
    let dataset = &spec.location;
    let group: Vec<String> = spec
        .options
        .get("group")
        .map(|g| {
            g.split('/')
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let base = group.join("/");
    // Keys of consolidated metadata are paths from the root.
    let under = |path: &str| -> Option<String> {
        let inside = base.is_empty()
            || path
                .strip_prefix(base.as_str())
                .is_some_and(|rest| rest.len() > 1 && rest.starts_with('/'));
        inside.then(|| path.to_string())
    };
    // Consolidated metadata at the store's root lists every node.
    if let Some(j) = get_json(store, &prefix.clone().join("zarr.json"), dataset).await?
        && let Some(meta) = j
            .pointer("/consolidated_metadata/metadata")
            .and_then(|m| m.as_object())
    {
        let mut out: Vec<String> = meta
            .iter()
            .filter(|(_, v)| v.get("node_type").and_then(|t| t.as_str()) == Some("group"))
            .filter_map(|(k, _)| under(k))
            .take(MAX_GROUPS)
            .collect();
        out.sort();
        return Ok(out);
    }
    if let Some(j) = get_json(store, &prefix.clone().join(".zmetadata"), dataset).await?
        && let Some(meta) = j.get("metadata").and_then(|m| m.as_object())
    {
        let mut out: Vec<String> = meta
            .keys()
            .filter_map(|k| k.strip_suffix("/.zgroup"))
            .filter_map(under)
            .take(MAX_GROUPS)
            .collect();
        out.sort();
        return Ok(out);
    }
    let mut out = Vec::new();
    let mut level = vec![(group.clone(), 0usize)];
    while let Some((path, depth)) = level.pop() {
        if depth >= MAX_GROUP_DEPTH || out.len() >= MAX_GROUPS {
            continue;
        }
        let dir = path
            .iter()
            .fold(prefix.clone(), |p, part| p.join(part.as_str()));
        let listing = store
            .list_with_delimiter(Some(&dir))
            .await
            .map_err(|source| ConnectorError::Store {
                dataset: dataset.to_string(),
                source,
            })?;
        for p in listing.common_prefixes {
            let Some(name) = p.filename().map(str::to_string) else {
                continue;
            };
            let is_group = exists(store, &p.clone().join(".zgroup"), dataset).await?
                || get_json(store, &p.clone().join("zarr.json"), dataset)
                    .await?
                    .is_some_and(|j| j.get("node_type").and_then(|t| t.as_str()) == Some("group"));
            if is_group {
                let mut child = path.clone();
                child.push(name);
                out.push(child.join("/"));
                level.push((child, depth + 1));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Lists the child arrays of a group without consolidated metadata.
async fn list_arrays(
    store: &Arc<dyn ObjectStore>,
    root: &Path,
    dataset: &str,
) -> Result<Vec<String>> {
    let listing = store
        .list_with_delimiter(Some(root))
        .await
        .map_err(|source| ConnectorError::Store {
            dataset: dataset.to_string(),
            source,
        })?;
    let mut names = Vec::new();
    for p in listing.common_prefixes {
        let Some(name) = p.filename().map(str::to_string) else {
            continue;
        };
        let is_array = exists(store, &p.clone().join(".zarray"), dataset).await?
            || get_json(store, &p.clone().join("zarr.json"), dataset)
                .await?
                .is_some_and(|j| j.get("node_type").and_then(|t| t.as_str()) == Some("array"));
        if is_array {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// Whether a key exists; store errors other than "not found" are errors.
async fn exists(store: &Arc<dyn ObjectStore>, path: &Path, dataset: &str) -> Result<bool> {
    match store.head(path).await {
        Ok(_) => Ok(true),
        Err(object_store::Error::NotFound { .. }) => Ok(false),
        Err(source) => Err(ConnectorError::StoreKey {
            dataset: dataset.to_string(),
            key: path.to_string(),
            source,
        }),
    }
}

/// Reads a JSON document; `Ok(None)` if it does not exist.
async fn get_json(
    store: &Arc<dyn ObjectStore>,
    path: &Path,
    dataset: &str,
) -> Result<Option<serde_json::Value>> {
    let key_err = |source| ConnectorError::StoreKey {
        dataset: dataset.to_string(),
        key: path.to_string(),
        source,
    };
    let bytes = match store.get(path).await {
        Ok(r) => r.bytes().await.map_err(key_err)?,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(source) => return Err(key_err(source)),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| ConnectorError::Metadata {
            dataset: dataset.to_string(),
            reason: format!("'{path}' is not valid JSON: {e}"),
        })
}

/// Global attributes of the group (v3 zarr.json attributes or v2 .zattrs).
///
/// # Errors
/// Store errors other than "not found", and attributes that are not JSON.
async fn read_group_attrs(
    store: &Arc<dyn ObjectStore>,
    root: &Path,
    dataset: &str,
) -> Result<Option<Attributes>> {
    if let Some(j) = get_json(store, &root.clone().join("zarr.json"), dataset).await? {
        return Ok(j
            .get("attributes")
            .and_then(|a| a.as_object())
            .map(attributes_of));
    }
    if let Some(j) = get_json(store, &root.clone().join(".zattrs"), dataset).await? {
        return Ok(j.as_object().map(attributes_of));
    }
    Ok(None)
}
