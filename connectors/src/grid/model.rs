//! Dimensions, variables and the grid (table) they form.
//!
//! The table model: the data variables that share one tuple of dimensions
//! form one table; each dimension is a column of its coordinate values (its
//! 0-based index as Int64 when it has no coordinate variable), each data
//! variable a column of CF-decoded values. Columns: dimensions in storage
//! order, then variables.

use std::collections::HashMap;
use std::sync::Arc;

use std::ops::Range;

use arrow::array::{Array, ArrayRef, Int64Array, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::error::ArrowError;
use datafusion::common::ScalarValue;

use super::plan::{Axis, ChunkGrid};
use crate::cf::{AttrValue, Attributes, CfDecoding, TimeDecoding};

/// Field metadata keys under which column attributes travel in the schema.
pub mod meta {
    /// CF `units`.
    pub const UNITS: &str = "units";
    /// CF `long_name`.
    pub const LONG_NAME: &str = "long_name";
    /// Chunk shape, e.g. `5x720x1440`.
    pub const CHUNKS: &str = "chunks";
    /// Stored type, e.g. `int16`.
    pub const DTYPE: &str = "dtype";
    /// `dimension` or `variable`.
    pub const ROLE: &str = "gridsql.role";
}

/// How a variable's stored numbers become SQL values.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VariableDecoding {
    /// Packing and missing values.
    pub cf: CfDecoding,
    /// Time decoding when `units` is `<unit> since <date>`.
    pub time: Option<TimeDecoding>,
}

impl VariableDecoding {
    /// The Arrow type of the decoded column.
    pub fn arrow_type(&self) -> DataType {
        match &self.time {
            Some(t) if t.calendar.is_string() => DataType::Utf8,
            Some(_) => DataType::Timestamp(TimeUnit::Microsecond, None),
            None => self.cf.arrow_type(),
        }
    }
}

/// A variable of a dataset.
#[derive(Debug, Clone)]
pub struct GridVariable {
    /// Name in the dataset.
    pub name: String,
    /// Dimension names, in storage order.
    pub dims: Vec<String>,
    /// Shape, one length per dimension.
    pub shape: Vec<u64>,
    /// Chunk shape (the whole shape for contiguous storage).
    pub chunks: Vec<u64>,
    /// Decoding of stored values.
    pub decoding: VariableDecoding,
    /// All attributes.
    pub attrs: Attributes,
}

impl GridVariable {
    /// An attribute as a string.
    pub fn attr_str(&self, key: &str) -> Option<&str> {
        self.attrs.get(key).and_then(AttrValue::as_str)
    }

    /// Schema field of this variable's column.
    pub fn field(&self, role: &str) -> Field {
        let mut md = HashMap::new();
        if let Some(u) = self.attr_str("units") {
            md.insert(meta::UNITS.to_string(), u.to_string());
        }
        if let Some(l) = self.attr_str("long_name") {
            md.insert(meta::LONG_NAME.to_string(), l.to_string());
        }
        let chunks: Vec<String> = self.chunks.iter().map(u64::to_string).collect();
        md.insert(meta::CHUNKS.to_string(), chunks.join("x"));
        md.insert(
            meta::DTYPE.to_string(),
            self.decoding.cf.raw.name().to_string(),
        );
        md.insert(meta::ROLE.to_string(), role.to_string());
        Field::new(&self.name, self.decoding.arrow_type(), true).with_metadata(md)
    }
}

/// The values of a dimension's column.
#[derive(Debug, Clone)]
pub enum Coords {
    /// No coordinate variable: the 0-based index, computed where it is
    /// needed and never held whole, so a dimension of any length (an
    /// unstructured mesh, a raw record) costs nothing to open.
    Index,
    /// Decoded values of the coordinate variable, one per index.
    Values(ArrayRef),
}

/// A dimension of a grid with its coordinates.
#[derive(Debug, Clone)]
pub struct Dimension {
    /// Name.
    pub name: String,
    /// Length.
    pub size: u64,
    /// The coordinate variable, when there is one.
    pub coord_var: Option<GridVariable>,
    /// Its coordinates.
    pub coords: Coords,
}

impl Dimension {
    /// A dimension without coordinate variable: its values are its indices.
    pub fn indexed(name: &str, size: u64) -> Self {
        Dimension {
            name: name.to_string(),
            size,
            coord_var: None,
            coords: Coords::Index,
        }
    }

    /// A dimension with decoded coordinate values.
    pub fn with_values(name: &str, coord_var: GridVariable, values: ArrayRef) -> Self {
        Dimension {
            name: name.to_string(),
            size: values.len() as u64,
            coord_var: Some(coord_var),
            coords: Coords::Values(values),
        }
    }

    /// The Arrow type of the column.
    pub fn data_type(&self) -> DataType {
        match &self.coords {
            Coords::Index => DataType::Int64,
            Coords::Values(v) => v.data_type().clone(),
        }
    }

    /// The values at indices `range` (clamped to the dimension).
    pub fn values(&self, range: Range<u64>) -> ArrayRef {
        let end = range.end.min(self.size);
        let start = range.start.min(end);
        match &self.coords {
            Coords::Index => Arc::new(Int64Array::from_iter_values((start..end).map(|i| i as i64))),
            Coords::Values(v) => {
                let len = v.len() as u64;
                let (s, e) = (start.min(len), end.min(len));
                v.slice(s as usize, (e - s) as usize)
            }
        }
    }

