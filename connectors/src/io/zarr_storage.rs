//! How `zarrs` reads a Zarr store through `object_store`.
//!
//! Why not `zarrs_object_store::AsyncObjectStore`: it asks for the object's
//! size (a `HEAD`) before every partial read, to turn its byte ranges into
//! absolute ones. Remotely that doubles the round trips of every partial
//! read (shard indexes, blosc block reads). Here a range with an end is read
//! as it is, a range to the end of the object as an offset request and a
//! suffix as a suffix request: object stores answer all three directly.

use std::ops::Range;
use std::sync::Arc;

use futures::StreamExt;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt};
use zarrs::storage::byte_range::{ByteRange, ByteRangeIterator};
use zarrs::storage::{
    AsyncMaybeBytesIterator, AsyncReadableStorageTraits, MaybeBytes, StorageError, StoreKey,
};

/// A Zarr store's keys read from an object store (under a prefix: wrap the
/// store in `object_store::prefix::PrefixStore`).
#[derive(Debug)]
pub struct ZarrStorage {
    store: Arc<dyn ObjectStore>,
}

impl ZarrStorage {
    /// Reads keys of `store`.
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        ZarrStorage { store }
    }
}

fn path(key: &StoreKey) -> Path {
    Path::from(key.as_str())
}

fn storage_error(key: &StoreKey, e: object_store::Error) -> StorageError {
    StorageError::Other(format!("'{key}': {e}"))
}

/// `Ok(None)` for a key that is not there; other errors as storage errors.
fn found<T>(key: &StoreKey, r: object_store::Result<T>) -> Result<Option<T>, StorageError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(storage_error(key, e)),
    }
}

#[async_trait::async_trait]
impl AsyncReadableStorageTraits for ZarrStorage {
    async fn get(&self, key: &StoreKey) -> Result<MaybeBytes, StorageError> {
        let Some(got) = found(key, self.store.get(&path(key)).await)? else {
            return Ok(None);
        };
        got.bytes()
            .await
            .map(Some)
            .map_err(|e| storage_error(key, e))
    }

    async fn get_partial_many<'a>(
        &'a self,
        key: &StoreKey,
        byte_ranges: ByteRangeIterator<'a>,
    ) -> Result<AsyncMaybeBytesIterator<'a>, StorageError> {
        let at = path(key);
        let asked: Vec<ByteRange> = byte_ranges.collect();
        // Ranges with an end go together (one call, merged where close);
        // the others are one request each.
        let bounded: Vec<Range<u64>> = asked
            .iter()
            .filter_map(|r| match *r {
                ByteRange::FromStart(o, Some(n)) => Some(o..o.saturating_add(n)),
                _ => None,
            })
            .collect();
        let Some(mut bounded_bytes) =
            found(key, self.store.get_ranges(&at, &bounded).await)?.map(Vec::into_iter)
        else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(asked.len());
        for r in asked {
            let bytes = match r {
                ByteRange::FromStart(_, Some(n)) => {
                    let b = bounded_bytes.next().ok_or_else(|| {
                        StorageError::Other(format!(
                            "'{key}': fewer byte ranges came back than asked"
                        ))
                    })?;
                    if b.len() as u64 != n {
                        return Err(StorageError::Other(format!(
                            "'{key}': asked for {n} bytes at {r:?}, {} came back (the object is shorter)",
                            b.len()
                        )));
                    }
                    b
                }
                ByteRange::FromStart(o, None) => {
                    let Some(b) = self.open_range(key, &at, GetRange::Offset(o)).await? else {
                        return Ok(None);
                    };
                    b
                }
                ByteRange::Suffix(n) => {
                    let Some(b) = self.open_range(key, &at, GetRange::Suffix(n)).await? else {
                        return Ok(None);
                    };
                    b
                }
            };
            out.push(Ok(bytes));
        }
        Ok(Some(futures::stream::iter(out).boxed()))
    }

    async fn size_key(&self, key: &StoreKey) -> Result<Option<u64>, StorageError> {
        Ok(found(key, self.store.head(&path(key)).await)?.map(|m| m.size))
    }

    fn supports_get_partial(&self) -> bool {
        true
    }
}

impl ZarrStorage {
    /// One request for a range without a known end.
    async fn open_range(
        &self,
        key: &StoreKey,
        at: &Path,
        range: GetRange,
    ) -> Result<Option<bytes::Bytes>, StorageError> {
        let options = GetOptions {
            range: Some(range),
            ..GetOptions::default()
        };
        let Some(got) = found(key, self.store.get_opts(at, options).await)? else {
            return Ok(None);
        };
        got.bytes()
            .await
            .map(Some)
            .map_err(|e| storage_error(key, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::memory::InMemory;

    #[tokio::test]
    async fn every_kind_of_range_reads_without_a_size() {
        let inner = Arc::new(InMemory::new());
        let data: Vec<u8> = (0..1000u32).map(|i| (i % 253) as u8).collect();
        inner
            .put(&Path::from("c/0.0"), data.clone().into())
            .await
            .expect("put");
        let storage = ZarrStorage::new(inner);
        let key = StoreKey::new("c/0.0").expect("a key");
        let ranges = vec![
            ByteRange::FromStart(10, Some(5)),
            ByteRange::Suffix(7),
            ByteRange::FromStart(990, None),
            ByteRange::FromStart(0, Some(3)),
        ];
        let mut got = storage
            .get_partial_many(&key, Box::new(ranges.into_iter()))
            .await
            .expect("read")
            .expect("the key exists");
        let mut parts = Vec::new();
        while let Some(p) = got.next().await {
            parts.push(p.expect("a range"));
        }
        assert_eq!(&parts[0][..], &data[10..15]);
        assert_eq!(&parts[1][..], &data[993..]);
        assert_eq!(&parts[2][..], &data[990..]);
        assert_eq!(&parts[3][..], &data[..3]);
        assert_eq!(
            storage.get(&key).await.expect("get").as_deref(),
            Some(&data[..])
        );
        let missing = StoreKey::new("c/9.9").expect("a key");
        assert!(storage.get(&missing).await.expect("get").is_none());
        assert!(
            storage
                .get_partial_many(
                    &missing,
                    Box::new([ByteRange::FromStart(0, Some(1))].into_iter())
                )
                .await
                .expect("read")
                .is_none()
        );
        let short = storage
            .get_partial_many(
                &key,
                Box::new([ByteRange::FromStart(995, Some(10))].into_iter()),
            )
            .await;
        assert!(short.is_err(), "a range past the end is an error");
    }
}
