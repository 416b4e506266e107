//! An opened grid table: its model, its reader and what rebuilds it.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;

use async_trait::async_trait;

use crate::error::Result;
use crate::grid::{Grid, GridReader};

/// The formats gridsql reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Format {
    /// Zarr v2 or v3.
    Zarr,
    /// NetCDF 3 or 4.
    Netcdf,
}

impl Format {
    /// The format a location's name tells: `*.zarr` is Zarr; `*.nc`,
    /// `*.nc4`, `*.cdf`, `*.netcdf`, `*.h5`, `*.hdf5` (and globs of them) are
    /// NetCDF; a local folder holding `zarr.json`, `.zgroup`, `.zmetadata` or
    /// `.zarray` is Zarr; a local folder holding NetCDF files (a multi-file
    /// dataset) is NetCDF. `None` when nothing tells.
    pub fn detect(location: &str) -> Option<Format> {
        let trimmed = location.trim_end_matches('/');
        let lower = trimmed.to_ascii_lowercase();
        if lower.ends_with(".zarr") || lower.ends_with(".zarr.zip") {
            return Some(Format::Zarr);
        }
        if [".nc", ".nc4", ".cdf", ".netcdf", ".h5", ".hdf5"]
            .iter()
            .any(|e| lower.ends_with(e))
        {
            return Some(Format::Netcdf);
        }
        let p = std::path::Path::new(trimmed.strip_prefix("file://").unwrap_or(trimmed));
        if !p.is_dir() {
            return None;
        }
        if ["zarr.json", ".zgroup", ".zmetadata", ".zarray"]
            .iter()
            .any(|m| p.join(m).exists())
        {
            return Some(Format::Zarr);
        }
        let is_netcdf_file = |e: &std::fs::DirEntry| {
            let n = e.file_name().to_string_lossy().to_ascii_lowercase();
            [".nc", ".nc4", ".cdf", ".netcdf"]
                .iter()
                .any(|x| n.ends_with(x))
        };
        std::fs::read_dir(p)
            .is_ok_and(|mut it| it.any(|e| e.is_ok_and(|e| is_netcdf_file(&e))))
            .then_some(Format::Netcdf)
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Format::Zarr => "zarr",
            Format::Netcdf => "netcdf",
        })
    }
}

/// What opens a table again, anywhere: on an executor, after a restart.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct TableSpec {
    /// Format.
    pub format: Format,
    /// Location as the user gave it (path or URL).
    pub location: String,
    /// Table options (`group`, `dims`, `variables`, ...).
    pub options: BTreeMap<String, String>,
}

/// One opened table.
#[derive(Debug)]
pub struct GridTable {
    /// How it was opened.
    pub spec: TableSpec,
    /// The grid model.
    pub grid: Grid,
    /// Reads regions of its variables.
    pub reader: Arc<dyn GridReader>,
    /// Its schema (dimensions, then variables).
    pub schema: SchemaRef,
}

impl GridTable {
    /// Assembles a table.
    pub fn new(spec: TableSpec, grid: Grid, reader: Arc<dyn GridReader>) -> Self {
        let schema = grid.schema();
        GridTable {
            spec,
            grid,
            reader,
            schema,
        }
    }

    /// Number of dimension columns (they come first).
    pub fn ndims(&self) -> usize {
        self.grid.dims.len()
    }
}

/// A table whose schema is known but whose full model needs more reading:
/// a collection of files, whose record coordinates and consistency are only
/// checked when a query first needs them.
#[async_trait]
pub trait DeferredTable: std::fmt::Debug + Send + Sync {
    /// Reads what is missing and assembles the table.
    ///
    /// # Errors
    /// Unreadable files, files that disagree.
    async fn resolve(&self) -> Result<GridTable>;
}

/// What opening a location gives.
#[derive(Debug)]
pub enum OpenedTable {
    /// Fully opened.
    Ready(GridTable),
    /// Schema known, the rest read on first use.
    Deferred {
        /// How it was opened.
        spec: TableSpec,
        /// Its schema.
        schema: SchemaRef,
        /// Completes it.
        resolver: std::sync::Arc<dyn DeferredTable>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_from_names() {
        assert_eq!(Format::detect("a/b.zarr/"), Some(Format::Zarr));
        assert_eq!(Format::detect("s3://b/x.ZARR"), Some(Format::Zarr));
        assert_eq!(Format::detect("data/*.nc"), Some(Format::Netcdf));
        assert_eq!(Format::detect("x.nc4"), Some(Format::Netcdf));
        assert_eq!(Format::detect("x.h5"), Some(Format::Netcdf));
        assert_eq!(Format::detect("x.cdf"), Some(Format::Netcdf));
        assert_eq!(Format::detect("/nonexistent/folder"), None);
    }
}
