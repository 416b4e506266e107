//! NetCDF (3 and 4) files, one or many, as grid tables.
//!
//! The grid model, CF decoding and chunk planning are the shared ones; this
//! module only finds the files ([`sources`]), reads their headers into the
//! model ([`header`]), indexes a collection of files along its record
//! dimension ([`collection`]) and reads regions of variables ([`reader`]).
//! NetCDF-4 chunk shapes drive region planning exactly as Zarr chunks do.
//!
//! Headers go through the netCDF-C library, which serialises every call
//! behind one process-wide lock; all its calls run on one dedicated thread
//! ([`worker`]) so the lock never stalls the async runtime. NetCDF-4 chunks
//! do not: their offsets come from the HDF5 chunk index ([`chunk_index`],
//! read once per file and variable), their bytes from positional reads and
//! their filters are undone in Rust ([`filters`], [`direct`]), so regions
//! decode in parallel. NetCDF-3 and HDF5 storage the Rust decoder does not
//! handle still read through libnetcdf. libnetcdf and libhdf5 need a local
//! file: a remote file's metadata is walked by byte range into a sparse
//! local copy ([`skeleton`], cached on disk), its chunks fetched by range
//! ([`ranged`]; NetCDF-3 offsets from the header, [`classic`]); only what
//! that path cannot read is copied whole ([`sources`]).

pub mod chunk_index;
pub mod classic;
pub mod collection;
pub mod direct;
pub mod filters;
pub mod header;
pub mod ranged;
pub mod reader;
pub mod skeleton;
pub mod sources;
pub mod strings;
pub mod worker;

pub use collection::open_netcdf;
