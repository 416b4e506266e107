//! From a file's fields to the dataset cfgrib shows: one hypercube
//! `(number, time, step, <level>, latitude, longitude)` (or `y, x` for
//! projected grids) per parameter, where a key with a single value is not a
//! dimension, `valid_time` = `time` + `step` is an auxiliary coordinate, and
//! cells without a message are NaN (a sparse hypercube, as cfgrib builds).

use std::collections::{BTreeMap, HashMap};

use super::geometry::{Coordinates, GridDef};
use super::message::{Field, FieldAt};
use super::params::LevelKind;
use super::reader::{Coord, CoordValues, FieldIndex};
use crate::cf::{AttrValue, Attributes, CfDecoding, RawType};
use crate::grid::build::DatasetVariables;
use crate::grid::model::VariableDecoding;
use crate::grid::{GridVariable, VarKind};
use crate::open::time_decoding;

/// What [`hypercube`] builds: the dataset's variables and what the reader
/// needs to read them.
#[derive(Debug)]
pub struct Hypercube {
    /// Variables (coordinates and data) and global attributes.
    pub variables: DatasetVariables,
    /// Coordinate values.
    pub coords: HashMap<String, Coord>,
    /// Where each data variable's fields are.
    pub data: HashMap<String, FieldIndex>,
}

/// Most cells of the (number, time, step, level) hypercube of one
/// parameter: a file of a few messages with all-different keys cannot make
/// the index huge.
const MAX_SLOTS: u64 = 1 << 24;

/// Sorted distinct values.
fn distinct<T: PartialOrd + Copy>(mut v: Vec<T>) -> Vec<T> {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    v.dedup_by(|a, b| a == b);
    v
}

fn attrs(pairs: &[(&str, &str)]) -> Attributes {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), AttrValue::Str((*v).to_string())))
        .collect()
}

/// A numeric variable of the dataset.
fn variable(
    dataset: &str,
    name: &str,
    dims: Vec<String>,
    shape: Vec<u64>,
    chunks: Vec<u64>,
    raw: RawType,
    attrs: Attributes,
) -> GridVariable {
    let fill = raw.is_float().then_some(f64::NAN);
    GridVariable {
        name: name.to_string(),
        decoding: VariableDecoding {
            cf: CfDecoding::from_attrs(raw, &attrs, fill),
            time: time_decoding(dataset, name, &attrs),
        },
        chunks: chunks.clone(),
        dims,
        shape,
        attrs,
        kind: VarKind::Numeric,
    }
}

/// One axis of the hypercube that is a dimension (more than one value).
struct Axis {
    name: String,
    len: u64,
}

/// The coordinate variables of the hypercube and their values, as they are
/// added.
struct CoordinateVariables<'a> {
    dataset: &'a str,
    variables: Vec<GridVariable>,
    coords: HashMap<String, Coord>,
}

impl CoordinateVariables<'_> {
    /// Adds coordinate variable `name` on `dims` (one chunk) with its values.
    fn add(&mut self, name: &str, dims: &[&Axis], attrs: Attributes, values: CoordValues) {
        let shape: Vec<u64> = dims.iter().map(|a| a.len).collect();
        let raw = match values {
            CoordValues::I64(_) => RawType::I64,
            CoordValues::F64(_) => RawType::F64,
        };
        let names = dims.iter().map(|a| a.name.clone()).collect();
        self.variables.push(variable(
            self.dataset,
            name,
            names,
            shape.clone(),
            shape.clone(),
            raw,
            attrs,
        ));
        self.coords
            .insert(name.to_string(), Coord { shape, values });
    }
}

