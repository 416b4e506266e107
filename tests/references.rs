//! kerchunk references as Zarr stores (issue 20): references written by the
//! kerchunk Python package (`tests/xarray/kerchunk_refs.py`) over the NetCDF-4
//! and NetCDF-3 files of `../shared/data`, in JSON and in the Parquet layout,
//! and over a multi-file collection cut from one of them. Every SQL case of
//! the original file must give xarray's answer on the original, read
//! through the references; the same through the S3-compatible server.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::prelude::SessionConfig;
use gridsql_connectors::location::{Access, AllowedRoots};

use crate::s3::{BUCKET, Moto};
use crate::util::{assert_csv_close, data_dir, gridsql_env, gridsql_ok, python, repo};
use crate::xarray_parity::{Case, failure, reference_cases, run_case_in};

/// One set of references the script wrote.
#[derive(serde::Deserialize, Debug)]
pub(crate) struct RefSet {
    /// The original file (name in the data folder) whose answers apply.
    pub(crate) dataset: String,
    /// The reference document or Parquet folder.
    pub(crate) refs: String,
    /// `json-hdf5`, `json-netcdf3`, `parquet` or `multi-file`.
    pub(crate) kind: String,
}

#[derive(serde::Deserialize, Debug)]
pub(crate) struct Manifest {
    pub(crate) references: Vec<RefSet>,
    untranslatable: BTreeMap<String, String>,
}

/// Runs kerchunk_refs.py into `out`.
pub(crate) fn make_refs(data: &Path, out: &Path, url_prefix: Option<&str>) -> Option<Manifest> {
    let py = python()?;
    let mut cmd = Command::new(py);
    cmd.arg(repo().join("tests/xarray/kerchunk_refs.py"))
        .arg("--data")
        .arg(data)
        .arg("--out")
        .arg(out);
    if let Some(p) = url_prefix {
        cmd.arg("--url-prefix").arg(p);
    }
    let status = cmd.status().expect("kerchunk_refs.py runs");
    assert!(status.success(), "kerchunk_refs.py failed");
    let text = std::fs::read_to_string(out.join("manifest.json")).expect("manifest");
    Some(serde_json::from_str(&text).expect("manifest parses"))
}

impl Manifest {
    /// The references of `kind` made over `dataset`.
    pub(crate) fn find(&self, kind: &str, dataset: &str) -> String {
        self.references
            .iter()
            .find(|s| s.kind == kind && s.dataset == dataset)
            .map(|s| s.refs.clone())
            .unwrap_or_else(|| panic!("no {kind} references of {dataset}"))
    }
}

/// kerchunk references (in `dir/refs`) and an Icechunk repository (in
/// `dir/repo`) over the shared data, for the cluster and server tests.
pub(crate) fn virtual_fixtures(dir: &Path) -> Option<(PathBuf, Manifest)> {
    let data = data_dir()?;
    let refs = make_refs(&data, &dir.join("refs"), None)?;
    crate::icechunk::write_repo(dir)?;
    Some((data, refs))
}

