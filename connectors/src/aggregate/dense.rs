//! Dense per-group states and the loop that adds a decoded region into them.

use std::ops::Range;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array, Int64Array};
use arrow::datatypes::DataType;

use super::spec::{AggArg, AggFn, AggSpec, GroupSpec};

/// The running state of one aggregate over all groups.
#[derive(Debug)]
pub struct State {
    func: AggFn,
    counts: Vec<u64>,
    values: Vec<f64>,
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
        State {
            func,
            counts: vec![0; groups],
            values,
        }
    }

    /// Adds another partition's state.
    pub fn merge(&mut self, other: &State) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        match self.func {
            AggFn::Count => {}
            AggFn::Avg | AggFn::Sum => {
                for (a, b) in self.values.iter_mut().zip(&other.values) {
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

    #[inline]
    fn add(&mut self, g: usize, v: f64) {
        self.counts[g] += 1;
        match self.func {
            AggFn::Count => {}
            AggFn::Avg | AggFn::Sum => self.values[g] += v,
            AggFn::Min => self.values[g] = self.values[g].min(v),
            AggFn::Max => self.values[g] = self.values[g].max(v),
        }
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
                (self.counts[g] > 0).then(|| self.values[g] / self.counts[g] as f64)
            }))),
            AggFn::Sum | AggFn::Min | AggFn::Max => Arc::new(Float64Array::from_iter(
                ids.iter()
                    .map(|&g| (self.counts[g] > 0).then_some(self.values[g])),
            )),
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

    /// Adds a region whose variables are decoded as Float64 arrays in C
    /// order (`values[var]`, `None` for variables not read).
    pub fn add_region(
        &mut self,
        groups: &GroupSpec,
        aggs: &[AggSpec],
        region: &[Range<u64>],
        values: &[Option<Arc<Float64Array>>],
    ) {
        let ndims = region.len();
        if ndims == 0 || region.iter().any(|r| r.end <= r.start) {
            return;
        }
        // Group-id contribution of each index of the region, per dimension.
        let mut radix = vec![0usize; ndims];
        let mut stride = 1usize;
        for g in groups.dims.iter().rev() {
            radix[g.dim] = stride;
            stride *= g.classes as usize;
        }
        let contrib: Vec<Vec<usize>> = (0..ndims)
            .map(|d| {
                let r = &region[d];
                match groups.dims.iter().find(|g| g.dim == d) {
                    Some(g) => (r.start..r.end)
                        .map(|i| g.class_of[i as usize] as usize * radix[d])
                        .collect(),
                    None => vec![0; (r.end - r.start) as usize],
                }
            })
            .collect();
        let last = ndims - 1;
        let inner = (region[last].end - region[last].start) as usize;
        let outer_dims = &region[..last];
        let mut idx = vec![0usize; last];
        let mut row = 0usize;
        loop {
            let base: usize = (0..last).map(|d| contrib[d][idx[d]]).sum();
            let off = row * inner;
            for (a, st) in aggs.iter().zip(self.states.iter_mut()) {
                add_row(
                    st,
                    a,
                    base,
                    &contrib[last],
                    &idx,
                    region,
                    off,
                    inner,
                    values,
                );
            }
            row += 1;
            // next outer index (C order)
            let mut d = last;
            loop {
                if d == 0 {
                    return;
                }
                d -= 1;
                idx[d] += 1;
                if (idx[d] as u64) < outer_dims[d].end - outer_dims[d].start {
                    break;
                }
                idx[d] = 0;
            }
        }
    }
}

/// The weight at the current position: along `dim` (outer index or the
/// inner position `j`).
#[inline]
fn weight_at(
    w: &(usize, Vec<Option<f64>>),
    idx: &[usize],
    region: &[Range<u64>],
    j: usize,
) -> Option<f64> {
    let (dim, ws) = w;
    let last = region.len() - 1;
    let pos = if *dim == last { j } else { idx[*dim] };
    ws.get(region[*dim].start as usize + pos).copied().flatten()
}

