//! Opening a table from its spec: options checked, the location resolved
//! once ([`Access`]), then the format's opener; the grid itself is built by
//! [`crate::grid::build`], the same for every format.

use crate::cf::{AttrValue, Attributes, TimeDecoding};
use crate::error::{ConnectorError, Result};
use crate::location::Access;
use crate::table::{Format, OpenedTable, TableSpec};

/// Table options every format understands.
pub const KNOWN_OPTIONS: &[&str] = &["group", "dims", "variables"];

/// The table options of a format: [`KNOWN_OPTIONS`], and for Icechunk the
/// version ([`crate::icechunk::VERSION_OPTIONS`]).
pub fn options_of(format: Format) -> Vec<&'static str> {
    let mut known = KNOWN_OPTIONS.to_vec();
    if format == Format::Icechunk {
        known.extend(crate::icechunk::VERSION_OPTIONS);
    }
    known
}

/// Rejects table options the spec's format does not understand, naming the
/// known ones.
///
/// # Errors
/// The first unknown option.
pub fn check_options(spec: &TableSpec) -> Result<()> {
    let known = options_of(spec.format);
    match spec.options.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(ConnectorError::Option {
            option: k.clone(),
            reason: format!("unknown option; known options are {}", known.join(", ")),
        }),
        None => Ok(()),
    }
}

/// Opens the table a spec describes. The location is parsed once, checked
/// and opened in that form; the table's spec carries the canonical form, so
/// executors re-open exactly what was checked.
///
/// # Errors
/// Bad or refused location, bad options, unreadable metadata.
pub async fn open_table(spec: &TableSpec, access: &Access) -> Result<OpenedTable> {
    check_options(spec)?;
    let location = access.locate(&spec.location)?;
    let spec = TableSpec {
        location: location.to_string(),
        ..spec.clone()
    };
    match spec.format {
        Format::Zarr => {
            let (store, path) = crate::references::zarr_store(access, &location).await?;
            Ok(OpenedTable::Ready(
                crate::zarr::open_zarr(store, path, &spec).await?,
            ))
        }
        Format::Netcdf => crate::netcdf::open_netcdf(&spec, &location, access).await,
        Format::Grib => Ok(OpenedTable::Ready(
            crate::grib::open_grib(&spec, &location, access).await?,
        )),
        Format::Icechunk => {
            let (store, path, pinned) =
                crate::icechunk::icechunk_store(access, &location, &spec).await?;
            Ok(OpenedTable::Ready(
                crate::zarr::open_zarr(store, path, &pinned).await?,
            ))
        }
    }
}

/// The time decoding of a variable whose `units` are `<unit> since <date>`.
///
/// A time unit that cannot be parsed leaves the variable numeric, with a
/// warning, as xarray does when it cannot decode times.
pub fn time_decoding(dataset: &str, name: &str, attrs: &Attributes) -> Option<TimeDecoding> {
    let units = attrs.get("units").and_then(AttrValue::as_str)?;
    let calendar = attrs.get("calendar").and_then(AttrValue::as_str);
    match TimeDecoding::parse(units, calendar) {
        Ok(t) => t,
        Err(e) => {
            log::warn!("dataset '{dataset}', variable '{name}': {e}; left as numbers");
            None
        }
    }
}