fn file_name(path: &str) -> String {
    Path::new(path)
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kerchunk_references_give_xarrays_answers_on_the_originals() {
    let Some(data) = data_dir() else { return };
    let Some(cases) = reference_cases("nc") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let Some(manifest) = make_refs(&data, dir.path(), None) else {
        return;
    };
    eprintln!(
        "kerchunk could not translate: {:?}",
        manifest.untranslatable
    );
    let mut failures = Vec::new();
    let mut per_kind: BTreeMap<&str, usize> = BTreeMap::new();
    for set in &manifest.references {
        for case in cases.iter().filter(|c| file_name(&c.path) == set.dataset) {
            let through = Case {
                name: case.name.clone(),
                format: set.kind.clone(),
                path: set.refs.clone(),
                options: case.options.clone(),
                sql: case.sql.clone(),
                rows: case.rows.clone(),
                rtol: case.rtol,
            };
            let ctx = gridsql_engine::new_context(&gridsql_engine::SessionOptions::default())
                .expect("a session");
            failures.extend(failure(&through, run_case_in(&ctx, &through).await));
            *per_kind.entry(set.kind.as_str()).or_default() += 1;
        }
    }
    eprintln!("cases per kind of reference: {per_kind:?}");
    for (kind, least) in [
        ("json-hdf5", 60),
        ("json-netcdf3", 3),
        ("parquet", 4),
        ("multi-file", 4),
    ] {
        let n = per_kind.get(kind).copied().unwrap_or(0);
        assert!(
            n >= least,
            "{n} cases through {kind} references, expected at least {least}"
        );
    }
    assert!(
        failures.is_empty(),
        "{} cases through references differ from xarray on the originals:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Answers of `sql` on `location` as CSV, through the binary.
fn csv(location: &str, sql: &str, envs: &[(&str, &str)]) -> String {
    let out = gridsql_env(
        &["--format", "csv", &format!("t={location}"), "-c", sql],
        envs,
    );
    assert!(
        out.status.success(),
        "{location}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn kerchunk_references_through_s3() {
    let Some(data) = data_dir() else { return };
    let Some(moto) = Moto::start() else { return };
    let prefix = format!("s3://{BUCKET}/data/");
    let dir = tempfile::tempdir().expect("temp dir");
    let refs = dir.path().join("refs");
    let Some(manifest) = make_refs(&data, &refs, Some(&prefix)) else {
        return;
    };
    // the originals the checked queries read, the references and the
    // collection's files, at the keys the references name
    let originals = dir.path().join("data");
    std::fs::create_dir_all(&originals).expect("data folder");
    let queries: [(&str, &str, &str); 4] = [
        (
            "json-hdf5",
            "tcw.nc",
            "SELECT time, avg(tcw), count(tcw) FROM t GROUP BY time ORDER BY time",
        ),
        (
            "json-netcdf3",
            "A1B-99999a-river-sep-2070-2099.nc",
            "SELECT count(*), avg(temp_dmax_tmean_abs), max(temp_dmax_tmean_abs) FROM t",
        ),
        (
            "parquet",
            "sst.mnmean.nc",
            "SELECT avg(sst), count(sst) FROM t WHERE lat BETWEEN -10 AND 10 AND time < '1860-01-01'",
        ),
        (
            "multi-file",
            "dt_med_allsat_phy_l4_2005T2.nc",
            "SELECT time, avg(adt) FROM t GROUP BY time ORDER BY time",
        ),
    ];
    for (_, f, _) in &queries {
        std::fs::copy(data.join(f), originals.join(f)).expect("copy an original");
    }
    let split: PathBuf = refs.join("split");
    moto.upload(&[
        (originals.as_path(), "data"),
        (split.as_path(), "data/split"),
        (refs.as_path(), "refs"),
    ]);
    let envs = moto.envs();
    for (kind, f, sql) in queries {
        let remote = format!("s3://{BUCKET}/refs/{}", file_name(&manifest.find(kind, f)));
        let got = csv(&remote, sql, &envs);
        let want = gridsql_ok(&[
            "--format",
            "csv",
            &format!("t={}", data.join(f).display()),
            "-c",
            sql,
        ]);
        assert!(got.lines().count() > 1, "{kind}: no rows\n{got}");
        assert_csv_close(
            &format!("{kind} references over S3 vs the local original"),
            &got,
            &want,
        );
    }
}

/// Runs `SELECT ...` on a reference document through the binary; its stderr
/// when it fails.
fn failing(doc: &Path, sql: &str) -> String {
    let out = gridsql_env(&[&format!("t={}", doc.display()), "-c", sql], &[]);
    assert!(!out.status.success(), "{}: succeeded", doc.display());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn references_that_lead_outside_the_roots_or_nowhere_are_clear_errors() {
    let Some(data) = data_dir() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let doc = |name: &str, url: &str| -> PathBuf {
        let p = dir.path().join(name);
        let refs = serde_json::json!({
            "version": 1,
            "refs": {
                ".zgroup": "{\"zarr_format\":2}",
                "v/.zarray": "{\"shape\":[10],\"chunks\":[10],\"dtype\":\"<f4\",\"fill_value\":null,\"order\":\"C\",\"filters\":null,\"compressor\":null,\"zarr_format\":2}",
                "v/.zattrs": "{\"_ARRAY_DIMENSIONS\":[\"x\"]}",
                "v/0": [url, 0, 40]
            }
        });
        std::fs::write(&p, refs.to_string()).expect("write refs");
        p
    };
    // a missing referenced file: the error names it
    let err = failing(
        &doc("missing.json", "/nonexistent/gridsql/file.nc"),
        "SELECT sum(v) FROM t",
    );
    assert!(err.contains("file.nc"), "{err}");
    // a file shorter than the reference: named, as truncated
    let short = dir.path().join("short.bin");
    std::fs::write(&short, [0u8; 16]).expect("write");
    let err = failing(
        &doc("short.json", &short.display().to_string()),
        "SELECT sum(v) FROM t",
    );
    assert!(
        err.contains("short.bin") && err.contains("ends before"),
        "{err}"
    );
    // JSON that is not a reference document
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"version\": 9}").expect("write");
    let err = failing(&bad, "SELECT 1");
    assert!(err.contains("not a kerchunk reference document"), "{err}");
    // with allowed roots, a document inside them that references a file
    // outside them is refused when it is opened, before any chunk is read
    let outside = doc("outside.json", &data.join("tcw.nc").display().to_string());
    let roots = AllowedRoots::new(&[format!("{}/", dir.path().display())], &[]).expect("roots");
    let config = SessionConfig::new().with_extension(Arc::new(roots));
    let access = Access::new(Arc::new(RuntimeEnv::default()), &config);
    let location = access
        .locate(&outside.display().to_string())
        .expect("the document itself is inside the roots");
    let refused = gridsql_connectors::references::zarr_store(&access, &location)
        .await
        .expect_err("a reference out of the roots is refused");
    let message = refused.to_string();
    assert!(message.contains("tcw.nc"), "{message}");
    assert!(
        matches!(refused, gridsql_connectors::ConnectorError::Refused { .. }),
        "{message}"
    );
    // and the same document opens without roots
    let free = Access::unrestricted(Arc::new(RuntimeEnv::default()));
    assert!(
        gridsql_connectors::references::zarr_store(&free, &location)
            .await
            .is_ok()
    );
}
