//! Writing results back as grids (issue 22): `COPY (query) TO ... STORED AS
//! ZARR | NETCDF`. A monthly climatology, a box subset with time kept and
//! an anomaly, computed by COPY from sst.mnmean.nc, and a per-station
//! climatology on a string dimension (ahccd_1950-2013.nc), opened by xarray
//! (`tests/xarray/copy_check.py`) equal xarray's own computation (values,
//! coordinates, dtypes, attributes); read back by gridsql they answer as
//! xarray; in Zarr v2, Zarr v3 and NetCDF-4.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

use crate::util::{data_dir, gridsql, gridsql_ok, python, python_ok, repo};

const CLIMATOLOGY: &str = "SELECT CAST(date_part('month', time) AS BIGINT) AS month, lat, lon, avg(sst) AS sst \
     FROM t GROUP BY 1, 2, 3";
const BOX: &str =
    "SELECT time, lat, lon, sst FROM t WHERE lat BETWEEN -20 AND 20 AND lon BETWEEN 120 AND 280";
const ANOMALY: &str = "SELECT t.time, t.lat, t.lon, t.sst - c.sst AS anomaly FROM t JOIN \
     (SELECT date_part('month', time) AS month, lat, lon, avg(sst) AS sst FROM t GROUP BY 1, 2, 3) c \
     ON date_part('month', t.time) = c.month AND t.lat = c.lat AND t.lon = c.lon \
     WHERE t.lat BETWEEN -20 AND 20 AND t.lon BETWEEN 120 AND 280";

/// Daily maximum temperature per station (a string dimension) and month.
const STATIONS: &str = "SELECT location, CAST(date_part('month', time) AS BIGINT) AS month, \
     avg(tasmax) AS tasmax FROM t GROUP BY 1, 2";

/// (kind, source file, query, variable, dims option or none)
pub(crate) const RESULTS: [(&str, &str, &str, &str, Option<&str>); 4] = [
    (
        "climatology",
        SST,
        CLIMATOLOGY,
        "sst",
        Some("month,lat,lon"),
    ),
    ("box", SST, BOX, "sst", None),
    ("anomaly", SST, ANOMALY, "anomaly", Some("time,lat,lon")),
    (
        "stations",
        AHCCD,
        STATIONS,
        "tasmax",
        Some("location,month"),
    ),
];

const SST: &str = "sst.mnmean.nc";
const AHCCD: &str = "ahccd_1950-2013.nc";

/// (name, STORED AS, extra options, xarray reader)
const OUTPUTS: [(&str, &str, &str, &str); 3] = [
    ("v3.zarr", "ZARR", "", "zarr"),
    ("v2.zarr", "ZARR", ", 'zarr_format' '2'", "zarr"),
    ("nc", "NETCDF", "", "netcdf"),
];

#[derive(serde::Deserialize, Debug)]
pub(crate) struct Check {
    pub(crate) problems: Vec<String>,
    count: u64,
    mean_abs: f64,
}

pub(crate) fn check(py: &Path, data: &Path, kind: &str, out: &Path, reader: &str) -> Check {
    let script = repo().join("tests/xarray/copy_check.py");
    let args = [
        script.as_os_str(),
        OsStr::new("--data"),
        data.as_os_str(),
        OsStr::new("--kind"),
        OsStr::new(kind),
        OsStr::new("--format"),
        OsStr::new(reader),
        OsStr::new("--path"),
        out.as_os_str(),
    ];
    let o = python_ok(py, args, "copy_check.py");
    serde_json::from_str(&o).expect("copy_check.py prints JSON")
}

