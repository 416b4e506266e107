//! Reading Zarr stores and NetCDF files over a slow link: the test serves
//! stores written by xarray (tests/xarray/remote_store.py) with
//! `benches/slow_http.py`, an HTTP server on loopback that waits before each
//! response and limits each connection's rate, as an object store seen from
//! a cloud VM does, lists folders (WebDAV PROPFIND, for globs) and counts
//! what it serves. Answers must equal xarray's; the server's counts show
//! that reads go out many at once, that opening a consolidated store costs a
//! handful of requests, that a box of a remote NetCDF-4 file reads a small
//! part of it (chunks by byte range, not a whole copy) and that a second
//! session opens a remote collection from the headers cached by the first
//! (`$GRIDSQL_CACHE_DIR/headers`) without reading a byte of the files.
//! Faults: a server that holds some requests (retried after the request
//! timeout, the answer still right) and one that dies in the middle of a
//! query (a clear error, no hang).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use crate::util::{assert_no_whole_copy, gridsql_env, line_channel, output_within, python, repo};

/// `benches/slow_http.py` serving a folder, killed when dropped.
struct SlowHttp {
    child: Child,
    base: String,
}

impl Drop for SlowHttp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SlowHttp {
    /// Serves `root` with the server's options `args`.
    fn start(py: &Path, root: &Path, args: &[&str]) -> SlowHttp {
        let mut child = Command::new(py)
            .arg(repo().join("benches/slow_http.py"))
            .arg(root)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start slow_http.py");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("read the port line");
        let port: u16 = line
            .strip_prefix("PORT ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("slow_http.py printed {line:?}"));
        SlowHttp {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    /// The server's counters (`/__stats`, or `/__reset` to zero them).
    fn stats(&self, path: &str) -> Value {
        let addr = self.base.trim_start_matches("http://");
        let mut s = TcpStream::connect(addr).expect("connect to slow_http.py");
        write!(s, "GET /{path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").expect("send");
        let mut text = String::new();
        s.read_to_string(&mut text).expect("read");
        let body = text.split("\r\n\r\n").nth(1).expect("a body");
        serde_json::from_str(body).expect("JSON counters")
    }

    fn reset(&self) {
        self.stats("__reset");
    }

    fn counter(&self, name: &str) -> u64 {
        self.stats("__stats")[name].as_u64().expect("a count")
    }
}

/// Count and mean of `v`.
const TOTALS: &str = "SELECT count(v) AS n, avg(v) AS a FROM t";

/// The mean of `v` per time step.
const PER_TIME: &str = "SELECT time, avg(v) AS a FROM t GROUP BY time ORDER BY time";

/// Count and mean of `v` over the box of xarray's `box_count` and
/// `box_mean`: lat 10..40, lon 100..200, the first 30 days.
const BOX: &str = "SELECT count(v) AS n, avg(v) AS a FROM t WHERE lat BETWEEN 10 AND 40 \
                   AND lon BETWEEN 100 AND 200 AND time < TIMESTAMP '2001-01-31'";

/// The environment of a session whose cache (`GRIDSQL_CACHE_DIR`) is `dir`.
fn cache_env(dir: &Path) -> [(&'static str, &str); 1] {
    [(
        "GRIDSQL_CACHE_DIR",
        dir.to_str().expect("a UTF-8 temp dir path"),
    )]
}

/// Writes the stores into `dir`; xarray's answers.
pub(crate) fn stores(py: &Path, dir: &Path) -> Value {
    let mut cmd = Command::new(py);
    cmd.arg(repo().join("tests/xarray/remote_store.py"))
        .arg(dir);
    let out = output_within(cmd, Duration::from_secs(300));
    assert!(
        out.status.success(),
        "remote_store.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("xarray's answers as JSON")
}

/// Runs `sql` on table `t` at `url`, CSV, with extra environment.
fn query(url: &str, sql: &str, envs: &[(&str, &str)]) -> Output {
    let mut all = vec![
        ("NO_PROXY", "127.0.0.1,localhost"),
        ("no_proxy", "127.0.0.1,localhost"),
    ];
    all.extend_from_slice(envs);
    gridsql_env(&["--format", "csv", &format!("t={url}"), "-c", sql], &all)
}

/// The `peak_requests_in_flight` an `EXPLAIN ANALYZE` shows.
fn peak_in_flight(explained: &str) -> u64 {
    explained
        .split("peak_requests_in_flight=")
        .nth(1)
        .and_then(|t| t.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .expect("a peak")
}

/// The data rows of a successful CSV result.
fn rows(what: &str, out: &Output) -> Vec<Vec<String>> {
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

fn num(s: &str) -> f64 {
    s.parse().unwrap_or_else(|_| panic!("not a number: {s:?}"))
}

fn close(what: &str, got: f64, want: f64) {
    assert!(
        (got - want).abs() <= 1e-9 * want.abs().max(1.0),
        "{what}: gridsql {got}, xarray {want}"
    );
}

/// A one-row result of a count and a mean, checked against xarray's
/// `want[count]` and `want[mean]`.
fn check_count_mean(what: &str, out: &Output, want: &Value, count: &str, mean: &str) {
    check_count_mean_row(what, &rows(what, out), want, count, mean);
}

/// [`check_count_mean`] of rows already split.
fn check_count_mean_row(what: &str, r: &[Vec<String>], want: &Value, count: &str, mean: &str) {
    assert_eq!(r.len(), 1, "{what}: one row");
    assert_eq!(
        num(&r[0][0]) as i64,
        want[count].as_i64().expect(count),
        "{what}: {count}"
    );
    close(
        &format!("{what} {mean}"),
        num(&r[0][1]),
        want[mean].as_f64().expect(mean),
    );
}

/// The count and mean of `v` ([`TOTALS`]), checked against xarray's.
fn check_totals(what: &str, out: &Output, want: &Value) {
    check_count_mean(what, out, want, "count", "mean");
}

/// The mean of `v` per time step ([`PER_TIME`]), checked against xarray's
/// `per_time`.
fn check_per_time(what: &str, out: &Output, want: &Value) {
    let r = rows(what, out);
    let per_time = want["per_time"].as_array().expect("per_time");
    assert_eq!(r.len(), per_time.len(), "{what}: one row per time step");
    for (row, w) in r.iter().zip(per_time) {
        close(
            &format!("{what} {}", row[0]),
            num(&row[1]),
            w.as_f64().expect("a mean"),
        );
    }
}

/// The count and mean of `v` over the box ([`BOX`]), checked against
/// xarray's `box_count` and `box_mean`.
fn check_box(what: &str, out: &Output, want: &Value) {
    check_count_mean(what, out, want, "box_count", "box_mean");
}

fn setup() -> Option<(PathBuf, tempfile::TempDir, Value)> {
    let py = python()?;
    let dir = tempfile::tempdir().expect("temp dir");
    let want = stores(&py, dir.path());
    Some((py, dir, want))
}

#[test]
fn remote_zarr_reads_many_chunks_at_once_and_answers_as_xarray() {
    let Some((py, dir, want)) = setup() else {
        return;
    };
    let server = SlowHttp::start(
        &py,
        dir.path(),
        &["--latency-ms", "40", "--rate-mbps", "50"],
    );
    for store in ["v2.zarr", "v3.zarr"] {
        let url = format!("{}/{store}", server.base);

        // Opening a consolidated store: its metadata (both versions' names
        // asked at once) and one request per coordinate; no chunk of v.
        server.reset();
        let out = query(&url, "SELECT count(*) AS n FROM t", &[]);
        assert_eq!(
            rows(store, &out),
            [["192000"]],
            "{store}: 96 x 40 x 50 cells"
        );
        let opening = server.counter("requests");
        eprintln!("{store}: opening took {opening} requests");
        assert!(
            opening <= 5,
            "{store}: opening took {opening} requests, want <= 5"
        );

        // A full scan: 48 chunks, asked for all at once (gridsql's own
        // count, in EXPLAIN ANALYZE); the server, which starts a thread per
        // connection, sees many of them at the same time.
        let out = query(&url, TOTALS, &[]);
        check_totals(store, &out, &want);
        server.reset();
        let out = query(&url, "EXPLAIN ANALYZE SELECT avg(v) AS a FROM t", &[]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for metric in ["requests=48", "bytes_fetched=", "peak_requests_in_flight="] {
            assert!(text.contains(metric), "{store}: no {metric} in\n{text}");
        }
        let peak = peak_in_flight(&text);
        let served = server.counter("peak_in_flight");
        eprintln!(
            "{store}: full scan, {peak} requests in flight (the server saw {served} at once)"
        );
        assert!(
            peak >= 32,
            "{store}: only {peak} requests in flight at once"
        );
        assert!(
            served >= 8,
            "{store}: the server saw only {served} requests at once"
        );

        // a shell's own budget: SET gridsql.io_concurrency, then the same scan
        server.reset();
        let out = query(
            &url,
            "SET gridsql.io_concurrency = 4; EXPLAIN ANALYZE SELECT avg(v) AS a FROM t",
            &[],
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let capped = peak_in_flight(&text);
        let served = server.counter("peak_in_flight");
        eprintln!(
            "{store}: with SET gridsql.io_concurrency = 4, {capped} in flight (server {served})"
        );
        // (the server also saw the store being opened, before the SET)
        assert!(capped <= 4, "{store}: {capped} in flight over 4");
        let bad = query(&url, "SET gridsql.io_concurrency = 0", &[]);
        let err = String::from_utf8_lossy(&bad.stderr);
        assert!(
            !bad.status.success() && err.contains("gridsql.io_concurrency"),
            "{err}"
        );

        check_per_time(store, &query(&url, PER_TIME, &[]), &want);
        check_box(store, &query(&url, BOX, &[]), &want);
    }
}

#[test]
fn remote_netcdf4_box_query_reads_a_small_part_of_the_file() {
    let Some((py, dir, want)) = setup() else {
        return;
    };
    let want = &want["v4"];
    let size = std::fs::metadata(dir.path().join("nc/v4.nc"))
        .expect("nc/v4.nc written")
        .len();
    let server = SlowHttp::start(&py, dir.path(), &["--latency-ms", "10"]);
    let url = format!("{}/nc/v4.nc", server.base);

    let cache = tempfile::tempdir().expect("cache dir");
    let out = query(&url, BOX, &cache_env(cache.path()));
    check_box("v4.nc", &out, want);

    // Again in a new process with an empty cache: the headers are walked by
    // byte range and only the 4 chunks the box cuts (of 192, ~46 kB each)
    // are fetched, not the file.
    let cache = tempfile::tempdir().expect("cache dir");
    server.reset();
    let out = query(&url, BOX, &cache_env(cache.path()));
    check_box("v4.nc, fresh cache", &out, want);
    let stats = server.stats("__stats");
    let sent = stats["bytes"].as_u64().expect("bytes");
    eprintln!("v4.nc: the box took {sent} bytes of {size}: {stats}");
    assert!(
        sent * 10 < size,
        "v4.nc: the box query (fresh cache) was sent {sent} bytes, want < 10% of the \
         file's {size}; server counts {stats}"
    );

    // A long range is fetched as parts side by side (GRIDSQL_IO_PART_KB):
    // the same answer from more, smaller requests. The headers are cached
    // now, so the GETs are the chunks' alone.
    server.reset();
    check_box("v4.nc", &query(&url, BOX, &cache_env(cache.path())), want);
    let whole = server.counter("gets");
    server.reset();
    let [dir] = cache_env(cache.path());
    let out = query(&url, BOX, &[dir, ("GRIDSQL_IO_PART_KB", "8")]);
    check_box("v4.nc, parts of 8 KiB", &out, want);
    let parts = server.counter("gets");
    eprintln!("v4.nc: the box's chunks in {whole} GETs, in parts of 8 KiB {parts}");
    assert!(
        whole > 0 && parts >= 4 * whole,
        "v4.nc: 4 chunks of ~46 kB took {whole} GETs, and {parts} in parts of 8 KiB"
    );

    let out = query(&url, TOTALS, &cache_env(cache.path()));
    check_totals("v4.nc", &out, want);
}

#[test]
fn remote_netcdf_collections_answer_as_xarray() {
    let Some((py, dir, want)) = setup() else {
        return;
    };
    let server = SlowHttp::start(&py, dir.path(), &["--latency-ms", "10"]);
    // NetCDF-3 64-bit offset with an unlimited time; NetCDF-4 with deflated
    // chunks. Globs: the folder is listed (PROPFIND).
    for name in ["nc3", "nc4parts"] {
        let url = format!("{}/{name}/part_*.nc", server.base);
        let cache = tempfile::tempdir().expect("cache dir");
        let envs = cache_env(cache.path());
        check_totals(name, &query(&url, TOTALS, &envs), &want[name]);
        check_per_time(name, &query(&url, PER_TIME, &envs), &want[name]);
        eprintln!("{name}: {}", server.stats("__stats"));
        // Read by range: no file was copied whole (the fallback's cache).
        assert_no_whole_copy(name, cache.path());
    }
}

#[test]
fn a_second_session_opens_a_remote_collection_from_the_header_cache() {
    let Some((py, dir, want)) = setup() else {
        return;
    };
    let server = SlowHttp::start(&py, dir.path(), &["--latency-ms", "10"]);
    let url = format!("{}/nc4parts/part_*.nc", server.base);
    // Reads only the grid's shape and coordinates, which are in the headers
    // (the skeletons hold small one-dimensional variables): no chunk of v.
    let meta = "SELECT count(*) AS n, min(time) AS t0, max(time) AS t1 FROM t";
    let meta_rows = [["192000", "2001-01-01T00:00:00", "2001-04-06T00:00:00"]];

    // Session 1 reads every file's header, and data, into the cache.
    let cache = tempfile::tempdir().expect("cache dir");
    let out = query(&url, TOTALS, &cache_env(cache.path()));
    check_totals("session 1", &out, &want["nc4parts"]);
    let skeletons = std::fs::read_dir(cache.path().join("headers"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert!(
        skeletons > 0,
        "session 1 left nothing in {}/headers",
        cache.path().display()
    );

    // The metadata query in a new process on `cache`: its rows checked, the
    // server's counts of that session returned.
    let session = |what: &str, cache: &Path| -> Value {
        server.reset();
        let out = query(&url, meta, &cache_env(cache));
        assert_eq!(rows(what, &out), meta_rows, "{what}: shape and time");
        let stats = server.stats("__stats");
        eprintln!("{what}: {stats}");
        stats
    };

    // Session 2, on the same cache: listing the folder and asking for the
    // objects' metadata are allowed, reading them is not.
    let stats = session("session 2 (cached headers)", cache.path());
    assert_eq!(
        stats["gets"].as_u64().expect("gets"),
        0,
        "session 2 read the files again (GET requests) although session 1 cached \
         their headers in {}/headers; server counts {stats}",
        cache.path().display()
    );

    // The same query on an empty cache must read the headers: the count
    // above would see it.
    let fresh = tempfile::tempdir().expect("cache dir");
    let stats = session("empty cache", fresh.path());
    assert!(
        stats["gets"].as_u64().expect("gets") > 0,
        "an empty cache read no header; server counts {stats}"
    );
}

#[test]
fn a_stalling_store_still_answers_and_a_dead_one_is_a_clear_error() {
    let Some((py, dir, want)) = setup() else {
        return;
    };
    // Every 7th request is held for 30 s: the client gives up on it after
    // 2 s and asks again.
    let stalling = SlowHttp::start(
        &py,
        dir.path(),
        &["--latency-ms", "5", "--stall-every", "7", "--stall-s", "30"],
    );
    let url = format!("{}/v2.zarr", stalling.base);
    let out = query(
        &url,
        "SELECT count(v) AS n, avg(v) AS a FROM t",
        &[
            ("GRIDSQL_STORE_TIMEOUT", "2"),
            ("GRIDSQL_STORE_RETRIES", "5"),
        ],
    );
    check_totals("stalling store", &out, &want);

    // A server that goes away after 20 requests, in the middle of the scan.
    let dying = SlowHttp::start(&py, dir.path(), &["--latency-ms", "5", "--die-after", "20"]);
    let url = format!("{}/v2.zarr", dying.base);
    let out = query(
        &url,
        "SELECT count(v) AS n, avg(v) AS a FROM t",
        &[
            ("GRIDSQL_STORE_TIMEOUT", "2"),
            ("GRIDSQL_STORE_RETRIES", "2"),
            ("GRIDSQL_STORE_RETRY_TIMEOUT", "5"),
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    eprintln!("dead store: {err}");
    assert!(!out.status.success(), "a dead store cannot answer");
    assert!(err.contains("v2.zarr"), "the error names the store: {err}");
    assert!(!err.contains("panicked"), "no panic: {err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
}

/// A gridsql shell that reads statements from a pipe as they come and
/// answers in CSV: one session across statements, with work between them.
struct PipedShell {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
}

impl Drop for PipedShell {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl PipedShell {
    /// A shell with table `t` at `url`.
    fn start(url: &str) -> PipedShell {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gridsql"))
            .args(["--format", "csv", &format!("t={url}")])
            .env("RUST_LOG", "error")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start gridsql");
        let stdin = child.stdin.take().expect("piped stdin");
        let lines = line_channel(child.stdout.take().expect("piped stdout"));
        PipedShell {
            child,
            stdin,
            lines,
        }
    }

    /// Runs `sql`, whose answer has `rows` rows; the rows, split.
    fn run(&mut self, sql: &str, rows: usize) -> Vec<Vec<String>> {
        writeln!(self.stdin, "{sql};").expect("send a statement");
        self.stdin.flush().expect("flush");
        let mut got = Vec::new();
        while got.len() <= rows {
            match self.lines.recv_timeout(Duration::from_secs(120)) {
                Ok(line) if line.trim().is_empty() => {}
                Ok(line) => got.push(line),
                Err(e) => {
                    let _ = self.child.kill();
                    let mut err = String::new();
                    if let Some(mut stderr) = self.child.stderr.take() {
                        let _ = stderr.read_to_string(&mut err);
                    }
                    panic!("no answer to {sql} ({e}); got {got:?}; stderr: {err}");
                }
            }
        }
        got.iter()
            .skip(1)
            .map(|l| l.split(',').map(str::to_string).collect())
            .collect()
    }
}

#[test]
fn a_box_read_again_skips_the_header_round_trip_until_its_chunks_change() {
    let Some((py, dir, want)) = setup() else {
        return;
    };
    let server = SlowHttp::start(&py, dir.path(), &["--latency-ms", "10"]);
    let mut shell = PipedShell::start(&format!("{}/v2.zarr", server.base));
    assert_eq!(shell.run("SELECT count(*) AS n FROM t", 1), [["192000"]]);

    // The box lies inside 15 chunks (30 days in chunks of 2), each read
    // block by block: its blosc header and table, then its blocks.
    let mut gets = |what: &str, want: &Value| {
        server.reset();
        check_count_mean_row(what, &shell.run(BOX, 1), want, "box_count", "box_mean");
        let gets = server.counter("gets");
        eprintln!("{what}: {gets} GETs");
        gets
    };
    assert_eq!(
        gets("first box", &want),
        30,
        "a header and blocks per chunk"
    );
    assert_eq!(gets("box again", &want), 15, "the blocks only");

    // v2.zarr's chunks are rewritten with v2_other.zarr's: other values,
    // other block tables. The kept tables must not be used for them.
    let chunks = dir.path().join("v2_other.zarr/v");
    for entry in std::fs::read_dir(&chunks).expect("list chunks") {
        let entry = entry.expect("a chunk");
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with('.') {
            std::fs::copy(entry.path(), dir.path().join("v2.zarr/v").join(&name))
                .expect("rewrite a chunk");
        }
    }
    let other = &want["other"];
    assert_eq!(
        gets("box of the rewritten chunks", other),
        45,
        "15 block reads refused (412, another ETag), then a header and blocks per chunk"
    );
    assert_eq!(
        gets("rewritten box again", other),
        15,
        "the new tables are kept"
    );
}
