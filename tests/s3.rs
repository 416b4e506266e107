//! Reading stores through a real S3-compatible server on loopback: the test
//! starts moto's server mode (`moto_server` from the test venv) on a free
//! port of 127.0.0.1, uploads stores from the shared data with boto3, and
//! runs the gridsql binary on `s3://` locations with the endpoint and dummy
//! credentials in the usual `AWS_*` variables. Answers must equal the local
//! copy's and MANIFEST.md's.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::util::{assert_no_whole_copy, data_dir, gridsql_env, missing, output_within, python};

/// The bucket the stores are uploaded to.
pub(crate) const BUCKET: &str = "gridsql-data";

/// Uploads folders to a bucket: `endpoint bucket (local_dir key_prefix)...`.
const UPLOAD: &str = r#"
import os, sys, boto3
endpoint, bucket, pairs = sys.argv[1], sys.argv[2], sys.argv[3:]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id="test", aws_secret_access_key="test")
s3.create_bucket(Bucket=bucket)
n = 0
for local, prefix in zip(pairs[0::2], pairs[1::2]):
    for root, _, files in os.walk(local):
        for f in files:
            path = os.path.join(root, f)
            key = prefix + "/" + os.path.relpath(path, local).replace(os.sep, "/")
            s3.upload_file(path, bucket, key)
            n += 1
print(n)
"#;

