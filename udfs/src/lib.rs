//! Geoscience SQL functions for gridsql, registered in every session.

use datafusion::prelude::SessionContext;

/// Registers every gridsql function in `ctx`.
pub fn register_all(_ctx: &SessionContext) {}
