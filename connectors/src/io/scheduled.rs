//! The wrapper of every remote store: requests take their place in the
//! process's budget, neighbouring byte ranges become one request, a long
//! range becomes parts fetched side by side, and all of it is counted.

use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result,
};

use super::budget::{self, IoSettings};
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

/// Byte ranges of one object, read together, and the object's ETag.
#[derive(Debug)]
pub struct Ranges {
    /// The bytes of each range asked for, in the order asked.
    pub bytes: Vec<Bytes>,
    /// The ETag every response gave (`None` when the store gives none).
    pub e_tag: Option<String>,
}

/// Reads byte `ranges` of the object at `location` of `store` with
/// `settings`' coalescing gap and part size: ranges closer than the gap are
/// one request, a merged range longer than the part size several, all
/// requests sent at once (each takes its place in the budget when `store`
/// is a [`ScheduledStore`] or wraps one).
///
/// With `if_match`, every request carries it, so a store that holds
/// another version of the object refuses the read
/// (`object_store::Error::Precondition`) instead of mixing versions. Without
/// it, responses that give different ETags (the object was rewritten
/// between two of them) fail the read the same way.
///
/// # Errors
/// The store's errors; a range past the object's end.
pub async fn read_ranges(
    store: &dyn ObjectStore,
    location: &Path,
    ranges: &[Range<u64>],
    settings: IoSettings,
    if_match: Option<&str>,
) -> Result<Ranges> {
    let merged = merge_ranges(ranges, settings.coalesce_gap);
    let requests: Vec<Range<u64>> = merged
        .iter()
        .flat_map(|m| split_range(m, settings.part_bytes))
        .collect();
    counters::merged(ranges.len(), requests.len());
    let got: Vec<(Bytes, Option<String>)> = futures::stream::iter(requests.iter().cloned())
        .map(|r| async move {
            let options = GetOptions {
                range: Some(r.into()),
                if_match: if_match.map(str::to_string),
                ..GetOptions::default()
            };
            let result = store.get_opts(location, options).await?;
            let e_tag = result.meta.e_tag.clone();
            Ok::<_, object_store::Error>((result.bytes().await?, e_tag))
        })
        .buffered(requests.len().max(1))
        .try_collect()
        .await?;
    let e_tag = got.first().and_then(|(_, e)| e.clone());
    if got.iter().any(|(_, e)| *e != e_tag) {
        return Err(object_store::Error::Precondition {
            path: location.to_string(),
            source: "the object changed while its byte ranges were read".into(),
        });
    }
    let got: Vec<Bytes> = got.into_iter().map(|(b, _)| b).collect();
    // Each range asked for is a slice of the part that holds it; one
    // that crosses parts (a blosc block over a part's end) is copied
    // from them.
    let short = |r: &Range<u64>, end: u64| object_store::Error::Generic {
        store: "gridsql",
        source: format!("'{location}': asked for bytes {r:?}, the object ends at {end}").into(),
    };
    let bytes = ranges
        .iter()
        .map(|r| {
            if r.start >= r.end {
                return Ok(Bytes::new());
            }
            let at = requests
                .partition_point(|q| q.start <= r.start)
                .saturating_sub(1);
            let (q, bytes) = (&requests[at], &got[at]);
            let have = q.start + bytes.len() as u64;
            if r.end <= have {
                return Ok(bytes.slice((r.start - q.start) as usize..(r.end - q.start) as usize));
            }
            let mut joined = BytesMut::with_capacity((r.end - r.start) as usize);
            let mut next = r.start;
            for (q, bytes) in requests[at..].iter().zip(&got[at..]) {
                if next >= r.end || q.start > next {
                    break;
                }
                let have = q.start + bytes.len() as u64;
                let to = have.min(r.end);
                if to > next {
                    joined.extend_from_slice(
                        &bytes[(next - q.start) as usize..(to - q.start) as usize],
                    );
                    next = to;
                }
                if have < q.end {
                    break; // the object ended inside this part
                }
            }
            if next < r.end {
                return Err(short(r, next));
            }
            Ok(joined.freeze())
        })
        .collect::<Result<Vec<Bytes>>>()?;
    Ok(Ranges { bytes, e_tag })
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

/// `range` cut into parts of at most about `part` bytes (equal but for the
/// last byte or so), in order; `range` itself when it is no longer than
/// `part`.
pub(crate) fn split_range(range: &Range<u64>, part: u64) -> Vec<Range<u64>> {
    let len = range.end.saturating_sub(range.start);
    if part == 0 || len <= part {
        return vec![range.clone()];
    }
    let parts = len.div_ceil(part);
    let size = len.div_ceil(parts);
    (0..parts)
        .map(|i| {
            let start = range.start + i * size;
            start..(start + size).min(range.end)
        })
        .filter(|r| r.start < r.end)
        .collect()
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
        let held = Held::begin(budget::request().await);
        let mut result = self.inner.get_opts(location, options).await?;
        result.payload = match result.payload {
            GetResultPayload::Stream(body) => GetResultPayload::Stream(
                body.map_ok(move |piece| {
                    held.received(piece.len());
                    piece
                })
                .boxed(),
            ),
            other => other,
        };
        Ok(result)
    }

    /// Ranges closer than the budget's coalescing gap are read as one
    /// request, and a merged range longer than the budget's part size as
    /// several; the requests run concurrently, within the budget.
    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        read_ranges(self, location, ranges, budget::settings(), None)
            .await
            .map(|r| r.bytes)
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
        let _held = Held::begin(budget::request().await);
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.inner.rename_opts(from, to, options).await
    }
}

