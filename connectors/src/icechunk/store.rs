//! One version of an Icechunk repository seen as an object store of Zarr v3
//! keys, so that the Zarr opener and reader read it as any Zarr store.
//!
//! Keys are the repository's Zarr keys (`zarr.json`, `sst/zarr.json`,
//! `sst/c/0/0/0`); `icechunk::Store` finds each in the snapshot's manifests
//! and reads native and inline chunks through the repository's storage.
//!
//! A virtual chunk (a byte range of another file, as in kerchunk) is read
//! by gridsql itself: its URL is parsed, checked against the session's
//! allowed roots and opened by [`Access`], like any location in SQL, so a
//! repository cannot lead a server out of its roots, and remote ranges go
//! through the I/O scheduler. The store is read only.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use icechunk::format::manifest::{ChunkPayload, VirtualChunkRef};
use icechunk::format::{ByteRange, ChunkIndices};
use icechunk::session::Session;
use icechunk::store::{ListDirItem, StoreError, StoreErrorKind};
use object_store::path::Path;
use object_store::{
    GetOptions, GetRange, GetResult, ListResult, ObjectMeta, ObjectStoreExt, Result,
};
use tokio::sync::RwLock;

use crate::io::read_only::{in_hand, meta, read_only_store};
use crate::location::{Access, Location};

/// A read-only object store over one snapshot of a repository.
pub struct IcechunkStore {
    name: String,
    store: Arc<icechunk::Store>,
    session: Arc<RwLock<Session>>,
    access: Access,
}

impl std::fmt::Debug for IcechunkStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IcechunkStore({})", self.name)
    }
}

impl std::fmt::Display for IcechunkStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Icechunk({})", self.name)
    }
}

impl IcechunkStore {
    /// The store of a session; `name` says which repository and version;
    /// virtual chunks are opened through `access`.
    pub fn new(name: String, store: icechunk::Store, access: Access) -> Self {
        IcechunkStore {
            name,
            session: store.session(),
            store: Arc::new(store),
            access,
        }
    }

    /// The virtual reference of a chunk key, if the key is a chunk stored
    /// as one.
    async fn virtual_ref(&self, key: &str) -> Result<Option<VirtualChunkRef>> {
        let Some((node, coords)) = chunk_key(key) else {
            return Ok(None);
        };
        let Ok(path) = icechunk::format::Path::try_from(node.as_str()) else {
            return Ok(None);
        };
        let session = self.session.read().await;
        match session.get_chunk_ref(&path, &ChunkIndices(coords)).await {
            Ok(Some(ChunkPayload::Virtual(v))) => Ok(Some(v)),
            // native, inline, missing, or not a chunk: icechunk's own read
            _ => Ok(None),
        }
    }

    /// A virtual chunk's bytes (`wanted` relative to the chunk), read from
    /// its checked location.
    async fn read_virtual(
        &self,
        key: &str,
        v: &VirtualChunkRef,
        wanted: Range<u64>,
    ) -> Result<Bytes> {
        let url = v.location.url();
        let fail = |reason: String| object_store::Error::Generic {
            store: "icechunk",
            source: format!(
                "{}, key '{key}': virtual chunk in '{url}': {reason}",
                self.name
            )
            .into(),
        };
        if wanted.end > v.length || wanted.start > wanted.end {
            return Err(fail(format!(
                "asked for bytes {wanted:?} of a {}-byte chunk",
                v.length
            )));
        }
        let location = Location::parse(url).map_err(|e| fail(e.to_string()))?;
        let (store, path) = self
            .access
            .store(&location)
            .map_err(|e| fail(e.to_string()))?;
        let at = v.offset + wanted.start..v.offset + wanted.end;
        let bytes = store.get_range(&path, at.clone()).await?;
        if bytes.len() as u64 != at.end - at.start {
            return Err(fail(format!("bytes {at:?} asked, the file ends before")));
        }
        Ok(bytes)
    }

    fn error(&self, key: &str, e: StoreError) -> object_store::Error {
        match e.kind() {
            StoreErrorKind::NotFound(_) => object_store::Error::NotFound {
                path: key.to_string(),
                source: format!("{} has no key '{key}'", self.name).into(),
            },
            _ => object_store::Error::Generic {
                store: "icechunk",
                source: format!("{}, key '{key}': {e}", self.name).into(),
            },
        }
    }

    async fn read(&self, key: &str, range: &ByteRange) -> Result<Bytes> {
        self.store
            .get(key, range)
            .await
            .map_err(|e| self.error(key, e))
    }
}

/// The node path and chunk coordinates of a chunk key (`a/b/c/0/1`, or
/// `c/0` for an array at the root), as Zarr v3's default key encoding writes
/// them; `None` for other keys.
fn chunk_key(key: &str) -> Option<(String, Vec<u32>)> {
    let (node, coords) = match key.strip_prefix("c/") {
        Some(coords) => ("", coords),
        None => key.rsplit_once("/c/")?,
    };
    let coords = coords
        .split('/')
        .map(|c| c.parse::<u32>().ok())
        .collect::<Option<Vec<u32>>>()?;
    Some((format!("/{node}"), coords))
}

