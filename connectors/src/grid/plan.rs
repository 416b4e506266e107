//! From a selection to the regions a scan reads, grouped into partitions.
//!
//! A region is a hyper-rectangle of index ranges inside one chunk of the
//! reference variable's chunk grid, so each region decodes at most one chunk
//! of that variable. Partitions take consecutive regions (C order of the chunk
//! grid) with balanced cell counts.

use std::ops::Range;

use super::selection::Selection;

/// A hyper-rectangle of index ranges, one per dimension.
pub type Region = Vec<Range<u64>>;

/// Number of cells in a region.
pub fn region_cells(r: &[Range<u64>]) -> u64 {
    r.iter()
        .fold(1u64, |a, r| a.saturating_mul(r.end - r.start))
}

/// How one dimension is cut into chunks.
#[derive(Debug, Clone, PartialEq)]
pub enum Axis {
    /// Chunks of one length (the last may be partial).
    Regular(u64),
    /// Chunks starting at these sorted indices (the first is 0): files of a
    /// multi-file dataset along their record dimension, each with its own
    /// chunking.
    Starts(Vec<u64>),
}

impl Axis {
    /// Splits selected index ranges at chunk boundaries.
    fn pieces(&self, ranges: &[Range<u64>]) -> Vec<Range<u64>> {
        let mut out = Vec::new();
        for r in ranges {
            let mut s = r.start;
            while s < r.end {
                let e = self.chunk_end(s).min(r.end);
                out.push(s..e);
                s = e;
            }
        }
        out
    }

    /// The end of the chunk holding index `i`.
    fn chunk_end(&self, i: u64) -> u64 {
        match self {
            Axis::Regular(c) => {
                let c = (*c).max(1);
                ((i / c) + 1).saturating_mul(c)
            }
            Axis::Starts(starts) => {
                let next = starts.partition_point(|&s| s <= i);
                starts.get(next).copied().unwrap_or(u64::MAX)
            }
        }
    }

    /// Number of chunks the ranges touch.
    fn count(&self, ranges: &[Range<u64>]) -> u64 {
        match self {
            Axis::Regular(c) => {
                let c = (*c).max(1);
                ranges
                    .iter()
                    .filter(|r| r.end > r.start)
                    .map(|r| (r.end - 1) / c - r.start / c + 1)
                    .sum()
            }
            Axis::Starts(_) => self.pieces(ranges).len() as u64,
        }
    }
}

/// The chunk grid regions align to, one [`Axis`] per dimension.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkGrid {
    /// One axis per dimension.
    pub axes: Vec<Axis>,
}

impl ChunkGrid {
    /// A regular grid of chunk shape `chunks`.
    pub fn regular(chunks: &[u64]) -> Self {
        ChunkGrid {
            axes: chunks.iter().map(|&c| Axis::Regular(c)).collect(),
        }
    }

    /// Number of regions a selection makes, saturating.
    pub fn count_regions(&self, selection: &Selection) -> u64 {
        selection
            .ranges
            .iter()
            .zip(&self.axes)
            .fold(1u64, |acc, (rs, a)| acc.saturating_mul(a.count(rs)))
    }
}

/// The regions of `selection` on `grid`, in C order.
pub fn regions(selection: &Selection, grid: &ChunkGrid) -> Vec<Region> {
    if selection.is_empty() {
        return vec![];
    }
    let per_dim: Vec<Vec<Range<u64>>> = selection
        .ranges
        .iter()
        .zip(&grid.axes)
        .map(|(r, a)| a.pieces(r))
        .collect();
    let mut out: Vec<Region> = vec![vec![]];
    for dim_pieces in &per_dim {
        let mut next = Vec::with_capacity(out.len() * dim_pieces.len());
        for prefix in &out {
            for p in dim_pieces {
                let mut r = prefix.clone();
                r.push(p.clone());
                next.push(r);
            }
        }
        out = next;
    }
    out
}

