//! The coordinates of a COPY to Zarr on a cluster, found before the write
//! and carried with the plan, so that every executor places its rows in the
//! same grid ([`gridsql_connectors::write::Layout::pin`]).
//!
//! They travel among the options of the COPY's grid format under
//! [`PINNED`], which only the client sets ([`super::cluster_write`]); a
//! user's COPY that names it is refused ([`refuse_pinned`]).

use std::collections::HashMap;

use arrow::array::ArrayRef;
use arrow::datatypes::Schema;
use datafusion::common::{Result, plan_err};
use datafusion::error::DataFusionError;
use gridsql_connectors::write::chunking::chunk_shape;
use gridsql_connectors::write::{Grid, Layout, WriteOptions};

use crate::codec::wire;

/// The option key of the coordinates (one base64 Arrow IPC array per
/// dimension, as a JSON list).
pub(crate) const PINNED: &str = "gridsql.coordinates";

/// Whether `key` (as a user wrote it, perhaps `format.`-prefixed) names
/// [`PINNED`].
fn is_pinned_key(key: &str) -> bool {
    let k = key.trim().to_ascii_lowercase();
    k.strip_prefix("format.").unwrap_or(&k) == PINNED
}

/// Refuses a COPY whose own options name [`PINNED`].
pub(crate) fn refuse_pinned(options: &HashMap<String, String>) -> Result<()> {
    match options.keys().find(|k| is_pinned_key(k)) {
        Some(k) => plan_err!("'{k}' is not a COPY option; gridsql sets it itself"),
        None => Ok(()),
    }
}

/// `raw` without [`PINNED`]: the options a user wrote.
pub(crate) fn without_pinned(raw: &HashMap<String, String>) -> HashMap<String, String> {
    let mut rest = raw.clone();
    rest.remove(PINNED);
    rest
}

/// The coordinates `raw` carries under [`PINNED`], if any.
pub(crate) fn coordinates(raw: &HashMap<String, String>) -> Result<Option<Vec<ArrayRef>>> {
    let Some(text) = raw.get(PINNED) else {
        return Ok(None);
    };
    let arrays: Vec<String> = serde_json::from_str(text).map_err(|e| {
        DataFusionError::Internal(format!("COPY: unreadable pinned coordinates: {e}"))
    })?;
    arrays
        .iter()
        .map(String::as_str)
        .map(wire::array_from_ipc)
        .collect::<Result<_>>()
        .map(Some)
}

/// The option value that carries `coords`.
pub(crate) fn encode(coords: &[ArrayRef]) -> Result<String> {
    let arrays = coords
        .iter()
        .map(wire::array_to_ipc)
        .collect::<Result<Vec<_>>>()?;
    serde_json::to_string(&arrays).map_err(|e| DataFusionError::Internal(e.to_string()))
}

/// A result's grid with its coordinates given: the layout that keys rows
/// against them, the grid, and its chunk shape.
pub(crate) struct PinnedGrid {
    pub(crate) layout: Layout,
    pub(crate) grid: Grid,
    pub(crate) chunks: Vec<u64>,
}

impl PinnedGrid {
    /// The grid of a result with `schema` whose dimensions (the `dims`
    /// option, else the source's dimension columns) have `coords`.
    ///
    /// # Errors
    /// Bad options, coordinates that do not fit the schema.
    pub(crate) fn new(
        schema: &Schema,
        options: &WriteOptions,
        coords: &[ArrayRef],
    ) -> Result<Self> {
        let mut layout =
            Layout::new(schema, options.dims.as_deref()).map_err(DataFusionError::from)?;
        let grid = layout.pin(coords).map_err(DataFusionError::from)?;
        let chunks = chunk_shape(&grid, options).map_err(DataFusionError::from)?;
        Ok(PinnedGrid {
            layout,
            grid,
            chunks,
        })
    }

    /// Steps of the first dimension per chunk.
    pub(crate) fn first_chunk(&self) -> u64 {
        self.chunks.first().copied().unwrap_or(1).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Float64Array, StringArray};
    use std::sync::Arc;

    #[test]
    fn coordinates_travel_and_users_cannot_set_them() {
        let coords: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(vec!["b", "a"])),
            Arc::new(Float64Array::from(vec![1.5, -2.0])),
        ];
        let raw = HashMap::from([
            (PINNED.to_string(), encode(&coords).expect("encodes")),
            ("zarr_format".to_string(), "2".to_string()),
        ]);
        assert_eq!(without_pinned(&raw).len(), 1);
        let back = coordinates(&raw).expect("decodes").expect("coordinates");
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].as_ref(), coords[0].as_ref());
        assert_eq!(back[1].as_ref(), coords[1].as_ref());
        let user = HashMap::from([("format.gridsql.coordinates".to_string(), "x".to_string())]);
        let e = refuse_pinned(&user).expect_err("refused");
        assert!(e.to_string().contains("not a COPY option"), "{e}");
        let bad = HashMap::from([(PINNED.to_string(), "[\"!!\"]".to_string())]);
        assert!(coordinates(&bad).is_err());
    }
}
