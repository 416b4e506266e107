//! The wrapper of every remote store: requests take their place in the
//! process's budget, neighbouring byte ranges become one request, and all of
//! it is counted.

use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload, PutResult,
    RenameOptions, Result,
};

use super::budget;
use super::counters::{self, InFlight};

/// A remote store read through the I/O budget (see [`super`]).
#[derive(Debug)]
pub struct ScheduledStore {
    inner: Arc<dyn ObjectStore>,
}

impl ScheduledStore {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn ObjectStore>) -> Self {
        ScheduledStore { inner }
    }
}

impl std::fmt::Display for ScheduledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Scheduled({})", self.inner)
    }
}

/// Sorted ranges covering `ranges`, where ranges at most `gap` bytes apart
/// (or overlapping) are one.
pub(crate) fn merge_ranges(ranges: &[Range<u64>], gap: u64) -> Vec<Range<u64>> {
    let mut sorted: Vec<Range<u64>> = ranges.iter().filter(|r| r.start < r.end).cloned().collect();
    sorted.sort_unstable_by_key(|r| r.start);
    let mut merged: Vec<Range<u64>> = Vec::with_capacity(sorted.len());
    for r in sorted {
        match merged.last_mut() {
            Some(last) if r.start <= last.end.saturating_add(gap) => last.end = last.end.max(r.end),
            _ => merged.push(r),
        }
    }
    merged
}

#[async_trait]
impl ObjectStore for ScheduledStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    /// One request of the budget, held until the body has been read.
    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let permit = budget::request().await;
        let flight = InFlight::begin();
        let mut result = self.inner.get_opts(location, options).await?;
        result.payload = match result.payload {
            GetResultPayload::Stream(body) => GetResultPayload::Stream(
                body.map_ok(move |piece| {
                    let _held = &permit;
                    flight.received(piece.len());
                    piece
                })
                .boxed(),
            ),
            other => other,
        };
        Ok(result)
    }

    /// Ranges closer than the budget's coalescing gap are read as one
    /// request; the requests run concurrently, within the budget.
    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let gap = budget::settings().coalesce_gap;
        let merged = merge_ranges(ranges, gap);
        counters::merged(ranges.len(), merged.len());
        let fetched: Vec<Bytes> = futures::stream::iter(merged.iter().cloned())
            .map(|r| self.get_range(location, r))
            .buffered(merged.len().max(1))
            .try_collect()
            .await?;
        ranges
            .iter()
            .map(|r| {
                if r.start >= r.end {
                    return Ok(Bytes::new());
                }
                let at = merged
                    .partition_point(|m| m.start <= r.start)
                    .saturating_sub(1);
                let (m, bytes) = (&merged[at], &fetched[at]);
                let (from, to) = ((r.start - m.start) as usize, (r.end - m.start) as usize);
                if to > bytes.len() {
                    return Err(object_store::Error::Generic {
                        store: "gridsql",
                        source: format!(
                            "'{location}': asked for bytes {r:?}, the object ends at {}",
                            m.start + bytes.len() as u64
                        )
                        .into(),
                    });
                }
                Ok(bytes.slice(from..to))
            })
            .collect()
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        let _permit = budget::request().await;
        let _flight = InFlight::begin();
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.inner.rename_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::memory::InMemory;

    #[test]
    fn ranges_within_the_gap_merge() {
        assert_eq!(
            merge_ranges(&[0..10, 12..20, 40..50], 2),
            vec![0..20, 40..50]
        );
        assert_eq!(merge_ranges(&[40..50, 0..10, 5..8], 0), vec![0..10, 40..50]);
        assert_eq!(merge_ranges(&[3..3, 0..1], 100), vec![0..1]);
        assert!(merge_ranges(&[], 1).is_empty());
    }

    #[tokio::test]
    async fn ranges_read_through_the_wrapper_equal_the_object() {
        let inner = Arc::new(InMemory::new());
        let data: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        let path = Path::from("a/b");
        inner.put(&path, data.clone().into()).await.expect("put");
        let store = ScheduledStore::new(inner);
        let mine = Arc::new(counters::IoCounters::default());
        let ranges = [10..20, 4000..4100, 15..30, 0..0, 4999..5000];
        let got = counters::scope(Arc::clone(&mine), store.get_ranges(&path, &ranges))
            .await
            .expect("ranges");
        for (r, b) in ranges.iter().zip(&got) {
            assert_eq!(&b[..], &data[r.start as usize..r.end as usize], "{r:?}");
        }
        let s = mine.snapshot();
        assert_eq!((s.ranges, s.merged_requests), (5, 1), "all within 1 MiB");
        assert_eq!(s.requests, 1);
        assert_eq!(s.bytes, 4990);
        let past = store.get_ranges(&path, &[4990..6000]).await;
        assert!(past.is_err(), "a range past the end is an error");
    }
}
