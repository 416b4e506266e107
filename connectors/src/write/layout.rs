//! From result rows to a grid: which columns are dimensions, their sorted
//! coordinates, and each variable's cells in C order, with the fill value
//! where no row gave one.
//!
//! Dimension values become integer keys that sort as the values do (floats
//! by a total order of their bits, times in microseconds), so every type of
//! coordinate is collected, sorted and looked up the same way.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Field, Float32Type, Float64Type, Int64Type, TimeUnit};

use crate::cf::{AttrValue, Attributes};
use crate::error::{ConnectorError, Result};
use crate::grid::model::meta;

/// The fill value of integer variables: NetCDF's default for `int64`, which
/// xarray reads as missing.
pub const I64_FILL: i64 = -9_223_372_036_854_775_806;

/// The most bytes of cells a written grid may hold in memory.
pub const MAX_GRID_BYTES: u64 = 8 << 30;

/// Coordinates of one dimension, in the order written.
#[derive(Debug, Clone, PartialEq)]
pub enum CoordValues {
    /// float32 coordinates (latitudes of most files).
    F32(Vec<f32>),
    /// float64 coordinates.
    F64(Vec<f64>),
    /// Integer coordinates (months, members, indices).
    I64(Vec<i64>),
    /// Times, as microseconds since 1970-01-01 (written as `<unit> since
    /// 1970-01-01`, the unit the coarsest that holds them exactly).
    Time(Vec<i64>),
}

