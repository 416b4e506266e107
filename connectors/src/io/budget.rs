//! The process-wide I/O budget: requests in flight to remote stores, bytes
//! loaded ahead of decoding, and how close two byte ranges must be to be
//! read as one.
//!
//! One budget per process (a shell, a server, an executor), not per query or
//! per partition: the link and the memory belong to the process. Queries
//! share it; a cluster's executors each have their own.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{OnceLock, RwLock};

use tokio::sync::{Semaphore, SemaphorePermit};

/// Requests in flight to remote stores, by default: enough to keep a cloud
/// link busy at 30 ms per request (measured in `benches/run.py --suite
/// cloud`, see docs/performance.md), few enough for one server's limits.
pub const DEFAULT_REQUESTS: usize = 64;

/// Bytes of regions loaded ahead of decoding, by default (all partitions
/// together): bounds the memory of deep prefetching. 320 MB keeps 32
/// regions of the benchmark's 10 MB chunks in flight with the peak memory of
/// every cloud-suite query on Zarr under 1 GiB; 512 MB was no faster and
/// took Q5 to 1.2 GiB (docs/performance.md).
pub const DEFAULT_AHEAD_BYTES: u64 = 320 << 20;

/// Byte ranges of one object at most this far apart are read as one
/// request, by default. A gap costs transfer, and on the client the bytes
/// are received, copied and freed for nothing; another request costs a
/// round trip, but it runs side by side with the others. A box query (Q3 of
/// `benches/run.py --suite cloud`) read blosc blocks of five time steps per
/// chunk: with 1 MiB they merged into almost whole chunks (92 MB per
/// query), with 256 KiB it reads 39 MB, at the same speed before the block
/// tables were kept ([`crate::zarr::frame_cache`]) and 20 % faster since
/// (0.126 s against 0.098 s, docs/performance.md).
pub const DEFAULT_COALESCE_GAP: u64 = 256 << 10;

/// A request for more than this many bytes of one object is split into
/// parts of about this size, fetched concurrently, by default. One GET of a
/// cloud store streams about 100 MB/s whatever the link, so a box query
/// that needs a few MiB of each of a few chunks waits on single connections
/// while most of the request budget sits idle; parallel range GETs are what
/// S3's own guidance and its transfer tools do. At 100 MB/s and 30 ms a
/// request, a 2 MiB part costs 21 ms of transfer against the 30 ms of one
/// more request (tuned in `benches/run.py --suite cloud`, see
/// docs/performance.md).
pub const DEFAULT_PART_BYTES: u64 = 2 << 20;

/// The I/O settings of this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IoSettings {
    /// Requests in flight to remote stores, at most.
    pub requests: usize,
    /// Bytes of regions loaded ahead of decoding, at most (about).
    pub ahead_bytes: u64,
    /// Byte ranges of one object closer than this are one request.
    pub coalesce_gap: u64,
    /// Requests for more bytes than this are split into parts of about
    /// this size.
    pub part_bytes: u64,
}

impl Default for IoSettings {
    fn default() -> Self {
        IoSettings {
            requests: DEFAULT_REQUESTS,
            ahead_bytes: DEFAULT_AHEAD_BYTES,
            coalesce_gap: DEFAULT_COALESCE_GAP,
            part_bytes: DEFAULT_PART_BYTES,
        }
    }
}