/// A request's place in the budget and its count in flight, given back
/// together. The fields drop in order: the count ends before the place is
/// given back, so a request woken by the place is never counted while this
/// one still is, and the counted peak stays within the budget. (A closure
/// holding the two separately dropped the place first.)
struct Held<P> {
    flight: InFlight,
    _place: P,
}

impl<P> Held<P> {
    fn begin(place: P) -> Self {
        Held {
            flight: InFlight::begin(),
            _place: place,
        }
    }

    /// `n` bytes of the body arrived. (A method, so that a closure calling
    /// it holds the whole of `self`, place included.)
    fn received(&self, n: usize) {
        self.flight.received(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::ObjectStoreExt;
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

    #[test]
    fn long_ranges_split_into_parts() {
        assert_eq!(split_range(&(0..10), 4), vec![0..4, 4..8, 8..10]);
        assert_eq!(
            split_range(&(100..112), 4),
            vec![100..104, 104..108, 108..112]
        );
        assert_eq!(split_range(&(0..9), 4), vec![0..3, 3..6, 6..9]);
        assert_eq!(split_range(&(5..9), 4), vec![5..9]);
        assert_eq!(split_range(&(5..9), 0), vec![5..9]);
        let parts = split_range(&(7..(7 + (5 << 20) + 3)), 2 << 20);
        assert_eq!(parts.len(), 3);
        assert_eq!((parts[0].start, parts[2].end), (7, 7 + (5 << 20) + 3));
        assert!(parts.windows(2).all(|w| w[0].end == w[1].start));
    }

    /// A place that records, when given back, how many requests its
    /// query still counted in flight.
    struct Place(Arc<counters::IoCounters>, Arc<std::sync::Mutex<Vec<u64>>>);

    impl Drop for Place {
        fn drop(&mut self) {
            if let Ok(mut seen) = self.1.lock() {
                seen.push(self.0.in_flight());
            }
        }
    }

    #[tokio::test]
    async fn a_request_stops_counting_before_it_gives_its_place_back() {
        let mine = Arc::new(counters::IoCounters::default());
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let place = || Place(Arc::clone(&mine), Arc::clone(&seen));
        counters::scope(Arc::clone(&mine), async {
            let a = Held::begin(place());
            let b = Held::begin(place());
            drop(a);
            // moved into a closure, as get_opts moves it into the body
            let read = move |n| b.received(n);
            read(3);
            drop(read);
        })
        .await;
        assert_eq!(*seen.lock().expect("lock"), vec![1, 0]);
        assert_eq!(mine.snapshot().bytes, 3);
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
        assert_eq!(
            (s.ranges, s.merged_requests),
            (5, 1),
            "all within the 256 KiB gap"
        );
        assert_eq!(s.requests, 1);
        assert_eq!(s.bytes, 4990);
        // a long range comes back whole from its parts
        let parts_of_1000 = IoSettings {
            part_bytes: 1000,
            ..IoSettings::default()
        };
        let mine = Arc::new(counters::IoCounters::default());
        let long = [100..3600, 3700..3800, 950..1050, 1000..2000];
        let got = counters::scope(
            Arc::clone(&mine),
            read_ranges(&store, &path, &long, parts_of_1000, None),
        )
        .await
        .expect("ranges")
        .bytes;
        for (r, b) in long.iter().zip(&got) {
            assert_eq!(&b[..], &data[r.start as usize..r.end as usize], "{r:?}");
        }
        let s = mine.snapshot();
        assert_eq!(
            (s.ranges, s.merged_requests),
            (4, 4),
            "100..3800 in 4 parts"
        );
        assert_eq!(s.bytes, 3700);
        let past = store.get_ranges(&path, &[4990..6000]).await;
        assert!(past.is_err(), "a range past the end is an error");
        let past = read_ranges(
            &store,
            &path,
            &[2000..4500, 4600..5500],
            parts_of_1000,
            None,
        )
        .await;
        let err = past.expect_err("a range past the end, over parts, is an error");
        assert!(err.to_string().contains("the object ends at 5000"), "{err}");
    }
}
