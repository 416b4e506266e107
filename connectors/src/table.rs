//! An opened grid table: its model, its reader and what rebuilds it.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;

use async_trait::async_trait;

use crate::error::Result;
use crate::grid::{Grid, GridReader};
use crate::location::Location;

/// The formats gridsql reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Format {
    /// Zarr v2 or v3.
    Zarr,
    /// NetCDF 3 or 4.
    Netcdf,
    /// GRIB editions 1 and 2.
    Grib,
    /// An Icechunk repository (Zarr v3, versioned), at one version.
    Icechunk,
}

impl Format {
    /// File name extensions of NetCDF (and HDF5) files, lower case: the one
    /// list that detection, folder listings and table names use.
    pub const NETCDF_EXTENSIONS: &[&str] = &["nc", "nc3", "nc4", "netcdf", "cdf", "h5", "hdf5"];

    /// File name extensions of GRIB files, lower case.
    pub const GRIB_EXTENSIONS: &[&str] = &["grib", "grib1", "grib2", "grb", "grb1", "grb2"];

    /// The format a user names (`zarr`, `netcdf` or `nc`, `grib`), any case.
    ///
    /// # Errors
    /// Any other name, with the known ones.
    pub fn parse(s: &str) -> Result<Format, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "zarr" => Ok(Format::Zarr),
            "netcdf" | "nc" => Ok(Format::Netcdf),
            "grib" => Ok(Format::Grib),
            "icechunk" => Ok(Format::Icechunk),
            other => Err(format!(
                "unknown format '{other}'; use zarr, netcdf, grib or icechunk"
            )),
        }
    }

    /// Whether a file name ends in a GRIB extension (any case).
    pub fn is_grib_name(name: &str) -> bool {
        name.rsplit_once('.').is_some_and(|(_, ext)| {
            Format::GRIB_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str())
        })
    }

    /// Whether a file name ends in a NetCDF extension (any case).
    pub fn is_netcdf_name(name: &str) -> bool {
        name.rsplit_once('.').is_some_and(|(_, ext)| {
            Format::NETCDF_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str())
        })
    }

    /// The format a location's name tells: `*.zarr` is Zarr, and so are
    /// `*.json` and `*.parq` (kerchunk references in JSON and in the Parquet
    /// layout, [`crate::references`]); a name with a
    /// NetCDF extension (or a glob of them) is NetCDF; a local folder holding
    /// `zarr.json`, `.zgroup`, `.zmetadata` or `.zarray` is Zarr; a local
    /// folder holding NetCDF files (a multi-file dataset) is NetCDF; a local
    /// folder holding `snapshots/` and `refs/` is an Icechunk repository. `None`
    /// when nothing tells. Only canonical locations are looked at, so a
    /// server checks a location before anything of it is read.
    pub fn detect(location: &Location) -> Option<Format> {
        let name = match location {
            Location::Local(p) => p.file_name()?.to_str()?.to_string(),
            Location::Remote { segments, .. } => segments.last()?.clone(),
        };
        let lower = name.to_ascii_lowercase();
        if [".zarr", ".zarr.zip", ".json", ".parq"]
            .iter()
            .any(|e| lower.ends_with(e))
        {
            return Some(Format::Zarr);
        }
        if Format::is_netcdf_name(&lower) {
            return Some(Format::Netcdf);
        }
        if Format::is_grib_name(&lower) {
            return Some(Format::Grib);
        }
        let p = location.as_local()?;
        if !p.is_dir() {
            return None;
        }
        if p.join("snapshots").is_dir() && p.join("refs").is_dir() {
            return Some(Format::Icechunk);
        }
        if ["zarr.json", ".zgroup", ".zmetadata", ".zarray"]
            .iter()
            .any(|m| p.join(m).exists())
        {
            return Some(Format::Zarr);
        }
        std::fs::read_dir(p)
            .is_ok_and(|mut it| {
                it.any(|e| {
                    e.is_ok_and(|e| Format::is_netcdf_name(&e.file_name().to_string_lossy()))
                })
            })
            .then_some(Format::Netcdf)
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Format::Zarr => "zarr",
            Format::Netcdf => "netcdf",
            Format::Grib => "grib",
            Format::Icechunk => "icechunk",
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

    /// Whether regions are read from a remote store request by request (a
    /// Zarr store or NetCDF files in a bucket or on a web server), so
    /// reading far ahead pays ([`crate::loader`]).
    pub fn reads_remote(&self) -> bool {
        self.spec.is_remote()
    }
}

impl TableSpec {
    /// Whether the location is a URL of a remote store (locations are kept
    /// canonical: local ones are absolute paths).
    pub fn is_remote(&self) -> bool {
        !self.location.starts_with('/') && self.location.contains("://")
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
        let detect = |s: &str| Location::parse(s).ok().and_then(|l| Format::detect(&l));
        assert_eq!(detect("a/b.zarr/"), Some(Format::Zarr));
        assert_eq!(detect("s3://b/x.ZARR"), Some(Format::Zarr));
        assert_eq!(detect("data/*.nc"), Some(Format::Netcdf));
        assert_eq!(detect("x.nc4"), Some(Format::Netcdf));
        assert_eq!(detect("x.h5"), Some(Format::Netcdf));
        assert_eq!(detect("x.cdf"), Some(Format::Netcdf));
        assert_eq!(detect("era5.grib"), Some(Format::Grib));
        assert_eq!(detect("s3://b/refs/adt.json"), Some(Format::Zarr));
        assert_eq!(detect("s3://b/refs/adt.parq"), Some(Format::Zarr));
        assert_eq!(detect("s3://b/gfs.t00z.pgrb2.GRB2"), Some(Format::Grib));
        assert_eq!(Format::parse(" GRIB "), Ok(Format::Grib));
        assert!(Format::parse("hdf4").is_err());
        assert_eq!(detect("/nonexistent/folder"), None);
    }
}