/// A moto server on loopback, killed when dropped.
pub(crate) struct Moto {
    child: Child,
    python: PathBuf,
    endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// Starts `moto_server` on a free port and waits until it accepts
    /// connections. `None` (a visible skip, a failure under CI) when the
    /// venv or moto is missing.
    pub(crate) fn start() -> Option<Moto> {
        let python = python()?;
        // the venv's bin folder (not the interpreter's real location)
        let bin = python.parent().map(|b| b.join("moto_server"))?;
        if !bin.exists() {
            missing(&format!(
                "{} (moto[server] in tests/requirements.txt)",
                bin.display()
            ))?;
        }
        let port = free_port();
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let mut moto = Moto {
            child,
            python,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Some(moto);
            }
            if let Some(status) = moto.child.try_wait().expect("wait for moto_server") {
                panic!("moto_server exited before answering: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "moto_server did not answer on {addr} within 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Creates [`BUCKET`] and uploads each `(local folder, key prefix)`.
    pub(crate) fn upload(&self, stores: &[(&Path, &str)]) {
        let mut cmd = Command::new(&self.python);
        cmd.args(["-c", UPLOAD, &self.endpoint, BUCKET]);
        for (local, prefix) in stores {
            cmd.arg(local).arg(prefix);
        }
        cmd.env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost");
        let out = output_within(cmd, Duration::from_secs(300));
        assert!(
            out.status.success(),
            "upload failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!(
            "uploaded {} objects to {}/{BUCKET}",
            String::from_utf8_lossy(&out.stdout).trim(),
            self.endpoint
        );
    }

    /// The environment that points object_store's S3 client at this server.
    pub(crate) fn envs(&self) -> [(&'static str, &str); 7] {
        [
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT", self.endpoint.as_str()),
            ("AWS_ALLOW_HTTP", "true"),
            ("NO_PROXY", "127.0.0.1,localhost"),
            ("no_proxy", "127.0.0.1,localhost"),
        ]
    }

    /// Runs gridsql against this server, CSV output.
    fn gridsql(&self, location: &str, sql: &str) -> Output {
        let envs = self.envs();
        gridsql_env(
            &["--format", "csv", &format!("t={location}"), "-c", sql],
            &envs,
        )
    }
}

/// A port nobody listens on right now.
pub(crate) fn free_port() -> u16 {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind an ephemeral port");
    l.local_addr().expect("local address").port()
}

/// The one data row of a CSV result, asserting success.
fn csv_row(what: &str, out: &Output) -> Vec<String> {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{what} failed: {err}");
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.len(),
        2,
        "{what}: one header and one row expected: {text}"
    );
    lines[1].split(',').map(str::to_string).collect()
}

fn num(s: &str) -> f64 {
    s.parse().unwrap_or_else(|_| panic!("not a number: {s:?}"))
}

fn assert_close(what: &str, got: f64, want: f64, rtol: f64) {
    assert!(
        (got - want).abs() <= rtol * want.abs(),
        "{what}: got {got}, want {want} (rtol {rtol})"
    );
}

/// Runs `sql` on the local copy of a store, CSV output.
fn local(store: &Path, sql: &str) -> Output {
    gridsql_env(
        &[
            "--format",
            "csv",
            &format!("t={}", store.display()),
            "-c",
            sql,
        ],
        &[],
    )
}

#[test]
fn tcw_v2_through_s3() {
    let Some(data) = data_dir() else { return };
    let Some(moto) = Moto::start() else { return };
    let store = data.join("tcw.nc.v2.zarr");
    moto.upload(&[(&store, "tcw.nc.v2.zarr")]);
    let url = format!("s3://{BUCKET}/tcw.nc.v2.zarr");

    let out = moto.gridsql(
        &url,
        "SELECT count(*) AS n, count(tcw) AS c, min(tcw) AS lo, max(tcw) AS hi FROM t",
    );
    let row = csv_row("tcw v2 over S3: counts", &out);
    eprintln!("tcw v2 over S3: {row:?}");
    assert_eq!(row[0], "325872");
    assert_eq!(row[1], "325872");
    assert_close("min(tcw)", num(&row[2]), 0.08908158540725708, 1e-12);
    assert_close("max(tcw)", num(&row[3]), 88.56371515989304, 1e-12);

    let sql = "SELECT count(tcw) AS n, avg(tcw) AS a FROM t \
               WHERE time BETWEEN TIMESTAMP '2002-07-03 12:00:00' AND TIMESTAMP '2002-07-09 12:00:00'";
    let remote = csv_row(
        "tcw v2 over S3: time-filtered mean",
        &moto.gridsql(&url, sql),
    );
    let here = csv_row("tcw v2 local: time-filtered mean", &local(&store, sql));
    eprintln!("time-filtered: S3 {remote:?}, local {here:?}");
    assert_eq!(remote[0], (7 * 73 * 144).to_string());
    assert_eq!(remote[0], here[0]);
    assert_close(
        "time-filtered avg(tcw)",
        num(&remote[1]),
        num(&here[1]),
        1e-12,
    );
}

#[test]
fn sst_v3_through_s3() {
    let Some(data) = data_dir() else { return };
    let Some(moto) = Moto::start() else { return };
    let store = data.join("sst.mnmean.nc.v3.zarr");
    moto.upload(&[(&store, "sst.mnmean.nc.v3.zarr")]);
    let url = format!("s3://{BUCKET}/sst.mnmean.nc.v3.zarr");

    let row = csv_row(
        "sst v3 over S3: count",
        &moto.gridsql(&url, "SELECT count(sst) AS n FROM t"),
    );
    eprintln!("sst v3 over S3: {row:?}");
    assert_eq!(row, ["1406464"]);

    let sql = "SELECT count(sst) AS n, avg(sst) AS a FROM t \
               WHERE time >= TIMESTAMP '2015-01-01 00:00:00' AND time < TIMESTAMP '2016-01-01 00:00:00'";
    let remote = csv_row(
        "sst v3 over S3: time-filtered mean",
        &moto.gridsql(&url, sql),
    );
    let here = csv_row("sst v3 local: time-filtered mean", &local(&store, sql));
    eprintln!("time-filtered: S3 {remote:?}, local {here:?}");
    assert_eq!(remote[0], here[0]);
    assert_ne!(remote[0], "0", "the filter selects 2015");
    assert_close(
        "time-filtered avg(sst)",
        num(&remote[1]),
        num(&here[1]),
        1e-12,
    );
}

#[test]
fn netcdf_glob_through_s3() {
    let Some(_) = data_dir() else { return };
    let Some(moto) = Moto::start() else { return };
    let fix = tempfile::tempdir().expect("temp dir");
    if crate::netcdf::fixtures(fix.path()).is_none() {
        return;
    }
    moto.upload(&[(&fix.path().join("daily"), "daily")]);
    let cache = tempfile::tempdir().expect("cache dir");
    let sql = "SELECT count(*) AS n, count(adt) AS c, avg(adt) AS a FROM t \
               WHERE time >= TIMESTAMP '2005-04-10' AND time < TIMESTAMP '2005-04-20'";
    let url = format!("s3://{BUCKET}/daily/adt_200504*.nc");
    let remote = {
        let envs = [
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT", moto.endpoint.as_str()),
            ("AWS_ALLOW_HTTP", "true"),
            ("NO_PROXY", "127.0.0.1,localhost"),
            ("no_proxy", "127.0.0.1,localhost"),
            ("GRIDSQL_CACHE_DIR", cache.path().to_str().expect("utf-8")),
        ];
        let out = gridsql_env(&["--format", "csv", &format!("t={url}"), "-c", sql], &envs);
        csv_row("daily NetCDF glob over S3", &out)
    };
    let here = csv_row(
        "daily NetCDF glob, local",
        &local(&fix.path().join("daily/adt_200504*.nc"), sql),
    );
    eprintln!("NetCDF glob: S3 {remote:?}, local {here:?}");
    assert_eq!(remote[0], (10 * 128 * 344).to_string());
    assert_eq!(remote[..2], here[..2]);
    assert_close("avg(adt) over S3", num(&remote[2]), num(&here[2]), 1e-12);
    // Read by range: only the April files' headers were walked, once each,
    // into the header cache (a sparse copy and its list of ranges); no file
    // was copied whole.
    let skeletons = std::fs::read_dir(cache.path().join("headers"))
        .expect("header cache")
        .filter_map(|e| e.ok())
        .filter(|e| !e.file_name().to_string_lossy().ends_with(".ranges"))
        .count();
    assert_eq!(skeletons, 30, "April has 30 daily files");
    assert_no_whole_copy("daily NetCDF glob over S3", cache.path());
}

#[test]
fn netcdf3_and_netcdf4_collections_through_s3() {
    let Some(moto) = Moto::start() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    // Four files each, split along time: NetCDF-3 (64-bit offsets, time
    // unlimited) and NetCDF-4 (deflated chunks); xarray's answers.
    let want = crate::cloud::stores(&moto.python, dir.path());
    moto.upload(&[
        (&dir.path().join("nc3"), "nc3"),
        (&dir.path().join("nc4parts"), "nc4parts"),
    ]);
    for name in ["nc3", "nc4parts"] {
        let cache = tempfile::tempdir().expect("cache dir");
        let mut envs = moto.envs().to_vec();
        envs.push(("GRIDSQL_CACHE_DIR", cache.path().to_str().expect("utf-8")));
        let url = format!("s3://{BUCKET}/{name}/part_*.nc");
        let sql = "SELECT count(v) AS n, avg(v) AS a FROM t";
        let out = gridsql_env(&["--format", "csv", &format!("t={url}"), "-c", sql], &envs);
        let row = csv_row(&format!("{name} over S3"), &out);
        assert_eq!(
            num(&row[0]) as i64,
            want[name]["count"].as_i64().expect("count"),
            "{name}: count over S3"
        );
        assert_close(
            &format!("{name}: mean over S3"),
            num(&row[1]),
            want[name]["mean"].as_f64().expect("mean"),
            1e-9,
        );
        // Read by range, not copied whole.
        assert_no_whole_copy(name, cache.path());
    }
}

/// Asserts a clear failure: non-zero exit, one line naming `location`, no
/// panic. Prints the line.
fn assert_clear_error(what: &str, out: &Output, location: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    eprintln!(
        "[{what}] exit {:?}, stderr: {}",
        out.status.code(),
        err.trim_end()
    );
    assert!(
        !out.status.success(),
        "[{what}] expected a failure: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "[{what}] gridsql panicked: {err}"
    );
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "[{what}] stderr is not exactly one line: {err}"
    );
    assert!(
        err.contains(location),
        "[{what}] the error does not name {location}: {err}"
    );
}

#[test]
fn missing_key_or_bucket_through_s3_is_a_clear_error() {
    let Some(data) = data_dir() else { return };
    let Some(moto) = Moto::start() else { return };
    moto.upload(&[(&data.join("tcw.nc.v2.zarr"), "tcw.nc.v2.zarr")]);
    let sql = "SELECT count(*) FROM t";
    let url = format!("s3://{BUCKET}/nothing-here.zarr");
    assert_clear_error("missing key", &moto.gridsql(&url, sql), &url);
    let url = "s3://no-such-bucket/tcw.nc.v2.zarr";
    assert_clear_error("missing bucket", &moto.gridsql(url, sql), url);
}

#[test]
fn grib_files_through_s3() {
    let Some(data) = data_dir() else { return };
    let Some(moto) = Moto::start() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let files = [
        "era5-levels-members.grib",
        "CMC_glb_TMP_ISBL_1015_ps30km_2013052000_P006.grib2",
    ];
    for f in files {
        std::fs::copy(data.join(f), dir.path().join(f)).expect("copy a GRIB file");
    }
    moto.upload(&[(dir.path(), "grib")]);
    for (f, sql) in [
        (
            files[0],
            "SELECT count(*), count(t), avg(t), max(z) FROM t WHERE \"isobaricInhPa\" = 500",
        ),
        (
            files[1],
            "SELECT count(t), avg(t) FROM t WHERE latitude BETWEEN 45 AND 55 AND longitude BETWEEN 280 AND 300",
        ),
    ] {
        let remote = csv_row(
            &format!("{f} over S3"),
            &moto.gridsql(&format!("s3://{BUCKET}/grib/{f}"), sql),
        );
        let here = csv_row(&format!("{f}, local"), &local(&data.join(f), sql));
        eprintln!("{f}: S3 {remote:?}, local {here:?}");
        assert_eq!(remote, here, "{f}");
    }
}
