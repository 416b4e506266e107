//! Zarr and NetCDF datasets as DataFusion tables.
//!
//! One grid model ([`grid`]) and one CF decoder ([`cf`]) serve every format;
//! a format only finds and decodes the bytes of a region of a variable
//! ([`grid::GridReader`]). [`provider::GridTableProvider`] plans scans and
//! [`scan::GridScanExec`] streams them in bounded batches.

pub mod aggregate;
pub mod blocking;
pub mod cf;
pub mod error;
/// Bodies of the fuzz targets: compiled for the connectors' own tests and
/// for the `fuzz/` crate (feature `fuzz`), never into the engine.
#[cfg(any(test, feature = "fuzz"))]
#[doc(hidden)]
pub mod fuzz;
pub mod geo;
pub mod grib;
pub mod grid;
pub mod icechunk;
pub mod inventory;
pub mod io;
pub mod loader;
pub mod location;
pub mod netcdf;
pub mod open;
pub mod partition_tags;
pub mod progress;
pub mod provider;
mod pushdown;
pub mod references;
pub mod scan;
pub mod table;
pub mod table_cache;
pub mod write;
pub mod zarr;

pub use error::{ConnectorError, Result};
pub use provider::{GridTableFactory, GridTableProvider};
pub use table::{DeferredTable, Format, GridTable, OpenedTable, TableSpec};