read_only_store!(IcechunkStore, "an Icechunk repository, here,", {
    /// A key's bytes. Sizes are not known without reading, so a `HEAD` or a
    /// suffix reads the whole key (metadata keys, which are small, are what
    /// is asked that way).
    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let key = location.as_ref();
        if let Some(v) = self.virtual_ref(key).await? {
            let size = v.length;
            let range = match &options.range {
                Some(r) => r.as_range(size).map_err(|e| object_store::Error::Generic {
                    store: "icechunk",
                    source: format!("'{key}': {e}").into(),
                })?,
                None => 0..size,
            };
            let bytes = if options.head {
                Bytes::new()
            } else {
                self.read_virtual(key, &v, range.clone()).await?
            };
            return Ok(in_hand(location, size, range, bytes));
        }
        let (bytes, size, range) = match &options.range {
            Some(GetRange::Bounded(r)) if !options.head => {
                let b = self.read(key, &ByteRange::Bounded(r.clone())).await?;
                let end = r.start + b.len() as u64;
                // the size is at least what was read
                (b, end, r.start..end)
            }
            Some(GetRange::Offset(o)) if !options.head => {
                let b = self.read(key, &ByteRange::From(*o)).await?;
                let end = o + b.len() as u64;
                (b, end, *o..end)
            }
            other => {
                let all = self.read(key, &ByteRange::ALL).await?;
                let size = all.len() as u64;
                let range = match other {
                    Some(r) => r.as_range(size).map_err(|e| object_store::Error::Generic {
                        store: "icechunk",
                        source: format!("'{key}': {e}").into(),
                    })?,
                    None => 0..size,
                };
                let b = all.slice(range.start as usize..range.end as usize);
                (b, size, range)
            }
        };
        let payload = if options.head { Bytes::new() } else { bytes };
        Ok(in_hand(location, size, range, payload))
    }

    /// The ranges of one key, read concurrently.
    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let key = location.as_ref();
        if let Some(v) = self.virtual_ref(key).await? {
            let mut out = Vec::with_capacity(ranges.len());
            for r in ranges {
                out.push(self.read_virtual(key, &v, r.clone()).await?);
            }
            return Ok(out);
        }
        let asked: Vec<(String, ByteRange)> = ranges
            .iter()
            .map(|r| (key.to_string(), ByteRange::Bounded(r.clone())))
            .collect();
        let got = self
            .store
            .get_partial_values(asked)
            .await
            .map_err(|e| self.error(key, e))?;
        got.into_iter()
            .zip(ranges)
            .map(|(b, r)| {
                let b = b.map_err(|e| self.error(key, e))?;
                if b.len() as u64 != r.end - r.start {
                    return Err(object_store::Error::Generic {
                        store: "icechunk",
                        source: format!(
                            "{}, key '{key}': asked for bytes {r:?}, {} came back",
                            self.name,
                            b.len()
                        )
                        .into(),
                    });
                }
                Ok(b)
            })
            .collect()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        let store = Arc::clone(&self.store);
        let name = self.name.clone();
        let prefix = prefix.map(|p| p.as_ref().to_string()).unwrap_or_default();
        futures::stream::once(async move {
            let keys: Vec<String> = match store.list_prefix(&format!("/{prefix}")).await {
                Ok(s) => s.try_collect().await,
                Err(e) => Err(e),
            }
            .map_err(|e| object_store::Error::Generic {
                store: "icechunk",
                source: format!("{name}: cannot list '{prefix}': {e}").into(),
            })?;
            Ok::<_, object_store::Error>(futures::stream::iter(
                keys.into_iter()
                    .map(|k| Ok(meta(&Path::from(k.trim_start_matches('/')), 0))),
            ))
        })
        .try_flatten()
        .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        let prefix = prefix.map(|p| p.as_ref().to_string()).unwrap_or_default();
        let items: Vec<ListDirItem> = match self.store.list_dir_items(&prefix).await {
            Ok(s) => s.try_collect().await,
            Err(e) => Err(e),
        }
        .map_err(|e| self.error(&prefix, e))?;
        let under = |name: &str| {
            let name = name.trim_matches('/');
            if prefix.is_empty() {
                Path::from(name)
            } else {
                Path::from(format!("{prefix}/{name}"))
            }
        };
        let mut out = ListResult {
            common_prefixes: Vec::new(),
            objects: Vec::new(),
        };
        for item in items {
            match item {
                ListDirItem::Key(k) => out.objects.push(meta(&under(&k), 0)),
                ListDirItem::Prefix(p) => out.common_prefixes.push(under(&p)),
            }
        }
        Ok(out)
    }
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_keys_name_their_node_and_coordinates() {
        assert_eq!(
            chunk_key("sst/c/0/12/3"),
            Some(("/sst".into(), vec![0, 12, 3]))
        );
        assert_eq!(chunk_key("g/sst/c/1"), Some(("/g/sst".into(), vec![1])));
        assert_eq!(chunk_key("c/4"), Some(("/".into(), vec![4])));
        assert_eq!(chunk_key("sst/zarr.json"), None);
        assert_eq!(chunk_key("sst/c/x"), None);
    }
}
