//! Aggregates computed inside the grid scan (`GridAggregateExec`) against
//! the ordinary hash-aggregate plan on the same data: NULL cells, partial
//! chunks (the last time chunk of the sea-level file holds 11 of 20 days),
//! filters that cut through chunks, every supported aggregate and GROUP BY
//! form. Both plans also meet xarray through tests/xarray_parity.rs, which
//! runs with the rule on.

use std::collections::BTreeMap;
use std::ffi::OsStr;

use crate::util::{cells_match, data_dir, python, python_ok, rows_json};

async fn run(
    location: &str,
    sql: &str,
    grid_aggregate: bool,
) -> (Vec<Vec<serde_json::Value>>, String) {
    run_with(location, sql, grid_aggregate, false).await
}

/// Runs `sql` with the rule on or off; `distributed` plans as a cluster's
/// scheduler does (a grid aggregate per scan partition: final values, or
/// dense partial states and their merge), run here in one process.
async fn run_with(
    location: &str,
    sql: &str,
    grid_aggregate: bool,
    distributed: bool,
) -> (Vec<Vec<serde_json::Value>>, String) {
    run_in(location, sql, grid_aggregate, distributed, 3).await
}

/// [`run_with`] with `partitions` scan partitions.
async fn run_in(
    location: &str,
    sql: &str,
    grid_aggregate: bool,
    distributed: bool,
    partitions: usize,
) -> (Vec<Vec<serde_json::Value>>, String) {
    let opts = gridsql_engine::SessionOptions {
        grid_aggregate,
        distributed,
        target_partitions: partitions,
        ..Default::default()
    };
    let ctx = gridsql_engine::new_context(&opts).expect("context");
    gridsql_engine::register_dataset(&ctx, "t", location, None, BTreeMap::new())
        .await
        .expect("open");
    let df = ctx.sql(sql).await.expect("plan");
    let plan = df
        .clone()
        .create_physical_plan()
        .await
        .expect("physical plan");
    let text = datafusion::physical_plan::displayable(plan.as_ref())
        .indent(false)
        .to_string();
    let batches = df.collect().await.expect("run");
    (rows_json(&batches), text)
}

