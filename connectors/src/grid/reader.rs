//! The one thing a format must provide to the shared scan: the stored values
//! of a rectangular region of one variable.

use std::fmt::Debug;
use std::ops::Range;

use async_trait::async_trait;

use super::values::RawBuffer;
use crate::error::Result;

/// Reads regions of a dataset's variables.
///
/// Formats differ only here: how a region's chunks are found, fetched and
/// decoded. Missing chunks read as the array's fill value.
#[async_trait]
pub trait GridReader: Debug + Send + Sync {
    /// Reads `region` (one index range per dimension of the variable) of
    /// `variable`, in C order.
    ///
    /// # Errors
    /// Storage and codec errors, naming dataset, variable and chunk.
    async fn read(&self, variable: &str, region: &[Range<u64>]) -> Result<RawBuffer>;

    /// Whether reading part of a chunk of `variable` costs about that part
    /// rather than the whole chunk (blosc chunks read block by block). A
    /// cluster plan then may cut chunks between tasks (see
    /// [`owned`](crate::aggregate::owned)).
    fn reads_part_of_chunk(&self, _variable: &str) -> bool {
        false
    }
}
