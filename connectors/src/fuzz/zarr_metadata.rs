//! Fuzz body: Zarr v2 and v3 metadata through gridsql's opening of a store
//! (array discovery, dimension names, fill values, chunk shapes, the grid
//! model and coordinate decoding), then a read of each variable's first
//! chunk.
//!
//! Input layout: up to two arrays separated by `0xFE`; each array is
//! `metadata 0xFF attributes 0xFF chunk bytes` (later parts optional). The
//! first array is `data`; the second is named after `data`'s first
//! dimension, so it becomes that dimension's coordinate. The Zarr version
//! follows the first metadata's `zarr_format` (2 unless it says 3).

use serde_json::Value;

use super::{memory_store, open, plan_whole_table, read_first_chunks};

/// The name the first array is stored under.
const DATA: &str = "data";

/// Runs the target on one input.
pub fn run(data: &[u8]) -> bool {
    let mut arrays = data.split(|&b| b == 0xFE);
    let Some(first) = arrays.next() else {
        return false;
    };
    let second = arrays.next();
    let first = parts(first);
    let v3 = json(first.0).and_then(|j| j.get("zarr_format").and_then(Value::as_u64)) == Some(3);
    let coord_name = first_dim(&first, v3).unwrap_or_else(|| "x".to_string());
    let mut files = Vec::new();
    if v3 {
        files.push((
            "zarr.json".to_string(),
            br#"{"zarr_format":3,"node_type":"group","attributes":{}}"#.to_vec(),
        ));
    } else {
        files.push((".zgroup".to_string(), br#"{"zarr_format":2}"#.to_vec()));
    }
    add_array(&mut files, DATA, &first, v3);
    if let Some(s) = second
        && coord_name != DATA
    {
        add_array(&mut files, &coord_name, &parts(s), v3);
    }
    let store = memory_store(&files);
    let Ok(table) = open(store) else {
        return false;
    };
    assert_eq!(
        table.schema.fields().len(),
        table.ndims() + table.grid.variables.len()
    );
    plan_whole_table(&table);
    read_first_chunks(&table)
}

/// One array's (metadata, attributes, chunk bytes).
type Parts<'a> = (&'a [u8], Option<&'a [u8]>, Option<&'a [u8]>);

fn parts(a: &[u8]) -> Parts<'_> {
    let mut p = a.splitn(3, |&b| b == 0xFF);
    let meta = p.next().unwrap_or_default();
    (meta, p.next(), p.next())
}

fn json(bytes: &[u8]) -> Option<Value> {
    serde_json::from_slice(bytes).ok()
}

/// The array's rank from its metadata's `shape` (1 when unreadable).
fn rank(meta: &[u8]) -> usize {
    json(meta)
        .and_then(|j| j.get("shape").and_then(Value::as_array).map(Vec::len))
        .unwrap_or(1)
        .min(8)
}

/// The first dimension name of an array, from v3 `dimension_names` or v2
/// `_ARRAY_DIMENSIONS`.
fn first_dim(p: &Parts<'_>, v3: bool) -> Option<String> {
    let names = if v3 {
        json(p.0)?.get("dimension_names")?.clone()
    } else {
        json(p.1?)?.get("_ARRAY_DIMENSIONS")?.clone()
    };
    let name = names.as_array()?.first()?.as_str()?.to_string();
    // A name that is not one path segment cannot be an array key.
    (!name.is_empty() && !name.contains('/') && name != "." && name != "..").then_some(name)
}

/// Adds an array's metadata, attributes and its chunk at index 0.
fn add_array(files: &mut Vec<(String, Vec<u8>)>, name: &str, p: &Parts<'_>, v3: bool) {
    let zeros = vec!["0"; rank(p.0).max(1)];
    if v3 {
        files.push((format!("{name}/zarr.json"), p.0.to_vec()));
        if let Some(chunk) = p.2 {
            files.push((format!("{name}/c/{}", zeros.join("/")), chunk.to_vec()));
        }
    } else {
        files.push((format!("{name}/.zarray"), p.0.to_vec()));
        if let Some(attrs) = p.1 {
            files.push((format!("{name}/.zattrs"), attrs.to_vec()));
        }
        if let Some(chunk) = p.2 {
            files.push((format!("{name}/{}", zeros.join(".")), chunk.to_vec()));
        }
    }
}
