//! Writing a query's result back as a grid: `COPY (query) TO 'out.zarr'
//! STORED AS ZARR` and `... TO 'out.nc' STORED AS NETCDF`.
//!
//! The path runs the other way from reading: result rows → [`layout`] (which
//! columns are dimensions; each batch keyed as it streams, its coordinates
//! collected) → [`rows`] (the keyed rows held in memory or spilled to disk
//! until the last one has come) → [`chunking`] (one chunk shape) → slabs
//! (whole chunks along the first dimension, filled from the held rows,
//! missing cells the fill value) → [`zarr_out`] or [`netcdf_out`], which
//! encode each slab's chunks, then the CF metadata. Memory holds a slab,
//! not the grid. What xarray needs
//! to read the result as the dataset it describes travels with it:
//! `_ARRAY_DIMENSIONS` / NetCDF dimensions, `_FillValue`, `units` and
//! `long_name` of columns that carry them, times as `<unit> since <date>`,
//! `Conventions`.
//!
//! A store is never left looking complete after a failure: Zarr root
//! metadata is written last, a NetCDF file is written beside its target and
//! renamed into place at the end. An existing target is refused unless the
//! `overwrite` option says otherwise.

pub mod chunking;
pub mod layout;
pub mod netcdf_out;
mod options;
pub mod rows;
mod slab;
pub mod zarr_out;

pub use layout::{Grid, Layout, OutDim, OutVar};
pub use options::{Compression, WriteOptions};
pub use rows::{HeldRows, Spill};
