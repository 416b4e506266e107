//! The one door to a dataset's bytes: parse, check, then open exactly what
//! was checked.

use std::path::PathBuf;
use std::sync::Arc;

use datafusion::catalog::Session;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::prelude::SessionConfig;
use object_store::ObjectStore;
use object_store::path::Path;

use super::confined::ConfinedLocalStore;
use super::stores::object_path;
use super::{AllowedRoots, Location, WriteRoots, store_for};
use crate::error::{ConnectorError, Result};

/// What a session may open and where its stores come from.
///
/// A server puts its [`AllowedRoots`] into its sessions' configuration
/// (`SessionConfig::with_extension`); every opener builds an `Access` from
/// the session it runs in, so table functions, `CREATE EXTERNAL TABLE`, the
/// files a glob or folder expands to and the objects a listing finds are
/// all checked by the same code, on the same canonical form that is opened.
#[derive(Debug, Clone)]
pub struct Access {
    runtime: Arc<RuntimeEnv>,
    roots: Option<Arc<AllowedRoots>>,
    /// Whether the stores it opens accept writes (a COPY's target).
    writes: bool,
}

impl Access {
    /// The access of a session: its runtime and its allowed roots, if any.
    pub fn of(session: &dyn Session) -> Self {
        Access::new(Arc::clone(session.runtime_env()), session.config())
    }

    /// The access of a runtime and a session configuration.
    pub fn new(runtime: Arc<RuntimeEnv>, config: &SessionConfig) -> Self {
        Access {
            runtime,
            roots: config.get_extension::<AllowedRoots>(),
            writes: false,
        }
    }

    /// The access of a session's writes (`COPY ... TO` a grid): anywhere in
    /// a session without roots (the shell); on a server, only under its
    /// write roots.
    ///
    /// # Errors
    /// A server session without write roots.
    pub fn for_writing(runtime: Arc<RuntimeEnv>, config: &SessionConfig) -> Result<Self> {
        match (
            config.get_extension::<AllowedRoots>(),
            config.get_extension::<WriteRoots>(),
        ) {
            (None, _) => Ok(Access::unrestricted(runtime)),
            (Some(_), Some(w)) => Ok(Access {
                runtime,
                roots: Some(Arc::new(w.0.clone())),
                writes: true,
            }),
            (Some(_), None) => Err(ConnectorError::Refused {
                location: "the COPY target".into(),
                reason: "not writable: this server has no --allow-write-root".into(),
            }),
        }
    }

    /// Access without roots: the shell, the catalog an operator wrote, and
    /// executors re-opening the canonical locations of a plan.
    pub fn unrestricted(runtime: Arc<RuntimeEnv>) -> Self {
        Access {
            runtime,
            roots: None,
            writes: false,
        }
    }

    /// The session's runtime.
    pub fn runtime(&self) -> &Arc<RuntimeEnv> {
        &self.runtime
    }

    /// Parses what a user wrote and checks it.
    ///
    /// # Errors
    /// See [`Location::parse`] and [`Access::check`].
    pub fn locate(&self, raw: &str) -> Result<Location> {
        let location = Location::parse(raw)?;
        self.check(&location)?;
        Ok(location)
    }

    /// Checks a canonical location against the roots.
    ///
    /// # Errors
    /// [`ConnectorError::Refused`] outside the roots.
    pub fn check(&self, location: &Location) -> Result<()> {
        match &self.roots {
            Some(r) => r.check(location),
            None => Ok(()),
        }
    }

    /// The store and path of a location, after checking it. With roots, a
    /// local store checks every key it reads too ([`ConfinedLocalStore`]):
    /// a file inside an allowed store may be a link leading out.
    ///
    /// # Errors
    /// Refused locations; see [`store_for`].
    pub fn store(&self, location: &Location) -> Result<(Arc<dyn ObjectStore>, Path)> {
        self.check(location)?;
        match (&self.roots, location) {
            (Some(roots), Location::Local(_)) => Ok((
                Arc::new(ConfinedLocalStore::new(Arc::clone(roots)).writable(self.writes)),
                object_path(location)?,
            )),
            _ => store_for(location, &self.runtime),
        }
    }

    /// The path of a local file, after checking it.
    ///
    /// # Errors
    /// Refused or remote locations.
    pub fn local_file(&self, location: &Location) -> Result<PathBuf> {
        self.check(location)?;
        location
            .as_local()
            .map(std::path::Path::to_path_buf)
            .ok_or_else(|| ConnectorError::Location {
                location: location.to_string(),
                reason: "not a local path".into(),
            })
    }
}
