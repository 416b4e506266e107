//! NetCDF (3 and 4) files, one or many, as grid tables.
//!
//! The grid model, CF decoding and chunk planning are the shared ones; this
//! module only finds the files ([`sources`]), reads their headers into the
//! model ([`header`]), indexes a collection of files along its record
//! dimension ([`collection`]) and reads regions of variables ([`reader`]).
//! NetCDF-4 chunk shapes drive region planning exactly as Zarr chunks do.
//!
//! Reading goes through the netCDF-C library, which serialises every call
//! behind one process-wide lock; all calls run on one dedicated thread
//! ([`worker`]) so the lock never stalls the async runtime. Remote files are copied once into a local
//! cache before libnetcdf opens them (see [`sources`]).

pub mod collection;
pub mod header;
pub mod reader;
pub mod sources;
pub mod worker;

pub use collection::open_netcdf;
