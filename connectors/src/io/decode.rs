//! Decoding fetched bytes away from the runtime's threads.
//!
//! A remote scan has dozens of regions in flight, each a task on the
//! runtime's few worker threads (one per core) that fetches bytes and then
//! decodes them. Decoding inline holds a worker for the whole decode, while
//! other regions' responses wait to be read and their next requests to be
//! sent (a blosc chunk read by blocks needs two: its header and block
//! table, then its blocks). So remote bytes are decoded on blocking
//! threads, as many at once as the machine has cores (more would only hold
//! a compressed and a decoded copy of each region), and the workers stay
//! free to move requests along. Remote NetCDF regions were decoded so
//! first; Zarr blocks read by range now are too. (Its effect on the cloud
//! suite was not measured apart from the server fix made with it; see
//! docs/performance.md.)

use tokio::sync::Semaphore;
use tokio::task::JoinError;

/// Regions of remote stores decoded at once: one per core.
fn decoders() -> &'static Semaphore {
    static DECODERS: std::sync::OnceLock<Semaphore> = std::sync::OnceLock::new();
    DECODERS
        .get_or_init(|| Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())))
}

/// Runs `decode` on a blocking thread once a decoder is free.
///
/// # Errors
/// When the blocking task panics or is cancelled.
pub async fn off_runtime<T, F>(decode: F) -> Result<T, JoinError>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    // The semaphore is never closed; without a permit the decode still runs.
    let _permit = decoders().acquire().await.ok();
    tokio::task::spawn_blocking(decode).await
}
