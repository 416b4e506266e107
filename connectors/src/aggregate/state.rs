//! The dense per-group state of the aggregates inside a scan, and the one
//! definition of its layout: bytes per group ([`state_bytes`]) and the
//! ranges of groups a cluster's partial aggregates exchange
//! ([`State::dense`], [`State::merge_range`]; see
//! [`dense`](super::dense)).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array, Int64Array};
use arrow::datatypes::DataType;

use super::spec::{AggFn, AggSpec};

/// The running state of one aggregate over all groups.
///
/// `values` hold each group's sum (avg, sum, weighted_avg: of value·weight),
/// minimum or maximum, or for var/stddev its running mean; `extra` holds
/// var/stddev's sum of squared deviations from the mean (as DataFusion's
/// own variance keeps it, so partial states merge with Chan's formula) or
/// weighted_avg's sum of weights, and is empty for the others.
#[derive(Debug)]
pub struct State {
    pub(super) func: AggFn,
    pub(super) counts: Vec<u64>,
    pub(super) values: Vec<f64>,
    pub(super) extra: Vec<f64>,
    /// When set, `values` hold sums of stored integers, unpacked by
    /// `(scale, offset)` when the result is taken.
    pub(super) affine: Option<(f64, f64)>,
}

/// Whether the state of `func` keeps a second value per group (`extra`).
pub(super) fn keeps_extra(func: AggFn) -> bool {
    func.is_moment() || func == AggFn::WeightedAvg
}

/// Bytes per group of one aggregate's state (see [`State`]).
pub fn state_bytes(func: AggFn) -> usize {
    match func {
        AggFn::Count => 8,
        f if keeps_extra(f) => 24,
        _ => 16,
    }
}

impl State {
    /// An empty state for `groups` groups.
    pub fn new(func: AggFn, groups: usize) -> Self {
        let init = match func {
            AggFn::Min => f64::INFINITY,
            AggFn::Max => f64::NEG_INFINITY,
            _ => 0.0,
        };
        let values = match func {
            AggFn::Count => vec![],
            _ => vec![init; groups],
        };
        let extra = if keeps_extra(func) {
            vec![0.0; groups]
        } else {
            vec![]
        };
        State {
            func,
            counts: vec![0; groups],
            values,
            extra,
            affine: None,
        }
    }

    /// Adds another partition's state.
    pub fn merge(&mut self, other: &State) {
        if self.affine.is_none() {
            self.affine = other.affine;
        }
        self.merge_range(0, &other.counts, &other.values, &other.extra);
    }

    /// Adds the states of groups `start..start + counts.len()` given as
    /// their counts, values and extra values (empty where the function keeps
    /// none), as [`State::merge`] adds a whole state. The caller checks that
    /// the range fits.
    pub(super) fn merge_range(
        &mut self,
        start: usize,
        counts: &[u64],
        values: &[f64],
        extra: &[f64],
    ) {
        let end = (start + counts.len()).min(self.counts.len());
        if self.func.is_moment() {
            for (i, g) in (start..end).enumerate() {
                self.add_moments(g, counts[i], values[i], extra[i]);
            }
            return;
        }
        for (a, b) in self.counts[start..end].iter_mut().zip(counts) {
            *a += b;
        }
        let values_here: &mut [f64] = if self.values.is_empty() {
            &mut []
        } else {
            &mut self.values[start..end]
        };
        match self.func {
            AggFn::Count | AggFn::Var { .. } | AggFn::Stddev { .. } => {}
            AggFn::Avg | AggFn::Sum | AggFn::WeightedAvg => {
                for (a, b) in values_here.iter_mut().zip(values) {
                    *a += b;
                }
                if !self.extra.is_empty() {
                    for (a, b) in self.extra[start..end].iter_mut().zip(extra) {
                        *a += b;
                    }
                }
            }
            AggFn::Min => {
                for (a, b) in values_here.iter_mut().zip(values) {
                    *a = a.min(*b);
                }
            }
            AggFn::Max => {
                for (a, b) in values_here.iter_mut().zip(values) {
                    *a = a.max(*b);
                }
            }
        }
    }

    /// The counts, values and extra values of the groups in `range` as the
    /// dense layout sends them: sums of stored integers unpacked, so that
    /// the receiver needs no `affine`.
    pub(super) fn dense(&self, range: std::ops::Range<usize>) -> (&[u64], Vec<f64>, &[f64]) {
        let values = match (self.func, self.affine) {
            (AggFn::Count, _) => vec![],
            (AggFn::Avg | AggFn::Sum, Some(_)) => range.clone().map(|g| self.unpacked(g)).collect(),
            _ => self.values[range.clone()].to_vec(),
        };
        let extra = if self.extra.is_empty() {
            &[][..]
        } else {
            &self.extra[range.clone()]
        };
        (&self.counts[range], values, extra)
    }

    /// The sum of group `g`, unpacked when sums are of stored integers.
    pub(super) fn unpacked(&self, g: usize) -> f64 {
        match self.affine {
            Some((s, o)) => self.values[g] * s + o * self.counts[g] as f64,
            None => self.values[g],
        }
    }

