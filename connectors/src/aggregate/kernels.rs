//! The row kernels: how a decoded region adds into the dense states, row by
//! row, with the fast paths (packed integers summed before unpacking, rows
//! that fall in one group reduced once).

use std::ops::Range;

use super::spec::{AggArg, AggFn, AggSpec, GroupSpec};
use super::state::{State, States};
use crate::cf::{CfDecoding, RawElem, ScalarDecoder};
use crate::grid::RawBuffer;
use crate::with_raw;

impl States {
    /// Adds a region; `values[var]` holds the stored values of the
    /// variables the aggregates read (C order) and their CF decoding.
    pub fn add_region(
        &mut self,
        groups: &GroupSpec,
        aggs: &[AggSpec],
        region: &[Range<u64>],
        values: &[Option<(RawBuffer, CfDecoding)>],
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
        let geo = Geometry {
            region,
            contrib: &contrib,
            inner: (region[ndims - 1].end - region[ndims - 1].start) as usize,
            inner_grouped: contrib[ndims - 1].iter().any(|&c| c != 0),
            inner_contiguous: contrib[ndims - 1]
                .iter()
                .enumerate()
                .all(|(j, &c)| c == contrib[ndims - 1][0] + j),
        };
        for (a, st) in aggs.iter().zip(self.states.iter_mut()) {
            match a.arg.var().and_then(|v| values.get(v)).map(Option::as_ref) {
                None => add_rows::<f64>(st, &a.arg, &geo, &[], None),
                Some(None) => {}
                Some(Some((buf, cf))) => {
                    with_raw!(buf, v => add_rows(st, &a.arg, &geo, v, Some(&cf.scalar())))
                }
            }
        }
    }
}

/// The shape of a region and the group contributions of its indices.
struct Geometry<'a> {
    region: &'a [Range<u64>],
    contrib: &'a [Vec<usize>],
    inner: usize,
    inner_grouped: bool,
    /// The innermost dimension's groups are consecutive ids (each index its
    /// own group, in order): rows map onto contiguous slices of the states.
    inner_contiguous: bool,
}

/// Calls `f(base, row_offset, outer_index)` for every row (all indices but
/// the last) of the region.
///
/// Rows are visited with the outer dimensions that split the region into
/// the fewest groups varying fastest (a time dimension when grouping by
/// cell): consecutive rows then add into the same slice of the states,
/// which stays in cache. Order does not matter to the sums.
#[inline]
fn for_rows(geo: &Geometry<'_>, mut f: impl FnMut(usize, usize, &[usize])) {
    let last = geo.region.len() - 1;
    let len = |d: usize| (geo.region[d].end - geo.region[d].start) as usize;
    // rows per step of each outer dimension, in C order
    let mut row_stride = vec![1usize; last];
    for d in (0..last.saturating_sub(1)).rev() {
        row_stride[d] = row_stride[d + 1] * len(d + 1);
    }
    let distinct = |d: usize| {
        let c = &geo.contrib[d];
        1 + c.windows(2).filter(|w| w[0] != w[1]).count()
    };
    let mut order: Vec<usize> = (0..last).collect();
    // slowest first: many groups outermost, few innermost
    order.sort_by_key(|&d| std::cmp::Reverse(distinct(d)));
    let mut idx = vec![0usize; last];
    loop {
        let base: usize = (0..last).map(|d| geo.contrib[d][idx[d]]).sum();
        let row: usize = (0..last).map(|d| idx[d] * row_stride[d]).sum();
        f(base, row * geo.inner, &idx);
        let mut k = order.len();
        loop {
            if k == 0 {
                return;
            }
            k -= 1;
            let d = order[k];
            idx[d] += 1;
            if idx[d] < len(d) {
                break;
            }
            idx[d] = 0;
        }
    }
}

/// The weight at the current position: along `dim` (an outer index, or the
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

