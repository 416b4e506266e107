//! The chunk shape of a written grid, one for all its variables (a slab is
//! a whole number of chunks along the first dimension for every one):
//!
//! - the `chunks` option, clamped to the grid;
//! - else the source's chunk length along each dimension the source
//!   variable has (a box subset keeps the chunking it was read with), and
//!   the other dimensions whole, the leading ones halved until a chunk is
//!   at most [`DEFAULT_CHUNK_BYTES`].

use super::layout::Grid;
use super::options::WriteOptions;
use crate::error::{ConnectorError, Result};

/// The most bytes of a default chunk.
pub const DEFAULT_CHUNK_BYTES: u64 = 8 << 20;

/// The chunk shape `grid` is written with.
///
/// # Errors
/// A `chunks` option with another number of lengths than dimensions.
pub fn chunk_shape(grid: &Grid, options: &WriteOptions) -> Result<Vec<u64>> {
    let shape = grid.shape();
    if let Some(c) = &options.chunks {
        if c.len() != shape.len() {
            return Err(ConnectorError::Option {
                option: "chunks".into(),
                reason: format!("{} lengths for {} dimensions", c.len(), shape.len()),
            });
        }
        return Ok(c
            .iter()
            .zip(&shape)
            .map(|(c, s)| (*c).min((*s).max(1)))
            .collect());
    }
    let item = grid
        .vars
        .iter()
        .map(|v| v.cell_type.item_bytes())
        .max()
        .unwrap_or(8);
    Ok(default_chunks(&shape, &grid.source_chunks, item))
}

/// `fixed` lengths where given (clamped to the shape), the other dimensions
/// whole, the leading ones of those halved until a chunk is at most
/// [`DEFAULT_CHUNK_BYTES`].
pub fn default_chunks(shape: &[u64], fixed: &[Option<u64>], item_bytes: u64) -> Vec<u64> {
    let mut chunks: Vec<u64> = shape
        .iter()
        .enumerate()
        .map(|(d, s)| {
            let whole = (*s).max(1);
            fixed
                .get(d)
                .copied()
                .flatten()
                .map_or(whole, |c| c.clamp(1, whole))
        })
        .collect();
    for d in 0..chunks.len() {
        if fixed.get(d).copied().flatten().is_some() {
            continue;
        }
        while chunks.iter().product::<u64>() * item_bytes > DEFAULT_CHUNK_BYTES && chunks[d] > 1 {
            chunks[d] = chunks[d].div_ceil(2);
        }
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_chunks_keep_the_source_and_trailing_dimensions_whole() {
        assert_eq!(
            default_chunks(&[365, 720, 1440], &[], 4),
            vec![2, 720, 1440]
        );
        assert_eq!(default_chunks(&[12, 89, 180], &[], 8), vec![12, 89, 180]);
        assert_eq!(default_chunks(&[0], &[], 8), vec![1]);
        // a box of a store chunked (5, 720, 1440): the source's lengths,
        // clamped to the box
        assert_eq!(
            default_chunks(&[90, 120, 240], &[Some(5), Some(720), Some(1440)], 4),
            vec![5, 120, 240]
        );
        // a climatology by month of that store: months whole
        assert_eq!(
            default_chunks(&[12, 720, 1440], &[None, Some(720), Some(1440)], 8),
            vec![1, 720, 1440]
        );
    }
}