/// (dataset file, SQL, whether the rule must take it).
const CASES: &[(&str, &str, bool)] = &[
    (
        "dt_med_allsat_phy_l4_2005T2.nc.v2.zarr",
        "SELECT time, avg(adt) AS m, count(adt), count(*), min(adt), max(adt), sum(adt) \
         FROM t GROUP BY time ORDER BY time",
        true,
    ),
    (
        "dt_med_allsat_phy_l4_2005T2.nc.v3.zarr",
        "SELECT latitude, longitude, avg(adt) AS m, count(adt) FROM t \
         GROUP BY latitude, longitude ORDER BY latitude, longitude",
        true,
    ),
    (
        "dt_med_allsat_phy_l4_2005T2.nc",
        "SELECT date_part('month', time) AS mo, latitude, longitude, avg(adt) AS m FROM t \
         WHERE time > TIMESTAMP '2005-04-17' AND latitude BETWEEN 35.3 AND 41.1 \
         GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        true,
    ),
    (
        "dt_med_allsat_phy_l4_2005T2.nc.v2.zarr",
        "SELECT time, sum(adt * cos(radians(latitude))) / \
         sum(CASE WHEN adt IS NOT NULL THEN cos(radians(latitude)) END) AS m \
         FROM t WHERE longitude < 12.3 GROUP BY time ORDER BY time",
        true,
    ),
    (
        "dt_med_allsat_phy_l4_2005T2.nc.v2.zarr",
        "SELECT avg(adt) AS m, count(*) FROM t WHERE time IN (TIMESTAMP '2005-04-03', \
         TIMESTAMP '2005-06-30') AND longitude BETWEEN 20 AND 30",
        true,
    ),
    (
        "sst.mnmean.nc.v3.zarr",
        "SELECT season(time) AS s, avg(sst) AS m, min(sst), max(sst) FROM t \
         GROUP BY season(time) ORDER BY s",
        true,
    ),
    (
        "sst.mnmean.nc",
        "SELECT date_part('year', time) AS y, date_part('month', time) AS mo, avg(sst) AS m \
         FROM t WHERE lat > 60 GROUP BY 1, 2 ORDER BY 1, 2",
        true,
    ),
    (
        "eraint_uvz.nc",
        "SELECT month, level, avg(z) AS m, min(u), max(v) FROM t \
         GROUP BY month, level ORDER BY month, level",
        true,
    ),
    (
        "tcw.nc.v2.zarr",
        "SELECT date_trunc('week', time) AS w, avg(tcw) AS m FROM t GROUP BY 1 ORDER BY 1",
        true,
    ),
    // No GROUP BY over no cells: one row (count 0, avg NULL).
    (
        "dt_med_allsat_phy_l4_2005T2.nc.v2.zarr",
        "SELECT count(adt) AS c, avg(adt) AS m, min(adt) FROM t \
         WHERE time < TIMESTAMP '2000-01-01'",
        true,
    ),
    // var/stddev: rows reduced per group (by latitude) and cells added one
    // by one (per cell), through partial chunks and a box cutting chunks.
    (
        "sst.mnmean.nc.v2.zarr",
        "SELECT lat, stddev_pop(sst) AS m, stddev(sst), var_pop(sst), var_samp(sst) \
         FROM t GROUP BY lat ORDER BY lat",
        true,
    ),
    (
        "dt_med_allsat_phy_l4_2005T2.nc.v2.zarr",
        "SELECT latitude, longitude, var_pop(adt) AS m, stddev_samp(adt), count(adt) FROM t \
         WHERE time >= TIMESTAMP '2005-04-15' AND latitude BETWEEN 36.1 AND 39.9 \
         GROUP BY latitude, longitude ORDER BY latitude, longitude",
        true,
    ),
    // One cell per group: the sample forms are NULL over one value, var_pop 0.
    (
        "eraint_uvz.nc.v3.zarr",
        "SELECT month, level, latitude, longitude, var_samp(u) AS m, var_pop(u), stddev(z) \
         FROM t WHERE latitude BETWEEN 30 AND 40 GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4",
        true,
    ),
    (
        "eraint_uvz.nc",
        "SELECT month, stddev_pop(u) AS m, var(v) FROM t WHERE latitude > 10.5 \
         GROUP BY month ORDER BY month",
        true,
    ),
    // weighted_avg with the weight on an outer dimension (per row) and on
    // the innermost one (per cell), packed and float variables.
    (
        "dt_med_allsat_phy_l4_2005T2.nc.v2.zarr",
        "SELECT time, weighted_avg(adt, cos(radians(latitude))) AS m, \
         weighted_avg(adt, longitude + 10.0) FROM t \
         WHERE longitude BETWEEN 5.1 AND 20.7 GROUP BY time ORDER BY time",
        true,
    ),
    (
        "sst.mnmean.nc",
        "SELECT lat, weighted_avg(sst, lon + 1.0) AS m FROM t \
         WHERE time < TIMESTAMP '2011-06-01' GROUP BY lat ORDER BY lat",
        true,
    ),
    (
        "tcw.nc.v2.zarr",
        "SELECT date_part('month', time) AS mo, weighted_avg(tcw, lat_weight(latitude)) AS m \
         FROM t GROUP BY 1 ORDER BY 1",
        true,
    ),
    // Not taken: a filter on a variable, a weight that is a variable, and
    // a moment of an expression; same answers regardless.
    (
        "tcw.nc",
        "SELECT time, avg(tcw) AS m FROM t WHERE tcw > 20 GROUP BY time ORDER BY time",
        false,
    ),
    (
        "dt_med_allsat_phy_l4_2005T2.nc.v2.zarr",
        "SELECT time, weighted_avg(adt, adt) AS m FROM t GROUP BY time ORDER BY time",
        false,
    ),
    (
        "sst.mnmean.nc.v2.zarr",
        "SELECT lat, stddev_pop(sst * 2) AS m FROM t GROUP BY lat ORDER BY lat",
        false,
    ),
];