/// Groups `regions` into at most `target` partitions of consecutive regions
/// with balanced cell counts.
pub fn plan_partitions(regions: Vec<Region>, target: usize) -> Vec<Vec<Region>> {
    let target = target.max(1);
    if regions.is_empty() {
        return vec![vec![]];
    }
    let total: u64 = regions.iter().map(|r| region_cells(r)).sum();
    let n = target.min(regions.len());
    let count = regions.len();
    let mut parts: Vec<Vec<Region>> = Vec::with_capacity(n);
    let mut cur: Vec<Region> = vec![];
    let mut before = 0u64;
    for (i, r) in regions.into_iter().enumerate() {
        let cells = region_cells(&r);
        // Cut before this region when its middle lies past the current
        // partition's share of the cells, keeping at least one region for
        // each partition still to fill.
        let k = parts.len() as u64 + 1;
        let boundary = total.saturating_mul(k) / n as u64;
        let must_cut = count - i == n - parts.len() - 1;
        let share_full = before.saturating_add(cells / 2) > boundary;
        if !cur.is_empty() && parts.len() + 1 < n && (share_full || must_cut) {
            parts.push(std::mem::take(&mut cur));
        }
        before += cells;
        cur.push(r);
    }
    if !cur.is_empty() {
        parts.push(cur);
    }
    parts
}

/// The partitions `keep` of `partitions`, in that order: what one task of a
/// distributed stage runs when the scheduler gives it a slice of a scan's
/// partitions (position `i` of the result is partition `keep[i]`).
///
/// # Errors
/// A partition index past the end: the plan the scheduler sliced and the
/// one this process decoded disagree, and reading on would lose or repeat
/// rows.
pub fn select_partitions(
    partitions: &[Vec<Region>],
    keep: &[usize],
    owner: &str,
) -> datafusion::error::Result<Vec<Vec<Region>>> {
    keep.iter()
        .map(|&p| {
            partitions.get(p).cloned().ok_or_else(|| {
                datafusion::error::DataFusionError::Internal(format!(
                    "{owner}: partition {p} asked for, but the plan has {}",
                    partitions.len()
                ))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_align_to_chunks() {
        let mut s = Selection::all(&[10, 4]);
        s.restrict_ranges(0, &[3..8]);
        let r = regions(&s, &ChunkGrid::regular(&[5, 4]));
        assert_eq!(r, vec![vec![3..5, 0..4], vec![5..8, 0..4]]);
    }

    #[test]
    fn partitions_balanced() {
        let s = Selection::all(&[73, 2]);
        let r = regions(&s, &ChunkGrid::regular(&[5, 2]));
        assert_eq!(r.len(), 15);
        let p = plan_partitions(r, 2);
        assert_eq!(p.len(), 2);
        let cells: Vec<u64> = p
            .iter()
            .map(|p| p.iter().map(|r| region_cells(r)).sum())
            .collect();
        assert_eq!(cells.iter().sum::<u64>(), 146);
        assert!(cells[0].abs_diff(cells[1]) <= 10);
        // never more partitions than regions, never an empty one
        let p = plan_partitions(regions(&Selection::all(&[3]), &ChunkGrid::regular(&[1])), 8);
        assert_eq!(p.len(), 3);
        assert!(p.iter().all(|x| !x.is_empty()));
    }

    #[test]
    fn irregular_axis_splits_at_file_starts() {
        // files of 3, 4 and 2 records, each chunked by 2 records
        let g = ChunkGrid {
            axes: vec![Axis::Starts(vec![0, 2, 3, 5, 7, 8]), Axis::Regular(10)],
        };
        let mut s = Selection::all(&[9, 10]);
        s.restrict_ranges(0, &[1..6]);
        let r = regions(&s, &g);
        let firsts: Vec<_> = r.iter().map(|r| r[0].clone()).collect();
        assert_eq!(firsts, vec![1..2, 2..3, 3..5, 5..6]);
        assert_eq!(g.count_regions(&s), 4);
    }
}