/// Adds every row of a region for one aggregate; `vals` are the stored
/// values (empty for `count(*)`), `dec` their decoder.
fn add_rows<T: RawElem>(
    st: &mut State,
    arg: &AggArg,
    geo: &Geometry<'_>,
    vals: &[T],
    dec: Option<&ScalarDecoder<T>>,
) {
    let last = geo.region.len() - 1;
    let inner_contrib = &geo.contrib[last];
    let inner = geo.inner;
    // The rule gives var/stddev a plain variable and weighted_avg a
    // variable with a weight.
    match (st.func, arg, dec) {
        (
            AggFn::Var { .. } | AggFn::Stddev { .. },
            AggArg::Value { weight: None, .. },
            Some(dec),
        ) => {
            return add_rows_moments(st, geo, vals, dec);
        }
        (
            AggFn::WeightedAvg,
            AggArg::Value {
                weight: Some(w), ..
            },
            Some(dec),
        ) => {
            return add_rows_weighted(st, geo, vals, dec, w);
        }
        (AggFn::Var { .. } | AggFn::Stddev { .. } | AggFn::WeightedAvg, _, _) => return,
        _ => {}
    }
    // Unweighted sums of packed small integers: add the stored integers,
    // unpack once at the end (scale·Σraw + offset·n).
    if let (AggArg::Value { weight: None, .. }, Some(dec), AggFn::Avg | AggFn::Sum) =
        (arg, dec, st.func)
        && let Some((fill, scale, offset)) = dec.affine_int()
        && st.affine.is_none_or(|a| a == (scale, offset))
    {
        st.affine = Some((scale, offset));
        add_rows_int(st, geo, vals, fill);
        return;
    }
    // Weighted sums with the weight on an outer dimension, one group per
    // row: w·(scale·Σraw + offset·n) per row.
    if let (
        AggArg::Value {
            weight: Some(w), ..
        },
        Some(dec),
        AggFn::Avg | AggFn::Sum,
    ) = (arg, dec, st.func)
        && w.0 != last
        && !geo.inner_grouped
        && let Some(packed) = dec.affine_int()
    {
        for_rows(geo, |base, off, idx| {
            let Some(wv) = weight_at(w, idx, geo.region, 0) else {
                return;
            };
            let (n, sum) = row_sum(&vals[off..off + inner], dec, Some(packed));
            if n > 0 {
                st.add_many(base, n, wv * sum);
            }
        });
        return;
    }
    if let (AggArg::WeightWhereValid { weight: w, .. }, Some(dec)) = (arg, dec)
        && w.0 != last
        && !geo.inner_grouped
        && let Some((fill, _, _)) = dec.affine_int()
    {
        for_rows(geo, |base, off, idx| {
            let Some(wv) = weight_at(w, idx, geo.region, 0) else {
                return;
            };
            let (n, _) = int_row(&vals[off..off + inner], fill);
            if n > 0 {
                st.add_many(base, n, wv * n as f64);
            }
        });
        return;
    }
    match (arg, dec) {
        (AggArg::Cells, _) => for_rows(geo, |base, _, _| {
            for &c in inner_contrib.iter().take(inner) {
                st.add(base + c, 0.0);
            }
        }),
        (AggArg::Value { weight, .. }, Some(dec)) => for_rows(geo, |base, off, idx| {
            let row = &vals[off..off + inner];
            let outer_w = match weight {
                Some(w) if w.0 != last => match weight_at(w, idx, geo.region, 0) {
                    Some(x) => Some(x),
                    None => return, // the whole row is NULL
                },
                _ => None,
            };
            let inner_w = weight.as_ref().filter(|w| w.0 == last);
            if !geo.inner_grouped && inner_w.is_none() {
                // One group for the whole row: reduce it locally first.
                let (n, acc) = reduce_row(st.func, row, dec);
                if n > 0 {
                    let acc = match (st.func, outer_w) {
                        (AggFn::Avg | AggFn::Sum, Some(w)) => acc * w,
                        (AggFn::Min | AggFn::Max, Some(w)) => {
                            // min/max of w·x: reduce again with the weight.
                            return add_each(
                                st,
                                base,
                                inner_contrib,
                                row,
                                dec,
                                Some(w),
                                None,
                                idx,
                                geo,
                            );
                        }
                        _ => acc,
                    };
                    st.add_many(base, n, acc);
                }
                return;
            }
            add_each(
                st,
                base,
                inner_contrib,
                row,
                dec,
                outer_w,
                inner_w,
                idx,
                geo,
            );
        }),
        (AggArg::WeightWhereValid { weight, .. }, Some(dec)) => for_rows(geo, |base, off, idx| {
            let row = &vals[off..off + inner];
            for (j, (&c, &v)) in inner_contrib.iter().zip(row).enumerate() {
                if dec.is_missing(v) {
                    continue;
                }
                if let Some(w) = weight_at(weight, idx, geo.region, j) {
                    st.add(base + c, w);
                }
            }
        }),
        _ => {}
    }
}