fn same_rows(a: &[Vec<serde_json::Value>], b: &[Vec<serde_json::Value>]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| cells_match(p, q, 1e-12))
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grid_aggregate_equals_hash_aggregate() {
    let Some(data) = data_dir() else { return };
    let mut failures = Vec::new();
    let mut modes = std::collections::BTreeSet::new();
    for (file, sql, pushed) in CASES {
        let loc = data.join(file);
        let loc = loc.to_str().expect("utf-8");
        let (a, plan_a) = run(loc, sql, true).await;
        let (b, plan_b) = run(loc, sql, false).await;
        let (c, plan_c) = run_with(loc, sql, true, true).await;
        assert!(!plan_b.contains("GridAggregateExec"), "rule off: {plan_b}");
        // Pushed aggregates are cut into one grid aggregate per scan
        // partition in the distributed plan, with no DataFusion aggregate
        // left above them.
        if *pushed {
            let df_aggregate = plan_c
                .lines()
                .any(|l| l.trim_start().starts_with("AggregateExec:"));
            assert!(
                plan_c.contains("GridAggregateExec") && !df_aggregate,
                "distributed: {plan_c}"
            );
            for mode in ["per_partition", "dense", "merge", "whole"] {
                if plan_c.contains(&format!("GridAggregateExec: mode={mode} ")) {
                    modes.insert(mode);
                }
            }
        }
        if !same_rows(&c, &b) {
            failures.push(format!(
                "{file}: distributed plan differs: {sql}\n{plan_c}\n{c:?}\nvs\n{b:?}"
            ));
        }
        if plan_a.contains("GridAggregateExec") != *pushed {
            failures.push(format!(
                "{file}: pushed={} expected {pushed}\n{plan_a}",
                !pushed
            ));
            continue;
        }
        assert!(!a.is_empty(), "{file}: no rows for {sql}");
        if !same_rows(&a, &b) {
            let first = a
                .iter()
                .zip(&b)
                .position(|(x, y)| x != y)
                .unwrap_or(a.len().min(b.len()));
            failures.push(format!(
                "{file}: {sql}\n  {} vs {} rows; first difference at row {first}: {:?} vs {:?}",
                a.len(),
                b.len(),
                a.get(first),
                b.get(first)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Both ways of cutting an aggregate into tasks were exercised: groups
    // owned by one partition (GROUP BY time over a scan split by time) and
    // dense states merged by index (GROUP BY lat, or month).
    for mode in ["per_partition", "dense", "merge"] {
        assert!(
            modes.contains(mode),
            "no distributed plan used mode={mode}: {modes:?}"
        );
    }
}

/// On a cluster, a per-cell statistic or a monthly climatology per cell is
/// cut into tasks that own their groups (no exchange, no merge) where that
/// is cheap: at chunk or class boundaries, or through blosc chunks read
/// block by block; a zlib chunk is never inflated by two tasks, so there
/// the dense merge stays. Every plan's answer equals the hash aggregate's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_tasks_own_their_groups_where_the_cut_is_cheap() {
    let Some(data) = data_dir() else { return };
    let per_cell = "SELECT latitude, longitude, avg(adt) AS m, stddev(adt), count(adt) FROM t \
                    GROUP BY latitude, longitude ORDER BY latitude, longitude";
    let climatology = "SELECT date_part('month', time) AS mo, lat, lon, avg(sst) AS m FROM t \
                       GROUP BY 1, 2, 3 ORDER BY 1, 2, 3";
    // (file, SQL, scan partitions, the plan's grid aggregate)
    let cases = [
        // chunks of 64 of 128 latitudes: two tasks cut at the chunk boundary
        (
            "dt_med_allsat_phy_l4_2005T2.nc",
            per_cell,
            2,
            "mode=per_partition along=latitude ",
        ),
        // three tasks would inflate zlib chunks twice: merged instead
        ("dt_med_allsat_phy_l4_2005T2.nc", per_cell, 3, "mode=merge "),
        // one month per chunk: months to tasks, no chunk cut
        (
            "sst.mnmean.nc.v2.zarr",
            climatology,
            3,
            "mode=per_partition along=time ",
        ),
    ];
    for (file, sql, partitions, want) in cases {
        let loc = data.join(file);
        let loc = loc.to_str().expect("utf-8");
        let (cut, plan) = run_in(loc, sql, true, true, partitions).await;
        let (hash, _) = run_in(loc, sql, false, false, partitions).await;
        assert!(
            plan.contains(&format!("GridAggregateExec: {want}")),
            "{file} in {partitions} partitions: {plan}"
        );
        assert!(
            !plan.contains("mode=dense") || want.contains("merge"),
            "{plan}"
        );
        assert!(!cut.is_empty(), "{file}: no rows");
        assert!(
            same_rows(&cut, &hash),
            "{file} in {partitions} partitions: {} vs {} rows\n{plan}",
            cut.len(),
            hash.len()
        );
    }
}

/// Through blosc chunks read block by block, two tasks cut every chunk
/// along latitude when each piece is a long run (128 x 512 cells here): a
/// store written by xarray at test time, as large as the test needs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_tasks_cut_blosc_chunks_along_a_grouped_dimension() {
    let Some(py) = python() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("cells.zarr");
    let script = r#"
import sys, numpy as np, numcodecs, xarray as xr
rng = np.random.default_rng(7)
v = rng.normal(size=(10, 256, 512)).astype("float32")
v[:, :20, :] = np.nan
ds = xr.Dataset({"v": (("time", "lat", "lon"), v)},
                coords={"time": np.arange(10), "lat": np.linspace(-60, 60, 256), "lon": np.arange(512.0)})
blosc = numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE)
ds.to_zarr(sys.argv[1], zarr_format=2, consolidated=True,
           encoding={"v": {"chunks": (5, 256, 512), "compressors": (blosc,)}})
"#;
    python_ok(
        &py,
        [OsStr::new("-c"), OsStr::new(script), store.as_os_str()],
        "xarray writing the store",
    );
    let loc = store.to_str().expect("utf-8");
    let sql = "SELECT lat, lon, avg(v) AS m, var_pop(v), count(v) FROM t \
               GROUP BY lat, lon ORDER BY lat, lon";
    let (cut, plan) = run_in(loc, sql, true, true, 2).await;
    let (hash, _) = run_in(loc, sql, false, false, 2).await;
    assert!(
        plan.contains("GridAggregateExec: mode=per_partition along=lat "),
        "{plan}"
    );
    assert_eq!(cut.len(), 256 * 512);
    assert!(
        same_rows(&cut, &hash),
        "{} vs {} rows",
        cut.len(),
        hash.len()
    );
}

/// A volatile expression means one value per row: neither the grid-aggregate
/// rule nor the filter pushdown may evaluate it once per coordinate.
#[tokio::test]
async fn volatile_expressions_are_never_evaluated_per_coordinate() {
    let Some(dir) = data_dir() else {
        return;
    };
    let location = dir
        .join("dt_med_allsat_phy_l4_2005T2.nc.v2.zarr")
        .display()
        .to_string();
    let (rows, _) = run(&location, "SELECT count(*) FROM t", true).await;
    let cells = rows[0][0].as_f64().expect("a count");
    // GROUP BY a function of latitude and random(): a group per row (random
    // doubles do not collide), not one per latitude.
    let (groups, plan) = run(
        &location,
        "SELECT count(*) FROM (SELECT latitude + random() AS k, count(*) FROM t GROUP BY 1)",
        true,
    )
    .await;
    assert!(!plan.contains("GridAggregateExec"), "{plan}");
    assert_eq!(groups[0][0].as_f64(), Some(cells), "{plan}");
    // An aggregate of a variable times a volatile function of a dimension.
    let (_, plan) = run(
        &location,
        "SELECT time, sum(adt * (latitude * 0 + random())) FROM t GROUP BY time",
        true,
    )
    .await;
    assert!(!plan.contains("GridAggregateExec"), "{plan}");
    // A filter on a dimension and random(): kept as a filter over the rows.
    let (rows, plan) = run(
        &location,
        "SELECT count(*) FROM t WHERE latitude < 1000 * random()",
        true,
    )
    .await;
    assert!(plan.contains("FilterExec"), "{plan}");
    let kept = rows[0][0].as_f64().expect("a count");
    assert!(kept > 0.0 && kept < cells, "{kept} of {cells}");
}
