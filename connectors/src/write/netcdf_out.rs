//! A [`GridResult`] as a NetCDF-4 file, with libnetcdf (the `netcdf`
//! crate): dimensions with their coordinate variables, variables chunked
//! and deflated (zlib level 4 with shuffle, as xarray's `zlib=True`), CF
//! attributes and `_FillValue`.
//!
//! libnetcdf writes local files only: the file is written into a
//! temporary name in the target's folder (or a temporary folder, for an
//! object store) and moved or uploaded whole at the end, so a failed COPY
//! never leaves a file at the target.

use std::path::{Path as FsPath, PathBuf};

use super::layout::{Cells, GridResult, I64_FILL, encoded_coordinate};
use super::options::{Compression, WriteOptions};
use super::zarr_out::default_chunks;
use crate::cf::{AttrValue, Attributes};
use crate::error::{ConnectorError, Result};

fn nc_error(dataset: &str, what: &str, e: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::Metadata {
        dataset: dataset.to_string(),
        reason: format!("writing NetCDF: {what}: {e}"),
    }
}

/// Writes `grid` as a NetCDF-4 file at `file` (a local path that does not
/// exist). Blocking: call from a blocking thread.
///
/// # Errors
/// libnetcdf's errors, named by what was being written.
pub fn write_netcdf_file(
    grid: &GridResult,
    file: &FsPath,
    options: &WriteOptions,
    dataset: &str,
) -> Result<()> {
    let mut nc = netcdf::create(file).map_err(|e| nc_error(dataset, "create", e))?;
    for (k, v) in &grid.attrs {
        put_global(&mut nc, k, v).map_err(|e| nc_error(dataset, k, e))?;
    }
    for d in &grid.dims {
        nc.add_dimension(&d.name, d.coords.len())
            .map_err(|e| nc_error(dataset, &d.name, e))?;
    }
    for d in &grid.dims {
        let name = d.name.as_str();
        let err = |e: netcdf::Error| nc_error(dataset, name, e);
        let (cells, attrs) = encoded_coordinate(&d.coords, &d.attrs);
        match &cells {
            Cells::F32(v) => nc
                .add_variable::<f32>(name, &[name])
                .and_then(|mut var| var.put_values(v, ..)),
            Cells::F64(v) => nc
                .add_variable::<f64>(name, &[name])
                .and_then(|mut var| var.put_values(v, ..)),
            Cells::I64(v) => nc
                .add_variable::<i64>(name, &[name])
                .and_then(|mut var| var.put_values(v, ..)),
        }
        .map_err(err)?;
        let mut var = nc
            .variable_mut(name)
            .ok_or_else(|| nc_error(dataset, name, "the coordinate variable vanished"))?;
        put_attrs(&mut var, &attrs).map_err(err)?;
    }
    let dims: Vec<&str> = grid.dims.iter().map(|d| d.name.as_str()).collect();
    let shape: Vec<u64> = grid.shape();
    for v in &grid.vars {
        let name = v.name.as_str();
        let err = |e: netcdf::Error| nc_error(dataset, name, e);
        let item = match v.cells {
            Cells::F32(_) => 4,
            _ => 8,
        };
        let chunks: Vec<usize> = options
            .chunks
            .clone()
            .unwrap_or_else(|| default_chunks(&shape, item))
            .iter()
            .zip(&shape)
            .map(|(c, s)| (*c).min((*s).max(1)) as usize)
            .collect();
        if chunks.len() != dims.len() {
            return Err(ConnectorError::Option {
                option: "chunks".into(),
                reason: format!("{} lengths for {} dimensions", chunks.len(), dims.len()),
            });
        }
        let mut var = match &v.cells {
            Cells::F32(_) => nc.add_variable::<f32>(name, &dims),
            Cells::F64(_) => nc.add_variable::<f64>(name, &dims),
            Cells::I64(_) => nc.add_variable::<i64>(name, &dims),
        }
        .map_err(err)?;
        if !dims.is_empty() && shape.iter().all(|s| *s > 0) {
            var.set_chunking(&chunks).map_err(err)?;
            if options.compression == Compression::Zstd {
                var.set_compression(4, true).map_err(err)?;
            }
        }
        match &v.cells {
            Cells::F32(c) => {
                var.set_fill_value(f32::NAN).map_err(err)?;
                var.put_values(c, ..).map_err(err)?;
            }
            Cells::F64(c) => {
                var.set_fill_value(f64::NAN).map_err(err)?;
                var.put_values(c, ..).map_err(err)?;
            }
            Cells::I64(c) => {
                var.set_fill_value(I64_FILL).map_err(err)?;
                var.put_values(c, ..).map_err(err)?;
            }
        }
        put_attrs(&mut var, &v.attrs).map_err(err)?;
    }
    nc.close().map_err(|e| nc_error(dataset, "close", e))?;
    Ok(())
}

fn put_global(nc: &mut netcdf::FileMut, name: &str, v: &AttrValue) -> netcdf::Result<()> {
    match v {
        AttrValue::Str(s) => nc.add_attribute(name, s.as_str()).map(|_| ()),
        AttrValue::Int(i) => nc.add_attribute(name, *i).map(|_| ()),
        AttrValue::Float { value, .. } => nc.add_attribute(name, *value).map(|_| ()),
        _ => Ok(()),
    }
}

fn put_attrs(var: &mut netcdf::VariableMut<'_>, attrs: &Attributes) -> netcdf::Result<()> {
    for (k, v) in attrs {
        match v {
            AttrValue::Str(s) => {
                var.put_attribute(k, s.as_str())?;
            }
            AttrValue::Int(i) => {
                var.put_attribute(k, *i)?;
            }
            AttrValue::Float { value, .. } => {
                var.put_attribute(k, *value)?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// A temporary file name beside `target` (same folder, so the final rename
/// stays on one file system).
pub fn partial_name(target: &FsPath) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    target.with_file_name(format!(".{name}.partial-{}", std::process::id()))
}