/// Count and integer sum of a row's stored values other than `fill`.
#[inline]
fn int_row<T: RawElem>(row: &[T], fill: Option<T>) -> (u64, i64) {
    match fill {
        Some(f) => {
            let (mut n, mut sum) = (0u64, 0i64);
            for &v in row {
                let keep = v != f;
                n += u64::from(keep);
                sum += if keep { v.as_i64() } else { 0 };
            }
            (n, sum)
        }
        None => (row.len() as u64, row.iter().map(|v| v.as_i64()).sum()),
    }
}

/// [`add_rows`] for sums of stored small integers with at most one fill.
fn add_rows_int<T: RawElem>(st: &mut State, geo: &Geometry<'_>, vals: &[T], fill: Option<T>) {
    let last = geo.region.len() - 1;
    let inner_contrib = &geo.contrib[last];
    let inner = geo.inner;
    if geo.inner_grouped && geo.inner_contiguous {
        let c0 = inner_contrib.first().copied().unwrap_or(0);
        for_rows(geo, |base, off, _| {
            let row = &vals[off..off + inner];
            let g = base + c0;
            let counts = &mut st.counts[g..g + inner];
            let values = &mut st.values[g..g + inner];
            for ((n, s), &v) in counts.iter_mut().zip(values.iter_mut()).zip(row) {
                let keep = Some(v) != fill;
                *n += u64::from(keep);
                *s += if keep { v.as_i64() as f64 } else { 0.0 };
            }
        });
    } else if geo.inner_grouped {
        for_rows(geo, |base, off, _| {
            let row = &vals[off..off + inner];
            for (&c, &v) in inner_contrib.iter().zip(row) {
                let keep = Some(v) != fill;
                st.counts[base + c] += u64::from(keep);
                st.values[base + c] += if keep { v.as_i64() as f64 } else { 0.0 };
            }
        });
    } else {
        for_rows(geo, |base, off, _| {
            let (n, sum) = int_row(&vals[off..off + inner], fill);
            st.counts[base] += n;
            st.values[base] += sum as f64;
        });
    }
}

/// Adds each value of a row to its own group.
#[allow(clippy::too_many_arguments)]
#[inline]
fn add_each<T: RawElem>(
    st: &mut State,
    base: usize,
    inner_contrib: &[usize],
    row: &[T],
    dec: &ScalarDecoder<T>,
    outer_w: Option<f64>,
    inner_w: Option<&(usize, Vec<Option<f64>>)>,
    idx: &[usize],
    geo: &Geometry<'_>,
) {
    for (j, (&c, &v)) in inner_contrib.iter().zip(row).enumerate() {
        let Some(mut x) = dec.get(v) else { continue };
        if let Some(w) = outer_w {
            x *= w;
        }
        if let Some(w) = inner_w {
            match weight_at(w, idx, geo.region, j) {
                Some(w) => x *= w,
                None => continue,
            }
        }
        st.add(base + c, x);
    }
}

/// [`add_rows`] for var/stddev: a row that falls in one group is reduced
/// to its count, mean and squared deviations (two passes over the row, in
/// cache) and merged into the group; otherwise each value is added by
/// Welford's update.
fn add_rows_moments<T: RawElem>(
    st: &mut State,
    geo: &Geometry<'_>,
    vals: &[T],
    dec: &ScalarDecoder<T>,
) {
    let inner_contrib = &geo.contrib[geo.region.len() - 1];
    let inner = geo.inner;
    if geo.inner_grouped {
        for_rows(geo, |base, off, _| {
            for (&c, &v) in inner_contrib.iter().zip(&vals[off..off + inner]) {
                if let Some(x) = dec.get(v) {
                    st.add(base + c, x);
                }
            }
        });
    } else {
        for_rows(geo, |base, off, _| {
            let row = &vals[off..off + inner];
            let (n, sum) = reduce_row(AggFn::Sum, row, dec);
            if n == 0 {
                return;
            }
            let mean = sum / n as f64;
            let m2: f64 = row
                .iter()
                .filter_map(|&v| dec.get(v))
                .map(|x| (x - mean) * (x - mean))
                .sum();
            st.add_moments(base, n, mean, m2);
        });
    }
}

