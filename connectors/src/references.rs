//! Virtual Zarr stores: kerchunk / VirtualiZarr reference documents, which
//! map each Zarr key to inline bytes or to a byte range of an existing file
//! (NetCDF-4/HDF5, NetCDF-3, GRIB, ...). A whole archive reads as one Zarr
//! store without a byte copied.
//!
//! A Zarr location is a reference document when it is a file (a Zarr store
//! is a folder) holding a JSON object ([`document`]: versions 0 and 1), or
//! a folder whose `.zmetadata` has a `record_size` ([`parquet`]: the Parquet
//! layout). A location named `*.zarr` is taken for a store without a look,
//! so opening a remote store costs no request more than before. Every URL a document references is parsed, checked against the
//! session's allowed roots and opened by [`Access`] like any location the
//! user writes ([`ReferenceStore`] then reads only through those stores), so
//! a document cannot lead a server out of its roots.

pub mod document;
mod generate;
pub mod parquet;
mod store;

use std::collections::HashMap;
use std::sync::Arc;

use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

pub use document::{Reference, parse_document};
pub use store::{Entry, ReferenceStore, Target};

use crate::error::{ConnectorError, Result};
use crate::location::{Access, Location};

/// The largest reference document read (JSON is parsed whole).
pub const MAX_DOCUMENT_BYTES: u64 = 2 << 30;

/// The store and path a Zarr location is read from: the location's own, or,
/// when it is a reference document, a [`ReferenceStore`] over it.
///
/// # Errors
/// Refused locations, a reference document that does not parse, a
/// referenced URL that is refused or has no store.
pub async fn zarr_store(
    access: &Access,
    location: &Location,
) -> Result<(Arc<dyn ObjectStore>, Path)> {
    let (store, path) = access.store(location)?;
    // A `*.zarr` location is a store: no request is spent on finding out.
    if named_as_store(location) {
        return Ok((store, path));
    }
    match open_references(access, location, &store, &path).await? {
        Some(refs) => Ok((Arc::new(refs), Path::default())),
        None => Ok((store, path)),
    }
}

/// Whether the location's name says it is a Zarr store (`*.zarr`,
/// `*.zarr.zip`), not a reference document.
fn named_as_store(location: &Location) -> bool {
    let name = match location {
        Location::Local(p) => p
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default(),
        Location::Remote { segments, .. } => segments
            .last()
            .map(|s| s.to_ascii_lowercase())
            .unwrap_or_default(),
    };
    name.ends_with(".zarr") || name.ends_with(".zarr.zip")
}

/// The reference store of `location`, or `None` when it is not a
/// reference document.
async fn open_references(
    access: &Access,
    location: &Location,
    store: &Arc<dyn ObjectStore>,
    path: &Path,
) -> Result<Option<ReferenceStore>> {
    let dataset = location.to_string();
    let bad = |reason: String| ConnectorError::Metadata {
        dataset: dataset.clone(),
        reason,
    };
    // A file: a JSON reference document (anything else is left to the Zarr
    // opener, which says what it expected).
    // (one GET: its answer carries the size, checked before the body is read)
    if let Ok(got) = store.get(path).await {
        if got.meta.size > MAX_DOCUMENT_BYTES {
            return Err(bad(format!(
                "a {} byte file is too large for a reference document (at most {MAX_DOCUMENT_BYTES})",
                got.meta.size
            )));
        }
        let bytes = got.bytes().await.map_err(|e| bad(e.to_string()))?;
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Ok(None);
        }
        let refs = parse_document(&bytes)
            .map_err(|e| bad(format!("not a kerchunk reference document: {e}")))?;
        return resolve(access, location, refs).await.map(Some);
    }
    // A folder: the Parquet layout announces itself in `.zmetadata`.
    let zmetadata = match store.get(&path.clone().join(".zmetadata")).await {
        Ok(got) => got.bytes().await.map_err(|e| bad(e.to_string()))?,
        Err(_) => return Ok(None),
    };
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(&zmetadata) else {
        return Ok(None);
    };
    if !parquet::is_parquet_layout(&json) {
        return Ok(None);
    }
    let refs = parquet::read_parquet_layout(store, path, &json)
        .await
        .map_err(|e| bad(format!("Parquet references: {e}")))?;
    resolve(access, location, refs).await.map(Some)
}

/// Resolves every referenced URL once (checked and opened by `access`) and
/// builds the store.
async fn resolve(
    access: &Access,
    document: &Location,
    refs: HashMap<String, Reference>,
) -> Result<ReferenceStore> {
    let mut targets: Vec<Target> = Vec::new();
    let mut by_url: HashMap<String, usize> = HashMap::new();
    let mut entries = HashMap::with_capacity(refs.len());
    for (key, reference) in refs {
        let entry = match reference {
            Reference::Inline(b) => Entry::Inline(b),
            Reference::Range {
                url,
                offset,
                length,
            } => {
                let target = match by_url.get(&url) {
                    Some(&t) => t,
                    None => {
                        let location =
                            referenced(document, &url).map_err(|e| ConnectorError::Metadata {
                                dataset: document.to_string(),
                                reason: format!("key '{key}' references '{url}': {e}"),
                            })?;
                        let (store, path) = access.store(&location)?;
                        targets.push(Target {
                            url: location.to_string(),
                            store,
                            path,
                        });
                        by_url.insert(url, targets.len() - 1);
                        targets.len() - 1
                    }
                };
                Entry::Range {
                    target,
                    offset,
                    length,
                }
            }
        };
        entries.insert(key, entry);
    }
    Ok(ReferenceStore::new(document.to_string(), entries, targets))
}

/// The canonical location of a URL in a reference document: absolute URLs
/// and paths as they are; a relative one from the document's folder.
fn referenced(document: &Location, url: &str) -> Result<Location> {
    if url.contains("://") || url.starts_with('/') {
        return Location::parse(url);
    }
    let base = document.url();
    let joined = base.join(url).map_err(|e| ConnectorError::Location {
        location: url.to_string(),
        reason: e.to_string(),
    })?;
    match document {
        Location::Local(_) => match joined.to_file_path() {
            Ok(p) => Location::local(&p),
            Err(()) => Location::parse(joined.as_str()),
        },
        Location::Remote { .. } => Location::parse(joined.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_are_known_by_name() {
        for (raw, store) in [
            ("s3://b/sla.zarr", true),
            ("/d/x.nc.v2.ZARR", true),
            ("s3://b/refs.json", false),
            ("/d/refs.parq", false),
        ] {
            let l = Location::parse(raw).expect("location");
            assert_eq!(named_as_store(&l), store, "{raw}");
        }
    }

    #[test]
    fn relative_urls_are_read_from_the_documents_folder() {
        let doc = Location::parse("s3://bucket/refs/combined.json").expect("location");
        assert_eq!(
            referenced(&doc, "../data/a.nc")
                .expect("relative")
                .to_string(),
            "s3://bucket/data/a.nc"
        );
        assert_eq!(
            referenced(&doc, "gs://other/b.nc")
                .expect("absolute")
                .to_string(),
            "gs://other/b.nc"
        );
    }
}
