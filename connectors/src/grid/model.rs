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
    /// The variable's dimensions, in storage order, e.g.
    /// `time,latitude,longitude`: what [`CHUNKS`] is along, so that a grid
    /// written from a result can keep the source's chunking.
    pub const DIMS: &str = "gridsql.dims";
    /// Stored type, e.g. `int16`.
    pub const DTYPE: &str = "dtype";
    /// `dimension`, `variable`, `coordinate` (an auxiliary coordinate) or
    /// `unreadable`.
    pub const ROLE: &str = "gridsql.role";
    /// Why a column cannot be read.
    pub const UNREADABLE: &str = "gridsql.unreadable";
    /// The attribute under which formats keep the stored type of a variable
    /// gridsql cannot read (never a column's metadata).
    pub const STORED_TYPE: &str = "gridsql.stored_type";
    /// `descending` on a dimension whose coordinates are stored from the
    /// largest down (latitudes from 90), so that a grid written from a
    /// result keeps the source's order.
    pub const ORDER: &str = "gridsql.order";
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

/// What a variable holds, beyond its shape.
#[derive(Debug, Clone)]
pub enum VarKind {
    /// Numbers, decoded by the variable's [`VariableDecoding`] region by
    /// region.
    Numeric,
    /// Strings (Zarr string types, NetCDF char arrays and vlen strings),
    /// read whole when the dataset opens: labels, names, descriptions
    /// (see [`super::text`]).
    Text(ArrayRef),
    /// A variable gridsql cannot read, and why. It never blocks the others:
    /// only a query that projects it fails.
    Unreadable(String),
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
    /// Numbers, strings, or unreadable.
    pub kind: VarKind,
}

impl GridVariable {
    /// The stored type's name: `int16`, `string`, or what the format calls
    /// a type gridsql cannot read.
    pub fn dtype_name(&self) -> String {
        match &self.kind {
            VarKind::Numeric => self.decoding.cf.raw.name().to_string(),
            VarKind::Text(_) => "string".to_string(),
            VarKind::Unreadable(_) => self
                .attr_str(meta::STORED_TYPE)
                .unwrap_or("unknown")
                .to_string(),
        }
    }

    /// Why the variable cannot be read, if it cannot.
    pub fn unreadable(&self) -> Option<&str> {
        match &self.kind {
            VarKind::Unreadable(why) => Some(why),
            _ => None,
        }
    }

    /// The Arrow type of its column.
    pub fn arrow_type(&self) -> DataType {
        match &self.kind {
            VarKind::Numeric => self.decoding.arrow_type(),
            VarKind::Text(_) | VarKind::Unreadable(_) => DataType::Utf8,
        }
    }

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
        md.insert(meta::DIMS.to_string(), self.dims.join(","));
        md.insert(meta::DTYPE.to_string(), self.dtype_name());
        md.insert(meta::ROLE.to_string(), role.to_string());
        if let Some(why) = self.unreadable() {
            md.insert(meta::UNREADABLE.to_string(), why.to_string());
        }
        Field::new(&self.name, self.arrow_type(), true).with_metadata(md)
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

