//! From a dataset's variables to the grid a table shows, the same for every
//! format: classify variables (coordinates, bounds, data), pick the grid
//! (the `dims` and `variables` options or the default), and read and decode
//! its coordinates through the format's [`GridReader`].

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, new_empty_array, new_null_array};
use arrow::datatypes::DataType;

use super::model::AuxColumn;
use super::values::decode_time;
use super::{Dimension, Grid, GridReader, GridVariable, RawBuffer, VarKind};
use crate::cf::{AttrValue, Attributes};
use crate::error::{ConnectorError, Result};

/// The longest coordinate variable read into memory when a table opens, for
/// every format: a hostile header cannot make opening allocate more.
pub const MAX_COORD_LEN: u64 = 1 << 27;

/// The variables of a dataset (or group), before they are sorted into grids.
#[derive(Debug, Clone)]
pub struct DatasetVariables {
    /// Dataset location, for messages.
    pub dataset: String,
    /// All variables with a supported type.
    pub variables: Vec<GridVariable>,
    /// Global attributes.
    pub global_attrs: Attributes,
}

impl DatasetVariables {
    /// The variables and global attributes of a dataset; its 0-d strings
    /// (descriptions, a grid mapping's name) also become global attributes
    /// of that name, unless one exists: they describe the whole table.
    pub fn new(
        dataset: String,
        variables: Vec<GridVariable>,
        mut global_attrs: Attributes,
    ) -> Self {
        for v in variables.iter().filter(|v| v.dims.is_empty()) {
            if let VarKind::Text(values) = &v.kind
                && let Some(s) = values.as_string_opt::<i32>().filter(|s| s.len() == 1)
            {
                global_attrs
                    .entry(v.name.clone())
                    .or_insert_with(|| AttrValue::Str(s.value(0).to_string()));
            }
        }
        DatasetVariables {
            dataset,
            variables,
            global_attrs,
        }
    }
}

/// Decodes a coordinate variable's values (CF, then time).
///
/// # Errors
/// Arrow errors while casting.
pub fn decode_coordinate(buf: &RawBuffer, var: &GridVariable) -> Result<ArrayRef> {
    let n = buf.len();
    let array = crate::with_raw!(buf, v => var.decoding.cf.decode(&v[..n]));
    decode_time(array, &var.decoding)
}

/// Which coordinate variables [`build_grid`] reads.
#[derive(Debug, Clone, Copy)]
pub enum CoordReads<'a> {
    /// Every one, through the format's reader.
    All(&'a dyn GridReader),
    /// Only the named one; the others become NULLs of their length (a later
    /// file of a collection, whose sizes are needed, not its values).
    Only(&'a dyn GridReader, &'a str),
    /// None: names and shapes only (each coordinate empty).
    Skip,
}

impl CoordReads<'_> {
    /// The decoded values of coordinate variable `c` of `n` values.
    async fn read(&self, c: &GridVariable, n: u64) -> Result<ArrayRef> {
        if let VarKind::Text(values) = &c.kind {
            return Ok(Arc::clone(values));
        }
        let reader = match self {
            CoordReads::Skip => return Ok(new_empty_array(&c.decoding.arrow_type())),
            CoordReads::Only(_, only) if *only != c.name => {
                return Ok(new_null_array(
                    &DataType::Null,
                    usize::try_from(n).unwrap_or(0),
                ));
            }
            CoordReads::All(r) | CoordReads::Only(r, _) => *r,
        };
        let buf = if n == 0 {
            RawBuffer::F64(vec![])
        } else {
            reader.read(&c.name, &[0..n]).await?
        };
        decode_coordinate(&buf, c)
    }

    /// The decoded values of auxiliary column `v`, whole (empty when
    /// coordinates are skipped; NULLs for a later file of a collection).
    async fn read_whole(&self, v: &GridVariable) -> Result<ArrayRef> {
        if let VarKind::Text(values) = &v.kind {
            return Ok(Arc::clone(values));
        }
        let cells: u64 = v.shape.iter().product();
        let reader = match self {
            CoordReads::Skip => return Ok(new_empty_array(&v.decoding.arrow_type())),
            CoordReads::Only(..) => {
                return Ok(new_null_array(
                    &v.decoding.arrow_type(),
                    usize::try_from(cells).unwrap_or(0),
                ));
            }
            CoordReads::All(r) => *r,
        };
        let buf = if cells == 0 {
            RawBuffer::F64(vec![])
        } else {
            let region: Vec<std::ops::Range<u64>> = v.shape.iter().map(|&n| 0..n).collect();
            reader.read(&v.name, &region).await?
        };
        decode_coordinate(&buf, v)
    }
}

/// Names listed in a variable's `coordinates` attribute.
fn coordinate_names(v: &GridVariable) -> Vec<&str> {
    v.attr_str("coordinates")
        .map(|c| c.split_whitespace().collect())
        .unwrap_or_default()
}