    /// Whether every value can be had at once: the dimension has coordinate
    /// values, or its index is at most `max` long.
    pub fn has_all_values(&self, max: u64) -> bool {
        matches!(self.coords, Coords::Values(_)) || self.size <= max
    }

    /// All values, when [`Dimension::has_all_values`] (callers that need
    /// every value at once decline longer indices).
    pub fn all_values(&self, max: u64) -> Option<ArrayRef> {
        match &self.coords {
            Coords::Values(v) => Some(Arc::clone(v)),
            Coords::Index => self.has_all_values(max).then(|| self.values(0..self.size)),
        }
    }

    /// The values at `indices` (each below the dimension's length).
    ///
    /// # Errors
    /// An index beyond the coordinate values.
    pub fn take(&self, indices: &UInt64Array) -> Result<ArrayRef, ArrowError> {
        match &self.coords {
            Coords::Index => Ok(Arc::new(Int64Array::from_iter_values(
                indices.values().iter().map(|&i| i as i64),
            ))),
            Coords::Values(v) => arrow::compute::take(v.as_ref(), indices, None),
        }
    }

    /// The value at index `i`, if there is one.
    pub fn value(&self, i: u64) -> Option<ScalarValue> {
        if i >= self.size {
            return None;
        }
        match &self.coords {
            Coords::Index => Some(ScalarValue::Int64(Some(i as i64))),
            Coords::Values(v) => (i < v.len() as u64)
                .then(|| ScalarValue::try_from_array(v, i as usize).ok())
                .flatten(),
        }
    }

    /// Whether the values never change direction (an index always holds).
    pub fn is_monotonic(&self) -> bool {
        match &self.coords {
            Coords::Index => true,
            Coords::Values(v) => is_monotonic(v),
        }
    }

    /// Schema field of the dimension's column.
    pub fn field(&self) -> Field {
        match &self.coord_var {
            Some(v) => v.field("dimension"),
            None => {
                let md = HashMap::from([(meta::ROLE.to_string(), "dimension".to_string())]);
                Field::new(&self.name, DataType::Int64, true).with_metadata(md)
            }
        }
    }
}

/// One table: the dimensions and the data variables defined on all of them.
#[derive(Debug, Clone)]
pub struct Grid {
    /// Dimensions in storage order.
    pub dims: Vec<Dimension>,
    /// Data variables, in dataset order.
    pub variables: Vec<GridVariable>,
    /// Global attributes of the dataset (or group).
    pub global_attrs: Attributes,
    /// For a dataset of several files: the record dimension they are
    /// concatenated along and the index where each file starts.
    pub files: Option<FileSplits>,
}

/// Where the files of a multi-file dataset start along its record dimension.
#[derive(Debug, Clone, PartialEq)]
pub struct FileSplits {
    /// Index of the record dimension.
    pub dim: usize,
    /// Start index of each file, ascending, the first 0.
    pub starts: Vec<u64>,
}

impl Grid {
    /// The table schema: dimension columns, then variable columns.
    pub fn schema(&self) -> SchemaRef {
        let mut fields: Vec<Field> = self.dims.iter().map(Dimension::field).collect();
        fields.extend(self.variables.iter().map(|v| v.field("variable")));
        Arc::new(Schema::new(fields))
    }

    /// Shape of the grid.
    pub fn shape(&self) -> Vec<u64> {
        self.dims.iter().map(|d| d.size).collect()
    }

    /// Number of cells (rows), saturating.
    pub fn cells(&self) -> u64 {
        self.dims.iter().fold(1u64, |a, d| a.saturating_mul(d.size))
    }

    /// The chunk grid regions of a variable with chunk shape `chunks` align
    /// to: its chunks, and within a multi-file dataset also the file bounds.
    pub fn chunk_grid(&self, chunks: &[u64]) -> ChunkGrid {
        let mut grid = ChunkGrid::regular(chunks);
        if let Some(f) = &self.files
            && let Some(axis) = grid.axes.get_mut(f.dim)
        {
            let c = chunks.get(f.dim).copied().unwrap_or(1).max(1);
            let total = self.dims.get(f.dim).map_or(0, |d| d.size);
            let mut starts = Vec::new();
            for (i, &s) in f.starts.iter().enumerate() {
                let e = f.starts.get(i + 1).copied().unwrap_or(total);
                let mut k = s;
                while k < e {
                    starts.push(k);
                    k = k.saturating_add(c);
                }
            }
            if starts.first() != Some(&0) {
                starts.insert(0, 0);
            }
            *axis = Axis::Starts(starts);
        }
        grid
    }

    /// Column index of a dimension.
    pub fn dim_index(&self, name: &str) -> Option<usize> {
        self.dims.iter().position(|d| d.name == name)
    }
}

/// Whether values never change direction (NULLs and incomparable values
/// count as a change).
fn is_monotonic(values: &ArrayRef) -> bool {
    let n = values.len();
    if n < 3 {
        return true;
    }
    let mut dir = std::cmp::Ordering::Equal;
    let mut prev = match ScalarValue::try_from_array(values, 0) {
        Ok(v) => v,
        Err(_) => return false,
    };
    for i in 1..n {
        let Ok(v) = ScalarValue::try_from_array(values, i) else {
            return false;
        };
        let Some(o) = v.partial_cmp(&prev) else {
            return false;
        };
        if o != std::cmp::Ordering::Equal {
            if dir == std::cmp::Ordering::Equal {
                dir = o;
            } else if dir != o {
                return false;
            }
        }
        prev = v;
    }
    true
}
