//! Table functions (`read_zarr`, `read_netcdf`, `grid_variables`, `grid_attributes`) and the
//! `in_box` pushdown, through a real session on the shared data (answers from MANIFEST.md).

use std::path::Path;

use arrow::array::RecordBatch;
use datafusion::physical_plan::displayable;
use datafusion::prelude::SessionContext;

use crate::util::{data_dir, rows_json};

fn ctx() -> SessionContext {
    gridsql_engine::new_context(&gridsql_engine::SessionOptions::default()).expect("context")
}

async fn run(ctx: &SessionContext, sql: &str) -> Vec<RecordBatch> {
    let df = ctx
        .sql(sql)
        .await
        .unwrap_or_else(|e| panic!("plan {sql}: {e}"));
    df.collect()
        .await
        .unwrap_or_else(|e| panic!("run {sql}: {e}"))
}

async fn json(ctx: &SessionContext, sql: &str) -> Vec<Vec<serde_json::Value>> {
    rows_json(&run(ctx, sql).await)
}

/// The one value of a one-row, one-column query.
async fn one(ctx: &SessionContext, sql: &str) -> serde_json::Value {
    let rows = json(ctx, sql).await;
    assert_eq!(rows.len(), 1, "{sql}: {rows:?}");
    assert_eq!(rows[0].len(), 1, "{sql}: {rows:?}");
    rows[0][0].clone()
}

async fn physical_plan(ctx: &SessionContext, sql: &str) -> String {
    let df = ctx.sql(sql).await.expect(sql);
    let plan = df.create_physical_plan().await.expect(sql);
    displayable(plan.as_ref()).indent(true).to_string()
}

