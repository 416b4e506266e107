//! Result columns as plain numbers: which columns are latitude, longitude
//! and values, and their rows as `f64` (timestamps as seconds since the
//! epoch, NULL and NaN as `None`).

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int64Type, SchemaRef, TimeUnit};

/// Whether a column name means latitude.
fn is_lat(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    matches!(n.as_str(), "lat" | "latitude" | "nav_lat" | "rlat" | "y") || n.starts_with("lat")
}

/// Whether a column name means longitude.
fn is_lon(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    matches!(n.as_str(), "lon" | "longitude" | "nav_lon" | "rlon" | "x") || n.starts_with("lon")
}

/// Indices of the latitude and longitude columns, when there are both.
pub(super) fn lat_lon(schema: &SchemaRef) -> Option<(usize, usize)> {
    let names: Vec<&String> = schema.fields().iter().map(|f| f.name()).collect();
    let lat = names.iter().position(|n| is_lat(n))?;
    let lon = names.iter().position(|n| is_lon(n) && !is_lat(n))?;
    Some((lat, lon))
}

/// Whether a type can be plotted as a number.
pub(super) fn is_numeric(t: &DataType) -> bool {
    t.is_numeric() || is_temporal(t)
}

/// Whether a type is a time (plotted as seconds since the epoch).
pub(super) fn is_temporal(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Timestamp(_, _) | DataType::Date32 | DataType::Date64
    )
}

/// Numeric columns other than `skip`.
pub(super) fn value_columns(schema: &SchemaRef, skip: &[usize]) -> Vec<usize> {
    schema
        .fields()
        .iter()
        .enumerate()
        .filter(|(i, f)| !skip.contains(i) && f.data_type().is_numeric())
        .map(|(i, _)| i)
        .collect()
}

/// All rows of column `col` as numbers; `None` for NULL and NaN.
///
/// # Errors
/// A column that is not numeric or temporal.
pub(super) fn numbers(batches: &[RecordBatch], col: usize) -> anyhow::Result<Vec<Option<f64>>> {
    let mut out = Vec::new();
    for b in batches {
        let a = b.column(col);
        let name = b.schema().field(col).name().clone();
        let (ints, per_second) = match a.data_type() {
            DataType::Timestamp(unit, _) => (true, per_second(*unit)),
            DataType::Date32 => (true, 1.0 / 86_400.0),
            DataType::Date64 => (true, 1_000.0),
            t if t.is_numeric() => (false, 1.0),
            t => anyhow::bail!("column '{name}' is {t}, not a number or a time"),
        };
        if ints {
            let as_int = match a.data_type() {
                DataType::Date32 => cast(&cast(a, &DataType::Int32)?, &DataType::Int64)?,
                _ => cast(a, &DataType::Int64)?,
            };
            let v = as_int.as_primitive::<Int64Type>();
            out.extend((0..v.len()).map(|i| v.is_valid(i).then(|| v.value(i) as f64 / per_second)));
        } else {
            let f = cast(a, &DataType::Float64)?;
            let v = f.as_primitive::<Float64Type>();
            out.extend(
                (0..v.len()).map(|i| (v.is_valid(i) && v.value(i).is_finite()).then(|| v.value(i))),
            );
        }
    }
    Ok(out)
}

/// Stored units per second of a timestamp unit.
fn per_second(unit: TimeUnit) -> f64 {
    match unit {
        TimeUnit::Second => 1.0,
        TimeUnit::Millisecond => 1e3,
        TimeUnit::Microsecond => 1e6,
        TimeUnit::Nanosecond => 1e9,
    }
}

/// Smallest and largest of the present values.
pub(super) fn range<'a>(values: impl IntoIterator<Item = &'a Option<f64>>) -> Option<(f64, f64)> {
    values
        .into_iter()
        .flatten()
        .fold(None, |acc, &v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Float32Array, TimestampMicrosecondArray};
    use arrow::datatypes::{Field, Schema};

    use super::*;

    #[test]
    fn numbers_of_floats_and_times() {
        let schema = Arc::new(Schema::new(vec![
            Field::new(
                "time",
                DataType::Timestamp(TimeUnit::Microsecond, None),
                true,
            ),
            Field::new("latitude", DataType::Float32, true),
            Field::new("longitude", DataType::Float32, true),
            Field::new("v", DataType::Float32, true),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(TimestampMicrosecondArray::from(vec![
                    Some(86_400_000_000),
                    None,
                ])),
                Arc::new(Float32Array::from(vec![1.5, 2.5])),
                Arc::new(Float32Array::from(vec![3.0, 4.0])),
                Arc::new(Float32Array::from(vec![Some(f32::NAN), Some(0.25)])),
            ],
        )
        .expect("batch");
        assert_eq!(lat_lon(&schema), Some((1, 2)));
        assert_eq!(value_columns(&schema, &[1, 2]), vec![3]);
        let t = numbers(std::slice::from_ref(&batch), 0).expect("times");
        assert_eq!(t, vec![Some(86_400.0), None]);
        let v = numbers(&[batch], 3).expect("values");
        assert_eq!(v, vec![None, Some(0.25)]);
        assert_eq!(range(&v), Some((0.25, 0.25)));
    }
}