impl CoordValues {
    /// Number of coordinates.
    pub fn len(&self) -> usize {
        match self {
            CoordValues::F32(v) => v.len(),
            CoordValues::F64(v) => v.len(),
            CoordValues::I64(v) | CoordValues::Time(v) => v.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The cells of one variable, C order over the dimensions.
#[derive(Debug, Clone, PartialEq)]
pub enum Cells {
    /// float32, NaN where missing.
    F32(Vec<f32>),
    /// float64, NaN where missing.
    F64(Vec<f64>),
    /// int64, [`I64_FILL`] where missing.
    I64(Vec<i64>),
}

/// One output dimension.
#[derive(Debug, Clone)]
pub struct OutDim {
    /// Name (the result column's).
    pub name: String,
    /// Coordinates.
    pub coords: CoordValues,
    /// CF attributes of the coordinate variable.
    pub attrs: Attributes,
}

/// One output variable.
#[derive(Debug, Clone)]
pub struct OutVar {
    /// Name (the result column's).
    pub name: String,
    /// Its cells.
    pub cells: Cells,
    /// CF attributes (`units`, `long_name` where the column carries them).
    pub attrs: Attributes,
}

/// A result laid out as a grid.
#[derive(Debug, Clone)]
pub struct GridResult {
    /// Dimensions, in the order of the `dims` option (else of the result).
    pub dims: Vec<OutDim>,
    /// Variables, in the result's column order.
    pub vars: Vec<OutVar>,
    /// Global attributes.
    pub attrs: Attributes,
}

impl GridResult {
    /// The dimension lengths.
    pub fn shape(&self) -> Vec<u64> {
        self.dims.iter().map(|d| d.coords.len() as u64).collect()
    }
}

/// How a dimension column's values become sortable keys and back.
#[derive(Debug, Clone, Copy, PartialEq)]
enum KeyKind {
    F32,
    F64,
    Int,
    Time,
}

fn order_bits(x: f64) -> i64 {
    let x = if x == 0.0 { 0.0 } else { x };
    let b = x.to_bits() as i64;
    if b < 0 { b ^ i64::MAX } else { b }
}

fn from_order_bits(k: i64) -> f64 {
    let b = if k < 0 { k ^ i64::MAX } else { k };
    f64::from_bits(b as u64)
}

fn key_kind(field: &Field) -> Option<KeyKind> {
    match field.data_type() {
        DataType::Float32 | DataType::Float16 => Some(KeyKind::F32),
        DataType::Float64 | DataType::Decimal128(..) => Some(KeyKind::F64),
        t if t.is_integer() => Some(KeyKind::Int),
        DataType::Timestamp(..) | DataType::Date32 | DataType::Date64 => Some(KeyKind::Time),
        _ => None,
    }
}

/// The keys of a dimension column (`None` for NULL).
fn keys(column: &ArrayRef, kind: KeyKind) -> Result<Vec<Option<i64>>> {
    let cast = |column: &ArrayRef, to: &DataType| {
        arrow::compute::cast(column, to).map_err(|e| ConnectorError::Option {
            option: "dims".into(),
            reason: e.to_string(),
        })
    };
    let ints = |column: &ArrayRef| -> Result<Vec<Option<i64>>> {
        Ok(cast(column, &DataType::Int64)?
            .as_primitive::<Int64Type>()
            .iter()
            .collect())
    };
    match kind {
        KeyKind::F32 | KeyKind::F64 => Ok(cast(column, &DataType::Float64)?
            .as_primitive::<Float64Type>()
            .iter()
            .map(|v| v.map(order_bits))
            .collect()),
        KeyKind::Int => ints(column),
        KeyKind::Time => ints(&cast(
            column,
            &DataType::Timestamp(TimeUnit::Microsecond, None),
        )?),
    }
}

/// A dimension being collected.
struct DimBuild {
    name: String,
    column: usize,
    kind: KeyKind,
    descending: bool,
    attrs: Attributes,
}

/// The CF attributes a result column carries in its field metadata.
fn column_attrs(field: &Field) -> Attributes {
    let mut attrs = Attributes::new();
    for (key, name) in [(meta::UNITS, "units"), (meta::LONG_NAME, "long_name")] {
        if let Some(v) = field.metadata().get(key).filter(|v| !v.trim().is_empty()) {
            attrs.insert(name.to_string(), AttrValue::Str(v.clone()));
        }
    }
    attrs
}

/// Lays out `batches` (the whole result) as a grid on `dims` (else the
/// columns marked as source dimensions).
///
/// # Errors
/// No dimension column, an unknown or non-numeric column, a NULL
/// coordinate, two rows for one cell, a grid too large to hold.
pub fn lay_out(
    batches: &[RecordBatch],
    schema: &arrow::datatypes::Schema,
    dims: Option<&[String]>,
) -> Result<GridResult> {
    let bad = |reason: String| ConnectorError::Option {
        option: "dims".into(),
        reason,
    };
    let dim_columns: Vec<usize> = match dims {
        Some(names) => names
            .iter()
            .map(|n| {
                schema
                    .index_of(n)
                    .map_err(|_| bad(format!("the result has no column '{n}'")))
            })
            .collect::<Result<_>>()?,
        None => schema
            .fields()
            .iter()
            .enumerate()
            .filter(|(_, f)| f.metadata().get(meta::ROLE).map(String::as_str) == Some("dimension"))
            .map(|(i, _)| i)
            .collect(),
    };
    if dim_columns.is_empty() {
        return Err(bad(
            "no result column comes straight from a dimension of the source; name the dimension columns with OPTIONS ('dims' 'a,b')".into(),
        ));
    }
    let mut builds = Vec::new();
    for &c in &dim_columns {
        let f = schema.field(c);
        let kind = key_kind(f).ok_or_else(|| {
            bad(format!(
                "column '{}' ({}) cannot be a dimension: numbers and times can",
                f.name(),
                f.data_type()
            ))
        })?;
        builds.push(DimBuild {
            name: f.name().clone(),
            column: c,
            kind,
            descending: f.metadata().get(meta::ORDER).map(String::as_str) == Some("descending"),
            attrs: column_attrs(f),
        });
    }
    let var_columns: Vec<usize> = (0..schema.fields().len())
        .filter(|c| !dim_columns.contains(c))
        .collect();
    for &c in &var_columns {
        let f = schema.field(c);
        if !f.data_type().is_numeric() {
            return Err(bad(format!(
                "column '{}' ({}) is neither a dimension nor a number; leave it out of the query or name it in 'dims'",
                f.name(),
                f.data_type()
            )));
        }
    }
    // the coordinates: every key seen, sorted
    let mut seen: Vec<BTreeSet<i64>> = vec![BTreeSet::new(); builds.len()];
    let mut batch_keys: Vec<Vec<Vec<i64>>> = Vec::with_capacity(batches.len());
    for batch in batches {
        let mut per_dim = Vec::with_capacity(builds.len());
        for (d, b) in builds.iter().enumerate() {
            let k = keys(batch.column(b.column), b.kind)?;
            let mut dense = Vec::with_capacity(k.len());
            for v in k {
                let v = v.ok_or_else(|| {
                    bad(format!(
                        "column '{}' has a NULL, which cannot be a coordinate",
                        b.name
                    ))
                })?;
                seen[d].insert(v);
                dense.push(v);
            }
            per_dim.push(dense);
        }
        batch_keys.push(per_dim);
    }
    let sorted: Vec<Vec<i64>> = seen
        .into_iter()
        .zip(&builds)
        .map(|(s, b)| {
            let mut v: Vec<i64> = s.into_iter().collect();
            if b.descending {
                v.reverse();
            }
            v
        })
        .collect();
    let shape: Vec<u64> = sorted.iter().map(|v| v.len() as u64).collect();
    let cells = shape
        .iter()
        .try_fold(1u64, |n, s| n.checked_mul(*s))
        .filter(|n| n.saturating_mul(8).saturating_mul(var_columns.len().max(1) as u64) <= MAX_GRID_BYTES)
        .ok_or_else(|| {
            bad(format!(
                "a grid of {} cells x {} variables is more than gridsql holds in memory to write ({} GiB)",
                shape.iter().map(u64::to_string).collect::<Vec<_>>().join(" x "),
                var_columns.len(),
                MAX_GRID_BYTES >> 30
            ))
        })? as usize;
    let index: Vec<HashMap<i64, usize>> = sorted
        .iter()
        .map(|v| v.iter().enumerate().map(|(i, k)| (*k, i)).collect())
        .collect();
    let mut strides = vec![1usize; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        strides[d] = strides[d + 1] * shape[d + 1] as usize;
    }
    // the cells
    let mut vars: Vec<OutVar> = var_columns
        .iter()
        .map(|&c| {
            let f = schema.field(c);
            let cells = match f.data_type() {
                DataType::Float32 | DataType::Float16 => Cells::F32(vec![f32::NAN; cells]),
                t if t.is_integer() => Cells::I64(vec![I64_FILL; cells]),
                _ => Cells::F64(vec![f64::NAN; cells]),
            };
            OutVar {
                name: f.name().clone(),
                cells,
                attrs: column_attrs(f),
            }
        })
        .collect();
    let mut filled = vec![false; cells];
    for (batch, keys) in batches.iter().zip(&batch_keys) {
        let rows = batch.num_rows();
        let mut at = vec![0usize; rows];
        for (d, k) in keys.iter().enumerate() {
            for (r, key) in k.iter().enumerate() {
                // every key was collected above
                let i = index[d].get(key).copied().unwrap_or_default();
                at[r] += i * strides[d];
            }
        }
        for (r, &cell) in at.iter().enumerate() {
            if std::mem::replace(&mut filled[cell], true) {
                let coords: Vec<String> = builds
                    .iter()
                    .zip(keys)
                    .map(|(b, k)| format!("{}={}", b.name, show_key(k[r], b.kind)))
                    .collect();
                return Err(bad(format!(
                    "two rows for the cell ({}): the dimension columns must identify each row; add the missing one to 'dims' or aggregate",
                    coords.join(", ")
                )));
            }
        }
        for (v, &c) in vars.iter_mut().zip(&var_columns) {
            place(&mut v.cells, batch.column(c), &at)?;
        }
    }
    let dims = builds
        .into_iter()
        .zip(sorted)
        .map(|(b, keys)| {
            let coords = match b.kind {
                KeyKind::F32 => {
                    CoordValues::F32(keys.iter().map(|k| from_order_bits(*k) as f32).collect())
                }
                KeyKind::F64 => {
                    CoordValues::F64(keys.iter().map(|k| from_order_bits(*k)).collect())
                }
                KeyKind::Int => CoordValues::I64(keys),
                KeyKind::Time => CoordValues::Time(keys),
            };
            OutDim {
                name: b.name,
                coords,
                attrs: b.attrs,
            }
        })
        .collect();
    let mut attrs = Attributes::new();
    attrs.insert("Conventions".into(), AttrValue::Str("CF-1.8".into()));
    attrs.insert(
        "history".into(),
        AttrValue::Str(format!(
            "written by gridsql {} (COPY ... TO)",
            env!("CARGO_PKG_VERSION")
        )),
    );
    Ok(GridResult { dims, vars, attrs })
}

fn show_key(k: i64, kind: KeyKind) -> String {
    match kind {
        KeyKind::F32 | KeyKind::F64 => from_order_bits(k).to_string(),
        KeyKind::Int => k.to_string(),
        KeyKind::Time => chrono::DateTime::from_timestamp_micros(k)
            .map(|t| t.naive_utc().to_string())
            .unwrap_or_else(|| k.to_string()),
    }
}

/// Puts a column's non-NULL values into the cells `at` names.
fn place(cells: &mut Cells, column: &ArrayRef, at: &[usize]) -> Result<()> {
    let cast = |to: &DataType| -> Result<Arc<dyn Array>> {
        arrow::compute::cast(column, to).map_err(|e| ConnectorError::Option {
            option: "dims".into(),
            reason: e.to_string(),
        })
    };
    match cells {
        Cells::F32(out) => {
            let a = cast(&DataType::Float32)?;
            for (v, &i) in a.as_primitive::<Float32Type>().iter().zip(at) {
                if let Some(v) = v {
                    out[i] = v;
                }
            }
        }
        Cells::F64(out) => {
            let a = cast(&DataType::Float64)?;
            for (v, &i) in a.as_primitive::<Float64Type>().iter().zip(at) {
                if let Some(v) = v {
                    out[i] = v;
                }
            }
        }
        Cells::I64(out) => {
            let a = cast(&DataType::Int64)?;
            for (v, &i) in a.as_primitive::<Int64Type>().iter().zip(at) {
                if let Some(v) = v {
                    out[i] = v;
                }
            }
        }
    }
    Ok(())
}

/// A coordinate's cells and attributes (times as `<unit> since 1970-01-01`).
pub fn encoded_coordinate(coords: &CoordValues, attrs: &Attributes) -> (Cells, Attributes) {
    let mut attrs = attrs.clone();
    let cells = match coords {
        CoordValues::F32(v) => Cells::F32(v.clone()),
        CoordValues::F64(v) => Cells::F64(v.clone()),
        CoordValues::I64(v) => Cells::I64(v.clone()),
        CoordValues::Time(micros) => {
            let (unit, per) = time_unit(micros);
            attrs.insert(
                "units".into(),
                AttrValue::Str(format!("{unit} since 1970-01-01 00:00:00")),
            );
            attrs.insert(
                "calendar".into(),
                AttrValue::Str("proleptic_gregorian".into()),
            );
            Cells::I64(micros.iter().map(|m| m / per).collect())
        }
    };
    (cells, attrs)
}

/// The coarsest unit that holds every time exactly, and its microseconds.
pub fn time_unit(micros: &[i64]) -> (&'static str, i64) {
    for (unit, per) in [
        ("days", 86_400_000_000i64),
        ("hours", 3_600_000_000),
        ("seconds", 1_000_000),
    ] {
        if micros.iter().all(|m| m % per == 0) {
            return (unit, per);
        }
    }
    ("microseconds", 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Float32Array, Float64Array, Int64Array};
    use arrow::datatypes::Schema;

    #[test]
    fn rows_land_in_their_cells_and_missing_cells_are_filled() {
        let lat = Field::new("lat", DataType::Float32, true)
            .with_metadata([(meta::ORDER.to_string(), "descending".to_string())].into());
        let schema = Arc::new(Schema::new(vec![
            Field::new("month", DataType::Int64, true),
            lat,
            Field::new("sst", DataType::Float64, true),
            Field::new("n", DataType::Int64, true),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Int64Array::from(vec![2, 1, 1])),
                Arc::new(Float32Array::from(vec![-10.0, 10.0, -10.0])),
                Arc::new(Float64Array::from(vec![Some(3.0), Some(1.0), None])),
                Arc::new(Int64Array::from(vec![3, 1, 2])),
            ],
        )
        .expect("batch");
        let dims = ["month".to_string(), "lat".to_string()];
        let g = lay_out(std::slice::from_ref(&batch), &schema, Some(&dims)).expect("laid out");
        assert_eq!(g.shape(), vec![2, 2]);
        assert_eq!(g.dims[0].coords, CoordValues::I64(vec![1, 2]));
        assert_eq!(g.dims[1].coords, CoordValues::F32(vec![10.0, -10.0]));
        let Cells::F64(sst) = &g.vars[0].cells else {
            panic!("float64 cells")
        };
        // (1, 10) = 1; (1, -10) NULL; (2, 10) no row; (2, -10) = 3
        assert_eq!(sst[0], 1.0);
        assert!(sst[1].is_nan() && sst[2].is_nan());
        assert_eq!(sst[3], 3.0);
        assert_eq!(g.vars[1].cells, Cells::I64(vec![1, 2, I64_FILL, 3]));
        // one dimension too few: two rows share a cell
        let e = lay_out(
            std::slice::from_ref(&batch),
            &schema,
            Some(&["month".to_string()]),
        )
        .expect_err("duplicate");
        assert!(
            e.to_string().contains("two rows for the cell (month=1)"),
            "{e}"
        );
        // no dimension known
        let e = lay_out(&[batch], &schema, None).expect_err("no dims");
        assert!(e.to_string().contains("'dims'"), "{e}");
    }

    #[test]
    fn time_units_are_the_coarsest_exact_ones() {
        assert_eq!(time_unit(&[0, 86_400_000_000]).0, "days");
        assert_eq!(time_unit(&[3_600_000_000]).0, "hours");
        assert_eq!(time_unit(&[1_500_000]).0, "microseconds");
    }

    #[test]
    fn float_keys_sort_as_floats() {
        let mut v = [3.5, -0.0, -2.0, 1e-300, -1e300, 0.0];
        let mut k: Vec<i64> = v.iter().map(|x| order_bits(*x)).collect();
        k.sort_unstable();
        k.dedup();
        let back: Vec<f64> = k.iter().map(|x| from_order_bits(*x)).collect();
        v.sort_by(f64::total_cmp);
        assert_eq!(back, vec![-1e300, -2.0, 0.0, 1e-300, 3.5]);
    }
}
