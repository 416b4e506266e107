//! Process-wide counters of scan work, for progress displays.
//!
//! Scans ([`crate::scan::GridScanExec`]) and in-scan aggregates
//! ([`crate::aggregate::GridAggregateExec`]) add the regions they are about
//! to read when a partition starts, then each region and its decoded bytes
//! as it is read. A front end (the shell's progress bar) takes a
//! [`snapshot`] before a query and subtracts it from later snapshots.
//!
//! What it does not do: tell queries apart (the counters are global, so two
//! queries running at once add up), or count work on other processes (a
//! cluster's executors). Relaxed atomics: a reader may see a region counted
//! as read a moment before its bytes; the numbers are for display only.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::grid::RawBuffer;

static REGIONS_PLANNED: AtomicU64 = AtomicU64::new(0);
static REGIONS_READ: AtomicU64 = AtomicU64::new(0);
static BYTES_READ: AtomicU64 = AtomicU64::new(0);

/// Totals since the process started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Regions (each within one chunk) that started scan partitions will read.
    pub regions_planned: u64,
    /// Regions read and decoded so far.
    pub regions_read: u64,
    /// Bytes of stored values decoded so far (before CF decoding).
    pub bytes_read: u64,
}

impl Snapshot {
    /// The work done between `earlier` and `self`.
    pub fn since(&self, earlier: &Snapshot) -> Snapshot {
        Snapshot {
            regions_planned: self.regions_planned.saturating_sub(earlier.regions_planned),
            regions_read: self.regions_read.saturating_sub(earlier.regions_read),
            bytes_read: self.bytes_read.saturating_sub(earlier.bytes_read),
        }
    }
}

/// The counters now.
pub fn snapshot() -> Snapshot {
    Snapshot {
        regions_planned: REGIONS_PLANNED.load(Ordering::Relaxed),
        regions_read: REGIONS_READ.load(Ordering::Relaxed),
        bytes_read: BYTES_READ.load(Ordering::Relaxed),
    }
}

/// A scan partition is about to read `regions` regions.
pub(crate) fn planned(regions: usize) {
    REGIONS_PLANNED.fetch_add(regions as u64, Ordering::Relaxed);
}

/// One region was read; `buffers` are its variables' stored values.
pub(crate) fn region_read<'a>(buffers: impl IntoIterator<Item = &'a RawBuffer>) {
    let bytes: usize = buffers
        .into_iter()
        .map(|b| crate::with_raw!(b, v => std::mem::size_of_val(v.as_slice())))
        .sum();
    REGIONS_READ.fetch_add(1, Ordering::Relaxed);
    BYTES_READ.fetch_add(bytes as u64, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_regions_and_bytes() {
        let before = snapshot();
        planned(2);
        region_read([&RawBuffer::F32(vec![0.0; 10]), &RawBuffer::I16(vec![0; 4])]);
        let d = snapshot().since(&before);
        // other tests may scan at the same time: at least our own work shows
        assert!(d.regions_planned >= 2);
        assert!(d.regions_read >= 1);
        assert!(d.bytes_read >= 48);
    }
}
