//! gridsql's integration tests: one test binary, modules by theme. They run
//! the real binary or the real engine on real data (`../shared/data`), with
//! answers computed by xarray in a Python venv.

mod cli;
mod cloud;
mod cluster;
mod copy_to;
mod docs_sql;
mod faults;
mod grib;
mod grid_aggregate;
mod hostile;
mod icechunk;
mod locations;
mod long_index;
mod netcdf;
mod plots;
mod properties;
mod python_package;
mod references;
mod s3;
mod servers;
mod table_functions;
mod util;
mod wild;
mod xarray_parity;
