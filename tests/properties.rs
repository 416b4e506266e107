//! Property tests: random small grids written as Zarr stores, random
//! queries on them, and three answers that must agree with a direct
//! computation from the generated arrays:
//!
//! 1. the default session (dimension filters pushed into the scan, the
//!    aggregate computed inside the scan by `GridAggregateExec`);
//! 2. a session without grid aggregates (DataFusion's hash aggregate over
//!    the pushed-down scan);
//! 3. DataFusion alone on the same rows in a `MemTable` (no grid code in
//!    the plan: its filters and aggregates are DataFusion's own).
//!
//! Grids have 1–4 dimensions, chunk shapes that leave partial last chunks,
//! ascending, descending or absent coordinates, int16 packed with
//! `scale_factor`/`add_offset`, uint8/int16 with a fill value (decoded to
//! float32), int32, float32 and float64 with NaN, missing chunks (read as
//! the fill value), Zarr v2 and v3. Queries filter dimensions with ranges
//! that cut chunks and aggregate with count, sum, avg, min, max, var_pop,
//! stddev and weighted_avg (weighted by a function of one dimension),
//! grouped by one dimension or not at all.
//!
//! The runner is seeded (reproducible in CI); `GRIDSQL_PROPERTY_CASES`
//! sets the number of cases (default 200, about 12 s in a debug build).
//! The fuzz corpus replay lives in `connectors/src/fuzz.rs`.

use std::path::Path;
use std::sync::Arc;

use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{Value, json};

use crate::util::rows_json;

/// Stored type of the data variable and its CF encoding.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// int16 with float64 `scale_factor` and `add_offset` (decoded float64).
    PackedI16,
    /// uint8 with a `_FillValue` (decoded float32, as xarray does).
    MaskedU8,
    /// int16 with a `_FillValue` (decoded float32).
    MaskedI16,
    /// int32 without fill (kept int32).
    PlainI32,
    /// float32 with NaN.
    F32,
    /// float64 with NaN and a `_FillValue`.
    F64,
}

const KINDS: [Kind; 6] = [
    Kind::PackedI16,
    Kind::MaskedU8,
    Kind::MaskedI16,
    Kind::PlainI32,
    Kind::F32,
    Kind::F64,
];

impl Kind {
    fn v2_dtype(self) -> &'static str {
        match self {
            Kind::PackedI16 | Kind::MaskedI16 => "<i2",
            Kind::MaskedU8 => "|u1",
            Kind::PlainI32 => "<i4",
            Kind::F32 => "<f4",
            Kind::F64 => "<f8",
        }
    }

    fn v3_dtype(self) -> &'static str {
        match self {
            Kind::PackedI16 | Kind::MaskedI16 => "int16",
            Kind::MaskedU8 => "uint8",
            Kind::PlainI32 => "int32",
            Kind::F32 => "float32",
            Kind::F64 => "float64",
        }
    }

    /// The stored fill value, if the kind has one.
    fn fill(self) -> Option<f64> {
        match self {
            Kind::PackedI16 | Kind::MaskedI16 => Some(-32767.0),
            Kind::MaskedU8 => Some(255.0),
            Kind::F64 => Some(-9999.0),
            Kind::PlainI32 | Kind::F32 => None,
        }
    }

    /// The fill value as JSON: an integer for integer types, as Zarr wants.
    fn fill_json(self) -> Option<Value> {
        self.fill().map(|f| match self {
            Kind::F32 | Kind::F64 => json!(f),
            _ => json!(f as i64),
        })
    }

    /// Little-endian bytes of one stored value.
    fn bytes(self, v: f64) -> Vec<u8> {
        match self {
            Kind::PackedI16 | Kind::MaskedI16 => (v as i16).to_le_bytes().to_vec(),
            Kind::MaskedU8 => vec![v as u8],
            Kind::PlainI32 => (v as i32).to_le_bytes().to_vec(),
            Kind::F32 => (v as f32).to_le_bytes().to_vec(),
            Kind::F64 => v.to_le_bytes().to_vec(),
        }
    }
}

/// How a dimension's coordinate runs.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Coords {
    Ascending,
    Descending,
    /// No coordinate variable: the column is the 0-based index (Int64).
    Index,
}

