//! Shared helpers: where the data and the Python venv are, running the
//! binary, turning results into JSON for comparison.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use arrow::array::{Array, RecordBatch};
use arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::ScalarValue;

/// The lines a child process writes to `out`, as they come, read on a
/// thread of their own (so a test can wait for one with a timeout).
pub(crate) fn line_channel(
    out: impl std::io::Read + Send + 'static,
) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let (send, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                return;
            }
        }
    });
    lines
}

/// Whether we run under CI, where missing prerequisites are failures.
pub(crate) fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Fails under CI, else prints a visible skip message; returns `None` either way
/// only outside CI.
pub(crate) fn missing(what: &str) -> Option<PathBuf> {
    if in_ci() {
        panic!("{what} is missing (CI=true: this is a failure)");
    }
    eprintln!("SKIPPED: {what} is missing; set it up to run this test");
    None
}

/// The shared data folder (`../shared/data` beside the repo, or `GRIDSQL_DATA`).
pub(crate) fn data_dir() -> Option<PathBuf> {
    let p = std::env::var_os("GRIDSQL_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    if p.join("MANIFEST.md").exists() {
        Some(p)
    } else {
        missing(&format!("shared data at {}", p.display()))
    }
}

/// The venv's python (`GRIDSQL_PYTHON`, else `.venv/bin/python` in the repo).
pub(crate) fn python() -> Option<PathBuf> {
    let p = std::env::var_os("GRIDSQL_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"));
    if p.exists() {
        Some(p)
    } else {
        missing(&format!(
            "python venv at {} (run `bash scripts/venv.sh`)",
            p.display()
        ))
    }
}

/// Runs the venv's `py` with `args` and returns what it printed, failing
/// the test with `what` and Python's stderr when it exits non-zero: how the
/// tests ask xarray (or a checking script) for its answers.
pub(crate) fn python_ok<I, S>(py: &Path, args: I, what: &str) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let out = Command::new(py)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{what}: python does not run: {e}"));
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The repository root.
pub(crate) fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the gridsql binary with `args`.
pub(crate) fn gridsql(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gridsql"))
        .args(args)
        .env("RUST_LOG", "error")
        .output()
        .expect("the gridsql binary runs")
}

/// Runs gridsql and returns stdout, asserting success.
pub(crate) fn gridsql_ok(args: &[&str]) -> String {
    let out = gridsql(args);
    assert!(
        out.status.success(),
        "gridsql {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One cell as JSON: numbers, ISO timestamps (`YYYY-MM-DDTHH:MM:SS[.ffffff]`), strings, null.
pub(crate) fn cell_json(array: &dyn Array, row: usize) -> serde_json::Value {
    use serde_json::Value;
    if array.is_null(row) {
        return Value::Null;
    }
    let Ok(v) = ScalarValue::try_from_array(array, row) else {
        return Value::Null;
    };
    match v {
        ScalarValue::Float64(Some(x)) => num(x),
        ScalarValue::Float32(Some(x)) => num(x as f64),
        ScalarValue::Int8(Some(x)) => Value::from(x),
        ScalarValue::Int16(Some(x)) => Value::from(x),
        ScalarValue::Int32(Some(x)) => Value::from(x),
        ScalarValue::Int64(Some(x)) => Value::from(x),
        ScalarValue::UInt8(Some(x)) => Value::from(x),
        ScalarValue::UInt16(Some(x)) => Value::from(x),
        ScalarValue::UInt32(Some(x)) => Value::from(x),
        ScalarValue::UInt64(Some(x)) => Value::from(x),
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => Value::from(s),
        ScalarValue::Boolean(Some(b)) => Value::from(b),
        ScalarValue::TimestampMicrosecond(Some(us), _) => Value::from(iso(us)),
        ScalarValue::TimestampNanosecond(Some(ns), _) => Value::from(iso(ns.div_euclid(1000))),
        ScalarValue::TimestampMillisecond(Some(ms), _) => Value::from(iso(ms * 1000)),
        ScalarValue::TimestampSecond(Some(s), _) => Value::from(iso(s * 1_000_000)),
        other => match array.data_type() {
            DataType::Timestamp(TimeUnit::Microsecond, _) => Value::Null,
            _ => Value::from(other.to_string()),
        },
    }
}

fn num(x: f64) -> serde_json::Value {
    serde_json::Number::from_f64(x).map_or(serde_json::Value::Null, serde_json::Value::Number)
}

/// µs since the epoch as `YYYY-MM-DDTHH:MM:SS[.ffffff]`.
pub(crate) fn iso(us: i64) -> String {
    let secs = us.div_euclid(1_000_000);
    let frac = us.rem_euclid(1_000_000);
    let dt = chrono::DateTime::from_timestamp(secs, 0)
        .expect("timestamp in range")
        .naive_utc();
    if frac == 0 {
        dt.format("%Y-%m-%dT%H:%M:%S").to_string()
    } else {
        format!("{}.{frac:06}", dt.format("%Y-%m-%dT%H:%M:%S"))
    }
}

/// All rows of `batches` as JSON rows.
pub(crate) fn rows_json(batches: &[RecordBatch]) -> Vec<Vec<serde_json::Value>> {
    let mut out = Vec::new();
    for b in batches {
        for r in 0..b.num_rows() {
            out.push(
                b.columns()
                    .iter()
                    .map(|c| cell_json(c.as_ref(), r))
                    .collect(),
            );
        }
    }
    out
}

/// Whether two JSON cells agree: numbers within `rtol` (relative, with an
/// absolute floor of `rtol` for values near zero), everything else equal.
pub(crate) fn cells_match(a: &serde_json::Value, b: &serde_json::Value, rtol: f64) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => (x - y).abs() <= rtol * x.abs().max(y.abs()).max(1.0),
        _ => a == b,
    }
}

