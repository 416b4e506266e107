//! NetCDF beyond the shared files: groups and a julian calendar, NetCDF-3
//! classic and CDF-5, one file per day as a glob and as a folder (checked
//! against the single file and against `open_mfdataset`), files that
//! disagree, truncated files, lazy opening of collections, and NetCDF-4
//! storage read by the Rust chunk decoder (shuffle, deflate, fletcher32,
//! big-endian, partial and never-written chunks, contiguous) or handed back
//! to libnetcdf (szip). Fixtures and answers come from
//! `tests/xarray/netcdf_fixtures.py`, run at test time.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use gridsql_connectors::netcdf::chunk_index::{IndexError, StoredChunk, read_layout};
use gridsql_connectors::netcdf::filters::Filter;

use crate::util::{cells_match, data_dir, python, repo, rows_json};

#[derive(serde::Deserialize, Debug)]
pub(crate) struct Answer {
    name: String,
    location: String,
    options: BTreeMap<String, String>,
    sql: String,
    rows: Vec<Vec<serde_json::Value>>,
    rtol: f64,
}

/// Writes the fixtures into `dir` and returns xarray's answers on them.
pub(crate) fn fixtures(dir: &Path) -> Option<Vec<Answer>> {
    let data = data_dir()?;
    let py = python()?;
    let status = Command::new(py)
        .args(["-W", "ignore"])
        .arg(repo().join("tests/xarray/netcdf_fixtures.py"))
        .arg("--data")
        .arg(&data)
        .arg("--out")
        .arg(dir)
        .status()
        .expect("netcdf_fixtures.py runs");
    assert!(status.success(), "netcdf_fixtures.py failed");
    let text = std::fs::read_to_string(dir.join("answers.json")).expect("answers.json");
    Some(serde_json::from_str(&text).expect("answers parse"))
}

