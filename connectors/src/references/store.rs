//! A reference map seen as an object store, so that the Zarr opener and
//! reader read a virtual store exactly as they read a real one.
//!
//! A key's bytes are inline or a byte range of another object; reads of a
//! range are translated into reads of the referenced object in its own store
//! (which, for a remote object, is the scheduled store of the I/O budget:
//! neighbouring ranges of one file are coalesced there). The store is read
//! only.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};
use object_store::path::Path;
use object_store::{
    GetOptions, GetResult, ListResult, ObjectMeta, ObjectStore, ObjectStoreExt, Result,
};

use crate::io::read_only::{in_hand, meta, read_only_store};

/// Where one key's bytes are, with the referenced object resolved.
#[derive(Debug, Clone)]
pub enum Entry {
    /// The bytes themselves.
    Inline(Bytes),
    /// Bytes of `targets[target]`: `length` bytes from `offset`, or the whole
    /// object.
    Range {
        /// Index into the store's targets.
        target: usize,
        /// First byte.
        offset: u64,
        /// Number of bytes; `None` for the whole object.
        length: Option<u64>,
    },
}

/// A referenced object: its URL (for messages), its store and path there.
#[derive(Debug)]
pub struct Target {
    /// The canonical location, as messages show it.
    pub url: String,
    /// The store holding it.
    pub store: Arc<dyn ObjectStore>,
    /// Its path in that store.
    pub path: Path,
}

/// A read-only store over a reference map.
#[derive(Debug)]
pub struct ReferenceStore {
    name: String,
    entries: HashMap<String, Entry>,
    targets: Vec<Target>,
}

impl std::fmt::Display for ReferenceStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "References({})", self.name)
    }
}

fn generic(message: String) -> object_store::Error {
    object_store::Error::Generic {
        store: "references",
        source: message.into(),
    }
}

/// A referenced object that is not there is an error naming it, never a
/// missing chunk (which the Zarr reader would fill silently).
fn target_error(key: &Path, url: &str, e: object_store::Error) -> object_store::Error {
    match e {
        object_store::Error::NotFound { .. } => {
            generic(format!("'{key}' references '{url}', which does not exist"))
        }
        other => other,
    }
}

impl ReferenceStore {
    /// A store named `name` (the reference document's location).
    pub fn new(name: String, entries: HashMap<String, Entry>, targets: Vec<Target>) -> Self {
        ReferenceStore {
            name,
            entries,
            targets,
        }
    }

    /// The objects the references point into.
    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    fn entry(&self, location: &Path) -> Result<&Entry> {
        self.entries
            .get(location.as_ref())
            .ok_or_else(|| object_store::Error::NotFound {
                path: location.to_string(),
                source: format!("no reference for '{location}' in {}", self.name).into(),
            })
    }

    /// The referenced object of a range entry and the absolute range of its
    /// bytes that `wanted` (relative to the key) selects.
    fn absolute(
        &self,
        location: &Path,
        target: usize,
        offset: u64,
        length: u64,
        wanted: &Range<u64>,
    ) -> Result<(&Target, Range<u64>)> {
        let t = self
            .targets
            .get(target)
            .ok_or_else(|| generic(format!("'{location}': dangling reference")))?;
        if wanted.end > length {
            return Err(generic(format!(
                "'{location}': asked for bytes {wanted:?} of a {length}-byte reference into '{}'",
                t.url
            )));
        }
        let start = offset
            .checked_add(wanted.start)
            .ok_or_else(|| generic(format!("'{location}': offset overflows")))?;
        Ok((t, start..start + (wanted.end - wanted.start)))
    }

    /// Reads a range entry's bytes of `wanted`, checking that the referenced
    /// object had them all (a truncated file is an error naming it).
    async fn read_range(
        &self,
        location: &Path,
        target: usize,
        offset: u64,
        length: u64,
        wanted: Range<u64>,
    ) -> Result<Bytes> {
        if wanted.start >= wanted.end {
            return Ok(Bytes::new());
        }
        let (t, at) = self.absolute(location, target, offset, length, &wanted)?;
        let bytes = t
            .store
            .get_range(&t.path, at.clone())
            .await
            .map_err(|e| target_error(location, &t.url, e))?;
        if bytes.len() as u64 != at.end - at.start {
            return Err(generic(format!(
                "'{location}': the reference asks for bytes {at:?} of '{}', which ends before",
                t.url
            )));
        }
        Ok(bytes)
    }
}