fn loc(dir: &Path, file: &str) -> String {
    dir.join(file).display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_netcdf_matches_xarray() {
    let Some(dir) = data_dir() else { return };
    let ctx = ctx();
    let sql = format!(
        "SELECT avg(adt) FROM read_netcdf('{}') WHERE time = TIMESTAMP '2005-04-01'",
        loc(&dir, "dt_med_allsat_phy_l4_2005T2.nc")
    );
    let got = one(&ctx, &sql).await.as_f64().expect("a number");
    let want = -0.10394261217661468;
    assert!(
        (got - want).abs() <= 1e-12 * want.abs(),
        "got {got}, want {want}"
    );
    // the same on a glob of the one file (a deferred collection)
    let sql = format!(
        "SELECT count(adt) FROM read_netcdf('{}')",
        loc(&dir, "dt_med_allsat_phy_l4_2005T2.n?")
    );
    assert_eq!(one(&ctx, &sql).await, serde_json::json!(1_522_874));
}

/// A current-thread runtime plans table functions too (the open runs on its own thread).
#[tokio::test(flavor = "current_thread")]
async fn read_zarr_counts_like_xarray() {
    let Some(dir) = data_dir() else { return };
    let ctx = ctx();
    for store in ["sst.mnmean.nc.v3.zarr", "sst.mnmean.nc.v2.zarr"] {
        let sql = format!("SELECT count(sst) FROM read_zarr('{}')", loc(&dir, store));
        assert_eq!(
            one(&ctx, &sql).await,
            serde_json::json!(1_406_464),
            "{store}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_netcdf_options_pick_columns() {
    let Some(dir) = data_dir() else { return };
    let ctx = ctx();
    let sql = format!(
        "SELECT * FROM read_netcdf('{}', 'variables', 'u') LIMIT 1",
        loc(&dir, "eraint_uvz.nc")
    );
    let batches = run(&ctx, &sql).await;
    let schema = batches[0].schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["month", "level", "latitude", "longitude", "u"]);
    // xarray: int(ds.z.count()) = 694080, max(u) = 78.5
    let sql = format!(
        "SELECT count(z), max(u) FROM read_zarr('{}', 'variables', 'u,z')",
        loc(&dir, "eraint_uvz.nc.v2.zarr")
    );
    let rows = json(&ctx, &sql).await;
    assert_eq!(rows[0][0], serde_json::json!(694_080));
    let max_u = rows[0][1].as_f64().expect("max(u)");
    assert!((max_u - 78.5).abs() < 1e-9, "{max_u}");
    // a bad option is a plan error naming the function
    let sql = format!(
        "SELECT * FROM read_netcdf('{}', 'variables', 'nope')",
        loc(&dir, "eraint_uvz.nc")
    );
    let e = ctx
        .sql(&sql)
        .await
        .expect_err("unknown variable")
        .to_string();
    assert!(e.contains("read_netcdf(") && e.contains("nope"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_locations_are_clear_errors() {
    let ctx = ctx();
    for sql in [
        "SELECT * FROM read_zarr('/nonexistent')",
        "SELECT * FROM read_netcdf('/nonexistent/*.nc')",
        "SELECT * FROM grid_variables('/nonexistent.zarr')",
        "SELECT * FROM grid_attributes('/nonexistent.nc')",
    ] {
        let e = match ctx.sql(sql).await {
            Ok(df) => df.collect().await.expect_err(sql).to_string(),
            Err(e) => e.to_string(),
        };
        assert!(e.contains("/nonexistent"), "{sql}: {e}");
        let function = sql["SELECT * FROM ".len()..]
            .split('(')
            .next()
            .expect("name");
        assert!(e.contains(function), "{sql}: {e}");
    }
    let e = ctx
        .sql("SELECT * FROM read_zarr('x.zarr', 'dims')")
        .await
        .expect_err("odd options")
        .to_string();
    assert!(e.contains("read_zarr: options come in"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grid_variables_lists_every_variable() {
    let Some(dir) = data_dir() else { return };
    let ctx = ctx();
    for (file, format) in [
        ("dt_med_allsat_phy_l4_2005T2.nc", ""),
        ("dt_med_allsat_phy_l4_2005T2.nc.v2.zarr", ""),
        ("dt_med_allsat_phy_l4_2005T2.nc.v3.zarr", ", 'zarr'"),
    ] {
        let sql = format!(
            "SELECT name, dims, dtype, units, chunks, fill_value, scale_factor, add_offset, role \
             FROM grid_variables('{}'{format}) ORDER BY name",
            loc(&dir, file)
        );
        let rows = json(&ctx, &sql).await;
        let names: Vec<&str> = rows.iter().map(|r| r[0].as_str().expect("name")).collect();
        assert_eq!(names, ["adt", "latitude", "longitude", "time"], "{file}");
        let adt = &rows[0];
        assert_eq!(adt[1], "time,latitude,longitude", "{file}");
        assert_eq!(adt[2], "int16", "{file}");
        assert_eq!(adt[3], "m", "{file}");
        assert_eq!(adt[4], "20x64x344", "{file}");
        assert_eq!(adt[5].as_f64(), Some(-32767.0), "{file}");
        let scale = adt[6].as_f64().expect("scale_factor");
        assert!((scale - 1e-4).abs() <= 1e-4 * 1e-7, "{file}: {scale}");
        assert_eq!(adt[7], serde_json::Value::Null, "{file}");
        assert_eq!(adt[8], "variable", "{file}");
        for r in &rows[1..] {
            assert_eq!(r[8], "dimension", "{file}: {r:?}");
            assert_eq!(r[1], r[0], "{file}: {r:?}");
        }
    }
    // a variable outside the table's grid is 'other'; sst's valid_range and fills
    let sql = format!(
        "SELECT name, role, fill_value FROM grid_variables('{}') ORDER BY name",
        loc(&dir, "eraint_uvz.nc")
    );
    let rows = json(&ctx, &sql).await;
    assert_eq!(rows.len(), 7, "{rows:?}");
    assert!(rows.iter().all(|r| r[1] != "other"), "{rows:?}");
    let sql = format!(
        "SELECT name, role FROM grid_variables('{}', 'netcdf', 'variables', 'u') ORDER BY name",
        loc(&dir, "eraint_uvz.nc")
    );
    let roles: Vec<String> = json(&ctx, &sql)
        .await
        .iter()
        .map(|r| {
            format!(
                "{}={}",
                r[0].as_str().unwrap_or("?"),
                r[1].as_str().unwrap_or("?")
            )
        })
        .collect();
    assert_eq!(
        roles,
        [
            "latitude=dimension",
            "level=dimension",
            "longitude=dimension",
            "month=dimension",
            "u=variable",
            "v=other",
            "z=other"
        ]
    );
    let sql = format!(
        "SELECT name, role FROM grid_variables('{}', 'dims', 'latitude') ORDER BY name",
        loc(&dir, "eraint_uvz.nc")
    );
    let err = ctx.sql(&sql).await.expect_err("no grid on latitude alone");
    assert!(err.to_string().contains("grid_variables("), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grid_attributes_lists_attributes() {
    let Some(dir) = data_dir() else { return };
    let ctx = ctx();
    for file in [
        "dt_med_allsat_phy_l4_2005T2.nc",
        "dt_med_allsat_phy_l4_2005T2.nc.v3.zarr",
    ] {
        let sql = format!(
            "SELECT count(*) FROM grid_attributes('{}') \
             WHERE variable = 'adt' AND name = 'units' AND value = 'm'",
            loc(&dir, file)
        );
        assert_eq!(one(&ctx, &sql).await, serde_json::json!(1), "{file}");
        let sql = format!(
            "SELECT count(*) FROM grid_attributes('{}') WHERE variable IS NULL",
            loc(&dir, file)
        );
        let globals = one(&ctx, &sql).await.as_i64().expect("count");
        assert!(globals >= 6, "{file}: {globals} global attributes");
    }
    // numbers and lists as text
    let sql = format!(
        "SELECT name, value FROM grid_attributes('{}') WHERE variable = 'sst' \
         AND name IN ('valid_range', 'missing_value', 'units') ORDER BY name",
        loc(&dir, "sst.mnmean.nc")
    );
    let rows = json(&ctx, &sql).await;
    assert_eq!(
        rows,
        vec![
            vec![
                serde_json::json!("missing_value"),
                serde_json::json!("-9.96921e36")
            ],
            vec![serde_json::json!("units"), serde_json::json!("degC")],
            vec![
                serde_json::json!("valid_range"),
                serde_json::json!("[-1.8, 45]")
            ],
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_box_is_pushed_into_the_scan() {
    let Some(dir) = data_dir() else { return };
    let ctx = ctx();
    run(
        &ctx,
        &format!(
            "CREATE EXTERNAL TABLE t STORED AS NETCDF LOCATION '{}'",
            loc(&dir, "sst.mnmean.nc")
        ),
    )
    .await;
    // 128 months x 11 latitudes (-10..10 by 2) x 11 longitudes (170..190 by 2) of 2,050,560
    let boxed = "SELECT time, lat, lon, sst FROM t WHERE in_box(lat, lon, -10, 10, 170, -170)";
    let plan = physical_plan(&ctx, boxed).await;
    assert!(plan.contains("GridScanExec"), "{plan}");
    assert!(plan.contains("cells=15488,"), "{plan}");
    assert!(!plan.contains("FilterExec"), "{plan}");
    let rows = json(&ctx, boxed).await;
    assert_eq!(rows.len(), 15488);
    // an aggregate reads the same cells (whatever operator scans them)
    let plan = physical_plan(
        &ctx,
        "SELECT count(sst) FROM t WHERE in_box(lat, lon, -10, 10, 170, -170)",
    )
    .await;
    assert!(plan.contains("cells=15488,"), "{plan}");
    assert!(!plan.contains("FilterExec"), "{plan}");
    // count(*) is answered from the scan's exact statistics: no filter is left either
    let explain = json(
        &ctx,
        "EXPLAIN SELECT count(*) FROM t WHERE in_box(lat, lon, -10, 10, 170, -170)",
    )
    .await;
    let text: Vec<String> = explain.iter().map(|r| r[1].to_string()).collect();
    let text = text.join("\n");
    assert!(text.contains("in_box"), "{text}");
    assert!(!text.contains("FilterExec"), "{text}");

    let count = |sql: &'static str| {
        let ctx = ctx.clone();
        async move { one(&ctx, sql).await.as_i64().expect(sql) }
    };
    let boxed_all =
        count("SELECT count(*) FROM t WHERE in_box(lat, lon, -10, 10, 170, -170)").await;
    let plain =
        count("SELECT count(*) FROM t WHERE lat BETWEEN -10 AND 10 AND lon >= 170 AND lon <= 190")
            .await;
    assert_eq!(boxed_all, 15488);
    assert_eq!(boxed_all, plain);
    let boxed_sst =
        count("SELECT count(sst) FROM t WHERE in_box(lat, lon, -10, 10, 170, -170)").await;
    let plain_sst = count(
        "SELECT count(sst) FROM t WHERE lat BETWEEN -10 AND 10 AND lon >= 170 AND lon <= 190",
    )
    .await;
    assert_eq!(boxed_sst, plain_sst);
    assert!(boxed_sst > 0 && boxed_sst <= 15488, "{boxed_sst}");

    // The pushed-down evaluation agrees with the function itself, evaluated row by row on an
    // in-memory copy of the grid's cells (no pushdown there).
    run(
        &ctx,
        "CREATE TABLE cells AS SELECT lat, lon FROM t WHERE time = TIMESTAMP '2010-01-01'",
    )
    .await;
    for args in [
        "-10, 10, 170, -170",
        "30, 60, -20, 20",
        "-90, 90, -180, 180",
        "-90, 90, 0, 360",
        "0, 0, 180, 180",
        "-30, 30, 350, 10",
        "-88, 88, 359, 1",
        "10, -10, 0, 10",
        "-45.5, 45.5, -0.5, 0.5",
        "-20.5, 20.5, 181, -181",
        "NULL, 10, 0, 10",
        "CAST('NaN' AS DOUBLE), 10, 0, 10",
    ] {
        for (lat, lon) in [("lat", "lon"), ("lat", "lon_180(lon)"), ("lon", "lat")] {
            let pushed = format!(
                "SELECT count(*) FROM t WHERE time = TIMESTAMP '2010-01-01' \
                 AND in_box({lat}, {lon}, {args})"
            );
            let plan = physical_plan(&ctx, &pushed).await;
            assert!(!plan.contains("FilterExec"), "{pushed}: {plan}");
            let want = format!("SELECT count(*) FROM cells WHERE in_box({lat}, {lon}, {args})");
            assert_eq!(
                one(&ctx, &pushed).await,
                one(&ctx, &want).await,
                "{pushed} vs {want}"
            );
        }
    }
}
