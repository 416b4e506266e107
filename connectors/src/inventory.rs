//! Every variable of a dataset, not only the grid a table shows: what
//! `grid_variables` and `grid_attributes` list.
//!
//! Zarr: the arrays of the group and their metadata, no data read. NetCDF:
//! the header of the (first) file, read on the libnetcdf thread.

use crate::error::{ConnectorError, Result};
use crate::grid::build::{CoordReads, DatasetVariables, build_grid};
use crate::location::{Access, Location};
use crate::netcdf::header::{child_groups, open_file, read_header};
use crate::netcdf::sources::{list_sources, local_path};
use crate::netcdf::worker;
use crate::open::check_options;
use crate::table::{Format, TableSpec};

/// The variables of a dataset and the grid its default table shows.
#[derive(Debug, Clone)]
pub struct Inventory {
    /// Every variable with a supported (numeric) type, in dataset order,
    /// coordinates included, and the global attributes.
    pub dataset: DatasetVariables,
    /// Dimension names of the table's grid (empty when the dataset forms
    /// no table, e.g. coordinates only).
    pub grid_dims: Vec<String>,
    /// Data variables of the table's grid.
    pub grid_variables: Vec<String>,
    /// Its auxiliary columns (coordinates named by its variables, strings).
    pub grid_aux: Vec<String>,
    /// Groups below the one opened, `/`-separated paths from the root.
    pub groups: Vec<String>,
}

impl Inventory {
    /// The role of a variable in the table: `dimension` (the coordinate
    /// variable of one of its dimensions), `variable` (a column of it),
    /// `coordinate` (an auxiliary column of it), `unreadable` (a variable
    /// gridsql cannot read; `grid_variables` says why) or `other`
    /// (metadata, bounds, or a variable of another grid).
    pub fn role(&self, name: &str) -> &'static str {
        if self
            .dataset
            .variables
            .iter()
            .any(|v| v.name == name && v.unreadable().is_some())
        {
            return "unreadable";
        }
        if self.grid_aux.iter().any(|v| v == name) {
            return "coordinate";
        }
        let is_coord = self
            .dataset
            .variables
            .iter()
            .any(|v| v.name == name && v.dims.len() == 1 && v.dims[0] == v.name);
        if is_coord && self.grid_dims.iter().any(|d| d == name) {
            "dimension"
        } else if self.grid_variables.iter().any(|v| v == name) {
            "variable"
        } else {
            "other"
        }
    }
}

/// Reads the variables of the dataset a spec names (the `group` option is
/// honoured; `dims` and `variables` pick the grid whose roles are reported).
/// For several NetCDF files (a glob or folder), the first file's header.
///
/// # Errors
/// Bad location or options, unreadable metadata.
pub async fn inventory(spec: &TableSpec, access: &Access) -> Result<Inventory> {
    check_options(spec)?;
    let location = access.locate(&spec.location)?;
    let (dataset, groups) = match spec.format {
        Format::Zarr | Format::Icechunk => {
            let (store, path) = if spec.format == Format::Icechunk {
                let (store, path, _) =
                    crate::icechunk::icechunk_store(access, &location, spec).await?;
                (store, path)
            } else {
                crate::references::zarr_store(access, &location).await?
            };
            let groups = crate::zarr::format::child_groups(&store, &path, spec).await?;
            // A root that only holds groups (a DataTree) lists its groups.
            let vars = match crate::zarr::format::dataset_variables(store, path, spec).await {
                Ok((vars, _)) => vars,
                Err(_) if !groups.is_empty() => DatasetVariables {
                    dataset: spec.location.clone(),
                    variables: vec![],
                    global_attrs: Default::default(),
                },
                Err(e) => return Err(e),
            };
            (vars, groups)
        }
        Format::Netcdf => netcdf_variables(spec, &location, access).await?,
        Format::Grib => (
            crate::grib::read_grib(spec, &location, access).await?.0,
            vec![],
        ),
    };
    // The grid the table would show; coordinates are not needed for names.
    let (grid_dims, grid_variables, grid_aux) =
        match build_grid(dataset.clone(), &spec.options, CoordReads::Skip).await {
            Ok(g) => (
                g.dims.into_iter().map(|d| d.name).collect(),
                g.variables.into_iter().map(|v| v.name).collect(),
                g.aux.into_iter().map(|a| a.var.name).collect(),
            ),
            Err(e)
                if spec.options.contains_key("dims") || spec.options.contains_key("variables") =>
            {
                return Err(e);
            }
            Err(e) => {
                log::debug!("dataset '{}': no table grid: {e}", spec.location);
                (vec![], vec![], vec![])
            }
        };
    Ok(Inventory {
        dataset,
        grid_dims,
        grid_variables,
        grid_aux,
        groups,
    })
}

/// The header of a NetCDF location's first file.
async fn netcdf_variables(
    spec: &TableSpec,
    location: &Location,
    access: &Access,
) -> Result<(DatasetVariables, Vec<String>)> {
    let group = spec.options.get("group").cloned().unwrap_or_default();
    let sources = list_sources(location, access).await?;
    let first = sources
        .into_iter()
        .next()
        .ok_or_else(|| ConnectorError::Location {
            location: spec.location.clone(),
            reason: "no NetCDF files match".into(),
        })?;
    let path = local_path(&first).await?;
    let display = first.display.clone();
    let dataset = display.clone();
    worker::run(&display, move || {
        let file = open_file(&path, &dataset)?;
        let vars = read_header(&file, &group, &dataset, true)?.vars;
        Ok((vars, child_groups(&file, &group, &dataset)?))
    })
    .await?
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn data() -> Option<std::path::PathBuf> {
        let p = std::env::var_os("GRIDSQL_DATA").map_or_else(
            || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"),
            std::path::PathBuf::from,
        );
        p.join("MANIFEST.md").exists().then_some(p)
    }

    fn spec(format: Format, location: &std::path::Path) -> TableSpec {
        TableSpec {
            format,
            location: location.display().to_string(),
            options: BTreeMap::new(),
        }
    }

    #[tokio::test]
    async fn lists_every_variable_with_roles() {
        let Some(dir) = data() else {
            eprintln!("SKIPPED: shared data missing");
            return;
        };
        let rt = Access::unrestricted(std::sync::Arc::new(
            datafusion::execution::runtime_env::RuntimeEnv::default(),
        ));
        for (format, file) in [
            (Format::Netcdf, "dt_med_allsat_phy_l4_2005T2.nc"),
            (Format::Zarr, "dt_med_allsat_phy_l4_2005T2.nc.v2.zarr"),
            (Format::Zarr, "dt_med_allsat_phy_l4_2005T2.nc.v3.zarr"),
        ] {
            let inv = inventory(&spec(format, &dir.join(file)), &rt)
                .await
                .expect(file);
            let mut names: Vec<&str> = inv
                .dataset
                .variables
                .iter()
                .map(|v| v.name.as_str())
                .collect();
            names.sort_unstable();
            assert_eq!(names, ["adt", "latitude", "longitude", "time"], "{file}");
            assert_eq!(inv.role("adt"), "variable");
            assert_eq!(inv.role("time"), "dimension");
            assert_eq!(inv.role("nope"), "other");
            let adt = inv
                .dataset
                .variables
                .iter()
                .find(|v| v.name == "adt")
                .expect("adt");
            assert_eq!(adt.chunks, vec![20, 64, 344], "{file}");
        }
        let err = inventory(&spec(Format::Zarr, &dir.join("nonexistent.zarr")), &rt)
            .await
            .expect_err("missing store");
        assert!(err.to_string().contains("nonexistent"), "{err}");
    }
}