impl IoSettings {
    /// The defaults, overridden by `GRIDSQL_IO_CONCURRENCY` (requests),
    /// `GRIDSQL_IO_AHEAD_MB`, `GRIDSQL_IO_COALESCE_KB` and
    /// `GRIDSQL_IO_PART_KB` where set.
    ///
    /// # Errors
    /// A variable that is not a positive whole number, as a message naming it.
    pub fn from_env() -> std::result::Result<Self, String> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    fn from_lookup(get: impl Fn(&str) -> Option<String>) -> std::result::Result<Self, String> {
        let number = |key: &str| -> std::result::Result<Option<u64>, String> {
            let Some(v) = get(key) else { return Ok(None) };
            match v.trim().parse::<u64>() {
                Ok(n) if n > 0 => Ok(Some(n)),
                _ => Err(format!("{key}='{v}' is not a positive whole number")),
            }
        };
        let mut s = IoSettings::default();
        if let Some(n) = number("GRIDSQL_IO_CONCURRENCY")? {
            s.requests = usize::try_from(n.min(1 << 16)).unwrap_or(1 << 16);
        }
        if let Some(n) = number("GRIDSQL_IO_AHEAD_MB")? {
            s.ahead_bytes = n.saturating_mul(1 << 20);
        }
        if let Some(n) = number("GRIDSQL_IO_COALESCE_KB")? {
            s.coalesce_gap = n.saturating_mul(1 << 10);
        }
        if let Some(n) = number("GRIDSQL_IO_PART_KB")? {
            s.part_bytes = n.saturating_mul(1 << 10);
        }
        Ok(s)
    }
}

static SETTINGS: RwLock<Option<IoSettings>> = RwLock::new(None);
static REQUESTS: OnceLock<Semaphore> = OnceLock::new();
/// Permits the semaphore was created with or adjusted to.
static PERMITS: AtomicUsize = AtomicUsize::new(0);

/// The settings in force: the last [`configure`]d, else [`IoSettings::from_env`]
/// (the defaults where the environment is not valid).
pub fn settings() -> IoSettings {
    if let Some(s) = *SETTINGS.read().unwrap_or_else(|e| e.into_inner()) {
        return s;
    }
    let s = IoSettings::from_env().unwrap_or_else(|e| {
        log::warn!("{e}; using the default I/O settings");
        IoSettings::default()
    });
    *SETTINGS.write().unwrap_or_else(|e| e.into_inner()) = Some(s);
    s
}

/// Sets this process's I/O settings (the shell's and the servers'
/// `--io-concurrency`); requests already waiting see the new limit as
/// permits come back.
pub fn configure(s: IoSettings) {
    *SETTINGS.write().unwrap_or_else(|e| e.into_inner()) = Some(s);
    let sem = semaphore();
    let had = PERMITS.swap(s.requests, Ordering::SeqCst);
    if s.requests > had {
        sem.add_permits(s.requests - had);
    } else if had > s.requests {
        // Permits in use cannot be taken back; they are when returned.
        let mut left = had - s.requests;
        left -= sem.forget_permits(left);
        if left > 0
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let left = u32::try_from(left).unwrap_or(u32::MAX);
            runtime.spawn(async move {
                if let Ok(p) = semaphore().acquire_many(left).await {
                    p.forget();
                }
            });
        }
    }
}

fn semaphore() -> &'static Semaphore {
    REQUESTS.get_or_init(|| {
        let n = settings().requests;
        PERMITS.store(n, Ordering::SeqCst);
        Semaphore::new(n)
    })
}

/// Waits for a request's place in the budget; the place is given back when
/// the permit is dropped.
pub async fn request() -> SemaphorePermit<'static> {
    // The semaphore is never closed.
    match semaphore().acquire().await {
        Ok(p) => p,
        Err(_) => unreachable!("the I/O budget's semaphore is never closed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_from_variables() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            IoSettings::from_lookup(vars(&[])),
            Ok(IoSettings::default())
        );
        let s = IoSettings::from_lookup(vars(&[
            ("GRIDSQL_IO_CONCURRENCY", "8"),
            ("GRIDSQL_IO_AHEAD_MB", "64"),
            ("GRIDSQL_IO_COALESCE_KB", "256"),
            ("GRIDSQL_IO_PART_KB", "512"),
        ]))
        .expect("valid settings");
        assert_eq!(
            (s.requests, s.ahead_bytes, s.coalesce_gap, s.part_bytes),
            (8, 64 << 20, 256 << 10, 512 << 10)
        );
        let e = IoSettings::from_lookup(vars(&[("GRIDSQL_IO_CONCURRENCY", "0")]))
            .expect_err("zero requests");
        assert!(e.contains("GRIDSQL_IO_CONCURRENCY='0'"), "{e}");
    }
}
