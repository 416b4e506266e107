//! The region loader: the one place where a partition's regions become
//! decoded bytes, for the scan ([`crate::scan::GridScanExec`]) and the
//! in-scan aggregates ([`crate::aggregate::GridAggregateExec`]) alike (the
//! role of DataFusion's `FileOpener`).
//!
//! It reads the regions in order, a bounded number ahead, the requested
//! variables of one region at once; refuses absurd regions before decoding
//! anything ([`MAX_REGION_CELLS`]); checks that a format returned as many
//! values as the region has cells; and counts the work for progress
//! displays ([`crate::progress`]) and `EXPLAIN ANALYZE` ([`crate::io`]).
//!
//! How far ahead depends on where the bytes are. Local files are read
//! [`PREFETCH`] regions ahead on the partition's own task: the page cache
//! answers at once and the partitions keep the cores busy. A remote store
//! answers after a round trip, so a partition reads many regions ahead, each
//! on its own task (decoding runs on the runtime's threads as its bytes
//! arrive), as many as the process's I/O budget of bytes ahead allows for
//! this partition ([`crate::io::budget`]); the budget of requests in flight
//! is kept by the store itself ([`crate::io::ScheduledStore`]).

use std::sync::Arc;

use datafusion::common::Result as DfResult;
use datafusion::common::runtime::SpawnedTask;
use datafusion::error::DataFusionError;
use futures::{Stream, StreamExt, stream};

use crate::error::ConnectorError;
use crate::grid::plan::region_cells;
use crate::grid::{RawBuffer, Region};
use crate::io::IoCounters;
use crate::table::GridTable;

/// Regions read ahead of the one being consumed, per partition, from local files.
pub const PREFETCH: usize = 2;

/// Most regions read ahead per partition from a remote store.
pub const MAX_REMOTE_AHEAD: usize = 256;

/// Largest region (in cells) decoded at once: guards against absurd chunk
/// shapes in metadata.
pub const MAX_REGION_CELLS: u64 = 1 << 30;

/// One region's stored values of the requested variables.
#[derive(Debug)]
pub struct LoadedRegion {
    /// The region.
    pub region: Region,
    /// (index in the grid's variables, stored values), in request order.
    pub values: Vec<(usize, RawBuffer)>,
}

/// How a partition loads: its share of the process's I/O budget and where
/// its requests are counted.
#[derive(Debug, Clone)]
pub struct Loading {
    /// Partitions of the scan loading at the same time (they share the
    /// budget of bytes ahead).
    pub partitions: usize,
    /// The scan's I/O counters (its `EXPLAIN ANALYZE` metrics).
    pub io: Arc<IoCounters>,
    /// Whether the scan stops early (a `LIMIT`): then it reads only
    /// [`PREFETCH`] regions ahead, wherever they are.
    pub limited: bool,
}

/// Regions to read ahead of the one consumed: [`PREFETCH`] locally; from a
/// remote store, this partition's share of the bytes-ahead budget in regions
/// like the first one (at least [`PREFETCH`], at most [`MAX_REMOTE_AHEAD`]
/// and the requests budget).
fn ahead(
    table: &GridTable,
    variables: &[usize],
    first: Option<&Region>,
    loading: &Loading,
) -> usize {
    if !table.reads_remote() || loading.limited {
        return PREFETCH;
    }
    let settings = crate::io::settings();
    let cell_bytes: u64 = variables
        .iter()
        .filter_map(|&v| table.grid.variables.get(v))
        .map(|v| v.decoding.cf.raw.size() as u64)
        .sum();
    let region_bytes = first
        .map_or(1u64, |r| region_cells(r))
        .saturating_mul(cell_bytes)
        .max(1);
    let share = settings.ahead_bytes / loading.partitions.max(1) as u64;
    let fits = usize::try_from(share / region_bytes).unwrap_or(usize::MAX);
    fits.clamp(
        PREFETCH,
        MAX_REMOTE_AHEAD.min(settings.requests.max(PREFETCH)),
    )
}

/// Loads `variables` (indices into the grid's variables) of each of
/// `regions`, in order, a bounded number ahead (see the module docs).
pub fn load_regions(
    table: Arc<GridTable>,
    variables: Vec<usize>,
    regions: Vec<Region>,
    loading: Loading,
) -> impl Stream<Item = DfResult<LoadedRegion>> + Send + 'static {
    crate::progress::planned(regions.len());
    let depth = ahead(&table, &variables, regions.first(), &loading);
    let spawn = table.reads_remote();
    let variables = Arc::new(variables);
    stream::iter(regions)
        .map(move |region| {
            let read = crate::io::counters::scope(
                Arc::clone(&loading.io),
                load(Arc::clone(&table), Arc::clone(&variables), region),
            );
            async move {
                if !spawn {
                    return read.await;
                }
                // Aborted if the stream is dropped (a LIMIT met, a query
                // cancelled); a panic resumes here, where the query's
                // guard catches it.
                SpawnedTask::spawn(read)
                    .join_unwind()
                    .await
                    .map_err(|e| DataFusionError::External(Box::new(e)))?
            }
        })
        .buffered(depth)
}

/// Reads one region's variables at once and checks what came back.
async fn load(
    table: Arc<GridTable>,
    variables: Arc<Vec<usize>>,
    region: Region,
) -> DfResult<LoadedRegion> {
    let cells = region_cells(&region);
    if cells > MAX_REGION_CELLS {
        return Err(ConnectorError::Metadata {
            dataset: table.spec.location.clone(),
            reason: format!(
                "a region of {cells} cells is too large to decode (limit {MAX_REGION_CELLS}); \
                 the chunk shape is absurd"
            ),
        }
        .into());
    }
    let reads = variables.iter().map(|&v| {
        let name = &table.grid.variables[v].name;
        let region = &region;
        let reader = &table.reader;
        async move { reader.read(name, region).await.map(|b| (v, b)) }
    });
    let values = futures::future::try_join_all(reads)
        .await
        .map_err(DataFusionError::from)?;
    for (v, buf) in &values {
        if buf.len() as u64 != cells {
            return Err(DataFusionError::Internal(format!(
                "variable '{}' returned {} values for a region of {cells} cells",
                table.grid.variables[*v].name,
                buf.len()
            )));
        }
    }
    crate::progress::region_read(values.iter().map(|(_, b)| b));
    Ok(LoadedRegion { region, values })
}