#[test]
fn copied_grids_equal_xarrays_computation() {
    let Some(data) = data_dir() else { return };
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let mut problems = Vec::new();
    for (kind, source, sql, var, dims) in RESULTS {
        let table = format!("t={}", data.join(source).display());
        for (ext, stored, extra, reader) in OUTPUTS {
            let out = dir.path().join(format!("{kind}.{ext}"));
            let dims = dims.map(|d| format!("'dims' '{d}'")).unwrap_or_default();
            let sep = if dims.is_empty() { "" } else { ", " };
            let options = format!("{dims}{sep}'compression' 'zstd'{extra}");
            gridsql_ok(&[
                &table,
                "-c",
                &format!(
                    "COPY ({sql}) TO '{}' STORED AS {stored} OPTIONS ({options})",
                    out.display()
                ),
            ]);
            let c = check(&py, &data, kind, &out, reader);
            for p in &c.problems {
                problems.push(format!("{kind} as {ext}: {p}"));
            }
            // read back by gridsql
            let back = gridsql_ok(&[
                "--format",
                "csv",
                &format!("w={}", out.display()),
                "-c",
                &format!("SELECT count({var}) AS n, avg(abs({var})) AS m FROM w"),
            ]);
            let row: Vec<&str> = back.lines().nth(1).unwrap_or_default().split(',').collect();
            let n: u64 = row.first().and_then(|s| s.parse().ok()).unwrap_or(u64::MAX);
            let m: f64 = row.get(1).and_then(|s| s.parse().ok()).unwrap_or(f64::NAN);
            if n != c.count || (m - c.mean_abs).abs() > 1e-9 * c.mean_abs.abs() {
                problems.push(format!(
                    "{kind} as {ext} read back: count {n}, mean of |{var}| {m}; xarray {}, {}",
                    c.count, c.mean_abs
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn an_existing_target_is_kept_unless_overwrite_is_asked() {
    let Some(data) = data_dir() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let table = format!("t={}", data.join("sst.mnmean.nc").display());
    for (ext, stored) in [("zarr", "ZARR"), ("nc", "NETCDF")] {
        let out = dir.path().join(format!("clim.{ext}"));
        let copy = |options: &str| {
            gridsql(&[
                &table,
                "-c",
                &format!(
                    "COPY ({CLIMATOLOGY}) TO '{}' STORED AS {stored} OPTIONS ('dims' 'month,lat,lon'{options})",
                    out.display()
                ),
            ])
        };
        assert!(copy("").status.success(), "first COPY");
        let again = copy("");
        let err = String::from_utf8_lossy(&again.stderr);
        assert!(
            !again.status.success() && err.contains("'overwrite'"),
            "{err}"
        );
        assert!(
            copy(", 'overwrite' 'true'").status.success(),
            "with overwrite"
        );
        // bad options and results that are not grids are named
        // (a bad chunk shape is found once the grid is known; the target is
        // then left as it was)
        for (options, want) in [
            (", 'overwrite' 'true', 'chunks' '1,2'", "chunks"),
            (", 'zarr_format' '5'", "zarr_format"),
            (", 'colour' 'red'", "colour"),
        ] {
            let o = copy(options);
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(
                !o.status.success() && err.contains(want),
                "{options}: {err}"
            );
        }
        let o = gridsql(&[
            &table,
            "-c",
            &format!(
                "COPY (SELECT lat, sst FROM t) TO '{}' STORED AS {stored} OPTIONS ('dims' 'lat', 'overwrite' 'true')",
                out.display()
            ),
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            !o.status.success() && err.contains("two rows for the cell"),
            "{err}"
        );
        // the failed COPYs left the written grid as it was
        let still = gridsql_ok(&[
            "--format",
            "csv",
            &format!("w={}", out.display()),
            "-c",
            "SELECT count(*), count(sst) FROM w",
        ]);
        assert_eq!(
            still.lines().nth(1),
            Some("192240,131856"),
            "{ext}: {still}"
        );
    }
}

/// COPY to the S3-compatible server: a Zarr store and a NetCDF file in a
/// bucket, read back through S3 with the answers of the local copy.
#[test]
fn copy_to_s3_writes_grids_that_read_back() {
    let Some(data) = data_dir() else { return };
    let Some(moto) = crate::s3::Moto::start() else {
        return;
    };
    moto.upload(&[]);
    let envs = moto.envs();
    let table = format!("t={}", data.join("sst.mnmean.nc").display());
    for (target, stored) in [("clim.zarr", "ZARR"), ("clim.nc", "NETCDF")] {
        let url = format!("s3://{}/out/{target}", crate::s3::BUCKET);
        let o = crate::util::gridsql_env(
            &[
                &table,
                "-c",
                &format!(
                    "COPY ({CLIMATOLOGY}) TO '{url}' STORED AS {stored} OPTIONS ('dims' 'month,lat,lon')"
                ),
            ],
            &envs,
        );
        assert!(
            o.status.success(),
            "{url}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let back = crate::util::gridsql_env(
            &[
                "--format",
                "csv",
                &format!("w={url}"),
                "-c",
                "SELECT count(*), count(sst), min(month), max(month) FROM w",
            ],
            &envs,
        );
        let text = String::from_utf8_lossy(&back.stdout);
        assert_eq!(
            text.lines().nth(1),
            Some("192240,131856,1,12"),
            "{url}: {text}{}",
            String::from_utf8_lossy(&back.stderr)
        );
    }
}

/// A COPY whose result is larger than the memory limit completes within
/// it: the whole of sst.mnmean.nc (2 M rows, about 57 MB of keyed rows and
/// 10 MB of cells) under `--memory-limit 4M`. The sink holds what it keeps
/// under the session's memory pool, so without spilling the rows and writing
/// slab by slab this COPY fails with "Resources exhausted". Written as Zarr
/// (blosc) and NetCDF-4, both equal xarray's sst, and the Zarr store keeps
/// the source's chunking along time.
#[test]
fn a_copy_larger_than_the_memory_limit_completes_within_it() {
    let Some(data) = data_dir() else { return };
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let table = format!("t={}", data.join("sst.mnmean.nc").display());
    let mut problems = Vec::new();
    for (ext, stored, options, reader) in [
        ("zarr", "ZARR", "'compression' 'blosc'", "zarr"),
        ("nc", "NETCDF", "'compression' 'zstd'", "netcdf"),
    ] {
        let out = dir.path().join(format!("whole.{ext}"));
        let copy = format!(
            "COPY (SELECT time, lat, lon, sst FROM t) TO '{}' STORED AS {stored} OPTIONS ({options})",
            out.display()
        );
        // the limit is what the sink may hold: far below the result
        let o = gridsql(&["--memory-limit", "4M", &table, "-c", &copy]);
        assert!(
            o.status.success(),
            "{ext} under 4M: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let c = check(&py, &data, "whole", &out, reader);
        problems.extend(c.problems.iter().map(|p| format!("{ext}: {p}")));
    }
    // the source's chunk shape along the dimensions it has
    let source = gridsql_ok(&[&table, "--format", "csv", "-c", "DESCRIBE t"]);
    let sst_chunks = source
        .lines()
        .find(|l| l.starts_with("sst,"))
        .and_then(|l| l.split(',').find(|f| f.contains('x')))
        .map(|c| {
            c.split('x')
                .map(|n| n.parse::<u64>().unwrap_or(0))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let meta: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("whole.zarr/sst/zarr.json")).expect("zarr.json of sst"),
    )
    .expect("JSON");
    let written: Vec<u64> = meta["chunk_grid"]["configuration"]["chunk_shape"]
        .as_array()
        .map(|a| a.iter().filter_map(serde_json::Value::as_u64).collect())
        .unwrap_or_default();
    assert!(
        !sst_chunks.is_empty(),
        "DESCRIBE shows sst's chunks: {source}"
    );
    assert_eq!(written, sst_chunks, "the source's chunks");
    assert_eq!(meta["codecs"][1]["name"], "blosc", "{meta}");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A COPY killed while it writes leaves no store that looks complete: the
/// Zarr target has chunks but no root metadata, so xarray and gridsql
/// refuse to open it; the NetCDF target does not exist (the file was being
/// written under a temporary name).
#[test]
fn a_copy_killed_halfway_leaves_no_complete_looking_store() {
    let Some(data) = data_dir() else { return };
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let table = format!("t={}", data.join("sst.mnmean.nc").display());
    for (ext, stored) in [("zarr", "ZARR"), ("nc", "NETCDF")] {
        let out = dir.path().join(format!("killed.{ext}"));
        // one small chunk per latitude row and month: 11,392 puts, so the
        // write takes long enough to be caught in the middle
        let copy = format!(
            "COPY (SELECT time, lat, lon, sst FROM t) TO '{}' STORED AS {stored} OPTIONS ('chunks' '1,1,180', 'compression' 'none')",
            out.display()
        );
        let mut child = Command::new(env!("CARGO_BIN_EXE_gridsql"))
            .args([&table, "-c", &copy])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("gridsql starts");
        // kill it once it has started writing variable data
        let started = std::time::Instant::now();
        let writing = |ext: &str| -> bool {
            if ext == "zarr" {
                std::fs::read_dir(out.join("sst/c"))
                    .map(|mut d| d.next().is_some())
                    .unwrap_or(false)
            } else {
                std::fs::read_dir(dir.path())
                    .map(|d| {
                        d.filter_map(|e| e.ok()).any(|e| {
                            e.file_name()
                                .to_string_lossy()
                                .contains("killed.nc.partial")
                        })
                    })
                    .unwrap_or(false)
            }
        };
        while !writing(ext) {
            assert!(
                child.try_wait().expect("wait").is_none(),
                "{ext}: the COPY ended before it could be killed"
            );
            assert!(started.elapsed().as_secs() < 120, "{ext}: no write seen");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        child.kill().expect("kill");
        child.wait().expect("reaped");
        if ext == "zarr" {
            assert!(!out.join("zarr.json").exists(), "root metadata written");
            let o = Command::new(&py)
                .args(["-c", "import sys, xarray; xarray.open_zarr(sys.argv[1])"])
                .arg(&out)
                .output()
                .expect("python runs");
            assert!(!o.status.success(), "xarray opened the killed store");
        } else {
            assert!(!out.exists(), "the NetCDF target exists");
        }
        let o = gridsql(&[
            &format!("w={}", out.display()),
            "-c",
            "SELECT count(*) FROM w",
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            !o.status.success() && err.contains("killed"),
            "{ext}: {err}"
        );
        eprintln!(
            "[killed {ext}] after {:?}: {}",
            started.elapsed(),
            err.trim()
        );
    }
}
