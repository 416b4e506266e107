//! Zarr v2 and v3 stores as grid tables, through `zarrs` over any
//! `object_store` location.
//!
//! [`format`] discovers the arrays of a store (consolidated metadata when
//! present, listing otherwise) and builds the grid model; [`reader`] reads
//! regions of arrays with `zarrs`, which handles every codec it supports
//! (blosc, zstd, gzip, bytes, shuffle, transpose, sharding) and returns fill
//! values for missing chunks, as the Zarr spec says. A region inside one
//! blosc chunk is read block by block ([`blosc_blocks`]) instead, since
//! zarrs decodes all of a blosc chunk for any part of it.

pub mod blosc_blocks;
pub mod format;
pub mod frame_cache;
pub mod reader;
pub mod text;

pub use format::open_zarr;
pub use reader::ZarrReader;