    /// Adds `n` values already reduced to `acc` (their sum, min or max).
    #[inline]
    pub(super) fn add_many(&mut self, g: usize, n: u64, acc: f64) {
        self.counts[g] += n;
        match self.func {
            AggFn::Count | AggFn::Var { .. } | AggFn::Stddev { .. } | AggFn::WeightedAvg => {}
            AggFn::Avg | AggFn::Sum => self.values[g] += acc,
            AggFn::Min => self.values[g] = self.values[g].min(acc),
            AggFn::Max => self.values[g] = self.values[g].max(acc),
        }
    }

    #[inline]
    pub(super) fn add(&mut self, g: usize, v: f64) {
        self.counts[g] += 1;
        match self.func {
            AggFn::Count | AggFn::WeightedAvg => {}
            AggFn::Avg | AggFn::Sum => self.values[g] += v,
            AggFn::Min => self.values[g] = self.values[g].min(v),
            AggFn::Max => self.values[g] = self.values[g].max(v),
            // Welford's update, as DataFusion's variance does it.
            AggFn::Var { .. } | AggFn::Stddev { .. } => {
                let delta = v - self.values[g];
                self.values[g] += delta / self.counts[g] as f64;
                self.extra[g] += delta * (v - self.values[g]);
            }
        }
    }

    /// Merges `n` values with mean `mean` and sum of squared deviations
    /// `m2` into group `g` (Chan et al.'s pairwise formula, as DataFusion
    /// merges partial variances).
    #[inline]
    pub(super) fn add_moments(&mut self, g: usize, n: u64, mean: f64, m2: f64) {
        if n == 0 {
            return;
        }
        let na = self.counts[g];
        let total = na + n;
        let (fa, fb, ft) = (na as f64, n as f64, total as f64);
        let delta = mean - self.values[g];
        self.values[g] = self.values[g] * (fa / ft) + mean * (fb / ft);
        self.extra[g] += m2 + delta * delta * fa * fb / ft;
        self.counts[g] = total;
    }

    /// Adds `n` values whose weighted sum is `wx` and weights sum `w`.
    #[inline]
    pub(super) fn add_weighted(&mut self, g: usize, n: u64, wx: f64, w: f64) {
        self.counts[g] += n;
        self.values[g] += wx;
        self.extra[g] += w;
    }

    /// var/stddev of group `g`: NULL over no values, and for the sample
    /// forms over one value, as DataFusion gives it.
    pub(super) fn moment(&self, g: usize) -> Option<f64> {
        let (sample, root) = match self.func {
            AggFn::Var { sample } => (sample, false),
            AggFn::Stddev { sample } => (sample, true),
            _ => return None,
        };
        let n = self.counts[g];
        let div = if sample { n.checked_sub(1)? } else { n };
        if div == 0 {
            return (n == 1 && !sample).then_some(0.0);
        }
        let var = self.extra[g] / div as f64;
        Some(if root { var.sqrt() } else { var })
    }

    /// Final values of the groups `ids`, as `output`.
    ///
    /// # Errors
    /// A cast to the output type failing.
    pub fn finish(&self, ids: &[usize], output: &DataType) -> arrow::error::Result<ArrayRef> {
        let array: ArrayRef = match self.func {
            AggFn::Count => Arc::new(Int64Array::from_iter_values(
                ids.iter().map(|&g| self.counts[g] as i64),
            )),
            AggFn::Avg => Arc::new(Float64Array::from_iter(ids.iter().map(|&g| {
                (self.counts[g] > 0).then(|| self.unpacked(g) / self.counts[g] as f64)
            }))),
            AggFn::Sum => Arc::new(Float64Array::from_iter(
                ids.iter()
                    .map(|&g| (self.counts[g] > 0).then(|| self.unpacked(g))),
            )),
            AggFn::Min | AggFn::Max => Arc::new(Float64Array::from_iter(
                ids.iter()
                    .map(|&g| (self.counts[g] > 0).then_some(self.values[g])),
            )),
            AggFn::Var { .. } | AggFn::Stddev { .. } => {
                Arc::new(Float64Array::from_iter(ids.iter().map(|&g| self.moment(g))))
            }
            // NULL where no cell counted or the weights sum to 0, as the UDF.
            AggFn::WeightedAvg => Arc::new(Float64Array::from_iter(ids.iter().map(|&g| {
                (self.counts[g] > 0 && self.extra[g] != 0.0).then(|| self.values[g] / self.extra[g])
            }))),
        };
        if array.data_type() == output {
            Ok(array)
        } else {
            arrow::compute::cast(&array, output)
        }
    }
}

/// The states of every aggregate of a query, for one partition.
#[derive(Debug)]
pub struct States {
    /// One per aggregate.
    pub states: Vec<State>,
}
impl States {
    /// Empty states.
    pub fn new(aggs: &[AggSpec], groups: usize) -> Self {
        States {
            states: aggs.iter().map(|a| State::new(a.func, groups)).collect(),
        }
    }
}