/// Runs `cmd` with its output captured; kills it and fails the test when it
/// is still running after `limit`, so a hang fails instead of blocking CI.
pub(crate) fn output_within(cmd: Command, limit: std::time::Duration) -> Output {
    run_within(cmd, None, limit)
}

/// [`output_within`] with `input` written to the command's standard input
/// (by a thread of its own: the command may fail before reading it all).
pub(crate) fn run_within(
    mut cmd: Command,
    input: Option<&str>,
    limit: std::time::Duration,
) -> Output {
    use std::io::{Read, Write};
    use std::process::Stdio;
    use std::time::Instant;
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let writer = match (input, child.stdin.take()) {
        (Some(text), Some(mut stdin)) => {
            let text = text.to_string();
            Some(std::thread::spawn(move || {
                let _ = stdin.write_all(text.as_bytes());
            }))
        }
        _ => None,
    };
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("piped stderr")));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            let err = stderr.join().unwrap_or_default();
            panic!(
                "{cmd:?} did not finish within {limit:?} and was killed; stderr: {}",
                String::from_utf8_lossy(&err)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    if let Some(w) = writer {
        let _ = w.join();
    }
    Output {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

/// Runs the gridsql binary with `args` and extra environment variables
/// (killed, failing the test, after 120 s).
pub(crate) fn gridsql_env(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gridsql"));
    cmd.args(args)
        .env("RUST_LOG", "error")
        .envs(envs.iter().copied());
    output_within(cmd, std::time::Duration::from_secs(120))
}

/// A reproducible property-test runner (seeded, no failure files) and its
/// number of cases: `GRIDSQL_PROPERTY_CASES`, else `default`.
pub(crate) fn seeded_runner(default: u32) -> (proptest::test_runner::TestRunner, u32) {
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let cases = std::env::var("GRIDSQL_PROPERTY_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    (
        TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha)),
        cases,
    )
}

/// Asserts that a session with `GRIDSQL_CACHE_DIR=cache` read its remote
/// NetCDF files by byte range: nothing in the whole-copy cache (`objects/`,
/// the fallback's).
pub(crate) fn assert_no_whole_copy(what: &str, cache: &Path) {
    let copies = cache.join("objects");
    assert!(
        !copies.exists(),
        "{what}: files were copied whole into {}",
        copies.display()
    );
}

/// Asserts that two CSV outputs have the same rows: numbers equal within a
/// relative 1e-9 (sums over partitions or chunks merge in another order on a
/// cluster or through another chunking),
/// everything else exactly.
pub(crate) fn assert_csv_close(what: &str, got: &str, want: &str) {
    let (g, w): (Vec<&str>, Vec<&str>) = (got.lines().collect(), want.lines().collect());
    assert_eq!(
        g.len(),
        w.len(),
        "{what}: {} lines, expected {}\n{got}\nvs\n{want}",
        g.len(),
        w.len()
    );
    for (a, b) in g.iter().zip(&w) {
        let (ca, cb): (Vec<&str>, Vec<&str>) = (a.split(',').collect(), b.split(',').collect());
        let same = ca.len() == cb.len()
            && ca
                .iter()
                .zip(&cb)
                .all(|(x, y)| match (x.parse::<f64>(), y.parse::<f64>()) {
                    (Ok(x), Ok(y)) => x == y || (x - y).abs() <= 1e-9 * x.abs().max(y.abs()),
                    _ => x == y,
                });
        assert!(same, "{what}: row {a:?} differs from {b:?}");
    }
}
