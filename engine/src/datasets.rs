//! Registering datasets by location: format detection and table names.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::error::{DataFusionError, Result};
use datafusion::prelude::SessionContext;
use gridsql_connectors::location::Location;
use gridsql_connectors::{Format, GridTableProvider, TableSpec};

/// Guesses the format of a location by [`Format::detect`]'s rule.
///
/// # Errors
/// When nothing tells the format.
pub fn detect_format(location: &str) -> Result<Format> {
    let canonical = Location::parse(location).map_err(DataFusionError::from)?;
    Format::detect(&canonical).ok_or_else(|| {
        DataFusionError::Plan(format!(
            "cannot tell the format of '{location}': name it *.zarr, *.json or *.parq (kerchunk references), *.nc or *.grib, or use CREATE EXTERNAL TABLE ... STORED AS ZARR|NETCDF|GRIB|ICECHUNK"
        ))
    })
}

/// A SQL-friendly table name from a location: the file name without its
/// format extensions, with other characters than letters, digits and `_`
/// replaced by `_` (`sst.mnmean.nc.v2.zarr` becomes `sst_mnmean_nc_v2`).
pub fn table_name_for(location: &str) -> String {
    let base = location
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(location);
    let mut stem = base.to_string();
    let lower = stem.to_ascii_lowercase();
    let ext = ["zarr", "json", "parq"]
        .into_iter()
        .chain(Format::NETCDF_EXTENSIONS.iter().copied())
        .chain(Format::GRIB_EXTENSIONS.iter().copied())
        .find(|e| lower.len() > e.len() + 1 && lower.ends_with(&format!(".{e}")));
    if let Some(e) = ext {
        stem.truncate(stem.len() - e.len() - 1);
    }
    let mut name: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, 't');
        name.insert(1, '_');
    }
    name
}

/// Opens a dataset and registers it as table `name`.
///
/// # Errors
/// Unreadable dataset, unknown format, bad options.
pub async fn register_dataset(
    ctx: &SessionContext,
    name: &str,
    location: &str,
    format: Option<Format>,
    options: BTreeMap<String, String>,
) -> Result<()> {
    let format = match format {
        Some(f) => f,
        None => detect_format(location)?,
    };
    let spec = TableSpec {
        format,
        location: location.to_string(),
        options,
    };
    let state = ctx.state();
    let provider = GridTableProvider::open(&spec, &state).await?;
    ctx.register_table(name, Arc::new(provider))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            table_name_for("/data/sst.mnmean.nc.v2.zarr"),
            "sst_mnmean_nc_v2"
        );
        assert_eq!(table_name_for("s3://bucket/aviso.zarr/"), "aviso");
        assert_eq!(table_name_for("2005.nc"), "t_2005");
    }
}
