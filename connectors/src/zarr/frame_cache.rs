//! The headers and block tables of remote blosc chunks, kept between reads
//! and checked against the chunk's ETag.
//!
//! Why: reading part of a blosc chunk takes two round trips, one for the
//! header and block table (to learn where the blocks are) and one for the
//! blocks. From a cloud store the first costs as much as the second (30 ms
//! against a few ms of transfer for a box query). The table of a chunk that
//! has not changed is the same on every read, so a second query over the
//! same chunks needs only the block reads.
//!
//! A table is only used with the ETag of the object it came from: the
//! block reads carry it as `If-Match`, so a chunk that was rewritten since
//! is refused by the store (and its blocks are never decoded with the old
//! table), and every response must give that same ETag back. A store that
//! gives no ETag gets no cached tables. Process-wide, like the I/O budget,
//! and bounded by [`CAPACITY`] bytes.

use std::sync::{Arc, LazyLock};

use quick_cache::Weighter;
use quick_cache::sync::Cache;

/// Bytes of tables kept at most. A table holds 4 bytes per blosc block:
/// the 7,400 chunks of 10 MB of the 74 GB altimetry store, in blocks of
/// 256 KiB, take 1.2 MB.
pub const CAPACITY: u64 = 32 << 20;

/// Which object: the store's identity (a dataset and its group) and the
/// chunk's key in it.
pub type Key = (Arc<str>, String);

/// What is known of one chunk: the ETag it was read under, its 16-byte
/// blosc header and its block table, as stored.
#[derive(Debug, PartialEq, Eq)]
pub struct Known {
    /// The object's ETag when the header and table were read.
    pub e_tag: String,
    /// The blosc header, as stored.
    pub head: Vec<u8>,
    /// The block start table, as stored.
    pub table: Vec<u8>,
}

#[derive(Clone)]
struct Bytes;

impl Weighter<Key, Arc<Known>> for Bytes {
    fn weight(&self, key: &Key, known: &Arc<Known>) -> u64 {
        let len = key.0.len() + key.1.len() + known.e_tag.len() + known.head.len();
        (len + known.table.len() + 64) as u64
    }
}

static KNOWN: LazyLock<Cache<Key, Arc<Known>, Bytes>> =
    LazyLock::new(|| Cache::with_weighter(4096, CAPACITY, Bytes));

/// The header and table last read for `key`, if any.
pub fn get(key: &Key) -> Option<Arc<Known>> {
    KNOWN.get(key)
}

/// Remembers the header and table of `key`.
pub fn insert(key: Key, known: Known) {
    KNOWN.insert(key, Arc::new(known));
}

/// Forgets `key` (its chunk changed), unless what is kept is newer than
/// `stale`.
pub fn forget(key: &Key, stale: &Known) {
    KNOWN.remove_if(key, |k| k.e_tag == stale.e_tag);
}