    /// Whether the coordinates go from the largest down.
    pub fn is_descending(&self) -> bool {
        let Coords::Values(v) = &self.coords else {
            return false;
        };
        if v.len() < 2 || !self.is_monotonic() {
            return false;
        }
        match (
            ScalarValue::try_from_array(v, 0),
            ScalarValue::try_from_array(v, v.len() - 1),
        ) {
            (Ok(first), Ok(last)) => first > last,
            _ => false,
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
            Some(v) => {
                let f = v.field("dimension");
                if self.is_descending() {
                    let mut md = f.metadata().clone();
                    md.insert(meta::ORDER.to_string(), "descending".to_string());
                    f.with_metadata(md)
                } else {
                    f
                }
            }
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
    /// Columns held in memory, after the variables: auxiliary coordinates
    /// (labels, 2-D latitudes) and string variables on some of the grid's
    /// dimensions.
    pub aux: Vec<AuxColumn>,
    /// Variables on the grid's dimensions that cannot be read: columns after
    /// the auxiliary ones, so that a query naming one fails saying why.
    pub unreadable: Vec<GridVariable>,
    /// Global attributes of the dataset (or group).
    pub global_attrs: Attributes,
    /// For a dataset of several files: the record dimension they are
    /// concatenated along and the index where each file starts.
    pub files: Option<FileSplits>,
}

/// What a column of a grid table is (index into its list).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GridColumn {
    /// A dimension.
    Dim(usize),
    /// A data variable, read region by region.
    Var(usize),
    /// An in-memory column ([`Grid::aux`]).
    Aux(usize),
    /// A variable that cannot be read ([`Grid::unreadable`]).
    Unreadable(usize),
}

/// A column whose values are held in memory over some of the grid's
/// dimensions and repeated along the others: an auxiliary coordinate named
/// in a `coordinates` attribute (station names along `location`, 2-D
/// latitudes of a curvilinear grid), or a string variable.
#[derive(Debug, Clone)]
pub struct AuxColumn {
    /// The variable.
    pub var: GridVariable,
    /// The grid dimensions it spans, in its storage order (indices into
    /// [`Grid::dims`]).
    pub dims: Vec<usize>,
    /// Its decoded values, C order over `dims`.
    pub values: ArrayRef,
}

impl AuxColumn {
    /// Schema field of the column.
    pub fn field(&self) -> Field {
        let mut f = self.var.field("coordinate");
        if f.data_type() != self.values.data_type() {
            f = f.with_data_type(self.values.data_type().clone());
        }
        f
    }

    /// Its values at the cells of `region` (one index range per grid
    /// dimension, C order), `rows` of them from the region's first cell.
    ///
    /// # Errors
    /// Arrow errors while gathering.
    pub fn values_in(
        &self,
        region: &[Range<u64>],
        rows: Range<usize>,
    ) -> Result<ArrayRef, ArrowError> {
        let lens: Vec<u64> = region.iter().map(|r| r.end - r.start).collect();
        // Strides of the region (C order) and of the column's own array.
        let mut region_stride = vec![1u64; lens.len()];
        for d in (0..lens.len().saturating_sub(1)).rev() {
            region_stride[d] = region_stride[d + 1] * lens[d + 1];
        }
        let own_len: Vec<u64> = self.var.shape.clone();
        let mut own_stride = vec![1u64; own_len.len()];
        for d in (0..own_len.len().saturating_sub(1)).rev() {
            own_stride[d] = own_stride[d + 1] * own_len[d + 1];
        }
        let idx = UInt64Array::from_iter_values(rows.map(|row| {
            let row = row as u64;
            self.dims
                .iter()
                .zip(&own_stride)
                .map(|(&g, &s)| {
                    let at = region[g].start + (row / region_stride[g]) % lens[g].max(1);
                    at * s
                })
                .sum::<u64>()
        }));
        arrow::compute::take(self.values.as_ref(), &idx, None)
    }
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
    /// The table schema: dimension columns, variable columns, auxiliary
    /// columns, unreadable columns.
    pub fn schema(&self) -> SchemaRef {
        let mut fields: Vec<Field> = self.dims.iter().map(Dimension::field).collect();
        fields.extend(self.variables.iter().map(|v| v.field("variable")));
        fields.extend(self.aux.iter().map(AuxColumn::field));
        fields.extend(self.unreadable.iter().map(|v| v.field("unreadable")));
        Arc::new(Schema::new(fields))
    }

    /// What column `c` of the schema is.
    pub fn column(&self, c: usize) -> Option<GridColumn> {
        let (nd, nv, na) = (self.dims.len(), self.variables.len(), self.aux.len());
        if c < nd {
            Some(GridColumn::Dim(c))
        } else if c < nd + nv {
            Some(GridColumn::Var(c - nd))
        } else if c < nd + nv + na {
            Some(GridColumn::Aux(c - nd - nv))
        } else if c < nd + nv + na + self.unreadable.len() {
            Some(GridColumn::Unreadable(c - nd - nv - na))
        } else {
            None
        }
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