#[derive(Debug, Clone)]
struct DimSpec {
    size: usize,
    chunk: usize,
    coords: Coords,
    start: i32,
    /// Step in halves.
    step: u8,
}

impl DimSpec {
    fn values(&self) -> Vec<f64> {
        (0..self.size)
            .map(|i| match self.coords {
                Coords::Index => i as f64,
                Coords::Ascending => f64::from(self.start) + f64::from(self.step) / 2.0 * i as f64,
                Coords::Descending => f64::from(self.start) - f64::from(self.step) / 2.0 * i as f64,
            })
            .collect()
    }

    /// A value of this dimension as an SQL literal of its column's type.
    fn literal(&self, v: f64) -> String {
        match self.coords {
            Coords::Index => format!("{}", v as i64),
            _ => format!("{v:?}"),
        }
    }
}

/// A filter on one dimension; bounds are indices into its coordinates.
#[derive(Debug, Clone)]
enum Filter {
    Between(usize, usize, usize),
    AtLeast(usize, usize),
    Below(usize, usize),
    Equals(usize, usize),
    In(usize, usize, usize),
}

#[derive(Debug, Clone)]
struct Case {
    dims: Vec<DimSpec>,
    kind: Kind,
    v3: bool,
    seed: u64,
    missing_chunk: bool,
    group_by: Option<usize>,
    filters: Vec<Filter>,
    partitions: usize,
}

fn dim_strategy(max: usize) -> impl Strategy<Value = DimSpec> {
    (1..=max, 1..=max, 0..3u8, -6..6i32, 1..4u8).prop_map(|(size, chunk, c, start, step)| DimSpec {
        size,
        chunk: chunk.min(size),
        coords: [Coords::Ascending, Coords::Descending, Coords::Index][c as usize],
        start,
        step,
    })
}

fn filter_strategy() -> impl Strategy<Value = Filter> {
    (0..5u8, 0..4usize, 0..64usize, 0..64usize, 0..64usize).prop_map(|(k, d, a, b, c)| match k {
        0 => Filter::Between(d, a, b),
        1 => Filter::AtLeast(d, a),
        2 => Filter::Below(d, a),
        3 => Filter::Equals(d, a),
        _ => Filter::In(d, b, c),
    })
}

fn case_strategy() -> impl Strategy<Value = Case> {
    (1..=4usize)
        .prop_flat_map(|n| {
            let max = [0, 20, 12, 8, 6][n];
            (
                proptest::collection::vec(dim_strategy(max), n),
                0..KINDS.len(),
                any::<bool>(),
                any::<u64>(),
                any::<bool>(),
                proptest::option::of(0..4usize),
                proptest::collection::vec(filter_strategy(), 0..3),
                1..=4usize,
            )
        })
        .prop_map(
            |(dims, k, v3, seed, missing_chunk, group_by, filters, partitions)| Case {
                group_by: group_by.map(|g| g % dims.len()),
                filters: filters
                    .into_iter()
                    .map(|f| fix_dim(f, dims.len()))
                    .collect(),
                dims,
                kind: KINDS[k],
                v3,
                seed,
                missing_chunk,
                partitions,
            },
        )
}

/// Points a filter at an existing dimension.
fn fix_dim(f: Filter, n: usize) -> Filter {
    match f {
        Filter::Between(d, a, b) => Filter::Between(d % n, a, b),
        Filter::AtLeast(d, a) => Filter::AtLeast(d % n, a),
        Filter::Below(d, a) => Filter::Below(d % n, a),
        Filter::Equals(d, a) => Filter::Equals(d % n, a),
        Filter::In(d, a, b) => Filter::In(d % n, a, b),
    }
}