/// Adds one row (the innermost dimension) of the region.
#[allow(clippy::too_many_arguments)]
#[inline]
fn add_row(
    st: &mut State,
    a: &AggSpec,
    base: usize,
    inner_contrib: &[usize],
    idx: &[usize],
    region: &[Range<u64>],
    off: usize,
    inner: usize,
    values: &[Option<Arc<Float64Array>>],
) {
    let last = region.len() - 1;
    match &a.arg {
        AggArg::Cells => {
            for &c in inner_contrib.iter().take(inner) {
                st.add(base + c, 0.0);
            }
        }
        AggArg::Value { var, weight } => {
            let Some(Some(arr)) = values.get(*var) else {
                return;
            };
            let vals = &arr.values()[off..off + inner];
            let nulls = arr.nulls();
            let outer_w = match weight {
                Some(w) if w.0 != last => match weight_at(w, idx, region, 0) {
                    Some(x) => Some(x),
                    None => return, // the whole row is NULL
                },
                _ => None,
            };
            for j in 0..inner {
                if nulls.is_some_and(|n| n.is_null(off + j)) {
                    continue;
                }
                let mut v = vals[j];
                if let Some(w) = outer_w {
                    v *= w;
                } else if let Some(w) = weight {
                    match weight_at(w, idx, region, j) {
                        Some(x) => v *= x,
                        None => continue,
                    }
                }
                st.add(base + inner_contrib[j], v);
            }
        }
        AggArg::WeightWhereValid { var, weight } => {
            let Some(Some(arr)) = values.get(*var) else {
                return;
            };
            let nulls = arr.nulls();
            for (j, &c) in inner_contrib.iter().take(inner).enumerate() {
                if nulls.is_some_and(|n| n.is_null(off + j)) {
                    continue;
                }
                if let Some(w) = weight_at(weight, idx, region, j) {
                    st.add(base + c, w);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::spec::DimGroups;

    #[test]
    fn sums_by_first_dim_with_nulls_and_weights() {
        // 2 x 3 grid, group by dim 0; values 1..6 with one NULL
        let groups = GroupSpec {
            dims: vec![DimGroups {
                dim: 0,
                class_of: vec![0, 1],
                classes: 2,
            }],
            keys: vec![],
        };
        let aggs = vec![
            AggSpec {
                func: AggFn::Avg,
                arg: AggArg::Value {
                    var: 0,
                    weight: None,
                },
                output: DataType::Float64,
            },
            AggSpec {
                func: AggFn::Sum,
                arg: AggArg::Value {
                    var: 0,
                    weight: Some((1, vec![Some(1.0), Some(2.0), Some(3.0)])),
                },
                output: DataType::Float64,
            },
            AggSpec {
                func: AggFn::Count,
                arg: AggArg::Cells,
                output: DataType::Int64,
            },
            AggSpec {
                func: AggFn::Sum,
                arg: AggArg::WeightWhereValid {
                    var: 0,
                    weight: (1, vec![Some(1.0), Some(2.0), Some(3.0)]),
                },
                output: DataType::Float64,
            },
        ];
        let v = Arc::new(Float64Array::from(vec![
            Some(1.0),
            None,
            Some(3.0),
            Some(4.0),
            Some(5.0),
            Some(6.0),
        ]));
        let mut s = States::new(&aggs, 2);
        s.add_region(&groups, &aggs, &[0..2, 0..3], &[Some(v)]);
        let out = s.states[0].finish(&[0, 1], &DataType::Float64).unwrap();
        let out = out.as_any().downcast_ref::<Float64Array>().unwrap();
        assert_eq!(out.values(), &[2.0, 5.0]);
        let w = s.states[1].finish(&[0, 1], &DataType::Float64).unwrap();
        let w = w.as_any().downcast_ref::<Float64Array>().unwrap();
        assert_eq!(w.values(), &[1.0 + 9.0, 4.0 + 10.0 + 18.0]);
        let c = s.states[2].finish(&[0, 1], &DataType::Int64).unwrap();
        assert_eq!(
            c.as_any().downcast_ref::<Int64Array>().unwrap().values(),
            &[3, 3]
        );
        let ww = s.states[3].finish(&[0, 1], &DataType::Float64).unwrap();
        let ww = ww.as_any().downcast_ref::<Float64Array>().unwrap();
        assert_eq!(ww.values(), &[4.0, 6.0]);
    }
}
