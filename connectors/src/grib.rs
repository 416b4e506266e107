//! GRIB files (editions 1 and 2) as grid tables, with the table model cfgrib
//! gives in xarray: variables named by ecCodes' `cfVarName` (`t`, `z`,
//! `t2m`), dimensions `number`, `time`, `step`, the level type
//! (`isobaricInhPa`, `hybrid`, ...) where they have more than one value,
//! then `latitude`, `longitude` (or `y`, `x` with 2-D coordinates), and
//! `valid_time` as an auxiliary coordinate.
//!
//! The path: the file's bytes ([`open_grib`], through the location's object
//! store, so allowed roots and credentials apply as for any format) → its
//! messages and the keys of each field ([`message`], decoded by
//! [`edition1`] or, for edition 2, the `grib` crate in [`edition2`]) → the
//! hypercube ([`hypercube`], names from [`params`], coordinates from
//! [`geometry`]) → the shared grid model; regions are read field by field
//! ([`reader`]). The file is read whole when the table opens: GRIB has no
//! index, and finding the messages means walking all of them.

pub mod edition1;
pub mod edition2;
pub mod geometry;
pub mod hypercube;
pub mod message;
pub mod params;
pub mod reader;

use std::sync::Arc;

use object_store::ObjectStoreExt;

use crate::error::{ConnectorError, Result};
use crate::grid::build::{CoordReads, DatasetVariables, build_grid};
use crate::location::{Access, Location};
use crate::table::{GridTable, TableSpec};

/// The most points one field's grid may have (a hostile grid description
/// cannot make decoding allocate more).
pub const MAX_POINTS: u64 = 1 << 28;

/// The largest GRIB file opened (it is held in memory).
pub const MAX_FILE_BYTES: u64 = 8 << 30;

/// Opens a GRIB file as a table.
///
/// # Errors
/// Unreadable or refused location, no or truncated messages, grids,
/// packings or levels the reader does not support, a file whose fields do
/// not form one hypercube.
pub async fn open_grib(
    spec: &TableSpec,
    location: &Location,
    access: &Access,
) -> Result<GridTable> {
    let (cube, reader) = read_grib(spec, location, access).await?;
    let grid = build_grid(cube, &spec.options, CoordReads::All(&reader)).await?;
    Ok(GridTable::new(spec.clone(), grid, Arc::new(reader)))
}

/// Reads a GRIB file's messages into its dataset variables and a reader.
///
/// # Errors
/// As [`open_grib`].
pub async fn read_grib(
    spec: &TableSpec,
    location: &Location,
    access: &Access,
) -> Result<(DatasetVariables, reader::GribReader)> {
    let dataset = spec.location.clone();
    if spec.options.contains_key("group") {
        return Err(ConnectorError::Option {
            option: "group".into(),
            reason: "GRIB files have no groups".into(),
        });
    }
    let (store, path) = access.store(location)?;
    let store_err = |source| ConnectorError::Store {
        dataset: dataset.clone(),
        source,
    };
    let got = store.get(&path).await.map_err(store_err)?;
    if got.meta.size > MAX_FILE_BYTES {
        return Err(ConnectorError::Unsupported {
            dataset,
            reason: format!(
                "a GRIB file of {} bytes (at most {MAX_FILE_BYTES} are read into memory)",
                got.meta.size
            ),
        });
    }
    let bytes = got.bytes().await.map_err(store_err)?;
    let meta = |reason: String| ConnectorError::Metadata {
        dataset: dataset.clone(),
        reason,
    };
    let fields = message::fields(&bytes).map_err(meta)?;
    let edition = fields.first().map_or(0, |(at, _)| at.edition);
    let cube = hypercube::hypercube(&dataset, &fields, edition).map_err(meta)?;
    let reader = reader::GribReader::new(dataset.clone(), bytes, cube.coords, cube.data);
    Ok((cube.variables, reader))
}
