//! Faults of remote stores, through a real HTTP server on loopback that
//! misbehaves on purpose: it serves a copy of a shared Zarr store, but
//! answers 503 to the first requests of every object (a flaky store), 500
//! to every request (a broken store) or never answers at all (a stalled
//! store). gridsql must retry with backoff and then answer exactly what the
//! local copy (and xarray) answers, fail with one clear line after a bounded
//! number of retries and a bounded time, and time out instead of hanging,
//! while other queries of the same process go on.
//!
//! The server is a few lines of `std::net` in this file, so the test
//! controls each response; gridsql reads it through `object_store`'s HTTP
//! store (`http://127.0.0.1:<port>/<store>`), as it would any web server.
//! Retry and timeout settings come from the `GRIDSQL_STORE_*` variables.
//! A truncated NetCDF file is covered in `tests/netcdf.rs`
//! (`netcdf_collections_fail_clearly`); here it is cut at several points.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::util::{data_dir, gridsql_env, python, python_ok, rows_json};

/// How the server misbehaves.
#[derive(Debug, Clone, Copy)]
enum Mode {
    /// The first `n` requests of each object get 503, later ones the object.
    Flaky(usize),
    /// Every request gets this status.
    Always(u16),
    /// Requests are read and never answered.
    Stall,
    /// Requests whose path ends with this get the status; others are served.
    FailKey(&'static str, u16),
}

/// What the server saw.
#[derive(Default)]
struct Log {
    /// Requests per path.
    per_path: Mutex<HashMap<String, usize>>,
    /// Error responses sent (5xx).
    errors: AtomicUsize,
    /// Objects served (2xx).
    served: AtomicUsize,
    /// Requests received.
    requests: AtomicUsize,
}

/// A misbehaving HTTP server over a folder, stopped when dropped.
struct FaultyServer {
    port: u16,
    log: Arc<Log>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FaultyServer {
    fn start(root: &Path, mode: Mode) -> FaultyServer {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a loopback port");
        let port = listener.local_addr().expect("local address").port();
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let log = Arc::new(Log::default());
        let stop = Arc::new(AtomicBool::new(false));
        let root = root.to_path_buf();
        let (log2, stop2) = (Arc::clone(&log), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let (root, log, stop) =
                            (root.clone(), Arc::clone(&log2), Arc::clone(&stop2));
                        std::thread::spawn(move || serve(conn, &root, mode, &log, &stop));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        FaultyServer {
            port,
            log,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }
}

impl Drop for FaultyServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Answers the requests of one connection (one per connection: every
/// response closes it).
fn serve(conn: TcpStream, root: &Path, mode: Mode, log: &Log, stop: &AtomicBool) {
    // Accepted sockets do not inherit the listener's non-blocking mode on
    // Linux; set it anyway, the reads below block.
    let _ = conn.set_nonblocking(false);
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(match conn.try_clone() {
        Ok(c) => c,
        Err(_) => return,
    });
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("/").to_string();
    let mut range: Option<String> = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.eq_ignore_ascii_case("range")
        {
            range = Some(v.trim().to_string());
        }
    }
    log.requests.fetch_add(1, Ordering::Relaxed);
    let seen = {
        let mut m = log.per_path.lock().expect("log lock");
        let n = m.entry(path.clone()).or_insert(0);
        *n += 1;
        *n
    };
    let mut conn = conn;
    let status = match mode {
        Mode::Stall => {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(20));
            }
            return;
        }
        Mode::Always(s) => Some(s),
        Mode::Flaky(n) if seen <= n => Some(503),
        Mode::Flaky(_) => None,
        Mode::FailKey(key, s) if path.ends_with(key) => Some(s),
        Mode::FailKey(..) => None,
    };
    if let Some(s) = status {
        log.errors.fetch_add(1, Ordering::Relaxed);
        let body = format!("injected fault {s}");
        let _ = write!(
            conn,
            "HTTP/1.1 {s} Injected\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        return;
    }
    let file = root.join(path.trim_start_matches('/'));
    let Ok(bytes) = std::fs::read(&file)
        .map_err(|_| ())
        .and_then(|b| if file.is_file() { Ok(b) } else { Err(()) })
    else {
        let _ = write!(
            conn,
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        return;
    };
    log.served.fetch_add(1, Ordering::Relaxed);
    let total = bytes.len();
    let (status, slice, extra) = match range.as_deref().and_then(|r| parse_range(r, total)) {
        Some((a, b)) => (
            "206 Partial Content",
            &bytes[a..b],
            format!("Content-Range: bytes {a}-{}/{total}\r\n", b - 1),
        ),
        None => ("200 OK", &bytes[..], String::new()),
    };
    let _ = write!(
        conn,
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
        slice.len()
    );
    if method != "HEAD" {
        let _ = conn.write_all(slice);
    }
    let _ = conn.flush();
    // Let the client read everything before the socket closes.
    let _ = conn.shutdown(std::net::Shutdown::Write);
    let mut sink = [0u8; 64];
    let _ = conn.read(&mut sink);
}

/// `bytes=a-b`, `bytes=a-` or `bytes=-n` as a half-open byte range.
fn parse_range(r: &str, total: usize) -> Option<(usize, usize)> {
    let spec = r.strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => (total.saturating_sub(n.parse().ok()?), total),
        (a, "") => (a.parse().ok()?, total),
        (a, b) => (a.parse().ok()?, b.parse::<usize>().ok()? + 1),
    };
    (start < end && end <= total).then_some((start, end))
}

/// The shared `tcw.nc.v3.zarr` store (its folder and name), or a skip.
fn tcw_store() -> Option<(PathBuf, &'static str)> {
    Some((data_dir()?, "tcw.nc.v3.zarr"))
}

/// Q1 of MANIFEST.md: the spatial mean of `tcw` for the first 3 time steps.
const Q1: &str = "SELECT time, avg(tcw) AS a FROM t \
                  WHERE time < TIMESTAMP '2002-07-04' GROUP BY time ORDER BY time";

/// xarray's answer to [`Q1`] on the store: one `(time, mean)` per step.
fn xarray_q1(store: &Path) -> Option<Vec<(String, f64)>> {
    let py = python()?;
    let script = r#"
import sys, xarray as xr
ds = xr.open_dataset(sys.argv[1], engine="zarr")
q = ds.tcw.isel(time=slice(0, 3)).mean(("latitude", "longitude"))
for t, v in zip(q.time.dt.strftime("%Y-%m-%d %H:%M:%S").values, q.values):
    print(f"{t},{float(v)!r}")
"#;
    let args = [
        OsStr::new("-W"),
        OsStr::new("ignore"),
        OsStr::new("-c"),
        OsStr::new(script),
        store.as_os_str(),
    ];
    Some(parse_rows(&python_ok(&py, args, "xarray failed"), false))
}

/// `time,value` CSV rows (after the header when `header`).
fn parse_rows(text: &str, header: bool) -> Vec<(String, f64)> {
    text.lines()
        .skip(usize::from(header))
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (t, v) = l.split_once(',').expect("two columns");
            // `2002-07-01T12:00:00[.000]` and `2002-07-01 12:00:00` alike
            let t: String = t.replace('T', " ").chars().take(19).collect();
            (
                t,
                v.parse::<f64>()
                    .unwrap_or_else(|_| panic!("not a number: {v}")),
            )
        })
        .collect()
}

/// Runs gridsql on `location` (table `t`) with extra environment, CSV out.
fn run(location: &str, sql: &str, envs: &[(&str, &str)]) -> (Output, Duration) {
    let mut all = vec![
        ("NO_PROXY", "127.0.0.1,localhost"),
        ("no_proxy", "127.0.0.1,localhost"),
    ];
    all.extend_from_slice(envs);
    let t0 = Instant::now();
    let out = gridsql_env(
        &["--format", "csv", &format!("t={location}"), "-c", sql],
        &all,
    );
    (out, t0.elapsed())
}

/// Asserts a failure with one clear line on stderr naming `needles`.
fn assert_clear_error(case: &str, out: &Output, needles: &[&str]) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    eprintln!("[{case}] exit {:?}, stderr: {err}", out.status.code());
    assert!(!out.status.success(), "[{case}] must fail");
    assert_eq!(
        out.status.code(),
        Some(1),
        "[{case}] a clean exit, not a crash: {err}"
    );
    assert!(!err.contains("panicked"), "[{case}] panicked: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("gridsql:")).collect();
    assert_eq!(lines.len(), 1, "[{case}] one error line expected: {err}");
    for n in needles {
        assert!(
            lines[0].contains(n),
            "[{case}] the error does not name {n:?}: {err}"
        );
    }
    lines[0].to_string()
}

#[test]
fn flaky_store_is_retried_and_answers_like_xarray() {
    let Some((root, name)) = tcw_store() else {
        return;
    };
    let Some(want) = xarray_q1(&root.join(name)) else {
        return;
    };
    let server = FaultyServer::start(&root, Mode::Flaky(2));
    let (out, took) = run(
        &server.url(name),
        Q1,
        &[
            ("GRIDSQL_STORE_RETRIES", "4"),
            // The binary's default filter (the harness sets RUST_LOG=error).
            ("RUST_LOG", "warn,object_store::client::retry=info"),
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "query through a flaky store failed: {err}"
    );
    let got = parse_rows(&String::from_utf8_lossy(&out.stdout), true);
    let errors = server.log.errors.load(Ordering::Relaxed);
    let paths = server.log.per_path.lock().expect("log").len();
    eprintln!(
        "flaky store: {errors} injected 503s over {paths} objects, {} served, {took:?}; answer {got:?}",
        server.log.served.load(Ordering::Relaxed)
    );
    // Every object failed twice before it was served: each was retried.
    assert_eq!(errors, 2 * paths, "every object's first two requests fail");
    // ... and each retry was reported on stderr.
    let reported = err.lines().filter(|l| l.contains("backing off")).count();
    assert_eq!(reported, errors, "every retry is reported on stderr: {err}");
    assert!(paths >= 5, "metadata and chunks were read: {paths} objects");
    assert_eq!(got.len(), want.len(), "{got:?} vs xarray {want:?}");
    for ((gt, gv), (wt, wv)) in got.iter().zip(&want) {
        assert_eq!(gt, wt);
        assert!(
            (gv - wv).abs() <= 1e-9 * wv.abs(),
            "{gt}: {gv} vs xarray {wv}"
        );
    }
}

#[test]
fn broken_store_fails_after_bounded_retries() {
    let Some((root, name)) = tcw_store() else {
        return;
    };
    let server = FaultyServer::start(&root, Mode::Always(500));
    let (out, took) = run(
        &server.url(name),
        "SELECT count(tcw) FROM t",
        &[("GRIDSQL_STORE_RETRIES", "2")],
    );
    let line = assert_clear_error("always 500", &out, &[name, "500", "after 2 retries"]);
    let requests = server.log.requests.load(Ordering::Relaxed);
    eprintln!("[always 500] {requests} requests in {took:?}: {line}");
    // The two documents a consolidated store may have (zarr.json and
    // .zmetadata) are asked for at once: each one attempt and two retries,
    // then the error.
    assert_eq!(
        server.log.per_path.lock().expect("log").len(),
        2,
        "only the metadata documents were asked for"
    );
    assert_eq!(requests, 6, "one attempt plus two retries of each");
    assert!(took < Duration::from_secs(30), "bounded time: {took:?}");
}

/// Only "not found" means a key is absent: any other store error on a
/// store's metadata (here the group's attributes) is an error naming the
/// dataset and the key, not a table silently without its attributes.
#[test]
fn store_error_on_metadata_names_the_key() {
    let Some(root) = data_dir() else {
        return;
    };
    // Zarr v2: the consolidated metadata, a key of its own, which holds the
    // group's attributes.
    let name = "tcw.nc.v2.zarr";
    let server = FaultyServer::start(&root, Mode::FailKey("/.zmetadata", 500));
    let (out, _) = run(
        &server.url(name),
        "SELECT count(tcw) FROM t",
        &[("GRIDSQL_STORE_RETRIES", "0")],
    );
    assert_clear_error("metadata 500", &out, &[name, "key '", ".zmetadata", "500"]);
}

#[test]
fn stalled_store_times_out() {
    let Some((root, name)) = tcw_store() else {
        return;
    };
    let server = FaultyServer::start(&root, Mode::Stall);
    let (out, took) = run(
        &server.url(name),
        "SELECT count(tcw) FROM t",
        &[
            ("GRIDSQL_STORE_RETRIES", "1"),
            ("GRIDSQL_STORE_TIMEOUT", "1"),
            ("GRIDSQL_STORE_RETRY_TIMEOUT", "10"),
        ],
    );
    let line = assert_clear_error("stalled server", &out, &[name]);
    assert!(
        line.to_lowercase().contains("timed out") || line.to_lowercase().contains("timeout"),
        "the error says the store timed out: {line}"
    );
    let requests = server.log.requests.load(Ordering::Relaxed);
    eprintln!("[stalled server] {requests} requests in {took:?}: {line}");
    // zarr.json and .zmetadata, asked for at once.
    assert_eq!(requests, 4, "one attempt plus one retry of each");
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(20),
        "two 1 s timeouts, then the error: {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_store_does_not_block_other_queries() {
    let Some((root, name)) = tcw_store() else {
        return;
    };
    let Some(want) = xarray_q1(&root.join(name)) else {
        return;
    };
    let server = FaultyServer::start(&root, Mode::Stall);
    let ctx =
        gridsql_engine::new_context(&gridsql_engine::SessionOptions::default()).expect("session");
    // A query on the stalled store, in the background (its default limits
    // would give up after minutes).
    let slow_ctx = ctx.clone();
    let url = server.url(name);
    let slow = tokio::spawn(async move {
        gridsql_engine::register_dataset(&slow_ctx, "slow", &url, None, Default::default()).await?;
        slow_ctx
            .sql("SELECT count(*) FROM slow")
            .await?
            .collect()
            .await
    });
    // Wait until the stalled server holds the request.
    let t0 = Instant::now();
    while server.log.requests.load(Ordering::Relaxed) == 0 {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the slow query never reached the server"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Meanwhile the same session answers a query on a local store.
    let t1 = Instant::now();
    let local = root.join(name);
    let local = local.to_str().expect("utf-8 path");
    gridsql_engine::register_dataset(&ctx, "t", local, None, Default::default())
        .await
        .expect("register the local store");
    let batches = tokio::time::timeout(Duration::from_secs(60), async {
        ctx.sql(Q1).await?.collect().await
    })
    .await
    .expect("the local query is not blocked by the stalled one")
    .expect("the local query succeeds");
    let took = t1.elapsed();
    let rows = rows_json(&batches);
    eprintln!("local query took {took:?} while the stalled one waits: {rows:?}");
    assert!(!slow.is_finished(), "the stalled query is still waiting");
    assert_eq!(rows.len(), want.len());
    for (row, (_, wv)) in rows.iter().zip(&want) {
        let v = row[1].as_f64().expect("a number");
        assert!((v - wv).abs() <= 1e-9 * wv.abs(), "{v} vs xarray {wv}");
    }
    slow.abort();
    assert!(slow.await.is_err_and(|e| e.is_cancelled()));
}

#[test]
fn truncated_netcdf_fails_cleanly_wherever_it_is_cut() {
    let Some(data) = data_dir() else { return };
    let bytes = std::fs::read(data.join("tcw.nc")).expect("read tcw.nc");
    let dir = tempfile::tempdir().expect("temp dir");
    for percent in [1, 10, 50, 90, 99] {
        let cut = bytes.len() * percent / 100;
        let file = dir.path().join(format!("tcw_{percent}.nc"));
        std::fs::write(&file, &bytes[..cut]).expect("write the truncated copy");
        let location = file.to_str().expect("utf-8 path");
        let (out, took) = run(location, "SELECT count(tcw), avg(tcw) FROM t", &[]);
        let case = format!("tcw.nc cut at {percent}% ({cut} of {} bytes)", bytes.len());
        assert_clear_error(&case, &out, &[&format!("tcw_{percent}.nc")]);
        assert!(
            took < Duration::from_secs(60),
            "[{case}] bounded time: {took:?}"
        );
    }
}

/// Queries beyond the session's memory pool (`--memory-limit`): they spill
/// to disk and give the same answer, or fail with one clear "Resources
/// exhausted" line; the process is never killed for memory.
mod memory {
    use super::*;

    /// Runs gridsql on the local `tcw.nc.v3.zarr` with extra arguments.
    fn run_local(args: &[&str], sql: &str) -> Option<Output> {
        let (root, name) = tcw_store()?;
        let location = format!("t={}", root.join(name).display());
        let mut all = vec!["--format", "csv"];
        all.extend_from_slice(args);
        all.extend_from_slice(&[location.as_str(), "-c", sql]);
        Some(gridsql_env(&all, &[]))
    }

    /// The whole-table sort (4 columns x 325,872 rows, ~8 MB) the sort
    /// tests run with and without a memory limit.
    const SORT: &str = "SELECT time, latitude, longitude, tcw FROM t \
                        ORDER BY tcw, time, latitude, longitude";

    /// [`SORT`] without a memory limit, asserted to succeed: the rows the
    /// limited runs must reproduce.
    fn unlimited_sort() -> Option<Output> {
        let free = run_local(&[], SORT)?;
        assert!(
            free.status.success(),
            "{}",
            String::from_utf8_lossy(&free.stderr)
        );
        Some(free)
    }

    /// A sort of the whole table (4 columns x 325,872 rows, ~8 MB): under a
    /// 2 MiB limit, too small even for the merge reservation of an external
    /// sort, it fails with one clear line naming the pool size; under
    /// 64 MiB it returns exactly the unlimited sort's rows.
    #[test]
    fn sort_beyond_the_limit_fails_clearly_or_answers_the_same() {
        let sql = SORT;
        let Some(free) = unlimited_sort() else {
            return;
        };
        let lines = free.stdout.iter().filter(|&&b| b == b'\n').count();
        assert_eq!(lines, 325_872 + 1, "every row and the header");
        let Some(tiny) = run_local(&["--memory-limit", "2M"], sql) else {
            return;
        };
        let line = assert_clear_error(
            "sort under 2 MiB",
            &tiny,
            &["Resources exhausted", "pool_size: 2.0 MB"],
        );
        eprintln!("sort under 2 MiB: {line}");
        let Some(tight) = run_local(&["--memory-limit", "64M"], sql) else {
            return;
        };
        let err = String::from_utf8_lossy(&tight.stderr);
        assert!(
            tight.status.success(),
            "the sort under 64 MiB failed: {err}"
        );
        assert!(tight.stdout == free.stdout, "same rows under the limit");
    }

    /// A sort that does not fit its pool spills to disk: in one partition,
    /// with the external sort's merge reservation lowered from 10 MB to 4 MB
    /// (a `SET` any client can send), the whole-table sort under a 16 MiB
    /// pool writes spill files (EXPLAIN ANALYZE counts them) and returns
    /// exactly the unlimited sort's rows.
    #[test]
    fn sort_spills_to_disk_and_answers_the_same() {
        let sort = SORT;
        let set = "SET datafusion.execution.sort_spill_reservation_bytes = 4194304";
        let tight = ["--memory-limit", "16M", "--partitions", "1"];
        let Some(free) = unlimited_sort() else {
            return;
        };
        let Some(analyzed) = run_local(&tight, &format!("{set}; EXPLAIN ANALYZE {sort}")) else {
            return;
        };
        let plan = String::from_utf8_lossy(&analyzed.stdout);
        assert!(
            analyzed.status.success(),
            "{}",
            String::from_utf8_lossy(&analyzed.stderr)
        );
        let spills: u64 = plan
            .match_indices("spill_count=")
            .filter_map(|(at, key)| {
                let digits: String = plan[at + key.len()..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                digits.parse::<u64>().ok()
            })
            .sum();
        eprintln!("sort under 16 MiB: {spills} spills");
        assert!(spills > 0, "the sort did not spill under 16 MiB:\n{plan}");
        let Some(tight) = run_local(&tight, &format!("{set}; {sort}")) else {
            return;
        };
        assert!(
            tight.status.success(),
            "the spilling sort failed: {}",
            String::from_utf8_lossy(&tight.stderr)
        );
        assert!(
            tight.stdout.ends_with(&free.stdout),
            "the spilling sort's rows differ from the unlimited sort's"
        );
    }

    /// A grid aggregate over every cell (325,872 groups) needs ~5 MB of dense
    /// state per partition: under a 1 MiB limit it fails with one clear
    /// line naming the operator, and with enough memory it answers.
    #[test]
    fn grid_aggregate_beyond_the_limit_fails_clearly() {
        let sql = "SELECT time, latitude, longitude, avg(tcw) AS a FROM t GROUP BY 1, 2, 3";
        let Some(out) = run_local(&["--memory-limit", "1M"], sql) else {
            return;
        };
        let line = assert_clear_error(
            "grid aggregate under 1 MiB",
            &out,
            &["Resources exhausted", "GridAggregateExec"],
        );
        eprintln!("grid aggregate under 1 MiB: {line}");
        let Some(plan) = run_local(&[], &format!("EXPLAIN {sql}")) else {
            return;
        };
        assert!(
            String::from_utf8_lossy(&plan.stdout).contains("GridAggregateExec"),
            "the query runs as a grid aggregate"
        );
        let Some(ok) = run_local(&["--memory-limit", "256M"], sql) else {
            return;
        };
        assert!(
            ok.status.success(),
            "{}",
            String::from_utf8_lossy(&ok.stderr)
        );
        let rows = ok.stdout.iter().filter(|&&b| b == b'\n').count();
        assert_eq!(rows, 325_872 + 1);
    }

    /// DataFusion's hash aggregate on a variable (groups by value, so no
    /// grid aggregate) under a tiny limit: the same answer as without a
    /// limit (it spilled) or one clear "Resources exhausted" line.
    #[test]
    fn hash_aggregate_beyond_the_limit_spills_or_fails_clearly() {
        let sql = "SELECT tcw, count(*) AS n, min(time) AS first FROM t GROUP BY tcw ORDER BY tcw";
        let Some(free) = run_local(&[], sql) else {
            return;
        };
        assert!(
            free.status.success(),
            "{}",
            String::from_utf8_lossy(&free.stderr)
        );
        let Some(tight) = run_local(&["--memory-limit", "1M"], sql) else {
            return;
        };
        if tight.status.success() {
            eprintln!("hash aggregate under 1 MiB spilled and answered");
            assert!(tight.stdout == free.stdout, "same rows under the limit");
        } else {
            let line = assert_clear_error(
                "hash aggregate under 1 MiB",
                &tight,
                &["Resources exhausted"],
            );
            eprintln!("hash aggregate under 1 MiB: {line}");
        }
    }
}