/// A small deterministic generator for the cell values of a case.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// The stored values of the data variable, in C order.
fn stored_values(case: &Case) -> Vec<f64> {
    let cells: usize = case.dims.iter().map(|d| d.size).product();
    let mut rng = SplitMix(case.seed);
    (0..cells)
        .map(|_| {
            let r = rng.next();
            let special = r.is_multiple_of(10);
            let x = ((r >> 8) % 2000) as f64 - 1000.0;
            match case.kind {
                Kind::PackedI16 | Kind::MaskedI16 if special => -32767.0,
                Kind::PackedI16 => x * 7.0,
                Kind::MaskedI16 => x,
                Kind::MaskedU8 if special => 255.0,
                Kind::MaskedU8 => ((r >> 8) % 255) as f64,
                Kind::PlainI32 => x * 100_003.0,
                Kind::F32 if special => f64::NAN,
                Kind::F32 => f64::from((x / 8.0) as f32),
                Kind::F64 if special && (r >> 40).is_multiple_of(2) => f64::NAN,
                Kind::F64 if special => -9999.0,
                Kind::F64 => x / 3.0,
            }
        })
        .collect()
}

const SCALE: f64 = 0.01;
const OFFSET: f64 = 273.15;

/// The decoded value of a stored one (`None` = NULL), as CF and xarray say.
fn decoded(kind: Kind, v: f64) -> Option<f64> {
    if v.is_nan() || kind.fill() == Some(v) {
        return None;
    }
    Some(match kind {
        Kind::PackedI16 => v * SCALE + OFFSET,
        _ => v,
    })
}

/// Index of the first chunk index in each dimension of the chunk the
/// "missing chunk" cases delete (the last one: often a partial chunk).
fn deleted_chunk(case: &Case) -> Option<Vec<usize>> {
    (case.missing_chunk && case.kind.fill().is_some())
        .then(|| case.dims.iter().map(|d| (d.size - 1) / d.chunk).collect())
}

