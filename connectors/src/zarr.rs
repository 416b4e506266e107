//! Zarr v2 and v3 stores as grid tables, through `zarrs` over any
//! `object_store` location.
//!
//! [`format`] discovers the arrays of a store (consolidated metadata when
//! present, listing otherwise) and builds the grid model; [`reader`] reads
//! regions of arrays with `zarrs`, which handles every codec it supports
//! (blosc, zstd, gzip, bytes, shuffle, transpose, sharding) and returns fill
//! values for missing chunks, as the Zarr spec says.

pub mod format;
pub mod reader;

pub use format::open_zarr;
pub use reader::ZarrReader;