async fn query(
    location: &str,
    options: BTreeMap<String, String>,
    sql: &str,
) -> Result<Vec<Vec<serde_json::Value>>, String> {
    let ctx = gridsql_engine::new_context(&gridsql_engine::SessionOptions::default())
        .map_err(|e| e.to_string())?;
    gridsql_engine::register_dataset(&ctx, "t", location, None, options)
        .await
        .map_err(|e| format!("open: {e}"))?;
    let df = ctx.sql(sql).await.map_err(|e| format!("plan: {e}"))?;
    let batches = df.collect().await.map_err(|e| format!("run: {e}"))?;
    Ok(rows_json(&batches))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn netcdf_fixtures_match_xarray() {
    let dir = tempfile::tempdir().expect("temp dir");
    let Some(answers) = fixtures(dir.path()) else {
        return;
    };
    assert!(answers.len() >= 15, "only {} answers", answers.len());
    for kind in [
        "grid_",
        "grid_daily_",
        "tcw_classic",
        "tcw_cdf5",
        "daily_glob",
        "daily_dir",
        "storage_shuf_be",
        "storage_packed",
        "storage_sparse",
        "storage_szipped",
        "contiguous_c",
        "contiguous_u",
    ] {
        assert!(
            answers.iter().any(|a| a.name.starts_with(kind)),
            "no {kind} answers"
        );
    }
    let mut failures = Vec::new();
    for a in &answers {
        match query(&a.location, a.options.clone(), &a.sql).await {
            Ok(rows) => {
                let same = rows.len() == a.rows.len()
                    && rows.iter().zip(&a.rows).all(|(g, e)| {
                        g.len() == e.len()
                            && g.iter().zip(e).all(|(x, y)| cells_match(x, y, a.rtol))
                    });
                if !same {
                    failures.push(format!(
                        "{}: gridsql {rows:?}\n    xarray {:?}\n    SQL: {}",
                        a.name, a.rows, a.sql
                    ));
                }
            }
            Err(e) => failures.push(format!("{}: {e}\n    SQL: {}", a.name, a.sql)),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} answers differ from xarray:\n{}",
        failures.len(),
        answers.len(),
        failures.join("\n")
    );

    // The glob table gives exactly the single file's answers.
    let single = data_dir()
        .expect("data dir")
        .join("dt_med_allsat_phy_l4_2005T2.nc");
    let glob = dir.path().join("daily/adt_*.nc");
    for sql in [
        "SELECT time, avg(adt), count(adt), min(adt), max(adt) FROM t GROUP BY time ORDER BY time",
        "SELECT latitude, longitude, avg(adt) FROM t WHERE time BETWEEN TIMESTAMP '2005-04-20' \
         AND TIMESTAMP '2005-05-03' AND latitude > 40 GROUP BY latitude, longitude \
         ORDER BY latitude, longitude",
        "SELECT * FROM t WHERE adt IS NOT NULL ORDER BY time, latitude, longitude LIMIT 50",
    ] {
        let a = query(single.to_str().expect("utf-8"), BTreeMap::new(), sql)
            .await
            .expect("single file");
        let b = query(glob.to_str().expect("utf-8"), BTreeMap::new(), sql)
            .await
            .expect("glob");
        assert!(!a.is_empty(), "no rows for {sql}");
        assert_eq!(a.len(), b.len(), "row counts differ for {sql}");
        // Sums may add in another order across partitions: equal to 1e-12.
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            assert!(
                x.len() == y.len() && x.iter().zip(y).all(|(p, q)| cells_match(p, q, 1e-12)),
                "row {i} differs for {sql}: single {x:?}, glob {y:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn netcdf_collections_fail_clearly() {
    let dir = tempfile::tempdir().expect("temp dir");
    if fixtures(dir.path()).is_none() {
        return;
    }
    let d = dir.path();
    let loc = |p: &str| d.join(p).to_string_lossy().into_owned();

    // Files that disagree on a dimension: the error names both files and
    // the dimension.
    let e = query(
        &loc("mismatch/*.nc"),
        BTreeMap::new(),
        "SELECT count(*) FROM t",
    )
    .await
    .expect_err("mismatched files must fail");
    assert!(
        e.contains("b.nc") && e.contains("a.nc") && e.contains("'lat'"),
        "unclear error: {e}"
    );

    // Nothing matches.
    let e = query(&loc("daily/nothing_*.nc"), BTreeMap::new(), "SELECT 1")
        .await
        .expect_err("empty glob must fail");
    assert!(e.contains("no NetCDF files match"), "unclear error: {e}");

    // A collection opens from its first file: a broken later file does not
    // stop DESCRIBE-like work, only a scan, and the scan names the file.
    let lazy = d.join("lazy");
    std::fs::create_dir(&lazy).expect("mkdir");
    for day in ["20050401", "20050402", "20050403"] {
        std::fs::copy(
            d.join(format!("daily/adt_{day}.nc")),
            lazy.join(format!("adt_{day}.nc")),
        )
        .expect("copy");
    }
    let bad = lazy.join("adt_20050403.nc");
    let bytes = std::fs::read(&bad).expect("read");
    std::fs::write(&bad, &bytes[..bytes.len() / 2]).expect("truncate");
    let rows = query(
        &lazy.to_string_lossy(),
        BTreeMap::new(),
        "SELECT column_name FROM information_schema.columns WHERE table_name = 't' ORDER BY ordinal_position",
    )
    .await
    .expect("schema without reading every header");
    assert_eq!(rows.len(), 4, "{rows:?}");
    let e = query(
        &lazy.to_string_lossy(),
        BTreeMap::new(),
        "SELECT avg(adt) FROM t",
    )
    .await
    .expect_err("truncated file must fail the scan");
    assert!(
        e.contains("adt_20050403.nc"),
        "error does not name the file: {e}"
    );

    // A truncated single file: a clean error naming it, no panic.
    let e = query(
        bad.to_str().expect("utf-8"),
        BTreeMap::new(),
        "SELECT avg(adt) FROM t",
    )
    .await
    .expect_err("truncated file must fail");
    assert!(
        e.contains("adt_20050403.nc"),
        "error does not name the file: {e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_netcdf_files_fail_clearly() {
    let Some(data) = data_dir() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    // Damaged compressed chunks: the scan fails naming the variable and the
    // region, no panic, and the process answers the next query.
    let src = std::fs::read(data.join("dt_med_allsat_phy_l4_2005T2.nc")).expect("read");
    let mut bytes = src.clone();
    let n = bytes.len();
    for off in (n / 2..n / 2 + 4000).step_by(97) {
        bytes[off..off + 3].copy_from_slice(&[0xff, 0x00, 0x13]);
    }
    let chunks = dir.path().join("chunks.nc");
    std::fs::write(&chunks, &bytes).expect("write");
    let e = query(
        chunks.to_str().expect("utf-8"),
        BTreeMap::new(),
        "SELECT avg(adt) FROM t",
    )
    .await
    .expect_err("damaged chunks must fail");
    assert!(
        e.contains("chunks.nc") && e.contains("variable 'adt'") && e.contains("chunk ["),
        "unclear error: {e}"
    );
    // Damaged header: opening fails naming the file.
    let mut bytes = std::fs::read(data.join("sst.mnmean.nc")).expect("read");
    bytes[3000..3200].fill(0xff);
    let header = dir.path().join("header.nc");
    std::fs::write(&header, &bytes).expect("write");
    let e = query(
        header.to_str().expect("utf-8"),
        BTreeMap::new(),
        "SELECT avg(sst) FROM t",
    )
    .await
    .expect_err("damaged header must fail");
    assert!(
        e.contains("header.nc") && e.contains("NetCDF"),
        "unclear error: {e}"
    );
    // Not NetCDF at all.
    let text = dir.path().join("notes.nc");
    std::fs::write(&text, "just text").expect("write");
    let e = query(
        text.to_str().expect("utf-8"),
        BTreeMap::new(),
        "SELECT 1 FROM t",
    )
    .await
    .expect_err("a text file must fail");
    assert!(e.contains("notes.nc"), "unclear error: {e}");
    // The engine still answers.
    let ok = query(
        data.join("tcw.nc").to_str().expect("utf-8"),
        BTreeMap::new(),
        "SELECT count(tcw) FROM t",
    )
    .await
    .expect("a good file after bad ones");
    assert_eq!(ok, vec![vec![serde_json::json!(325872)]]);
}

/// The first stored chunk of `variable` in `path` at chunk grid position
/// `pos`, from the HDF5 chunk index.
fn stored_chunk(path: &Path, variable: &str, pos: &[u64]) -> StoredChunk {
    let layout = read_layout(path, "", variable, pos.len()).expect("chunk index");
    let grid = layout.grid();
    let linear = pos.iter().zip(&grid).fold(0, |acc, (p, g)| acc * g + p);
    layout.chunks[linear as usize].expect("a stored chunk")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn netcdf4_chunk_index_describes_storage() {
    let dir = tempfile::tempdir().expect("temp dir");
    if fixtures(dir.path()).is_none() {
        return;
    }
    let storage = dir.path().join("storage.nc");
    let l = read_layout(&storage, "", "shuf_be", 3).expect("shuf_be index");
    assert_eq!(
        (l.shape.clone(), l.chunk.clone()),
        (vec![10, 9, 13], vec![4, 4, 5])
    );
    assert!(l.big_endian && l.elem_size == 4 && !l.contiguous);
    assert_eq!(
        l.filters,
        vec![Filter::Fletcher32, Filter::Shuffle(4), Filter::Deflate]
    );
    assert_eq!(l.fill, (-9999f32).to_be_bytes().to_vec());
    assert_eq!(l.chunks.len(), 3 * 3 * 3);
    assert!(l.chunks.iter().all(Option::is_some), "every chunk written");
    // Two chunks of `sparse` were written, the others never were; its HDF5
    // extent stops at the last written step (8) while `time` grew to 10.
    let l = read_layout(&storage, "", "sparse", 3).expect("sparse index");
    assert_eq!(l.shape, vec![8, 9, 13]);
    assert_eq!(l.chunks.len(), 4 * 2 * 3);
    assert_eq!(l.chunks.iter().filter(|c| c.is_some()).count(), 2);
    assert!(l.chunks[0].is_some() && l.chunks[3 * 6 + 3 + 2].is_some());
    assert_eq!(l.fill, (-1.5f64).to_le_bytes().to_vec());
    // szip is left to libnetcdf.
    match read_layout(&storage, "", "szipped", 3) {
        Err(IndexError::Unsupported(why)) => assert!(why.contains("filter 4"), "{why}"),
        other => panic!("szip must be unsupported, got {other:?}"),
    }
    let l = read_layout(&dir.path().join("contiguous.nc"), "", "c", 3).expect("contiguous");
    assert!(l.contiguous && l.big_endian && l.filters.is_empty());
    assert_eq!(l.chunks.len(), 1);
    // Groups: the variable is found under its group's path.
    let l = read_layout(
        &dir.path().join("groups_julian.nc"),
        "Grid/Daily",
        "temp",
        3,
    )
    .expect("group index");
    assert_eq!(l.chunk, vec![7, 4, 5]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_netcdf4_chunks_name_file_variable_and_chunk() {
    let dir = tempfile::tempdir().expect("temp dir");
    if fixtures(dir.path()).is_none() {
        return;
    }
    let storage = dir.path().join("storage.nc");
    let bytes = std::fs::read(&storage).expect("read");
    let damage = |name: &str, variable: &str, pos: &[u64]| {
        let c = stored_chunk(&storage, variable, pos);
        let mut b = bytes.clone();
        let (start, len) = (c.offset as usize, c.size as usize);
        // Keep the zlib header, break the stream after it.
        for x in &mut b[start + 2..start + len.min(40)] {
            *x ^= 0x5a;
        }
        let path = dir.path().join(name);
        std::fs::write(&path, &b).expect("write");
        path
    };
    // A bad deflate stream in chunk [1, 0, 0] of shuf_be.
    let bad = damage("bad_deflate.nc", "shuf_be", &[1, 0, 0]);
    let e = query(
        bad.to_str().expect("utf-8"),
        BTreeMap::new(),
        "SELECT avg(shuf_be) FROM t",
    )
    .await
    .expect_err("a damaged chunk must fail");
    assert!(
        e.contains("bad_deflate.nc")
            && e.contains("variable 'shuf_be'")
            && e.contains("chunk [1, 0, 0]")
            && e.contains("deflate"),
        "unclear error: {e}"
    );
    // The other variables of the same file still read.
    let ok = query(
        bad.to_str().expect("utf-8"),
        BTreeMap::from([("variables".to_string(), "packed".to_string())]),
        "SELECT count(packed) FROM t",
    )
    .await
    .expect("an undamaged variable");
    assert_eq!(ok, vec![vec![serde_json::json!(1161)]]);
    // Uncompressed data that fails its fletcher32 checksum.
    let bad = damage("bad_checksum.nc", "packed", &[2, 0, 0]);
    let e = query(
        bad.to_str().expect("utf-8"),
        BTreeMap::from([("variables".to_string(), "packed".to_string())]),
        "SELECT sum(packed) FROM t",
    )
    .await
    .expect_err("a checksum mismatch must fail");
    assert!(
        e.contains("bad_checksum.nc")
            && e.contains("variable 'packed'")
            && e.contains("chunk [2, 0, 0]")
            && e.contains("fletcher32 checksum mismatch"),
        "unclear error: {e}"
    );
}