/// Writes the case's store at `dir` and returns the stored values as the
/// reader will see them (a deleted chunk reads as the fill value).
fn write_store(case: &Case, dir: &Path) -> Vec<f64> {
    let mut values = stored_values(case);
    let names: Vec<String> = (0..case.dims.len()).map(|i| format!("d{i}")).collect();
    let shape: Vec<usize> = case.dims.iter().map(|d| d.size).collect();
    let chunks: Vec<usize> = case.dims.iter().map(|d| d.chunk).collect();
    let write = |p: &Path, bytes: &[u8]| {
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(p, bytes).expect("write");
    };
    let json_bytes = |v: &Value| serde_json::to_vec_pretty(v).expect("json");
    let fill_json = |kind: Kind| match kind.fill_json() {
        Some(f) => f,
        None if kind == Kind::F32 => json!("NaN"),
        None => json!(0),
    };
    let mut attrs = serde_json::Map::new();
    if case.kind == Kind::PackedI16 {
        attrs.insert("scale_factor".into(), json!(SCALE));
        attrs.insert("add_offset".into(), json!(OFFSET));
    }
    // Coordinates: one float64 chunk each.
    for (d, spec) in case.dims.iter().enumerate() {
        if spec.coords == Coords::Index {
            continue;
        }
        let bytes: Vec<u8> = spec.values().iter().flat_map(|v| v.to_le_bytes()).collect();
        let name = &names[d];
        if case.v3 {
            let meta = json!({
                "zarr_format": 3, "node_type": "array", "shape": [spec.size],
                "data_type": "float64",
                "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [spec.size]}},
                "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
                "fill_value": "NaN",
                "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
                "attributes": {"units": "degrees"},
                "dimension_names": [name],
            });
            write(&dir.join(name).join("zarr.json"), &json_bytes(&meta));
            write(&dir.join(name).join("c").join("0"), &bytes);
        } else {
            let meta = json!({
                "zarr_format": 2, "shape": [spec.size], "chunks": [spec.size],
                "dtype": "<f8", "fill_value": "NaN", "order": "C",
                "compressor": null, "filters": null,
            });
            write(&dir.join(name).join(".zarray"), &json_bytes(&meta));
            write(
                &dir.join(name).join(".zattrs"),
                &json_bytes(&json!({"_ARRAY_DIMENSIONS": [name], "units": "degrees"})),
            );
            write(&dir.join(name).join("0"), &bytes);
        }
    }
    // The data variable, chunk by chunk (edge chunks padded with the fill).
    let grid: Vec<usize> = shape
        .iter()
        .zip(&chunks)
        .map(|(s, c)| s.div_ceil(*c))
        .collect();
    let pad = case.kind.fill().unwrap_or(0.0);
    let deleted = deleted_chunk(case);
    let mut index = vec![0usize; shape.len()];
    loop {
        let mut bytes = Vec::new();
        let mut cell = vec![0usize; shape.len()];
        loop {
            let global: Vec<usize> = (0..shape.len())
                .map(|d| index[d] * chunks[d] + cell[d])
                .collect();
            let inside = global.iter().zip(&shape).all(|(g, s)| g < s);
            let v = if inside {
                let flat = global.iter().zip(&shape).fold(0, |a, (g, s)| a * s + g);
                if deleted.as_ref() == Some(&index) {
                    values[flat] = pad;
                }
                values[flat]
            } else {
                pad
            };
            bytes.extend(case.kind.bytes(v));
            if !advance(&mut cell, &chunks) {
                break;
            }
        }
        if deleted.as_ref() != Some(&index) {
            let key: Vec<String> = index.iter().map(usize::to_string).collect();
            let path = if case.v3 {
                let mut p = dir.join("v").join("c");
                for k in &key {
                    p = p.join(k);
                }
                p
            } else {
                dir.join("v").join(key.join("."))
            };
            write(&path, &bytes);
        }
        if !advance(&mut index, &grid) {
            break;
        }
    }
    if case.v3 {
        let mut attributes = attrs.clone();
        if let Some(f) = case.kind.fill_json() {
            attributes.insert("_FillValue".into(), f);
        }
        let meta = json!({
            "zarr_format": 3, "node_type": "array", "shape": shape,
            "data_type": case.kind.v3_dtype(),
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": chunks}},
            "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
            "fill_value": fill_json(case.kind),
            "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
            "attributes": attributes,
            "dimension_names": names,
        });
        write(&dir.join("v").join("zarr.json"), &json_bytes(&meta));
        write(
            &dir.join("zarr.json"),
            &json_bytes(&json!({"zarr_format": 3, "node_type": "group", "attributes": {}})),
        );
    } else {
        let fill = case.kind.fill_json().unwrap_or(Value::Null);
        let meta = json!({
            "zarr_format": 2, "shape": shape, "chunks": chunks,
            "dtype": case.kind.v2_dtype(), "fill_value": fill, "order": "C",
            "compressor": null, "filters": null,
        });
        write(&dir.join("v").join(".zarray"), &json_bytes(&meta));
        attrs.insert("_ARRAY_DIMENSIONS".into(), json!(names));
        write(
            &dir.join("v").join(".zattrs"),
            &json_bytes(&Value::Object(attrs)),
        );
        write(
            &dir.join(".zgroup"),
            &json_bytes(&json!({"zarr_format": 2})),
        );
    }
    values
}

/// Steps a multi-index in C order; false after the last one.
fn advance(index: &mut [usize], bounds: &[usize]) -> bool {
    for d in (0..index.len()).rev() {
        index[d] += 1;
        if index[d] < bounds[d] {
            return true;
        }
        index[d] = 0;
    }
    false
}

/// A filter's test of one coordinate value.
type Keeps = Box<dyn Fn(f64) -> bool>;

