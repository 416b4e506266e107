//! The dense per-group state of the aggregates inside a scan, and the one
//! definition of its layout: bytes per group ([`state_bytes`]), the columns
//! of DataFusion's partial state ([`state_width`]) and their values
//! ([`State::partial`]).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array, Int64Array};
use arrow::datatypes::DataType;

use super::spec::{AggFn, AggSpec};

/// Columns of DataFusion's partial state of an aggregate: `avg` keeps a
/// count and a sum, var/stddev a count, a mean and squared deviations,
/// weighted_avg two sums and a count, the others one value.
pub fn state_width(func: AggFn) -> usize {
    match func {
        AggFn::Avg => 2,
        AggFn::Var { .. } | AggFn::Stddev { .. } | AggFn::WeightedAvg => 3,
        _ => 1,
    }
}

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
        if self.func.is_moment() {
            for g in 0..self.counts.len().min(other.counts.len()) {
                self.add_moments(g, other.counts[g], other.values[g], other.extra[g]);
            }
            return;
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        match self.func {
            AggFn::Count | AggFn::Var { .. } | AggFn::Stddev { .. } => {}
            AggFn::Avg | AggFn::Sum | AggFn::WeightedAvg => {
                for (a, b) in self.values.iter_mut().zip(&other.values) {
                    *a += b;
                }
                for (a, b) in self.extra.iter_mut().zip(&other.extra) {
                    *a += b;
                }
            }
            AggFn::Min => {
                for (a, b) in self.values.iter_mut().zip(&other.values) {
                    *a = a.min(*b);
                }
            }
            AggFn::Max => {
                for (a, b) in self.values.iter_mut().zip(&other.values) {
                    *a = a.max(*b);
                }
            }
        }
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

impl State {
    /// DataFusion's partial state of the groups `ids`, as `fields`: avg a
    /// count and a sum, sum its sum, count its count, min/max the value (sum,
    /// min and max NULL where no value counted), var/stddev a count, a mean
    /// and a sum of squared deviations, weighted_avg its two sums and a
    /// count (the UDF's `state_fields`), so that DataFusion's final
    /// aggregate merges them as it merges its own partial aggregates.
    ///
    /// # Errors
    /// `fields` not one per state column, or a cast to their types failing.
    pub fn partial(
        &self,
        ids: &[usize],
        fields: &[arrow::datatypes::FieldRef],
    ) -> arrow::error::Result<Vec<ArrayRef>> {
        let counts = || -> ArrayRef {
            Arc::new(arrow::array::UInt64Array::from_iter_values(
                ids.iter().map(|&g| self.counts[g]),
            ))
        };
        let arrays: Vec<ArrayRef> = match self.func {
            AggFn::Avg => vec![
                counts(),
                Arc::new(Float64Array::from_iter_values(ids.iter().map(|&g| {
                    if self.counts[g] > 0 {
                        self.unpacked(g)
                    } else {
                        0.0
                    }
                }))),
            ],
            AggFn::Count => vec![counts()],
            AggFn::Sum | AggFn::Min | AggFn::Max => vec![self.finish(ids, &DataType::Float64)?],
            AggFn::Var { .. } | AggFn::Stddev { .. } => vec![
                counts(),
                Arc::new(Float64Array::from_iter_values(
                    ids.iter().map(|&g| self.values[g]),
                )),
                Arc::new(Float64Array::from_iter_values(
                    ids.iter().map(|&g| self.extra[g]),
                )),
            ],
            AggFn::WeightedAvg => vec![
                Arc::new(Float64Array::from_iter_values(
                    ids.iter().map(|&g| self.values[g]),
                )),
                Arc::new(Float64Array::from_iter_values(
                    ids.iter().map(|&g| self.extra[g]),
                )),
                counts(),
            ],
        };
        if arrays.len() != fields.len() {
            return Err(arrow::error::ArrowError::SchemaError(format!(
                "{:?} has {} partial state columns, the plan expects {}",
                self.func,
                arrays.len(),
                fields.len()
            )));
        }
        arrays
            .into_iter()
            .zip(fields)
            .map(|(a, f)| {
                if a.data_type() == f.data_type() {
                    Ok(a)
                } else {
                    arrow::compute::cast(&a, f.data_type())
                }
            })
            .collect()
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