/// Sorts variables into grids, picks the table's grid (`dims` option or the
/// default) and reads its coordinates as `coords` says, through the same
/// [`GridReader`] the scan uses.
///
/// # Errors
/// Unknown `dims` or `variables`, inconsistent shapes, unreadable coordinates.
pub async fn build_grid(
    ds: DatasetVariables,
    options: &BTreeMap<String, String>,
    coords: CoordReads<'_>,
) -> Result<Grid> {
    let dataset = ds.dataset.clone();
    let meta_err = |reason: String| ConnectorError::Metadata {
        dataset: dataset.clone(),
        reason,
    };
    // Coordinate variables: 1-D, named after their dimension.
    let is_coord = |v: &GridVariable| v.dims.len() == 1 && v.dims[0] == v.name;
    // Bounds and climatology variables named by coordinates are metadata.
    let mut aux: HashSet<String> = HashSet::new();
    for v in ds.variables.iter().filter(|v| is_coord(v)) {
        for key in ["bounds", "climatology"] {
            if let Some(b) = v.attr_str(key) {
                aux.insert(b.to_string());
            }
        }
    }
    // Auxiliary coordinates (named in `coordinates` attributes) are columns
    // of the grids they label, not grids of their own, as in xarray.
    let named: HashSet<String> = ds
        .variables
        .iter()
        .flat_map(|v| coordinate_names(v).into_iter().map(str::to_string))
        .collect();
    let data: Vec<&GridVariable> = ds
        .variables
        .iter()
        .filter(|v| {
            matches!(v.kind, VarKind::Numeric)
                && !is_coord(v)
                && !v.dims.is_empty()
                && !aux.contains(&v.name)
                && !named.contains(&v.name)
        })
        .collect();
    // Candidate grids: distinct dimension tuples of data variables.
    let mut grids: Vec<(Vec<String>, Vec<&GridVariable>)> = Vec::new();
    for v in &data {
        match grids.iter_mut().find(|(d, _)| *d == v.dims) {
            Some((_, vs)) => vs.push(v),
            None => grids.push((v.dims.clone(), vec![v])),
        }
    }
    // A dataset of coordinates only still forms a table of its coordinates.
    if grids.is_empty() {
        // Say why when it is because variables cannot be read.
        if let Some((v, why)) = ds
            .variables
            .iter()
            .filter(|v| !is_coord(v))
            .find_map(|v| v.unreadable().map(|why| (v, why)))
        {
            return Err(ConnectorError::Variable {
                dataset: dataset.clone(),
                variable: v.name.clone(),
                reason: format!("cannot be read, and no other data variable can: {why}"),
            });
        }
        return Err(meta_err("no data variables with dimensions".into()));
    }
    let describe_grids = || {
        grids
            .iter()
            .map(|(d, vs)| {
                let names: Vec<&str> = vs.iter().map(|v| v.name.as_str()).collect();
                format!("({}): {}", d.join(","), names.join(","))
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    let chosen = match options.get("dims") {
        Some(want) => {
            let want: Vec<String> = want.split(',').map(|s| s.trim().to_string()).collect();
            grids
                .iter()
                .find(|(d, _)| *d == want)
                .cloned()
                .ok_or_else(|| {
                    meta_err(format!(
                        "no variables on dims ({}); grids are {}",
                        want.join(","),
                        describe_grids()
                    ))
                })?
        }
        None => {
            let cells =
                |vs: &[&GridVariable]| vs[0].shape.iter().fold(1u64, |a, &n| a.saturating_mul(n));
            grids
                .iter()
                .max_by(|a, b| {
                    (a.1.len(), a.0.len(), cells(&a.1))
                        .cmp(&(b.1.len(), b.0.len(), cells(&b.1)))
                        // prefer the first grid in dataset order on full ties
                        .then(std::cmp::Ordering::Greater)
                })
                .cloned()
                .ok_or_else(|| meta_err("no grid".into()))?
        }
    };
    let (dim_names, mut vars) = chosen;
    let on_grid = |v: &GridVariable| {
        !v.dims.is_empty() && !is_coord(v) && v.dims.iter().all(|d| dim_names.contains(d))
    };
    let wanted: Option<Vec<&str>> = options.get("variables").map(|list| {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect()
    });
    if let Some(want) = &wanted {
        for w in want {
            let other = ds
                .variables
                .iter()
                .any(|v| v.name == *w && !matches!(v.kind, VarKind::Numeric) && on_grid(v));
            if !other && !vars.iter().any(|v| v.name == *w) {
                return Err(meta_err(format!(
                    "variable '{w}' is not on dims ({}); its variables are {}",
                    dim_names.join(","),
                    vars.iter()
                        .map(|v| v.name.as_str())
                        .collect::<Vec<_>>()
                        .join(",")
                )));
            }
        }
        vars.retain(|v| want.contains(&v.name.as_str()));
    }
    if vars.is_empty() {
        return Err(meta_err(format!(
            "the 'variables' option names no numeric variable on dims ({})",
            dim_names.join(",")
        )));
    }
    let shape = vars[0].shape.clone();
    for v in &vars {
        if v.shape != shape {
            return Err(ConnectorError::Variable {
                dataset: dataset.clone(),
                variable: v.name.clone(),
                reason: format!(
                    "shape {:?} differs from {:?} of '{}' on the same dims",
                    v.shape, shape, vars[0].name
                ),
            });
        }
        if v.chunks.len() != v.shape.len() || v.chunks.contains(&0) {
            return Err(ConnectorError::Variable {
                dataset: dataset.clone(),
                variable: v.name.clone(),
                reason: format!(
                    "chunk shape {:?} does not fit shape {:?}",
                    v.chunks, v.shape
                ),
            });
        }
    }
    // The coordinates are read at once: over a remote store each is a
    // round trip.
    let dims = futures::future::try_join_all(dim_names.iter().zip(&shape).map(|(name, &size)| {
        let coord = ds.variables.iter().find(|v| is_coord(v) && v.name == *name);
        let dataset = &dataset;
        let coords = &coords;
        async move {
            let dim = match coord {
                Some(c) if c.shape[0] == size && size > MAX_COORD_LEN => {
                    return Err(ConnectorError::Variable {
                        dataset: dataset.clone(),
                        variable: c.name.clone(),
                        reason: format!(
                            "coordinate of {size} values is longer than the {MAX_COORD_LEN} values \
                             gridsql reads into memory"
                        ),
                    });
                }
                Some(c) if c.unreadable().is_some() => {
                    log::warn!(
                        "dataset '{dataset}': coordinate '{}' cannot be read ({}); dimension \
                         '{name}' shows its index",
                        c.name,
                        c.unreadable().unwrap_or_default()
                    );
                    Dimension::indexed(name, size)
                }
                Some(c) if c.shape[0] == size => {
                    let values = coords.read(c, size).await?;
                    let mut dim = Dimension::with_values(name, c.clone(), values);
                    dim.size = size;
                    dim
                }
                Some(c) => {
                    return Err(ConnectorError::Variable {
                        dataset: dataset.clone(),
                        variable: c.name.clone(),
                        reason: format!(
                            "coordinate has {} values but dimension '{name}' has {size}",
                            c.shape[0]
                        ),
                    });
                }
                None => Dimension::indexed(name, size),
            };
            Ok(dim)
        }
    }))
    .await?;
    let variables: Vec<GridVariable> = vars.into_iter().cloned().collect();
    // In-memory columns: the auxiliary coordinates the grid's variables
    // name, and string variables on the grid's dimensions; then the
    // variables that cannot be read. With a `variables` option, only what
    // it names and what those name.
    let referenced: HashSet<&str> = variables.iter().flat_map(coordinate_names).collect();
    let dim_coord = |v: &GridVariable| is_coord(v) && dim_names.contains(&v.name);
    let mut aux_vars: Vec<&GridVariable> = Vec::new();
    let mut unreadable = Vec::new();
    for v in &ds.variables {
        if dim_coord(v) || !on_grid(v) || variables.iter().any(|d| d.name == v.name) {
            continue;
        }
        let fits = v.dims.iter().zip(&v.shape).all(|(d, &n)| {
            dim_names
                .iter()
                .position(|g| g == d)
                .and_then(|i| shape.get(i))
                == Some(&n)
        });
        if !fits {
            log::warn!(
                "dataset '{dataset}': '{}' of shape {:?} does not fit the grid's dims; not a column",
                v.name,
                v.shape
            );
            continue;
        }
        let asked = wanted
            .as_ref()
            .is_some_and(|w| w.contains(&v.name.as_str()));
        let listed = referenced.contains(v.name.as_str());
        match &v.kind {
            VarKind::Unreadable(_) if wanted.is_none() || asked || listed => {
                unreadable.push(v.clone());
            }
            VarKind::Text(_) if wanted.is_none() || asked || listed => aux_vars.push(v),
            VarKind::Numeric if listed => aux_vars.push(v),
            _ => {}
        }
    }
    let too_long = aux_vars
        .iter()
        .find(|v| v.shape.iter().fold(1u64, |a, &n| a.saturating_mul(n)) > MAX_COORD_LEN);
    if let Some(v) = too_long {
        return Err(ConnectorError::Variable {
            dataset: dataset.clone(),
            variable: v.name.clone(),
            reason: format!(
                "auxiliary coordinate of {:?} values is larger than the {MAX_COORD_LEN} values \
                 gridsql reads into memory",
                v.shape
            ),
        });
    }
    let aux = futures::future::try_join_all(aux_vars.into_iter().map(|v| {
        let coords = &coords;
        let dim_names = &dim_names;
        async move {
            let values = coords.read_whole(v).await?;
            let dims = v
                .dims
                .iter()
                .filter_map(|d| dim_names.iter().position(|g| g == d))
                .collect();
            Ok::<_, ConnectorError>(AuxColumn {
                var: v.clone(),
                dims,
                values,
            })
        }
    }))
    .await?;
    let global_attrs = ds.global_attrs;
    Ok(Grid {
        dims,
        variables,
        aux,
        unreadable,
        global_attrs,
        files: None,
    })
}
