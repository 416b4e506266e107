//! The region loader: the one place where a partition's regions become
//! decoded bytes, for the scan ([`crate::scan::GridScanExec`]) and the
//! in-scan aggregates ([`crate::aggregate::GridAggregateExec`]) alike (the
//! role of DataFusion's `FileOpener`).
//!
//! It reads the regions in order, a bounded number ahead ([`PREFETCH`]),
//! the requested variables of one region at once; refuses absurd regions
//! before decoding anything ([`MAX_REGION_CELLS`]); checks that a format
//! returned as many values as the region has cells; and counts the work for
//! progress displays ([`crate::progress`]). Memory stays bounded by the
//! prefetch window.

use std::sync::Arc;

use datafusion::common::Result as DfResult;
use datafusion::error::DataFusionError;
use futures::{Stream, StreamExt, stream};

use crate::error::ConnectorError;
use crate::grid::plan::region_cells;
use crate::grid::{RawBuffer, Region};
use crate::table::GridTable;

/// Regions read ahead of the one being consumed, per partition.
pub const PREFETCH: usize = 2;

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

/// Loads `variables` (indices into the grid's variables) of each of
/// `regions`, in order, [`PREFETCH`] regions ahead.
pub fn load_regions(
    table: Arc<GridTable>,
    variables: Vec<usize>,
    regions: Vec<Region>,
) -> impl Stream<Item = DfResult<LoadedRegion>> + Send + 'static {
    crate::progress::planned(regions.len());
    let variables = Arc::new(variables);
    stream::iter(regions)
        .map(move |region| load(Arc::clone(&table), Arc::clone(&variables), region))
        .buffered(PREFETCH)
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
