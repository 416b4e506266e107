//! A [`Grid`] as a NetCDF-4 file, slab by slab, with libnetcdf (the `netcdf`
//! crate): dimensions with their coordinate variables, variables chunked
//! and deflated (zlib level 4 with shuffle, as xarray's `zlib=True`), CF
//! attributes and `_FillValue`. Labels (string coordinates) are NetCDF-4
//! variable-length strings.
//!
//! libnetcdf writes local files only: the file is written into a
//! temporary name in the target's folder (or a temporary folder, for an
//! object store) and moved or uploaded whole at the end, so a failed COPY
//! never leaves a file at the target.

use std::path::{Path as FsPath, PathBuf};

use super::layout::{CellType, Cells, CoordCells, Grid, I64_FILL, encoded_coordinate};
use super::options::{Compression, WriteOptions};
use crate::cf::{AttrValue, Attributes};
use crate::error::{ConnectorError, Result};

fn nc_error(dataset: &str, what: &str, e: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::Metadata {
        dataset: dataset.to_string(),
        reason: format!("writing NetCDF: {what}: {e}"),
    }
}

/// A NetCDF-4 file being written. Blocking: use from a blocking thread.
pub struct NetcdfWriter {
    nc: netcdf::FileMut,
    vars: Vec<String>,
    inner: Vec<u64>,
    dataset: String,
}

impl NetcdfWriter {
    /// Creates `file` (a local path that does not exist) for `grid`
    /// chunked `chunks`, and writes its dimensions, coordinates and
    /// attributes.
    ///
    /// # Errors
    /// Blosc (which NetCDF-4 cannot read without a plugin); libnetcdf's
    /// errors, named by what was being written.
    pub fn create(
        grid: &Grid,
        chunks: &[u64],
        file: &FsPath,
        options: &WriteOptions,
        dataset: &str,
    ) -> Result<Self> {
        if options.compression == Compression::Blosc {
            return Err(ConnectorError::Option {
                option: "compression".into(),
                reason: "NetCDF-4 output is compressed with zlib ('zstd', the default) or not at all ('none'); blosc is for Zarr".into(),
            });
        }
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
                CoordCells::Numbers(Cells::F32(v)) => nc
                    .add_variable::<f32>(name, &[name])
                    .and_then(|mut var| var.put_values(v, ..)),
                CoordCells::Numbers(Cells::F64(v)) => nc
                    .add_variable::<f64>(name, &[name])
                    .and_then(|mut var| var.put_values(v, ..)),
                CoordCells::Numbers(Cells::I64(v)) => nc
                    .add_variable::<i64>(name, &[name])
                    .and_then(|mut var| var.put_values(v, ..)),
                CoordCells::Labels(labels) => {
                    nc.add_string_variable(name, &[name]).and_then(|mut var| {
                        labels
                            .iter()
                            .enumerate()
                            .try_for_each(|(i, label)| var.put_string(label, [i]))
                    })
                }
            }
            .map_err(err)?;
            let mut var = nc
                .variable_mut(name)
                .ok_or_else(|| nc_error(dataset, name, "the coordinate variable vanished"))?;
            put_attrs(&mut var, &attrs).map_err(err)?;
        }
        let dims: Vec<&str> = grid.dims.iter().map(|d| d.name.as_str()).collect();
        let shape = grid.shape();
        let chunks: Vec<usize> = chunks.iter().map(|c| *c as usize).collect();
        for v in &grid.vars {
            let name = v.name.as_str();
            let err = |e: netcdf::Error| nc_error(dataset, name, e);
            let mut var = match v.cell_type {
                CellType::F32 => nc.add_variable::<f32>(name, &dims),
                CellType::F64 => nc.add_variable::<f64>(name, &dims),
                CellType::I64 => nc.add_variable::<i64>(name, &dims),
            }
            .map_err(err)?;
            if !dims.is_empty() && shape.iter().all(|s| *s > 0) {
                var.set_chunking(&chunks).map_err(err)?;
                if options.compression == Compression::Zstd {
                    var.set_compression(4, true).map_err(err)?;
                }
            }
            match v.cell_type {
                CellType::F32 => var.set_fill_value(f32::NAN),
                CellType::F64 => var.set_fill_value(f64::NAN),
                CellType::I64 => var.set_fill_value(I64_FILL),
            }
            .map_err(err)?;
            put_attrs(&mut var, &v.attrs).map_err(err)?;
        }
        Ok(NetcdfWriter {
            nc,
            vars: grid.vars.iter().map(|v| v.name.clone()).collect(),
            inner: shape.iter().skip(1).copied().collect(),
            dataset: dataset.to_string(),
        })
    }

    /// Writes a slab: `cells` (one per variable) hold rows `start..` of the
    /// first dimension.
    ///
    /// # Errors
    /// libnetcdf's errors, named by the variable.
    pub fn write_slab(&mut self, start: u64, cells: &[Cells]) -> Result<()> {
        let inner: u64 = self.inner.iter().product();
        for (name, cells) in self.vars.iter().zip(cells) {
            let err = |e: netcdf::Error| nc_error(&self.dataset, name, e);
            let rows = (cells.len() as u64).checked_div(inner).unwrap_or(0);
            if rows == 0 {
                continue;
            }
            let extents: Vec<netcdf::Extent> =
                std::iter::once((start as usize..(start + rows) as usize).into())
                    .chain(self.inner.iter().map(|_| (..).into()))
                    .collect();
            let mut var = self
                .nc
                .variable_mut(name)
                .ok_or_else(|| nc_error(&self.dataset, name, "the variable vanished"))?;
            match cells {
                Cells::F32(c) => var.put_values(c, extents),
                Cells::F64(c) => var.put_values(c, extents),
                Cells::I64(c) => var.put_values(c, extents),
            }
            .map_err(err)?;
        }
        Ok(())
    }

    /// Closes the file.
    ///
    /// # Errors
    /// libnetcdf's.
    pub fn finish(self) -> Result<()> {
        let dataset = self.dataset;
        self.nc.close().map_err(|e| nc_error(&dataset, "close", e))
    }
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
