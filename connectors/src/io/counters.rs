//! Counts of remote I/O: requests, bytes, merged ranges, requests in flight.
//!
//! Every request a [`super::ScheduledStore`] makes is counted twice: in the
//! process-wide counters ([`snapshot`], for the shell's progress bar, like
//! [`crate::progress`]) and in the counters of the query that made it, when
//! the request runs inside [`scope`] (the loader runs each region's reads
//! there, so scans and in-scan aggregates report them in `EXPLAIN
//! ANALYZE`). Relaxed atomics: the numbers are for display.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one scope (a query's scan, or the whole process).
#[derive(Debug, Default)]
pub struct IoCounters {
    requests: AtomicU64,
    bytes: AtomicU64,
    ranges: AtomicU64,
    merged: AtomicU64,
    in_flight: AtomicU64,
    peak_in_flight: AtomicU64,
}

/// The counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IoSnapshot {
    /// Requests sent (`GET`, `HEAD`, listings), retries not counted.
    pub requests: u64,
    /// Bytes received in response bodies.
    pub bytes: u64,
    /// Byte ranges asked for in reads of several ranges of one object.
    pub ranges: u64,
    /// Requests those ranges became after merging neighbours (and cutting
    /// long merged ranges into parts).
    pub merged_requests: u64,
    /// Most requests in flight at once.
    pub peak_in_flight: u64,
}

impl IoSnapshot {
    /// The work between `earlier` and `self` (the peak is `self`'s).
    pub fn since(&self, earlier: &IoSnapshot) -> IoSnapshot {
        IoSnapshot {
            requests: self.requests.saturating_sub(earlier.requests),
            bytes: self.bytes.saturating_sub(earlier.bytes),
            ranges: self.ranges.saturating_sub(earlier.ranges),
            merged_requests: self.merged_requests.saturating_sub(earlier.merged_requests),
            peak_in_flight: self.peak_in_flight,
        }
    }
}

impl IoCounters {
    /// The counts now.
    pub fn snapshot(&self) -> IoSnapshot {
        IoSnapshot {
            requests: self.requests.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            ranges: self.ranges.load(Ordering::Relaxed),
            merged_requests: self.merged.load(Ordering::Relaxed),
            peak_in_flight: self.peak_in_flight.load(Ordering::Relaxed),
        }
    }

    /// Requests in flight now.
    #[cfg(test)]
    pub(crate) fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    fn begin(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let now = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak_in_flight.fetch_max(now, Ordering::Relaxed);
    }

    fn end(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

static PROCESS: IoCounters = IoCounters {
    requests: AtomicU64::new(0),
    bytes: AtomicU64::new(0),
    ranges: AtomicU64::new(0),
    merged: AtomicU64::new(0),
    in_flight: AtomicU64::new(0),
    peak_in_flight: AtomicU64::new(0),
};

tokio::task_local! {
    static QUERY: Arc<IoCounters>;
}

/// The process-wide counts since the process started.
pub fn snapshot() -> IoSnapshot {
    PROCESS.snapshot()
}

/// Runs `f` with its requests also counted in `counters`.
pub fn scope<F: Future>(counters: Arc<IoCounters>, f: F) -> impl Future<Output = F::Output> {
    QUERY.scope(counters, f)
}

fn each(f: impl Fn(&IoCounters)) {
    f(&PROCESS);
    let _ = QUERY.try_with(|c| f(c));
}

/// A scan's counters as `EXPLAIN ANALYZE` metrics; `None` when it made no
/// request (local files), so local plans stay as they were.
pub fn metrics(counters: &IoCounters) -> Option<datafusion::physical_plan::metrics::MetricsSet> {
    use datafusion::physical_plan::metrics::{Count, Gauge, Metric, MetricValue, MetricsSet};
    let s = counters.snapshot();
    if s.requests == 0 {
        return None;
    }
    let mut set = MetricsSet::new();
    let mut count = |name: &'static str, n: u64| {
        let c = Count::new();
        c.add(usize::try_from(n).unwrap_or(usize::MAX));
        set.push(Arc::new(Metric::new(
            MetricValue::Count {
                name: name.into(),
                count: c,
            },
            None,
        )));
    };
    count("requests", s.requests);
    count("bytes_fetched", s.bytes);
    count("ranges", s.ranges);
    count("merged_range_requests", s.merged_requests);
    let peak = Gauge::new();
    peak.set(usize::try_from(s.peak_in_flight).unwrap_or(usize::MAX));
    set.push(Arc::new(Metric::new(
        MetricValue::Gauge {
            name: "peak_requests_in_flight".into(),
            gauge: peak,
        },
        None,
    )));
    Some(set)
}

/// One request in flight, from sending it to the end of its body; counted
/// as ended when dropped.
#[derive(Debug)]
pub(crate) struct InFlight {
    query: Option<Arc<IoCounters>>,
}

impl InFlight {
    pub(crate) fn begin() -> InFlight {
        PROCESS.begin();
        let query = QUERY.try_with(Arc::clone).ok();
        if let Some(q) = &query {
            q.begin();
        }
        InFlight { query }
    }

    /// `n` bytes of the body arrived.
    pub(crate) fn received(&self, n: usize) {
        PROCESS.bytes.fetch_add(n as u64, Ordering::Relaxed);
        if let Some(q) = &self.query {
            q.bytes.fetch_add(n as u64, Ordering::Relaxed);
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        PROCESS.end();
        if let Some(q) = &self.query {
            q.end();
        }
    }
}

/// `ranges` byte ranges of one object are read as `requests` requests.
pub(crate) fn merged(ranges: usize, requests: usize) {
    each(|c| {
        c.ranges.fetch_add(ranges as u64, Ordering::Relaxed);
        c.merged.fetch_add(requests as u64, Ordering::Relaxed);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_scope_counts_its_own_requests() {
        let mine = Arc::new(IoCounters::default());
        scope(Arc::clone(&mine), async {
            let a = InFlight::begin();
            let b = InFlight::begin();
            a.received(10);
            drop(a);
            b.received(5);
            merged(4, 1);
        })
        .await;
        let outside = InFlight::begin();
        drop(outside);
        let s = mine.snapshot();
        assert_eq!(s.requests, 2);
        assert_eq!(s.bytes, 15);
        assert_eq!(s.peak_in_flight, 2);
        assert_eq!((s.ranges, s.merged_requests), (4, 1));
        assert!(snapshot().requests >= 3, "the process counts all");
    }
}
