//! Deterministic synthetic gridded datasets, written as Zarr stores.
//!
//! `gridsql demo` starts the shell on a store this crate writes, so the
//! project needs no download and no Python to show itself. The stores are
//! encoded the way xarray and zarr-python write them (Zarr v2 with
//! consolidated `.zmetadata`, or Zarr v3 with inline consolidated metadata),
//! so xarray reads them back as the same CF dataset.
//!
//! What it does not do: read stores (that is `gridsql-connectors`), or write
//! NetCDF. Values are deterministic (a fixed-seed generator inside the crate),
//! not bit-identical to the Python generator it imitates.
//!
//! # Example
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! use gridsql_samples::{SeaLevelSpec, ZarrFormat, write_sea_level};
//!
//! let spec = SeaLevelSpec { days: 3, nlat: 18, nlon: 36, chunk_days: 2, zarr_format: ZarrFormat::V3 };
//! let info = write_sea_level(&dir.path().join("sla.zarr"), &spec)?;
//! assert_eq!(info.shape, [3, 18, 36]);
//! # Ok(())
//! # }
//! ```

mod axes;
mod ensemble;
mod error;
mod rng;
mod sea_level;
mod store;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

pub use ensemble::{EnsembleInfo, EnsembleSpec, write_ensemble};
pub use error::SampleError;
pub use sea_level::{SeaLevelSpec, write_sea_level};

/// Zarr format version of a written store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ZarrFormat {
    /// Zarr v2: `.zgroup`/`.zarray`/`.zattrs`, Blosc(lz4) chunks, consolidated `.zmetadata`.
    #[default]
    V2,
    /// Zarr v3: `zarr.json` per node, bytes + zstd codecs, inline consolidated metadata.
    V3,
}

impl fmt::Display for ZarrFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::V2 => "v2",
            Self::V3 => "v3",
        })
    }
}

impl FromStr for ZarrFormat {
    type Err = SampleError;

    /// Parses `v2`, `2`, `v3` or `3` (case-insensitive).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "v2" | "2" => Ok(Self::V2),
            "v3" | "3" => Ok(Self::V3),
            _ => Err(SampleError::InvalidSpec(format!(
                "unknown zarr format {s:?} (expected v2 or v3)"
            ))),
        }
    }
}

/// What a sample writer produced.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleInfo {
    /// Root directory of the store.
    pub path: PathBuf,
    /// Zarr format of the store.
    pub zarr_format: ZarrFormat,
    /// Arrays written, as paths relative to the store root (coordinates first).
    pub arrays: Vec<String>,
    /// Shape of the data variables, `[time, latitude, longitude]`.
    pub shape: [u64; 3],
    /// Chunk shape of the data variables; coordinates are one chunk each.
    pub chunk_shape: [u64; 3],
    /// Fraction of grid cells that are land (fill value / NaN), in `[0, 1]`.
    pub land_fraction: f64,
    /// Total size in bytes of the files in the store after writing.
    pub bytes_written: u64,
}