/// Builds the hypercube of `fields`.
///
/// # Errors
/// Fields on several grids, a parameter on two kinds of level, two messages
/// for one cell.
pub fn hypercube(
    dataset: &str,
    fields: &[(FieldAt, Field)],
    edition: u8,
) -> Result<Hypercube, String> {
    let Some((_, first)) = fields.first() else {
        return Err("no fields".into());
    };
    let grid: &GridDef = &first.grid;
    if let Some((at, f)) = fields.iter().find(|(_, f)| &f.grid != grid) {
        return Err(format!(
            "fields on different grids ({:?} and, from byte {}, {:?}); one table holds one grid",
            grid, at.offset, f.grid
        ));
    }
    // Parameters in order of first appearance, each on one kind of level.
    let mut params: Vec<(&super::params::Param, Option<LevelKind>)> = Vec::new();
    for (at, f) in fields {
        let kind = f.keys.level.map(|l| l.kind);
        match params.iter().find(|(p, _)| p.name == f.keys.param.name) {
            Some((_, k)) if *k != kind => {
                return Err(format!(
                    "parameter '{}' is on levels '{}' and, from byte {}, '{}'; cfgrib needs one kind per table",
                    f.keys.param.name,
                    k.map_or("none", |k| k.name),
                    at.offset,
                    kind.map_or("none", |k| k.name),
                ));
            }
            Some(_) => {}
            None => params.push((&f.keys.param, kind)),
        }
    }
    let numbers = distinct(fields.iter().filter_map(|(_, f)| f.keys.number).collect());
    let times = distinct(fields.iter().map(|(_, f)| f.keys.time).collect());
    let steps = distinct(fields.iter().map(|(_, f)| f.keys.step_hours).collect());
    let mut levels: BTreeMap<&str, (LevelKind, Vec<f64>)> = BTreeMap::new();
    for (_, f) in fields {
        if let Some(l) = f.keys.level {
            levels
                .entry(l.kind.name)
                .or_insert((l.kind, vec![]))
                .1
                .push(l.value);
        }
    }
    for (kind, values) in levels.values_mut() {
        *values = distinct(std::mem::take(values));
        if kind.descending {
            values.reverse();
        }
    }
    let (ny, nx) = grid.shape();
    let coordinates = grid.coordinates()?;
    let (ydim, xdim) = match coordinates {
        Coordinates::Regular { .. } => ("latitude", "longitude"),
        Coordinates::Projected { .. } => ("y", "x"),
    };

    let mut cube = CoordinateVariables {
        dataset,
        variables: Vec::new(),
        coords: HashMap::new(),
    };
    let axis = |name: &str, len: usize| {
        (len > 1).then(|| Axis {
            name: name.into(),
            len: len as u64,
        })
    };
    let number_axis = axis("number", numbers.len());
    let time_axis = axis("time", times.len());
    let step_axis = axis("step", steps.len());
    let time_units = [
        ("units", "seconds since 1970-01-01"),
        ("calendar", "proleptic_gregorian"),
    ];
    if let Some(a) = &number_axis {
        let at = attrs(&[
            ("units", "1"),
            ("long_name", "ensemble member numerical id"),
            ("standard_name", "realization"),
        ]);
        cube.add("number", &[a], at, CoordValues::I64(numbers.clone()));
    }
    if let Some(a) = &time_axis {
        let mut at = attrs(&[
            ("long_name", "initial time of forecast"),
            ("standard_name", "forecast_reference_time"),
        ]);
        at.extend(attrs(&time_units));
        cube.add("time", &[a], at, CoordValues::I64(times.clone()));
    }
    if let Some(a) = &step_axis {
        let at = attrs(&[
            ("units", "hours"),
            ("long_name", "time since forecast_reference_time"),
            ("standard_name", "forecast_period"),
        ]);
        cube.add("step", &[a], at, CoordValues::F64(steps.clone()));
    }
    let mut level_axes: HashMap<&str, Axis> = HashMap::new();
    for (name, (kind, values)) in &levels {
        if let Some(a) = axis(name, values.len()) {
            let mut at = attrs(&[("units", kind.units), ("long_name", kind.long_name)]);
            if let Some(s) = kind.standard_name {
                at.insert("standard_name".into(), AttrValue::Str(s.into()));
            }
            if kind.descending {
                at.insert("positive".into(), AttrValue::Str("down".into()));
            }
            cube.add(name, &[&a], at, CoordValues::F64(values.clone()));
            level_axes.insert(name, a);
        }
    }
    let lat_attrs = attrs(&[
        ("units", "degrees_north"),
        ("long_name", "latitude"),
        ("standard_name", "latitude"),
    ]);
    let lon_attrs = attrs(&[
        ("units", "degrees_east"),
        ("long_name", "longitude"),
        ("standard_name", "longitude"),
    ]);
    let y = Axis {
        name: ydim.into(),
        len: ny,
    };
    let x = Axis {
        name: xdim.into(),
        len: nx,
    };
    match coordinates {
        Coordinates::Regular { lat, lon } => {
            cube.add("latitude", &[&y], lat_attrs, CoordValues::F64(lat));
            cube.add("longitude", &[&x], lon_attrs, CoordValues::F64(lon));
        }
        Coordinates::Projected { lat, lon, .. } => {
            cube.add("latitude", &[&y, &x], lat_attrs, CoordValues::F64(lat));
            cube.add("longitude", &[&y, &x], lon_attrs, CoordValues::F64(lon));
        }
    }
    // valid_time on whichever of time and step are dimensions (a single
    // time or step is the same value on every row).
    let valid_dims: Vec<&Axis> = [&time_axis, &step_axis].into_iter().flatten().collect();
    if !valid_dims.is_empty() {
        let values: Vec<f64> = match (&time_axis, &step_axis) {
            (Some(_), None) => times
                .iter()
                .map(|t| *t as f64 + steps[0] * 3600.0)
                .collect(),
            (None, _) => steps.iter().map(|s| times[0] as f64 + s * 3600.0).collect(),
            (Some(_), Some(_)) => times
                .iter()
                .flat_map(|t| steps.iter().map(move |s| *t as f64 + s * 3600.0))
                .collect(),
        };
        let mut at = attrs(&[("long_name", "time"), ("standard_name", "time")]);
        at.extend(attrs(&time_units));
        cube.add("valid_time", &valid_dims, at, CoordValues::F64(values));
    }
    let CoordinateVariables {
        mut variables,
        coords,
        ..
    } = cube;
    // The data variables and where their fields are.
    let mut data = HashMap::new();
    let position = |values: &[f64], v: f64| values.iter().position(|x| *x == v);
    for (param, kind) in &params {
        let level_axis = kind.and_then(|k| level_axes.get(k.name));
        let outer: Vec<&Axis> = [
            number_axis.as_ref(),
            time_axis.as_ref(),
            step_axis.as_ref(),
            level_axis,
        ]
        .into_iter()
        .flatten()
        .collect();
        let outer_shape: Vec<u64> = outer.iter().map(|a| a.len).collect();
        let slots = outer_shape.iter().try_fold(1u64, |n, &l| n.checked_mul(l))
            .filter(|&n| n <= MAX_SLOTS)
            .ok_or_else(|| format!(
                "parameter '{}': a hypercube of {outer_shape:?} fields is too sparse to index (at most {MAX_SLOTS} cells)",
                param.name
            ))? as usize;
        let mut index: Vec<Option<FieldAt>> = vec![None; slots];
        for (at, f) in fields
            .iter()
            .filter(|(_, f)| f.keys.param.name == param.name)
        {
            let mut slot = 0usize;
            let k = &f.keys;
            let parts = [
                number_axis.as_ref().map(|a| {
                    (
                        a,
                        k.number.and_then(|n| numbers.iter().position(|x| *x == n)),
                    )
                }),
                time_axis
                    .as_ref()
                    .map(|a| (a, times.iter().position(|x| *x == k.time))),
                step_axis
                    .as_ref()
                    .map(|a| (a, position(&steps, k.step_hours))),
                level_axis.map(|a| {
                    (
                        a,
                        k.level.and_then(|l| {
                            levels
                                .get(l.kind.name)
                                .and_then(|(_, v)| position(v, l.value))
                        }),
                    )
                }),
            ];
            for (a, i) in parts.into_iter().flatten() {
                let i =
                    i.ok_or_else(|| format!("message at byte {} has no {}", at.offset, a.name))?;
                slot = slot * a.len as usize + i;
            }
            if let Some(other) = index[slot] {
                return Err(format!(
                    "parameter '{}': messages at bytes {} and {} are the same cell (number, time, step and level)",
                    param.name, other.offset, at.offset
                ));
            }
            index[slot] = Some(*at);
        }
        let mut dims: Vec<String> = outer.iter().map(|a| a.name.clone()).collect();
        dims.extend([ydim.to_string(), xdim.to_string()]);
        let mut shape = outer_shape.clone();
        shape.extend([ny, nx]);
        let mut chunks = vec![1; outer_shape.len()];
        chunks.extend([ny, nx]);
        let mut at = attrs(&[("units", &param.units), ("long_name", &param.long_name)]);
        if let Some(s) = param.standard_name {
            at.insert("standard_name".into(), AttrValue::Str(s.into()));
        }
        let named: Vec<&str> = ["number", "time", "step"]
            .into_iter()
            .chain(kind.map(|k| k.name))
            .chain(["latitude", "longitude", "valid_time"])
            .filter(|n| coords.contains_key(*n))
            .collect();
        at.insert("coordinates".into(), AttrValue::Str(named.join(" ")));
        variables.push(variable(
            dataset,
            &param.name,
            dims,
            shape,
            chunks,
            RawType::F32,
            at,
        ));
        data.insert(
            param.name.clone(),
            FieldIndex {
                outer: outer_shape,
                grid: (ny, nx),
                fields: index,
            },
        );
    }
    let mut global = attrs(&[("Conventions", "CF-1.7")]);
    global.insert("GRIB_edition".into(), AttrValue::Int(i64::from(edition)));
    Ok(Hypercube {
        variables: DatasetVariables::new(dataset.to_string(), variables, global),
        coords,
        data,
    })
}