/// [`add_rows`] for weighted_avg, whose weight `w` depends on one
/// dimension. A row in one group with its weight on an outer dimension is
/// summed once and weighted once (over stored integers when packed);
/// otherwise each value is weighted on its own.
fn add_rows_weighted<T: RawElem>(
    st: &mut State,
    geo: &Geometry<'_>,
    vals: &[T],
    dec: &ScalarDecoder<T>,
    w: &(usize, Vec<Option<f64>>),
) {
    let last = geo.region.len() - 1;
    let inner_contrib = &geo.contrib[last];
    let inner = geo.inner;
    if w.0 != last && !geo.inner_grouped {
        let packed = dec.affine_int();
        for_rows(geo, |base, off, idx| {
            let Some(wv) = weight_at(w, idx, geo.region, 0) else {
                return;
            };
            let (n, sum) = row_sum(&vals[off..off + inner], dec, packed);
            if n > 0 {
                st.add_weighted(base, n, wv * sum, wv * n as f64);
            }
        });
        return;
    }
    for_rows(geo, |base, off, idx| {
        let outer = if w.0 == last {
            None
        } else {
            match weight_at(w, idx, geo.region, 0) {
                Some(x) => Some(x),
                None => return, // no cell of the row counts
            }
        };
        let row = &vals[off..off + inner];
        for (j, (&c, &v)) in inner_contrib.iter().zip(row).enumerate() {
            let Some(x) = dec.get(v) else { continue };
            let Some(wv) = outer.or_else(|| weight_at(w, idx, geo.region, j)) else {
                continue;
            };
            st.add_weighted(base + c, 1, wv * x, wv);
        }
    });
}

/// Count and decoded sum of a row's non-missing values; with `packed` (the
/// decoder's [`affine_int`](ScalarDecoder::affine_int)), summed over the
/// stored integers and unpacked once: scale·Σraw + offset·n.
#[inline]
fn row_sum<T: RawElem>(
    row: &[T],
    dec: &ScalarDecoder<T>,
    packed: Option<(Option<T>, f64, f64)>,
) -> (u64, f64) {
    match packed {
        Some((fill, scale, offset)) => {
            let (n, s) = int_row(row, fill);
            (n, scale * s as f64 + offset * n as f64)
        }
        None => reduce_row(AggFn::Sum, row, dec),
    }
}

/// Count and sum (or min, max) of a row's non-missing values.
#[inline]
fn reduce_row<T: RawElem>(func: AggFn, row: &[T], dec: &ScalarDecoder<T>) -> (u64, f64) {
    let mut n = 0u64;
    let mut acc = match func {
        AggFn::Min => f64::INFINITY,
        AggFn::Max => f64::NEG_INFINITY,
        _ => 0.0,
    };
    match func {
        AggFn::Count => {
            for &v in row {
                n += u64::from(!dec.is_missing(v));
            }
        }
        AggFn::Avg | AggFn::Sum | AggFn::Var { .. } | AggFn::Stddev { .. } | AggFn::WeightedAvg => {
            for &v in row {
                if let Some(x) = dec.get(v) {
                    n += 1;
                    acc += x;
                }
            }
        }
        AggFn::Min => {
            for &v in row {
                if let Some(x) = dec.get(v) {
                    n += 1;
                    acc = acc.min(x);
                }
            }
        }
        AggFn::Max => {
            for &v in row {
                if let Some(x) = dec.get(v) {
                    n += 1;
                    acc = acc.max(x);
                }
            }
        }
    }
    (n, acc)
}

#[cfg(test)]
mod tests {

    use arrow::array::{Array, Float64Array, Int64Array};
    use arrow::datatypes::DataType;

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
        // NaN is missing whatever the attributes say
        let cf = CfDecoding::from_attrs(crate::cf::RawType::F64, &Default::default(), None);
        let v = RawBuffer::F64(vec![1.0, f64::NAN, 3.0, 4.0, 5.0, 6.0]);
        let mut s = States::new(&aggs, 2);
        s.add_region(&groups, &aggs, &[0..2, 0..3], &[Some((v, cf))]);
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

    fn agg(func: AggFn, weight: Option<(usize, Vec<Option<f64>>)>) -> AggSpec {
        AggSpec {
            func,
            arg: AggArg::Value { var: 0, weight },
            output: DataType::Float64,
        }
    }

    fn values(s: &State, ids: &[usize]) -> Vec<Option<f64>> {
        let out = s.finish(ids, &DataType::Float64).unwrap();
        out.as_any()
            .downcast_ref::<Float64Array>()
            .unwrap()
            .iter()
            .collect()
    }

    fn close(a: &[Option<f64>], b: &[Option<f64>]) {
        assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
        for (x, y) in a.iter().zip(b) {
            match (x, y) {
                (Some(x), Some(y)) => {
                    assert!((x - y).abs() <= 1e-12 * x.abs().max(1.0), "{a:?} vs {b:?}")
                }
                _ => assert_eq!(x, y, "{a:?} vs {b:?}"),
            }
        }
    }

