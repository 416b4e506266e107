//! The grid model shared by every format: dimensions with their coordinates,
//! variables with their CF decoding, the table a grid forms, selections of
//! index ranges and the plan of regions a scan reads.
//!
//! Nothing here does I/O; formats fill the model ([`crate::zarr`]) and
//! implement [`GridReader`] to read a region of one variable.

pub mod build;
pub mod model;
pub mod plan;
pub mod reader;
pub mod selection;
pub mod text;
pub mod values;

pub use model::{
    AuxColumn, Coords, Dimension, FileSplits, Grid, GridColumn, GridVariable, VarKind,
    VariableDecoding,
};
pub use plan::{Axis, ChunkGrid, Region, plan_partitions, select_partitions};
pub use reader::GridReader;
pub use selection::Selection;
pub use values::RawBuffer;