/// The SQL of a case and, per dimension, which indices its filters keep.
fn query(case: &Case) -> (String, Vec<Vec<bool>>) {
    let coords: Vec<Vec<f64>> = case.dims.iter().map(DimSpec::values).collect();
    let mut keep: Vec<Vec<bool>> = case.dims.iter().map(|d| vec![true; d.size]).collect();
    let mut wheres = Vec::new();
    for f in &case.filters {
        let (d, test, sql): (usize, Keeps, String) = match *f {
            Filter::Between(d, a, b) => {
                let c = &coords[d];
                let (x, y) = (c[a % c.len()], c[b % c.len()]);
                let (lo, hi) = (x.min(y), x.max(y));
                let s = &case.dims[d];
                let sql = format!("d{d} BETWEEN {} AND {}", s.literal(lo), s.literal(hi));
                (d, Box::new(move |v| lo <= v && v <= hi), sql)
            }
            Filter::AtLeast(d, a) => {
                let c = coords[d][a % coords[d].len()];
                let sql = format!("d{d} >= {}", case.dims[d].literal(c));
                (d, Box::new(move |v| v >= c), sql)
            }
            Filter::Below(d, a) => {
                let c = coords[d][a % coords[d].len()];
                let sql = format!("d{d} < {}", case.dims[d].literal(c));
                (d, Box::new(move |v| v < c), sql)
            }
            Filter::Equals(d, a) => {
                let c = coords[d][a % coords[d].len()];
                let sql = format!("d{d} = {}", case.dims[d].literal(c));
                (d, Box::new(move |v| v == c), sql)
            }
            Filter::In(d, a, b) => {
                let c = &coords[d];
                let (x, y) = (c[a % c.len()], c[b % c.len()]);
                let s = &case.dims[d];
                let sql = format!("d{d} IN ({}, {})", s.literal(x), s.literal(y));
                (d, Box::new(move |v| v == x || v == y), sql)
            }
        };
        for (i, k) in keep[d].iter_mut().enumerate() {
            *k = *k && test(coords[d][i]);
        }
        wheres.push(sql);
    }
    let w = weight_dim(case);
    let aggs = format!(
        "count(v) AS n, count(*) AS cells, sum(v) AS s, avg(v) AS a, \
         min(v) AS lo, max(v) AS hi, var_pop(v) AS vp, stddev(v) AS sd, \
         weighted_avg(v, abs(CAST(d{w} AS DOUBLE)) + 1.0) AS wa"
    );
    let filter = if wheres.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", wheres.join(" AND "))
    };
    let sql = match case.group_by {
        Some(g) => format!("SELECT d{g}, {aggs} FROM t{filter} GROUP BY d{g} ORDER BY d{g}"),
        None => format!("SELECT {aggs} FROM t{filter}"),
    };
    (sql, keep)
}

/// The dimension whose coordinate weighs `weighted_avg` (weight |c| + 1).
fn weight_dim(case: &Case) -> usize {
    (case.group_by.unwrap_or(0) + 1) % case.dims.len()
}

/// The answer computed directly from the stored values, as JSON rows.
fn direct(case: &Case, values: &[f64], keep: &[Vec<bool>]) -> Vec<Vec<Value>> {
    #[derive(Default, Clone)]
    struct Acc {
        cells: u64,
        n: u64,
        sum: f64,
        lo: Option<f64>,
        hi: Option<f64>,
        /// The values, for the two-pass variance.
        vals: Vec<f64>,
        /// Σ value·weight and Σ weight.
        wx: f64,
        ws: f64,
    }
    let shape: Vec<usize> = case.dims.iter().map(|d| d.size).collect();
    let coords: Vec<Vec<f64>> = case.dims.iter().map(DimSpec::values).collect();
    let groups = case.group_by.map_or(1, |g| shape[g]);
    let mut acc = vec![Acc::default(); groups];
    let mut seen = vec![false; groups];
    let w = weight_dim(case);
    let mut idx = vec![0usize; shape.len()];
    for &raw in values {
        if idx.iter().enumerate().all(|(d, &i)| keep[d][i]) {
            let g = case.group_by.map_or(0, |g| idx[g]);
            seen[g] = true;
            let a = &mut acc[g];
            a.cells += 1;
            if let Some(v) = decoded(case.kind, raw) {
                a.n += 1;
                a.sum += v;
                a.lo = Some(a.lo.map_or(v, |x: f64| x.min(v)));
                a.hi = Some(a.hi.map_or(v, |x: f64| x.max(v)));
                a.vals.push(v);
                let weight = coords[w][idx[w]].abs() + 1.0;
                a.wx += v * weight;
                a.ws += weight;
            }
        }
        advance(&mut idx, &shape);
    }
    let num = |x: f64| serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number);
    let row = |a: &Acc| -> Vec<Value> {
        let opt = |v: Option<f64>| v.map_or(Value::Null, num);
        let n = a.n as f64;
        let mean = a.sum / n;
        let m2: f64 = a.vals.iter().map(|x| (x - mean) * (x - mean)).sum();
        vec![
            json!(a.n),
            json!(a.cells),
            if a.n == 0 { Value::Null } else { num(a.sum) },
            if a.n == 0 {
                Value::Null
            } else {
                num(a.sum / a.n as f64)
            },
            opt(a.lo),
            opt(a.hi),
            opt((a.n > 0).then(|| m2 / n)),
            opt((a.n > 1).then(|| (m2 / (n - 1.0)).sqrt())),
            opt((a.n > 0 && a.ws != 0.0).then(|| a.wx / a.ws)),
        ]
    };
    match case.group_by {
        None => vec![row(&acc[0])],
        Some(g) => {
            let mut rows: Vec<(f64, Vec<Value>)> = (0..groups)
                .filter(|&i| seen[i])
                .map(|i| {
                    let key = coords[g][i];
                    let k = match case.dims[g].coords {
                        Coords::Index => json!(key as i64),
                        _ => num(key),
                    };
                    let mut r = vec![k];
                    r.extend(row(&acc[i]));
                    (key, r)
                })
                .collect();
            rows.sort_by(|a, b| a.0.total_cmp(&b.0));
            rows.into_iter().map(|(_, r)| r).collect()
        }
    }
}

