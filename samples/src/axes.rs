//! The CF coordinate arrays both samples write: time in days since an
//! epoch, latitude and longitude, each one chunk.

use serde_json::{Map, Value, json};

use crate::SampleError;
use crate::store::{Dtype, Fill, StoreWriter, Variable, store_chunk};

/// The coordinates of a sample: names and values.
pub(crate) struct Axes<'a> {
    /// CF time units, e.g. `days since 1950-01-01`.
    pub(crate) time_units: &'a str,
    pub(crate) times: &'a [f64],
    pub(crate) lat_name: &'static str,
    pub(crate) lat: &'a [f32],
    pub(crate) lon_name: &'static str,
    pub(crate) lon: &'a [f32],
}

/// Writes `time`, the latitude and the longitude arrays of `axes` with
/// their CF attributes (standard names, units, axis letters).
pub(crate) fn write_axes(writer: &mut StoreWriter, axes: &Axes) -> Result<(), SampleError> {
    let time = writer.create_array(&coordinate(
        "time",
        Dtype::F64,
        axes.times.len() as u64,
        attrs(&[
            ("standard_name", json!("time")),
            ("long_name", json!("Time")),
            ("axis", json!("T")),
            ("units", json!(axes.time_units)),
            ("calendar", json!("standard")),
        ]),
    ))?;
    store_chunk(&time, "time", &[0], axes.times)?;
    for (name, values, standard, long, units, axis) in [
        (
            axes.lat_name,
            axes.lat,
            "latitude",
            "Latitude",
            "degrees_north",
            "Y",
        ),
        (
            axes.lon_name,
            axes.lon,
            "longitude",
            "Longitude",
            "degrees_east",
            "X",
        ),
    ] {
        let array = writer.create_array(&coordinate(
            name,
            Dtype::F32,
            values.len() as u64,
            attrs(&[
                ("standard_name", json!(standard)),
                ("long_name", json!(long)),
                ("units", json!(units)),
                ("axis", json!(axis)),
            ]),
        ))?;
        store_chunk(&array, name, &[0], values)?;
    }
    Ok(())
}

/// A one-chunk coordinate array along its own dimension.
pub(crate) fn coordinate(
    name: &'static str,
    dtype: Dtype,
    len: u64,
    attrs: Map<String, Value>,
) -> Variable {
    Variable {
        name,
        dims: vec![name],
        shape: vec![len],
        chunks: vec![len],
        dtype,
        fill: Fill::NaN,
        attrs,
    }
}

/// Attributes from `(name, value)` pairs.
pub(crate) fn attrs(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), v.clone()))
        .collect()
}
