//! The cells a scan must produce: per dimension, a sorted list of disjoint
//! index ranges. Filters on dimension columns narrow it before any byte is read.

use std::ops::Range;

use arrow::array::{Array, BooleanArray};

/// Selected index ranges per dimension.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Selection {
    /// One sorted list of disjoint, non-empty ranges per dimension.
    pub ranges: Vec<Vec<Range<u64>>>,
}

impl Selection {
    /// Selects every cell of a grid of `shape`.
    pub fn all(shape: &[u64]) -> Self {
        let ranges = shape
            .iter()
            .map(|&n| if n == 0 { vec![] } else { vec![0..n] })
            .collect();
        Selection { ranges }
    }

    /// Number of selected cells (saturating).
    pub fn cells(&self) -> u64 {
        self.ranges
            .iter()
            .fold(1u64, |acc, r| acc.saturating_mul(count(r)))
    }

    /// Number of selected indices of dimension `dim`.
    pub fn len_of(&self, dim: usize) -> u64 {
        count(&self.ranges[dim])
    }

    /// Whether nothing is selected.
    pub fn is_empty(&self) -> bool {
        self.ranges.iter().any(Vec::is_empty)
    }

    /// Keeps only the indices of `dim` where `mask` is true (NULL counts as false).
    pub fn restrict(&mut self, dim: usize, mask: &BooleanArray) {
        let keep = ranges_of_mask(mask);
        self.ranges[dim] = intersect(&self.ranges[dim], &keep);
    }

    /// Keeps only the indices of `dim` inside `keep`.
    pub fn restrict_ranges(&mut self, dim: usize, keep: &[Range<u64>]) {
        self.ranges[dim] = intersect(&self.ranges[dim], keep);
    }
}

fn count(r: &[Range<u64>]) -> u64 {
    r.iter().map(|r| r.end - r.start).sum()
}

/// The ranges of indices where `mask` is true.
pub fn ranges_of_mask(mask: &BooleanArray) -> Vec<Range<u64>> {
    let mut out = Vec::new();
    let mut start: Option<u64> = None;
    for i in 0..mask.len() {
        let on = mask.is_valid(i) && mask.value(i);
        match (on, start) {
            (true, None) => start = Some(i as u64),
            (false, Some(s)) => {
                out.push(s..i as u64);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(s..mask.len() as u64);
    }
    out
}

/// Intersection of two sorted lists of disjoint ranges.
pub fn intersect(a: &[Range<u64>], b: &[Range<u64>]) -> Vec<Range<u64>> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < a.len() && j < b.len() {
        let s = a[i].start.max(b[j].start);
        let e = a[i].end.min(b[j].end);
        if s < e {
            out.push(s..e);
        }
        if a[i].end < b[j].end {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_to_ranges() {
        let m = BooleanArray::from(vec![Some(true), Some(true), None, Some(false), Some(true)]);
        assert_eq!(ranges_of_mask(&m), vec![0..2, 4..5]);
    }

    #[test]
    fn intersections() {
        assert_eq!(intersect(&[0..10], &[2..3, 5..12]), vec![2..3, 5..10]);
        assert_eq!(intersect(&[0..2, 4..6], &[1..5]), vec![1..2, 4..5]);
        assert!(intersect(&[0..2], &[2..4]).is_empty());
    }

    #[test]
    fn cells_and_empty() {
        let mut s = Selection::all(&[3, 4]);
        assert_eq!(s.cells(), 12);
        s.restrict_ranges(1, &[1..2]);
        assert_eq!(s.cells(), 3);
        assert!(Selection::all(&[0, 4]).is_empty());
    }
}