read_only_store!(ReferenceStore, "a reference store", {
    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        // The key's size, and its inline bytes or the start of its range.
        let (size, inline, range_of) = match self.entry(location)? {
            Entry::Inline(b) => (b.len() as u64, Some(b.clone()), None),
            Entry::Range {
                target,
                offset: 0,
                length: None,
            } => {
                // A whole object: the request goes through as it is.
                let t = self
                    .targets
                    .get(*target)
                    .ok_or_else(|| generic(format!("'{location}': dangling reference")))?;
                let mut got = t
                    .store
                    .get_opts(&t.path, options)
                    .await
                    .map_err(|e| target_error(location, &t.url, e))?;
                got.meta.location = location.clone();
                return Ok(got);
            }
            Entry::Range {
                offset,
                length: None,
                ..
            } => {
                return Err(generic(format!(
                    "'{location}': a reference with offset {offset} needs a length"
                )));
            }
            Entry::Range {
                target,
                offset,
                length: Some(n),
            } => (*n, None, Some((*target, *offset))),
        };
        let range = match &options.range {
            Some(r) => r
                .as_range(size)
                .map_err(|e| generic(format!("'{location}': {e}")))?,
            None => 0..size,
        };
        if options.head {
            return Ok(in_hand(location, size, range, Bytes::new()));
        }
        let bytes = match (inline, range_of) {
            (Some(b), _) => b.slice(range.start as usize..range.end as usize),
            (None, Some((target, offset))) => {
                self.read_range(location, target, offset, size, range.clone())
                    .await?
            }
            (None, None) => return Err(generic(format!("'{location}': inconsistent reference"))),
        };
        Ok(in_hand(location, size, range, bytes))
    }

    /// The ranges of one key, read from its object in one call (where the
    /// object's store coalesces them).
    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        match self.entry(location)? {
            Entry::Inline(b) => ranges
                .iter()
                .map(|r| {
                    if r.end > b.len() as u64 || r.start > r.end {
                        Err(generic(format!(
                            "'{location}': asked for bytes {r:?} of {} inline bytes",
                            b.len()
                        )))
                    } else {
                        Ok(b.slice(r.start as usize..r.end as usize))
                    }
                })
                .collect(),
            Entry::Range {
                target,
                offset,
                length: Some(n),
            } => {
                let mut absolute = Vec::with_capacity(ranges.len());
                for r in ranges {
                    absolute.push(self.absolute(location, *target, *offset, *n, r)?.1);
                }
                let t = &self.targets[*target];
                let got = t
                    .store
                    .get_ranges(&t.path, &absolute)
                    .await
                    .map_err(|e| target_error(location, &t.url, e))?;
                for (b, r) in got.iter().zip(&absolute) {
                    if b.len() as u64 != r.end - r.start {
                        return Err(generic(format!(
                            "'{location}': the reference asks for bytes {r:?} of '{}', which ends before",
                            t.url
                        )));
                    }
                }
                Ok(got)
            }
            Entry::Range { target, .. } => {
                let t = self
                    .targets
                    .get(*target)
                    .ok_or_else(|| generic(format!("'{location}': dangling reference")))?;
                t.store
                    .get_ranges(&t.path, ranges)
                    .await
                    .map_err(|e| target_error(location, &t.url, e))
            }
        }
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        let prefix = prefix.map(|p| format!("{}/", p.as_ref()));
        let mut found: Vec<ObjectMeta> = self
            .entries
            .iter()
            .filter(|(k, _)| prefix.as_ref().is_none_or(|p| k.starts_with(p.as_str())))
            .map(|(k, e)| {
                let size = match e {
                    Entry::Inline(b) => b.len() as u64,
                    Entry::Range { length, .. } => length.unwrap_or(0),
                };
                meta(&Path::from(k.as_str()), size)
            })
            .collect();
        found.sort_unstable_by(|a, b| a.location.cmp(&b.location));
        futures::stream::iter(found.into_iter().map(Ok)).boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        let prefix = prefix
            .map(|p| format!("{}/", p.as_ref()))
            .filter(|p| p != "/")
            .unwrap_or_default();
        let mut objects = Vec::new();
        let mut folders = std::collections::BTreeSet::new();
        for (k, e) in &self.entries {
            let Some(rest) = k.strip_prefix(prefix.as_str()) else {
                continue;
            };
            match rest.split_once('/') {
                Some((folder, _)) => {
                    folders.insert(format!("{prefix}{folder}"));
                }
                None => {
                    let size = match e {
                        Entry::Inline(b) => b.len() as u64,
                        Entry::Range { length, .. } => length.unwrap_or(0),
                    };
                    objects.push(meta(&Path::from(k.as_str()), size));
                }
            }
        }
        objects.sort_unstable_by(|a, b| a.location.cmp(&b.location));
        Ok(ListResult {
            common_prefixes: folders
                .into_iter()
                .map(|f| Path::from(f.as_str()))
                .collect(),
            objects,
        })
    }
});

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::GetRange;
    use object_store::memory::InMemory;

    #[tokio::test]
    async fn keys_read_as_their_referenced_bytes() {
        let inner = Arc::new(InMemory::new());
        let data: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        let file = Path::from("data/f.bin");
        inner.put(&file, data.clone().into()).await.expect("put");
        let entries = HashMap::from([
            (
                "v/.zarray".to_string(),
                Entry::Inline(Bytes::from_static(b"{}")),
            ),
            (
                "v/0".to_string(),
                Entry::Range {
                    target: 0,
                    offset: 100,
                    length: Some(50),
                },
            ),
            (
                "v/1".to_string(),
                Entry::Range {
                    target: 0,
                    offset: 0,
                    length: None,
                },
            ),
            (
                "v/2".to_string(),
                Entry::Range {
                    target: 0,
                    offset: 990,
                    length: Some(20),
                },
            ),
        ]);
        let store = ReferenceStore::new(
            "refs.json".into(),
            entries,
            vec![Target {
                url: "mem:///data/f.bin".into(),
                store: inner,
                path: file,
            }],
        );
        let get = |k: &'static str| {
            let store = &store;
            async move { store.get(&Path::from(k)).await?.bytes().await }
        };
        assert_eq!(&get("v/0").await.expect("v/0")[..], &data[100..150]);
        assert_eq!(&get("v/1").await.expect("v/1")[..], &data[..]);
        assert_eq!(&get("v/.zarray").await.expect("meta")[..], b"{}");
        let e = get("v/2").await.expect_err("the file is shorter");
        assert!(e.to_string().contains("ends before"), "{e}");
        assert!(matches!(
            get("v/9").await,
            Err(object_store::Error::NotFound { .. })
        ));
        let gone = ReferenceStore::new(
            "refs.json".into(),
            HashMap::from([(
                "v/0".to_string(),
                Entry::Range {
                    target: 0,
                    offset: 0,
                    length: Some(4),
                },
            )]),
            vec![Target {
                url: "mem:///gone.bin".into(),
                store: Arc::new(InMemory::new()),
                path: Path::from("gone.bin"),
            }],
        );
        let e = gone
            .get_ranges(&Path::from("v/0"), &[0..4])
            .await
            .expect_err("the referenced file is missing");
        assert!(
            !matches!(e, object_store::Error::NotFound { .. })
                && e.to_string().contains("gone.bin"),
            "{e}"
        );
        let parts = store
            .get_ranges(&Path::from("v/0"), &[0..10, 40..50])
            .await
            .expect("ranges");
        assert_eq!(&parts[0][..], &data[100..110]);
        assert_eq!(&parts[1][..], &data[140..150]);
        assert!(
            store
                .get_ranges(&Path::from("v/0"), &[40..60])
                .await
                .is_err()
        );
        let suffix = store
            .get_opts(
                &Path::from("v/0"),
                GetOptions {
                    range: Some(GetRange::Suffix(5)),
                    ..GetOptions::default()
                },
            )
            .await
            .expect("suffix")
            .bytes()
            .await
            .expect("bytes");
        assert_eq!(&suffix[..], &data[145..150]);
        assert_eq!(store.head(&Path::from("v/0")).await.expect("head").size, 50);
        let listed = store.list_with_delimiter(None).await.expect("list");
        assert_eq!(listed.common_prefixes, vec![Path::from("v")]);
        let listed = store
            .list_with_delimiter(Some(&Path::from("v")))
            .await
            .expect("list v");
        assert_eq!(listed.objects.len(), 4);
        assert!(
            store
                .put(&Path::from("x"), Bytes::new().into())
                .await
                .is_err()
        );
    }
}
