//! Reading Zarr stores over a slow link: the test serves stores written by
//! xarray (tests/xarray/remote_store.py) with `benches/slow_http.py`, an
//! HTTP server on loopback that waits before each response and limits each
//! connection's rate, as an object store seen from a cloud VM does, and
//! counts what it serves. Answers must equal xarray's; the server's counts
//! show that reads go out many at once and that opening a consolidated store
//! costs a handful of requests. Faults: a server that holds some requests
//! (retried after the request timeout, the answer still right) and one that
//! dies in the middle of a query (a clear error, no hang).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::util::{gridsql_env, output_within, python, repo};

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

/// Writes the stores into `dir`; xarray's answers.
fn stores(py: &Path, dir: &Path) -> Value {
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

/// The count and mean of `v`, checked against xarray's.
fn check_totals(what: &str, out: &Output, want: &Value) {
    let r = rows(what, out);
    assert_eq!(r.len(), 1, "{what}: one row");
    assert_eq!(
        num(&r[0][0]) as i64,
        want["count"].as_i64().expect("count"),
        "{what}: count"
    );
    close(what, num(&r[0][1]), want["mean"].as_f64().expect("mean"));
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
        let out = query(&url, "SELECT count(v) AS n, avg(v) AS a FROM t", &[]);
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
        let peak: u64 = text
            .split("peak_requests_in_flight=")
            .nth(1)
            .and_then(|t| t.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok())
            .expect("a peak");
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

        let out = query(
            &url,
            "SELECT time, avg(v) AS a FROM t GROUP BY time ORDER BY time",
            &[],
        );
        let r = rows(store, &out);
        let per_time = want["per_time"].as_array().expect("per_time");
        assert_eq!(r.len(), per_time.len(), "{store}: one row per day");
        for (row, w) in r.iter().zip(per_time) {
            close(
                &format!("{store} {}", row[0]),
                num(&row[1]),
                w.as_f64().expect("a mean"),
            );
        }

        let out = query(
            &url,
            "SELECT count(v) AS n, avg(v) AS a FROM t WHERE lat BETWEEN 10 AND 40 \
             AND lon BETWEEN 100 AND 200 AND time < TIMESTAMP '2001-01-31'",
            &[],
        );
        let r = rows(store, &out);
        assert_eq!(
            num(&r[0][0]) as i64,
            want["box_count"].as_i64().expect("box count")
        );
        close(
            &format!("{store} box"),
            num(&r[0][1]),
            want["box_mean"].as_f64().expect("box mean"),
        );
    }
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