    /// var/stddev and weighted_avg against two-pass formulas, with rows
    /// reduced per group (grouped by dim 0) and cells added one by one
    /// (grouped by dim 1), and two partitions merged equal to one.
    #[test]
    fn moments_and_weighted_avg_match_two_pass() {
        // 3 x 4 grid; NaN is missing; row 2 has a single value
        let x = [
            1.0,
            2.0,
            f64::NAN,
            4.0, //
            10.5,
            11.0,
            9.5,
            10.0, //
            f64::NAN,
            f64::NAN,
            7.0,
            f64::NAN,
        ];
        let cf = CfDecoding::from_attrs(crate::cf::RawType::F64, &Default::default(), None);
        let w_outer = (0, vec![Some(1.0), None, Some(3.0)]);
        let w_inner = (1, vec![Some(0.5), Some(1.0), Some(2.0), Some(4.0)]);
        let aggs = vec![
            agg(AggFn::Var { sample: false }, None),
            agg(AggFn::Var { sample: true }, None),
            agg(AggFn::Stddev { sample: false }, None),
            agg(AggFn::Stddev { sample: true }, None),
            agg(AggFn::WeightedAvg, Some(w_outer.clone())),
            agg(AggFn::WeightedAvg, Some(w_inner.clone())),
        ];
        let two_pass = |cells: &[(usize, usize)]| -> Vec<Option<f64>> {
            let v: Vec<f64> = cells
                .iter()
                .map(|&(i, j)| x[i * 4 + j])
                .filter(|v| !v.is_nan())
                .collect();
            let n = v.len() as f64;
            let mean = v.iter().sum::<f64>() / n;
            let m2: f64 = v.iter().map(|a| (a - mean) * (a - mean)).sum();
            let wavg = |w: &(usize, Vec<Option<f64>>)| {
                let (mut wx, mut ws) = (0.0, 0.0);
                for &(i, j) in cells {
                    let k = if w.0 == 0 { i } else { j };
                    if let (false, Some(wv)) = (x[i * 4 + j].is_nan(), w.1[k]) {
                        wx += wv * x[i * 4 + j];
                        ws += wv;
                    }
                }
                (ws != 0.0).then(|| wx / ws)
            };
            vec![
                (n > 0.0).then(|| m2 / n),
                (n > 1.0).then(|| m2 / (n - 1.0)),
                (n > 0.0).then(|| (m2 / n).sqrt()),
                (n > 1.0).then(|| (m2 / (n - 1.0)).sqrt()),
                wavg(&w_outer),
                wavg(&w_inner),
            ]
        };
        for dim in [0usize, 1] {
            let n_groups = if dim == 0 { 3 } else { 4 };
            let groups = GroupSpec {
                dims: vec![DimGroups {
                    dim,
                    class_of: (0..n_groups as u32).collect(),
                    classes: n_groups as u32,
                }],
                keys: vec![],
            };
            let buf = |rows: std::ops::Range<usize>| {
                Some((
                    RawBuffer::F64(x[rows.start * 4..rows.end * 4].to_vec()),
                    cf.clone(),
                ))
            };
            let mut one = States::new(&aggs, n_groups);
            one.add_region(&groups, &aggs, &[0..3, 0..4], &[buf(0..3)]);
            // two partitions: rows 0..1 and 1..3
            let mut a = States::new(&aggs, n_groups);
            a.add_region(&groups, &aggs, &[0..1, 0..4], &[buf(0..1)]);
            let mut b = States::new(&aggs, n_groups);
            b.add_region(&groups, &aggs, &[1..3, 0..4], &[buf(1..3)]);
            for (sa, sb) in a.states.iter_mut().zip(&b.states) {
                sa.merge(sb);
            }
            let ids: Vec<usize> = (0..n_groups).collect();
            for (k, (s1, s2)) in one.states.iter().zip(&a.states).enumerate() {
                let want: Vec<Option<f64>> = ids
                    .iter()
                    .map(|&g| {
                        let cells: Vec<(usize, usize)> = if dim == 0 {
                            (0..4).map(|j| (g, j)).collect()
                        } else {
                            (0..3).map(|i| (i, g)).collect()
                        };
                        two_pass(&cells)[k]
                    })
                    .collect();
                close(&values(s1, &ids), &want);
                close(&values(s2, &ids), &want);
            }
        }
    }
}
