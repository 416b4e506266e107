//! The I/O scheduler: what stands between the region loader and a remote
//! object store.
//!
//! Why: a scan's concurrency used to be its CPU partitions times a prefetch
//! of two, so a query over a bucket had four or five requests in flight and
//! spent its time waiting on round trips, and every partial read of a chunk
//! cost a `HEAD` before its `GET` (`zarrs_object_store` asks for the size of
//! the object first). Over a link of 30 ms per request that is most of the
//! time of a query. Here:
//!
//! - [`budget`]: one process-wide budget of requests in flight (default
//!   [`budget::DEFAULT_REQUESTS`]) and of bytes loaded ahead of decoding,
//!   independent of the number of partitions;
//! - [`scheduled::ScheduledStore`]: the wrapper every remote store gets; it
//!   takes a request from the budget for each `GET`/`HEAD`, merges byte
//!   ranges of one object that lie close together into one request, and
//!   counts requests, bytes and the peak in flight;
//! - [`zarr_storage::ZarrStorage`]: how `zarrs` reads through
//!   `object_store`, without a `HEAD` before a partial read;
//! - [`decode`]: decoding fetched bytes on blocking threads, one region per
//!   core, so that the runtime's workers keep requests moving;
//! - [`counters`]: those counts, process-wide for progress displays and per
//!   query for `EXPLAIN ANALYZE`;
//! - [`read_only`]: what the read-only stores over kerchunk references and
//!   Icechunk snapshots share.
//!
//! Local files keep their fast path: they are not wrapped, and the loader
//! reads them a couple of regions ahead as before.

pub mod budget;
pub mod counters;
pub mod decode;
pub mod read_only;
pub mod scheduled;
pub mod zarr_storage;

pub use budget::{IoSettings, settings};
pub use counters::{IoCounters, IoSnapshot};
pub use scheduled::ScheduledStore;
pub use zarr_storage::ZarrStorage;
