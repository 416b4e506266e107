//! The catalog file: a TOML list of datasets (name, location, format,
//! options) that a server opens once and shows every client as tables, plus
//! the server settings that belong with them (allowed roots, auth).
//!
//! ```toml
//! allow_roots = ["/data/public/", "s3://bucket/gridded/"]
//!
//! [auth]
//! user = "analyst"
//! password_env = "GRIDSQL_PASSWORD"
//!
//! [[dataset]]
//! name = "adt"
//! location = "/data/public/adt.zarr"      # relative paths: from the catalog's folder
//!
//! [[dataset]]
//! name = "sst"
//! location = "/data/public/sst.mnmean.nc"
//! format = "netcdf"                       # optional: zarr | netcdf (else from the name)
//! options = { variables = "sst" }         # optional: table options
//! ```
//!
//! This module parses and registers; it does not decide who may connect or
//! what a client may read (that is the server's guard).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use datafusion::prelude::SessionContext;
use gridsql_connectors::Format;
use serde::Deserialize;

use crate::register_dataset;

/// Why a catalog cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// The file cannot be read.
    #[error("cannot read catalog {path}: {source}")]
    Read {
        /// The catalog file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a valid catalog.
    #[error("catalog {path}: {message}")]
    Invalid {
        /// The catalog file.
        path: PathBuf,
        /// What is wrong, with TOML's line and column.
        message: String,
    },
    /// A dataset cannot be opened.
    #[error("catalog {path}: dataset '{name}' ({location}): {source}")]
    Open {
        /// The catalog file.
        path: PathBuf,
        /// The dataset's table name.
        name: String,
        /// Its location.
        location: String,
        /// The engine's error.
        source: Box<datafusion::error::DataFusionError>,
    },
}

/// A parsed catalog file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// Location prefixes (local folders or object-store URLs) under which
    /// clients may open datasets themselves (`read_zarr`, `read_netcdf`, ...),
    /// besides the catalog's own datasets. Empty: only the catalog.
    #[serde(default)]
    pub allow_roots: Vec<String>,
    /// Who may connect; absent: anyone, and the server binds loopback only.
    #[serde(default)]
    pub auth: Option<CatalogAuth>,
    /// The datasets, one table each.
    #[serde(default, rename = "dataset")]
    pub datasets: Vec<CatalogDataset>,
}

/// The `[auth]` section: one user whose password is read from an
/// environment variable (never stored in the file).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogAuth {
    /// The user name clients log in with.
    pub user: String,
    /// The environment variable holding the password.
    pub password_env: String,
}

/// One `[[dataset]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogDataset {
    /// Table name clients use.
    pub name: String,
    /// Path, glob or URL of the store or files.
    pub location: String,
    /// `zarr` or `netcdf`; absent: detected from the location.
    #[serde(default)]
    pub format: Option<String>,
    /// Table options (`group`, `dims`, `variables`).
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

impl Catalog {
    /// Reads and checks a catalog file; relative dataset locations and roots
    /// become relative to the file's folder.
    ///
    /// # Errors
    /// Unreadable file, invalid TOML, unknown keys, duplicate table names,
    /// unknown formats.
    pub fn load(path: &Path) -> Result<Catalog, CatalogError> {
        let text = std::fs::read_to_string(path).map_err(|source| CatalogError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Catalog::parse(&text, base).map_err(|message| CatalogError::Invalid {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Parses catalog text; relative locations are joined to `base`.
    ///
    /// # Errors
    /// A one-line message: invalid TOML, unknown keys, duplicate or empty
    /// table names, unknown formats.
    pub fn parse(text: &str, base: &Path) -> Result<Catalog, String> {
        let mut catalog: Catalog = toml::from_str(text).map_err(|e| one_line(&e.to_string()))?;
        let mut seen = std::collections::BTreeSet::new();
        for d in &mut catalog.datasets {
            if d.name.trim().is_empty() {
                return Err(format!("dataset at '{}' has an empty name", d.location));
            }
            if !seen.insert(d.name.to_ascii_lowercase()) {
                return Err(format!("dataset name '{}' is used twice", d.name));
            }
            if let Some(f) = &d.format {
                Format::parse(f).map_err(|e| format!("dataset '{}': {e}", d.name))?;
            }
            d.location = resolve(&d.location, base);
        }
        for r in &mut catalog.allow_roots {
            *r = resolve(r, base);
        }
        Ok(catalog)
    }

    /// Opens every dataset and registers it in `ctx` under its name.
    ///
    /// # Errors
    /// The first dataset that cannot be opened, named with its location.
    pub async fn register(&self, ctx: &SessionContext, path: &Path) -> Result<(), CatalogError> {
        for d in &self.datasets {
            let format = d.format.as_deref().map(Format::parse).transpose();
            let open = async {
                let format = format.map_err(datafusion::error::DataFusionError::Configuration)?;
                register_dataset(ctx, &d.name, &d.location, format, d.options.clone()).await
            };
            open.await.map_err(|e| CatalogError::Open {
                path: path.to_path_buf(),
                name: d.name.clone(),
                location: d.location.clone(),
                source: Box::new(e),
            })?;
        }
        Ok(())
    }
}

/// A URL (`scheme://...`) or absolute path as it is; a relative path joined to `base`.
fn resolve(location: &str, base: &Path) -> String {
    if location.contains("://") || Path::new(location).is_absolute() {
        location.to_string()
    } else {
        base.join(location).to_string_lossy().into_owned()
    }
}

/// Folds TOML's multi-line error (with its source excerpt) onto one line.
fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('|') && !l.trim_start_matches('^').is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_datasets_roots_and_auth() {
        let text = r#"
            allow_roots = ["data/", "s3://bucket/x/"]
            [auth]
            user = "u"
            password_env = "PW"
            [[dataset]]
            name = "adt"
            location = "adt.zarr"
            [[dataset]]
            name = "sst"
            location = "/abs/sst.nc"
            format = "NetCDF"
            options = { variables = "sst" }
        "#;
        let c = Catalog::parse(text, Path::new("/cat")).unwrap();
        assert_eq!(c.allow_roots, vec!["/cat/data/", "s3://bucket/x/"]);
        assert_eq!(c.auth.as_ref().map(|a| a.user.as_str()), Some("u"));
        assert_eq!(c.datasets[0].location, "/cat/adt.zarr");
        assert_eq!(c.datasets[1].location, "/abs/sst.nc");
        assert_eq!(c.datasets[1].options["variables"], "sst");
    }

    #[test]
    fn rejects_bad_catalogs() {
        let dup =
            "[[dataset]]\nname='a'\nlocation='x.zarr'\n[[dataset]]\nname='A'\nlocation='y.zarr'";
        assert!(
            Catalog::parse(dup, Path::new("."))
                .unwrap_err()
                .contains("used twice")
        );
        let fmt = "[[dataset]]\nname='a'\nlocation='x'\nformat='hdf4'";
        assert!(
            Catalog::parse(fmt, Path::new("."))
                .unwrap_err()
                .contains("unknown format")
        );
        let key = "[[dataset]]\nname='a'\nlocation='x'\nlocaton='y'";
        let e = Catalog::parse(key, Path::new(".")).unwrap_err();
        assert!(e.contains("locaton"), "{e}");
        assert!(!e.contains('\n'));
    }
}
