//! Dimensions, variables and the grid (table) they form.
//!
//! The table model: the data variables that share one tuple of dimensions
//! form one table; each dimension is a column of its coordinate values (its
//! 0-based index as Int64 when it has no coordinate variable), each data
//! variable a column of CF-decoded values. Columns: dimensions in storage
//! order, then variables.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

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

/// A dimension of a grid with its decoded coordinate values.
#[derive(Debug, Clone)]
pub struct Dimension {
    /// Name.
    pub name: String,
    /// Length.
    pub size: u64,
    /// The coordinate variable, when there is one.
    pub coord_var: Option<GridVariable>,
    /// Decoded coordinate values (length `size`); the 0-based index when
    /// there is no coordinate variable.
    pub values: ArrayRef,
}

impl Dimension {
    /// A dimension without coordinate variable: its values are its indices.
    pub fn indexed(name: &str, size: u64) -> Self {
        // A dimension too long to index in memory cannot be scanned either;
        // the table reports it when it is opened, so keep values empty here.
        let values: ArrayRef = if size <= (1 << 28) {
            Arc::new(Int64Array::from_iter_values(0..size as i64))
        } else {
            Arc::new(Int64Array::from_iter_values(std::iter::empty()))
        };
        Dimension {
            name: name.to_string(),
            size,
            coord_var: None,
            values,
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
