//! The Python package (issue 23): the wheel `make wheel` builds into
//! `target/wheels/`, installed in a fresh venv with its extras, runs
//! `tests/python/wheel_check.py`: `gridsql.register`/`sql` in process,
//! `to_arrow`/`to_pandas`/streamed batches/`to_xarray`, `gridsql.connect` to
//! a `gridsql serve`, and the `%%sql` magic, each checked against xarray's
//! computation on sst.mnmean.nc.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::util::{data_dir, missing, output_within, repo};

/// The newest wheel in the checkout's `target/wheels/`.
fn wheel() -> Option<PathBuf> {
    let dir = repo().join("target/wheels");
    let newest = std::fs::read_dir(&dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("gridsql-"))
                && p.extension().is_some_and(|x| x == "whl")
        })
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok());
    match newest {
        Some(w) => Some(w),
        None => missing(&format!(
            "the gridsql wheel in {} (make wheel)",
            dir.display()
        )),
    }
}

#[test]
fn the_wheel_in_a_fresh_venv_answers_as_xarray() {
    let Some(data) = data_dir() else { return };
    let Some(wheel) = wheel() else { return };
    let venv = tempfile::tempdir().expect("temp dir");
    let base = std::env::var("GRIDSQL_BASE_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut make = Command::new(&base);
    make.args(["-m", "venv"]).arg(venv.path());
    let o = output_within(make, Duration::from_secs(300));
    assert!(
        o.status.success(),
        "venv: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let py = venv.path().join("bin/python");
    let mut install = Command::new(&py);
    install
        .args(["-m", "pip", "install", "-q", "--disable-pip-version-check"])
        .arg(format!("{}[xarray,server]", wheel.display()))
        // reading the NetCDF file for the reference answers, and the magic's shell
        .args(["netCDF4", "ipython"]);
    let o = output_within(install, Duration::from_secs(900));
    assert!(
        o.status.success(),
        "pip install {}: {}",
        wheel.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    let server = crate::servers::Server::start(&data, &[], &[]);
    let mut check = Command::new(&py);
    check
        .arg(repo().join("tests/python/wheel_check.py"))
        .arg("--data")
        .arg(&data)
        .args(["--server", server.flight_uri()])
        .env("MPLBACKEND", "Agg");
    let o = output_within(check, Duration::from_secs(600));
    assert!(
        o.status.success(),
        "wheel_check.py: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(out["checked"], 3, "{out}");
    assert_eq!(out["problems"], serde_json::json!([]), "{out}");
    eprintln!("[wheel] {} in a fresh venv: {out}", wheel.display());
}
