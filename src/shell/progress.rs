//! A progress bar on standard error for interactive queries that run longer
//! than half a second (`GRIDSQL_PROGRESS_DELAY_MS` changes that): chunk regions read out of those planned, bytes
//! decoded, rate and elapsed time, from the scan counters of
//! [`gridsql_connectors::progress`]. Cleared when the query ends.
//!
//! Drawn only when the shell is interactive and standard error is a
//! terminal, so batch runs (`-c`, `-f`, piped input) print exactly what they
//! printed before. Queries that do not scan grids (or run on a cluster's
//! executors) show elapsed time only.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use gridsql_connectors::io::{IoSnapshot, counters as io_counters};
use gridsql_connectors::progress::{Snapshot, snapshot};

/// Width of the bar in characters.
const BAR: usize = 24;
/// Quiet period before the bar appears, unless `GRIDSQL_PROGRESS_DELAY_MS` sets it.
const DELAY: Duration = Duration::from_millis(500);

/// The quiet period before the bar appears.
fn delay() -> Duration {
    std::env::var("GRIDSQL_PROGRESS_DELAY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(DELAY, Duration::from_millis)
}

/// A running indicator; stops when finished or dropped.
pub(crate) struct Progress {
    done: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    /// Starts the indicator when `enabled` (an interactive shell) and
    /// standard error is a terminal.
    pub(crate) fn start(enabled: bool) -> Self {
        let done = Arc::new(AtomicBool::new(false));
        if !enabled || !std::io::stderr().is_terminal() {
            return Progress { done, handle: None };
        }
        let flag = Arc::clone(&done);
        let base = snapshot();
        let io_base = io_counters::snapshot();
        let delay = delay();
        let handle = std::thread::spawn(move || {
            let start = Instant::now();
            let mut drawn = false;
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                if start.elapsed() < delay || flag.load(Ordering::Relaxed) {
                    continue;
                }
                let line = render(
                    &snapshot().since(&base),
                    &io_counters::snapshot().since(&io_base),
                    start.elapsed(),
                );
                let mut err = std::io::stderr().lock();
                let _ = write!(err, "\r\x1b[2K{line}");
                let _ = err.flush();
                drawn = true;
            }
            if drawn {
                let mut err = std::io::stderr().lock();
                let _ = write!(err, "\r\x1b[2K");
                let _ = err.flush();
            }
        });
        Progress {
            done,
            handle: Some(handle),
        }
    }

    /// Stops and clears the indicator.
    pub(crate) fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One line: `[#########...] 12/40 chunks  96.0 MiB  48.0 MiB/s  2.0s`,
/// and from a remote store `  140 requests, 30.2 MiB fetched`.
fn render(work: &Snapshot, io: &IoSnapshot, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    if work.regions_planned == 0 {
        return format!("running {secs:.1}s");
    }
    let total = work.regions_planned;
    let read = work.regions_read.min(total);
    let filled = (read as usize * BAR) / total as usize;
    let rate = if secs > 0.0 {
        work.bytes_read as f64 / secs
    } else {
        0.0
    };
    let remote = if io.requests > 0 {
        format!(
            "  {} requests, {} fetched",
            io.requests,
            bytes(io.bytes as f64)
        )
    } else {
        String::new()
    };
    format!(
        "[{}{}] {read}/{total} chunks  {}  {}/s  {secs:.1}s{remote}",
        "#".repeat(filled),
        ".".repeat(BAR - filled),
        bytes(work.bytes_read as f64),
        bytes(rate)
    )
}

/// Bytes in binary units.
fn bytes(n: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{v:.0} {}", UNITS[u])
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_chunks_bytes_and_rate() {
        let work = Snapshot {
            regions_planned: 40,
            regions_read: 10,
            bytes_read: 100 * 1024 * 1024,
        };
        let line = render(&work, &IoSnapshot::default(), Duration::from_secs(2));
        assert_eq!(
            line,
            format!(
                "[{}{}] 10/40 chunks  100.0 MiB  50.0 MiB/s  2.0s",
                "#".repeat(6),
                ".".repeat(18)
            )
        );
        assert_eq!(
            render(
                &Snapshot::default(),
                &IoSnapshot::default(),
                Duration::from_millis(1500)
            ),
            "running 1.5s"
        );
        let io = IoSnapshot {
            requests: 140,
            bytes: 3 * 1024 * 1024,
            ..IoSnapshot::default()
        };
        assert!(
            render(&work, &io, Duration::from_secs(2))
                .ends_with("2.0s  140 requests, 3.0 MiB fetched")
        );
        assert_eq!(bytes(512.0), "512 B");
    }
}
