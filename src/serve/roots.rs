//! How a server's allowed roots reach every opener.
//!
//! The roots themselves and their rule live in the connectors
//! ([`AllowedRoots`], checked by [`gridsql_connectors::location::Access`] on
//! the canonical form it then opens). The server only puts them into its
//! session's configuration, where the table functions (`read_zarr`,
//! `read_netcdf`, `grid_variables`, `grid_attributes`), `CREATE EXTERNAL
//! TABLE ... STORED AS ZARR|NETCDF` (gridsql's sessions have no other table
//! factories) and the files a glob or folder expands to find them.

use std::sync::Arc;

use datafusion::prelude::SessionContext;
use gridsql_connectors::location::{AllowedRoots, WriteRoots};

/// Puts `roots` into `ctx`'s configuration, for every query's session.
pub(crate) fn install(ctx: &SessionContext, roots: Arc<AllowedRoots>) {
    ctx.state_ref().write().config_mut().set_extension(roots);
}

/// Puts the write roots (`--allow-write-root`) into `ctx`'s configuration.
pub(crate) fn install_write(ctx: &SessionContext, roots: AllowedRoots) {
    ctx.state_ref()
        .write()
        .config_mut()
        .set_extension(Arc::new(WriteRoots(roots)));
}
