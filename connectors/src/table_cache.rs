//! Re-opening a table from its [`TableSpec`] in another process.
//!
//! On a cluster, plans travel as a table's spec (format, location,
//! options), never as handles: the scheduler and each executor open the
//! dataset themselves, with their own object-store credentials. Opening
//! reads metadata and coordinates, so each process keeps the tables it
//! opened, keyed by spec, and every task of a query reuses them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use datafusion::error::Result as DfResult;
use datafusion::execution::runtime_env::RuntimeEnv;

use crate::blocking::run_async;
use crate::error::Result;
use crate::location::Access;
use crate::open::open_table;
use crate::table::{GridTable, OpenedTable, TableSpec};

/// Tables a process keeps open; beyond this many, the cache starts over.
const MAX_CACHED: usize = 64;

/// Opens the table a spec describes, reading a deferred collection's
/// remaining headers at once: a plan's regions index the resolved grid.
///
/// # Errors
/// See [`open_table`] and [`crate::DeferredTable::resolve`].
pub async fn open_resolved(spec: &TableSpec, access: &Access) -> Result<GridTable> {
    match open_table(spec, access).await? {
        OpenedTable::Ready(t) => Ok(t),
        OpenedTable::Deferred { resolver, .. } => resolver.resolve().await,
    }
}

/// The table `spec` describes, opened once per process. Plans carry the
/// canonical locations their client checked, so this opens them unrestricted.
///
/// Synchronous because plan codecs are; the open runs on a thread of its own
/// (see [`run_async`]).
///
/// # Errors
/// See [`open_resolved`].
pub fn open_cached(spec: &TableSpec, runtime: &Arc<RuntimeEnv>) -> DfResult<Arc<GridTable>> {
    static CACHE: Mutex<Option<HashMap<TableSpec, Arc<GridTable>>>> = Mutex::new(None);
    if let Some(t) = CACHE
        .lock()
        .ok()
        .and_then(|c| c.as_ref().and_then(|m| m.get(spec).cloned()))
    {
        return Ok(t);
    }
    let table = Arc::new(run_async(
        "open",
        open_resolved(spec, &Access::unrestricted(Arc::clone(runtime))),
    )??);
    if let Ok(mut c) = CACHE.lock() {
        let map = c.get_or_insert_with(HashMap::new);
        if map.len() >= MAX_CACHED {
            map.clear();
        }
        map.insert(spec.clone(), Arc::clone(&table));
    }
    Ok(table)
}
