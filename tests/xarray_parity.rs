//! Every Zarr store under `../shared/data`, queried in SQL, against xarray's
//! answers on the same store (computed by `tests/xarray/reference.py`).

use std::collections::BTreeMap;
use std::process::Command;

use crate::util::{cells_match, data_dir, python, repo, rows_json};

/// One query on one dataset with xarray's answer.
#[derive(serde::Deserialize, Debug)]
pub(crate) struct Case {
    pub(crate) name: String,
    pub(crate) format: String,
    pub(crate) path: String,
    #[serde(default)]
    pub(crate) options: BTreeMap<String, String>,
    pub(crate) sql: String,
    pub(crate) rows: Vec<Vec<serde_json::Value>>,
    #[serde(default = "default_rtol")]
    pub(crate) rtol: f64,
}

fn default_rtol() -> f64 {
    1e-9
}

/// Runs reference.py for `formats` and returns its cases.
pub(crate) fn reference_cases(formats: &str) -> Option<Vec<Case>> {
    let data = data_dir()?;
    let py = python()?;
    let out = tempfile::NamedTempFile::new().expect("temp file");
    let status = Command::new(py)
        .arg(repo().join("tests/xarray/reference.py"))
        .arg("--data")
        .arg(&data)
        .arg("--out")
        .arg(out.path())
        .arg("--formats")
        .arg(formats)
        .status()
        .expect("reference.py runs");
    assert!(status.success(), "reference.py failed");
    let text = std::fs::read_to_string(out.path()).expect("reference output");
    Some(serde_json::from_str(&text).expect("reference JSON parses"))
}

async fn run_case(case: &Case) -> Result<Vec<Vec<serde_json::Value>>, String> {
    let ctx = gridsql_engine::new_context(&gridsql_engine::SessionOptions::default())
        .map_err(|e| e.to_string())?;
    run_case_in(&ctx, case).await
}

/// Runs `case` in `ctx` (a local or a cluster session), its dataset as table `t`.
pub(crate) async fn run_case_in(
    ctx: &datafusion::prelude::SessionContext,
    case: &Case,
) -> Result<Vec<Vec<serde_json::Value>>, String> {
    gridsql_engine::register_dataset(ctx, "t", &case.path, None, case.options.clone())
        .await
        .map_err(|e| format!("open: {e}"))?;
    let df = ctx.sql(&case.sql).await.map_err(|e| format!("plan: {e}"))?;
    let batches = df.collect().await.map_err(|e| format!("run: {e}"))?;
    Ok(rows_json(&batches))
}

pub(crate) fn compare(case: &Case, got: &[Vec<serde_json::Value>]) -> Result<(), String> {
    if got.len() != case.rows.len() {
        return Err(format!(
            "{} rows, xarray has {}",
            got.len(),
            case.rows.len()
        ));
    }
    for (i, (g, e)) in got.iter().zip(&case.rows).enumerate() {
        if g.len() != e.len() || !g.iter().zip(e).all(|(a, b)| cells_match(a, b, case.rtol)) {
            return Err(format!("row {i}: gridsql {g:?} != xarray {e:?}"));
        }
    }
    Ok(())
}

/// How `case` failed, given what the run gave: a line naming the case and
/// its SQL, or `None` when the rows match xarray's.
pub(crate) fn failure(
    case: &Case,
    run: Result<Vec<Vec<serde_json::Value>>, String>,
) -> Option<String> {
    let e = run.and_then(|rows| compare(case, &rows)).err()?;
    Some(format!(
        "{} [{}]: {e}\n    SQL: {}",
        case.name, case.format, case.sql
    ))
}

/// Runs every case of `formats` and asserts that all match xarray; there
/// must be at least `per_format` cases of each format.
async fn check_formats(formats: &str, per_format: usize) {
    let Some(cases) = reference_cases(formats) else {
        return;
    };
    let n_formats = formats.split(',').count();
    assert!(
        cases.len() >= per_format * n_formats,
        "expected at least {} reference cases for {formats}, got {}",
        per_format * n_formats,
        cases.len()
    );
    let mut failures = Vec::new();
    for case in &cases {
        failures.extend(failure(case, run_case(case).await));
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from xarray:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    eprintln!("{} cases on {formats} match xarray", cases.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zarr_stores_match_xarray() {
    check_formats("v2,v3", 40).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn netcdf_files_match_xarray() {
    check_formats("nc", 40).await;
}

/// The GRIB originals of the cfgrib conversions, against xarray + cfgrib
/// reading the GRIB file itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grib_files_match_xarray() {
    check_formats("grib", 15).await;
}