/// Whether two result tables agree (sums and averages within a relative
/// 1e-9, exact otherwise up to float formatting).
fn same(a: &[Vec<Value>], b: &[Vec<Value>]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|(p, q)| crate::util::cells_match(p, q, 1e-9))
        })
}

async fn run_sql(ctx: &SessionContext, sql: &str) -> Result<Vec<Vec<Value>>, String> {
    let df = ctx.sql(sql).await.map_err(|e| e.to_string())?;
    let batches = df.collect().await.map_err(|e| e.to_string())?;
    Ok(rows_json(&batches))
}

/// Runs one case: the three plans and the direct answer must agree.
fn check(case: &Case) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("grid.zarr");
    let values = write_store(case, &store);
    let (sql, keep) = query(case);
    let want = direct(case, &values, &keep);
    let location = store.to_str().expect("utf-8 path").to_string();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let answers = rt.block_on(async {
        let mut out = Vec::new();
        for grid_aggregate in [true, false] {
            let opts = gridsql_engine::SessionOptions {
                target_partitions: case.partitions,
                grid_aggregate,
                ..Default::default()
            };
            let ctx = gridsql_engine::new_context(&opts).map_err(|e| e.to_string())?;
            gridsql_engine::register_dataset(&ctx, "t", &location, None, Default::default())
                .await
                .map_err(|e| format!("open: {e}"))?;
            out.push(run_sql(&ctx, &sql).await?);
            if !grid_aggregate {
                // DataFusion alone: every row of the table in memory.
                let all = ctx
                    .sql("SELECT * FROM t")
                    .await
                    .map_err(|e| e.to_string())?
                    .collect()
                    .await
                    .map_err(|e| e.to_string())?;
                let table = ctx.table("t").await.map_err(|e| e.to_string())?;
                let schema = std::sync::Arc::clone(table.schema().inner());
                let mem = MemTable::try_new(schema, vec![all]).map_err(|e| e.to_string())?;
                let plain = SessionContext::new();
                gridsql_udfs::register_all(&plain);
                plain
                    .register_table("t", Arc::new(mem))
                    .map_err(|e| e.to_string())?;
                out.push(run_sql(&plain, &sql).await?);
            }
        }
        Ok::<_, String>(out)
    });
    let answers = answers.map_err(|e| TestCaseError::fail(format!("{sql}: {e}")))?;
    let names = [
        "pushed-down grid aggregate",
        "hash aggregate over the scan",
        "DataFusion on a MemTable",
    ];
    for (name, got) in names.iter().zip(&answers) {
        prop_assert!(
            same(got, &want),
            "{name} differs from the direct computation\nsql: {sql}\ngot:  {got:?}\nwant: {want:?}"
        );
    }
    Ok(())
}

#[test]
fn pushed_down_plans_equal_plain_plans_and_direct_computation() {
    let (mut runner, cases) = crate::util::seeded_runner(200);
    let t0 = std::time::Instant::now();
    let result = runner.run(&case_strategy(), |case| check(&case));
    eprintln!("{cases} property cases in {:?}", t0.elapsed());
    if let Err(e) = result {
        panic!("{e}");
    }
}
