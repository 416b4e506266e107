//! The stored bytes of a remote NetCDF variable, fetched by range.
//!
//! Before a region is decoded, the byte ranges it needs
//! ([`super::direct::byte_ranges`]) are split into those the file's
//! skeleton already holds (coordinates, small variables) and the rest,
//! fetched in one `get_ranges` call: the I/O scheduler merges ranges that
//! lie close together and fetches the rest concurrently. Decoding then reads
//! from the fetched bytes as from a file.

use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use bytes::Bytes;
use object_store::ObjectStore;
use object_store::path::Path;

use super::direct::ByteSource;
use super::skeleton::Skeleton;
use crate::error::{ConnectorError, Result};

/// A remote file whose variables are read by range.
#[derive(Debug)]
pub struct RemoteFile {
    /// Its store.
    pub store: Arc<dyn ObjectStore>,
    /// Its path in the store.
    pub path: Path,
    /// Its size.
    pub size: u64,
    /// Its metadata, and the bytes already local.
    pub skeleton: Arc<Skeleton>,
}

impl RemoteFile {
    /// Fetches the bytes of `ranges` the skeleton does not hold.
    ///
    /// # Errors
    /// Store errors, naming `dataset`.
    pub async fn fetch(&self, ranges: Vec<Range<u64>>, dataset: &str) -> Result<Fetched> {
        let (held, mut wanted): (Vec<Range<u64>>, Vec<Range<u64>>) = ranges
            .into_iter()
            .filter(|r| r.start < r.end)
            .partition(|r| self.skeleton.holds(r));
        let local = if held.is_empty() {
            None
        } else {
            let path = &self.skeleton.path;
            Some(
                std::fs::File::open(path).map_err(|e| ConnectorError::Metadata {
                    dataset: dataset.to_string(),
                    reason: format!("cannot open the header cache '{}': {e}", path.display()),
                })?,
            )
        };
        wanted.sort_by_key(|r| r.start);
        wanted.dedup();
        let got = if wanted.is_empty() {
            Vec::new()
        } else {
            self.store
                .get_ranges(&self.path, &wanted)
                .await
                .map_err(|e| ConnectorError::Store {
                    dataset: dataset.to_string(),
                    source: e,
                })?
        };
        Ok(Fetched {
            size: self.size,
            parts: wanted.into_iter().map(|r| r.start).zip(got).collect(),
            skeleton: Arc::clone(&self.skeleton),
            local,
        })
    }
}

/// Bytes fetched for one region, read as a file: from the fetched parts,
/// else from the skeleton when it holds them.
#[derive(Debug)]
pub struct Fetched {
    size: u64,
    /// Fetched bytes by offset, sorted.
    parts: Vec<(u64, Bytes)>,
    skeleton: Arc<Skeleton>,
    /// The skeleton, open when some of the bytes are read from it.
    local: Option<std::fs::File>,
}

impl ByteSource for Fetched {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        let end = offset + buf.len() as u64;
        let i = self.parts.partition_point(|(s, _)| *s <= offset);
        if i > 0 {
            let (start, bytes) = &self.parts[i - 1];
            if start + bytes.len() as u64 >= end {
                let s = (offset - start) as usize;
                buf.copy_from_slice(&bytes[s..s + buf.len()]);
                return Ok(());
            }
        }
        if let Some(file) = &self.local
            && self.skeleton.holds(&(offset..end))
        {
            return FileExt::read_exact_at(file, buf, offset);
        }
        Err(std::io::Error::other(format!(
            "bytes {offset}..{end} were not fetched"
        )))
    }
}
