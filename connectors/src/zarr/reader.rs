//! Reads regions of Zarr arrays with `zarrs`.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use futures::FutureExt;
use zarrs::array::{Array, ArraySubset};
use zarrs::storage::AsyncReadableStorageTraits;

use crate::cf::RawType;
use crate::error::{ConnectorError, Result};
use crate::grid::{GridReader, RawBuffer};

/// The zarrs array type gridsql reads through.
pub type ZarrArray = Array<dyn AsyncReadableStorageTraits>;

/// A Zarr variable: its array handle and stored type.
#[derive(Clone)]
pub struct ZarrVariable {
    /// The array.
    pub array: Arc<ZarrArray>,
    /// Stored element type.
    pub raw: RawType,
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
            Ok(match var.raw {
                RawType::I8 => RawBuffer::I8(
                    a.async_retrieve_array_subset::<Vec<i8>>(&subset)
                        .await
                        .map_err(chunk_err)?,
                ),
                RawType::I16 => RawBuffer::I16(
                    a.async_retrieve_array_subset::<Vec<i16>>(&subset)
                        .await
                        .map_err(chunk_err)?,
                ),
                RawType::I32 => RawBuffer::I32(
                    a.async_retrieve_array_subset::<Vec<i32>>(&subset)
                        .await
                        .map_err(chunk_err)?,
                ),
                RawType::I64 => RawBuffer::I64(
                    a.async_retrieve_array_subset::<Vec<i64>>(&subset)
                        .await
                        .map_err(chunk_err)?,
                ),
                RawType::U8 => RawBuffer::U8(
                    a.async_retrieve_array_subset::<Vec<u8>>(&subset)
                        .await
                        .map_err(chunk_err)?,
                ),
                RawType::U16 => RawBuffer::U16(
                    a.async_retrieve_array_subset::<Vec<u16>>(&subset)
                        .await
                        .map_err(chunk_err)?,
                ),
                RawType::U32 => RawBuffer::U32(
                    a.async_retrieve_array_subset::<Vec<u32>>(&subset)
                        .await
                        .map_err(chunk_err)?,
                ),
                RawType::U64 => RawBuffer::U64(
                    a.async_retrieve_array_subset::<Vec<u64>>(&subset)
                        .await
                        .map_err(chunk_err)?,
                ),
                RawType::F32 => RawBuffer::F32(
                    a.async_retrieve_array_subset::<Vec<f32>>(&subset)
                        .await
                        .map_err(chunk_err)?,
                ),
                RawType::F64 => RawBuffer::F64(
                    a.async_retrieve_array_subset::<Vec<f64>>(&subset)
                        .await
                        .map_err(chunk_err)?,
                ),
            })
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
}
