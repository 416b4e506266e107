//! Cutting a grid aggregate's regions into partitions that own their groups.
//!
//! On a cluster each partition of a grid aggregate is a task. When no two
//! tasks hold cells of one group, each emits its groups' final values and
//! nothing is exchanged ([`GridMode::PerPartition`](super::exec::GridMode)).
//! A scan cut by chunks in C order has that property for a GROUP BY of its
//! outer dimension (time), but not for a per-cell statistic or a monthly
//! climatology per cell: every task then holds a share of every group, and
//! one task must merge their partial states and emit every group alone.
//!
//! Cutting the regions along a grouped dimension instead, at the boundaries
//! of its classes, gives each task whole groups: January to June to one task
//! and July to December to the other, or the northern and the southern
//! latitudes. A region that straddles a cut is read in pieces, one per task.
//! That is cheap when few regions straddle (the chunk that holds the end of
//! June), or when the format reads part of a chunk for about the cost of
//! that part (blosc chunks, read block by block) and each piece is a long
//! run of consecutive cells; it is costly otherwise (a zlib chunk inflated
//! once per piece), and [`GridAggregateExec`](super::GridAggregateExec)
//! then keeps the dense merge.

use crate::grid::Region;
use crate::grid::plan::region_cells;

use super::spec::DimGroups;

/// Regions cut into partitions that each own a set of classes along one
/// grouped dimension.
#[derive(Debug, Clone, PartialEq)]
pub struct OwnedCut {
    /// The grid dimension of the cut.
    pub dim: usize,
    /// The partitions, each its regions in their original order.
    pub partitions: Vec<Vec<Region>>,
    /// Cells of the regions read in more than one piece.
    pub split_cells: u64,
    /// The shortest run of consecutive cells (in C order) a piece of a
    /// split region reads: its length along the cut dimension times the
    /// region's extents after it. `u64::MAX` when no region is split.
    pub min_run: u64,
}

/// `regions` cut into at most `k` partitions along `g`'s dimension, each
/// owning a range of its classes with about the same number of cells.
/// `None` when fewer than two partitions would hold cells.
pub fn cut_along(regions: &[Region], g: &DimGroups, k: usize) -> Option<OwnedCut> {
    let classes = g.classes as usize;
    let class = |i: u64| -> Option<usize> {
        let c = *g.class_of.get(usize::try_from(i).ok()?)? as usize;
        (c < classes).then_some(c)
    };
    // Cells per class.
    let mut weight = vec![0u64; classes];
    for r in regions {
        let along = r.get(g.dim)?;
        let extent = along.end.saturating_sub(along.start);
        if extent == 0 {
            continue;
        }
        let per_index = region_cells(r) / extent;
        for i in along.clone() {
            weight[class(i)?] += per_index;
        }
    }
    let total: u64 = weight.iter().sum();
    if total == 0 || k < 2 {
        return None;
    }
    // Contiguous ranges of class ids, each class to the partition its
    // middle falls in.
    let mut owner = vec![0usize; classes];
    let mut before = 0u64;
    for (c, &w) in weight.iter().enumerate() {
        let middle = u128::from(before) + u128::from(w / 2);
        let p = (middle * k as u128 / u128::from(total)) as usize;
        owner[c] = p.min(k - 1);
        before += w;
    }
    let inner = |r: &Region| -> u64 {
        r.iter()
            .skip(g.dim + 1)
            .fold(1u64, |a, x| a.saturating_mul(x.end - x.start))
    };
    let mut partitions: Vec<Vec<Region>> = vec![vec![]; k];
    let mut split_cells = 0u64;
    let mut min_run = u64::MAX;
    for r in regions {
        let along = r.get(g.dim)?.clone();
        let mut pieces: Vec<(usize, std::ops::Range<u64>)> = Vec::new();
        for i in along {
            let p = owner[class(i)?];
            match pieces.last_mut() {
                Some((q, range)) if *q == p => range.end = i + 1,
                _ => pieces.push((p, i..i + 1)),
            }
        }
        if pieces.len() > 1 {
            split_cells = split_cells.saturating_add(region_cells(r));
            for (_, range) in &pieces {
                min_run = min_run.min((range.end - range.start).saturating_mul(inner(r)));
            }
        }
        for (p, range) in pieces {
            let mut piece = r.clone();
            piece[g.dim] = range;
            partitions[p].push(piece);
        }
    }
    partitions.retain(|p| !p.is_empty());
    (partitions.len() >= 2).then_some(OwnedCut {
        dim: g.dim,
        partitions,
        split_cells,
        min_run,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn months(days: u64) -> DimGroups {
        // 30-day "months", 12 to a year
        DimGroups {
            dim: 0,
            class_of: (0..days).map(|d| ((d / 30) % 12) as u32).collect(),
            classes: 12,
        }
    }

    #[test]
    fn months_of_one_year_split_at_one_chunk() {
        // 360 days in chunks of 25 days, 4 x 6 cells per day
        let regions: Vec<Region> = (0..360u64)
            .step_by(25)
            .map(|s| vec![s..(s + 25).min(360), 0..4, 0..6])
            .collect();
        let cut = cut_along(&regions, &months(360), 2).expect("a cut");
        assert_eq!(cut.partitions.len(), 2);
        // months 0-5 (days 0..180) and 6-11; the chunk 175..200 is split
        assert_eq!(cut.partitions[0].last(), Some(&vec![175..180, 0..4, 0..6]));
        assert_eq!(cut.partitions[1].first(), Some(&vec![180..200, 0..4, 0..6]));
        assert_eq!(cut.split_cells, 25 * 24);
        assert_eq!(cut.min_run, 5 * 24);
        let cells: u64 = cut
            .partitions
            .iter()
            .flatten()
            .map(|r| region_cells(r))
            .sum();
        assert_eq!(cells, 360 * 24);
    }

    #[test]
    fn months_of_two_years_take_pieces_of_both() {
        let regions: Vec<Region> = vec![vec![0..360, 0..1], vec![360..720, 0..1]];
        let cut = cut_along(&regions, &months(720), 2).expect("a cut");
        assert_eq!(
            cut.partitions,
            vec![
                vec![vec![0..180, 0..1], vec![360..540, 0..1]],
                vec![vec![180..360, 0..1], vec![540..720, 0..1]],
            ]
        );
    }

    #[test]
    fn latitudes_cut_every_chunk_in_long_runs() {
        let lat = DimGroups {
            dim: 1,
            class_of: (0..8).collect(),
            classes: 8,
        };
        let regions: Vec<Region> = vec![vec![0..5, 0..8, 0..10], vec![5..10, 0..8, 0..10]];
        let cut = cut_along(&regions, &lat, 2).expect("a cut");
        assert_eq!(
            cut.partitions,
            vec![
                vec![vec![0..5, 0..4, 0..10], vec![5..10, 0..4, 0..10]],
                vec![vec![0..5, 4..8, 0..10], vec![5..10, 4..8, 0..10]],
            ]
        );
        assert_eq!(cut.split_cells, 800);
        assert_eq!(cut.min_run, 40);
    }

    #[test]
    fn one_class_cannot_be_cut() {
        let g = DimGroups {
            dim: 0,
            class_of: vec![0; 10],
            classes: 1,
        };
        assert_eq!(cut_along(&[vec![0..10]], &g, 2), None);
    }
}
