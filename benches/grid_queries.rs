//! Times one SQL query on one dataset in this process: a warm-up run, then
//! `--runs` timed runs; prints `RESULT {json}` with the times, their median,
//! the result's checksum (order-independent: sum and count of the `m`
//! column, as `../shared/anchors/bench.py` computes it) and the peak RSS.
//!
//! With `--cluster df://HOST:PORT` the queries run on a Ballista cluster
//! (benches/run.py `--suite cluster` starts one).
//!
//! benches/run.py drives it next to xarray + dask; run it alone with
//! `cargo bench --bench grid_queries -- --location PATH --sql 'SELECT ...'`.

use std::collections::BTreeMap;
use std::time::Instant;

use arrow::array::{Array, AsArray};
use arrow::datatypes::Float64Type;
use datafusion::prelude::SessionContext;
use futures::{StreamExt, TryStreamExt};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Args {
    location: String,
    sql: String,
    runs: usize,
    partitions: Option<usize>,
    explain: bool,
    cluster: Option<String>,
    collect: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut location = None;
    let mut sql = None;
    let mut runs = 5;
    let mut partitions = None;
    let mut explain = false;
    let mut cluster = None;
    let mut collect = false;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--location" => location = it.next(),
            "--sql" => sql = it.next(),
            "--runs" => {
                runs = it
                    .next()
                    .and_then(|r| r.parse().ok())
                    .ok_or("--runs needs a number")?;
            }
            "--partitions" => {
                partitions = Some(
                    it.next()
                        .and_then(|r| r.parse().ok())
                        .ok_or("--partitions needs a number")?,
                );
            }
            "--explain" => explain = true,
            "--collect" => collect = true,
            "--cluster" => cluster = Some(it.next().ok_or("--cluster needs df://HOST:PORT")?),
            "--bench" => {} // added by `cargo bench`
            "--help" | "-h" => {
                return Err("usage: grid_queries --location PATH --sql SQL [--runs N] \
                            [--partitions N] [--explain] [--collect] [--cluster df://HOST:PORT]"
                    .into());
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Args {
        location: location.ok_or("--location is required")?,
        sql: sql.ok_or("--sql is required")?,
        runs,
        partitions,
        explain,
        cluster,
        collect,
    })
}

/// Peak resident set size of this process in MiB (Linux `VmHWM`).
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Sum and count of the non-NULL, finite values of column `m`, read as
/// the result streams in (as a Flight SQL or PostgreSQL client receives
/// it), so that peak memory is the engine's, not a copy of the answer;
/// with `collect`, after the whole answer is held in memory.
///
/// Statements run as the shell runs them (`copy_to::execute`: a COPY to
/// Zarr on a cluster is written by the executors); a COPY's checksum is
/// its `count` of rows written.
async fn run(ctx: &SessionContext, sql: &str, collect: bool) -> Result<(f64, u64), String> {
    let plan = ctx
        .state()
        .create_logical_plan(sql)
        .await
        .map_err(|e| e.to_string())?;
    let stream = gridsql_engine::copy_to::execute(ctx, plan)
        .await
        .map_err(|e| e.to_string())?;
    let mut batches = if collect {
        let all: Vec<_> = stream.try_collect().await.map_err(|e| e.to_string())?;
        futures::stream::iter(all.into_iter().map(Ok)).boxed()
    } else {
        stream.boxed()
    };
    let mut sum = 0.0;
    let mut count = 0u64;
    while let Some(b) = batches.next().await {
        let b: arrow::array::RecordBatch =
            b.map_err(|e: datafusion::error::DataFusionError| e.to_string())?;
        let Some(col) = b.column_by_name("m").or_else(|| b.column_by_name("count")) else {
            return Err("the query must name its result column m (or be a COPY)".into());
        };
        let col = arrow::compute::cast(col, &arrow::datatypes::DataType::Float64)
            .map_err(|e| e.to_string())?;
        let col = col.as_primitive::<Float64Type>();
        for i in 0..col.len() {
            if col.is_valid(i) && col.value(i).is_finite() {
                sum += col.value(i);
                count += 1;
            }
        }
    }
    Ok((sum, count))
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = parse_args()?;
    let mut opts = gridsql_engine::SessionOptions::default();
    if let Some(p) = args.partitions {
        opts.target_partitions = p;
    }
    let ctx = match &args.cluster {
        Some(url) => gridsql_engine::cluster_context(&opts, url).await,
        None => gridsql_engine::new_context(&opts),
    }
    .map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    gridsql_engine::register_dataset(&ctx, "t", &args.location, None, BTreeMap::new())
        .await
        .map_err(|e| e.to_string())?;
    let setup_s = t0.elapsed().as_secs_f64();
    if args.explain {
        let df = ctx
            .sql(&format!("EXPLAIN {}", args.sql))
            .await
            .map_err(|e| e.to_string())?;
        let batches = df.collect().await.map_err(|e| e.to_string())?;
        let text =
            arrow::util::pretty::pretty_format_batches(&batches).map_err(|e| e.to_string())?;
        eprintln!("{text}");
    }
    let t = Instant::now();
    let _ = run(&ctx, &args.sql, args.collect).await?;
    let warmup_s = t.elapsed().as_secs_f64();
    let mut times = Vec::with_capacity(args.runs);
    let mut checksum = (0.0, 0);
    for _ in 0..args.runs {
        let t = Instant::now();
        checksum = run(&ctx, &args.sql, args.collect).await?;
        times.push(t.elapsed().as_secs_f64());
    }
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let median = if sorted.is_empty() {
        f64::NAN
    } else if sorted.len() % 2 == 1 {
        sorted[sorted.len() / 2]
    } else {
        (sorted[sorted.len() / 2 - 1] + sorted[sorted.len() / 2]) / 2.0
    };
    let out = serde_json::json!({
        "system": "gridsql",
        "setup_s": setup_s,
        "warmup_s": warmup_s,
        "times": times,
        "median": median,
        "min": sorted.first().copied().unwrap_or(f64::NAN),
        "checksum": [checksum.0, checksum.1],
        "peak_rss_mb": peak_rss_mb(),
    });
    println!("RESULT {out}");
    Ok(())
}
