//! Reads regions of Zarr arrays with `zarrs`.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use futures::FutureExt;
use zarrs::array::{Array, ArraySubset, ElementOwned};
use zarrs::storage::AsyncReadableStorageTraits;

use crate::cf::RawType;
use crate::error::{ConnectorError, Result};
use crate::grid::{GridReader, RawBuffer};

use super::blosc_blocks;

/// The zarrs array type gridsql reads through.
pub type ZarrArray = Array<dyn AsyncReadableStorageTraits>;

/// A Zarr variable: its array handle and stored type.
#[derive(Clone)]
pub struct ZarrVariable {
    /// The array.
    pub array: Arc<ZarrArray>,
    /// Stored element type.
    pub raw: RawType,
    /// Whether chunks are plain blosc frames, so a region inside one chunk
    /// is read block by block ([`super::blosc_blocks`]).
    pub blosc_blocks: bool,
    /// Where the block reader finds the chunks.
    pub objects: blosc_blocks::ChunkObjects,
}

/// Reads regions of a store's arrays.
pub struct ZarrReader {
    dataset: String,
    variables: HashMap<String, ZarrVariable>,
}

impl std::fmt::Debug for ZarrReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZarrReader")
            .field("dataset", &self.dataset)
            .finish_non_exhaustive()
    }
}

impl ZarrReader {
    /// A reader of `variables` of the store at `dataset`.
    pub fn new(dataset: String, variables: HashMap<String, ZarrVariable>) -> Self {
        ZarrReader { dataset, variables }
    }

    /// Reads a region of an already opened array.
    ///
    /// # Errors
    /// Storage or codec errors, naming the chunk where the region starts.
    pub async fn read_array(
        dataset: &str,
        name: &str,
        var: &ZarrVariable,
        region: &[Range<u64>],
    ) -> Result<RawBuffer> {
        let subset = ArraySubset::new_with_ranges(region);
        let a = &var.array;
        let chunk_err = |e: zarrs::array::ArrayError| {
            let chunk = a
                .chunks_in_array_subset(&subset)
                .ok()
                .flatten()
                .map_or_else(
                    || format!("{region:?}"),
                    |c| {
                        let s = c.start();
                        if c.num_elements() == 1 {
                            format!("{s:?}")
                        } else {
                            format!("{s:?}..{:?}", c.end_exc())
                        }
                    },
                );
            ConnectorError::Chunk {
                dataset: dataset.to_string(),
                variable: name.to_string(),
                chunk,
                reason: e.to_string(),
            }
        };
        let read = async {
            Ok(
                crate::raw_buffer_of!(var.raw, T => Self::retrieve::<T>(var, region, &subset)
                .await
                .map_err(chunk_err)?),
            )
        };
        // zarrs can panic on hostile chunks (a shard shorter than its index
        // underflows a byte range in zarrs_storage 0.4.5): a clear error on
        // this chunk, not a crashed query.
        match std::panic::AssertUnwindSafe(read).catch_unwind().await {
            Ok(result) => result,
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                Err(ConnectorError::Chunk {
                    dataset: dataset.to_string(),
                    variable: name.to_string(),
                    chunk: format!("{region:?}"),
                    reason: format!("the chunk is corrupt or truncated (decoding failed: {what})"),
                })
            }
        }
    }
}

impl ZarrReader {
    /// Reads `region` as `T`s: block by block when it lies inside one blosc
    /// chunk without being all of it, through zarrs otherwise (and whenever
    /// the block reader declines the chunk).
    async fn retrieve<T>(
        var: &ZarrVariable,
        region: &[Range<u64>],
        subset: &ArraySubset,
    ) -> std::result::Result<Vec<T>, zarrs::array::ArrayError>
    where
        T: ElementOwned + bytemuck::Pod,
    {
        if var.blosc_blocks
            && let Some(values) = Self::retrieve_blocks(var, region, subset).await
        {
            return Ok(values);
        }
        var.array
            .async_retrieve_array_subset::<Vec<T>>(subset)
            .await
    }

    /// [`blosc_blocks::read_region`] for a region strictly inside one chunk.
    async fn retrieve_blocks<T: bytemuck::Pod>(
        var: &ZarrVariable,
        region: &[Range<u64>],
        subset: &ArraySubset,
    ) -> Option<Vec<T>> {
        let array = &var.array;
        let chunks = array.chunks_in_array_subset(subset).ok()??;
        if chunks.num_elements() != 1 {
            return None;
        }
        let chunk = chunks.start();
        let chunk_subset = array.chunk_subset(chunk).ok()?;
        if chunk_subset == *subset {
            return None; // the whole chunk: zarrs decodes it in one go
        }
        let start: Vec<u64> = region
            .iter()
            .zip(chunk_subset.start())
            .map(|(r, c)| r.start - c)
            .collect();
        let shape: Vec<u64> = region.iter().map(|r| r.end - r.start).collect();
        let cells = usize::try_from(shape.iter().product::<u64>()).ok()?;
        let mut values = vec![T::zeroed(); cells];
        blosc_blocks::read_region(
            array,
            &var.objects,
            chunk,
            &start,
            &shape,
            std::mem::size_of::<T>(),
            bytemuck::cast_slice_mut(&mut values),
        )
        .await?;
        Some(values)
    }
}

#[async_trait]
impl GridReader for ZarrReader {
    async fn read(&self, variable: &str, region: &[Range<u64>]) -> Result<RawBuffer> {
        let var = self
            .variables
            .get(variable)
            .ok_or_else(|| ConnectorError::Variable {
                dataset: self.dataset.clone(),
                variable: variable.to_string(),
                reason: "no such array in the store".to_string(),
            })?;
        Self::read_array(&self.dataset, variable, var, region).await
    }

    fn reads_part_of_chunk(&self, variable: &str) -> bool {
        self.variables.get(variable).is_some_and(|v| v.blosc_blocks)
    }
}
