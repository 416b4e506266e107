//! The `weighted_avg(value, weight)` aggregate: a weighted mean that skips missing values, as
//! xarray's `da.weighted(w).mean()`.
//!
//! State per group: Σ value·weight, Σ weight and the number of rows used, all plain sums, so
//! partial states from any number of partitions or machines merge by adding them
//! (`state_fields` / `merge_batch`), rows can be taken out again (`retract_batch`, for sliding
//! window frames), and a `GroupsAccumulator` serves `GROUP BY` with many groups.

use std::mem::size_of;
use std::sync::{Arc, LazyLock};

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Float64Array, UInt64Array};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, FieldRef, Float64Type, UInt64Type};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, EmitTo, GroupsAccumulator, Signature,
};

use crate::args::{coerce_numeric, doc, user_defined};

/// SQL `weighted_avg(value, weight) -> DOUBLE`: Σ value·weight / Σ weight over the rows where
/// neither value nor weight is NULL or NaN, accumulated in float64; NULL when there is no such row
/// or the weights sum to 0. `weighted_avg(sla, lat_weight(latitude))` is xarray's
/// `ds.sla.weighted(np.cos(np.deg2rad(ds.latitude))).mean()`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct WeightedAvg {
    signature: Signature,
}

impl Default for WeightedAvg {
    fn default() -> Self {
        Self {
            signature: user_defined(),
        }
    }
}

impl WeightedAvg {
    /// Creates the `weighted_avg` aggregate.
    pub fn new() -> Self {
        Self::default()
    }
}

const NAME: &str = "weighted_avg";

/// The weighted mean of sums, or `None` (SQL NULL) when no row counted or the weights sum to 0.
fn finish(sum_wx: f64, sum_w: f64, count: u64) -> Option<f64> {
    (count > 0 && sum_w != 0.0).then(|| sum_wx / sum_w)
}

/// The two arguments as Float64 arrays (the planner casts them already; this also covers direct use).
fn value_weight(values: &[ArrayRef]) -> Result<(Float64Array, Float64Array)> {
    let [value, weight] = values else {
        return exec_err!("{NAME} takes 2 arguments, got {}", values.len());
    };
    let as_f64 = |a: &ArrayRef| -> Result<Float64Array> {
        let a = if a.data_type() == &DataType::Float64 {
            Arc::clone(a)
        } else {
            cast(a, &DataType::Float64)?
        };
        match a.as_primitive_opt::<Float64Type>() {
            Some(a) => Ok(a.clone()),
            None => exec_err!("{NAME}: argument is {}, not numeric", a.data_type()),
        }
    };
    let (value, weight) = (as_f64(value)?, as_f64(weight)?);
    if value.len() != weight.len() {
        return exec_err!("{NAME}: value and weight have different lengths");
    }
    Ok((value, weight))
}

/// The (value, weight) pairs of the rows that count: both non-NULL and not NaN, and passing the
/// optional FILTER mask. Yields (row index, value, weight).
fn valid_rows<'a>(
    value: &'a Float64Array,
    weight: &'a Float64Array,
    filter: Option<&'a BooleanArray>,
) -> impl Iterator<Item = (usize, f64, f64)> + 'a {
    (0..value.len()).filter_map(move |i| {
        if value.is_null(i) || weight.is_null(i) {
            return None;
        }
        if let Some(f) = filter
            && (f.is_null(i) || !f.value(i))
        {
            return None;
        }
        let (x, w) = (value.value(i), weight.value(i));
        (!x.is_nan() && !w.is_nan()).then_some((i, x, w))
    })
}

/// The three state columns (Σ value·weight, Σ weight, row count) as produced by `state`.
fn state_arrays(states: &[ArrayRef]) -> Result<(&Float64Array, &Float64Array, &UInt64Array)> {
    let [sum_wx, sum_w, count] = states else {
        return exec_err!("{NAME}: expected 3 state columns, got {}", states.len());
    };
    match (
        sum_wx.as_primitive_opt::<Float64Type>(),
        sum_w.as_primitive_opt::<Float64Type>(),
        count.as_primitive_opt::<UInt64Type>(),
    ) {
        (Some(a), Some(b), Some(c)) if a.len() == b.len() && b.len() == c.len() => Ok((a, b, c)),
        _ => exec_err!(
            "{NAME}: state columns must be (Float64, Float64, UInt64) of one length, got ({}, {}, {})",
            sum_wx.data_type(),
            sum_w.data_type(),
            count.data_type()
        ),
    }
}

impl AggregateUDFImpl for WeightedAvg {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() != 2 {
            return plan_err!(
                "{NAME} takes 2 arguments (value, weight), got {}",
                arg_types.len()
            );
        }
        coerce_numeric(NAME, arg_types, 2)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn accumulator(&self, _acc_args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::<WeightedAvgAccumulator>::default())
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![
            Arc::new(Field::new(
                format_state_name(args.name, "sum_value_weight"),
                DataType::Float64,
                true,
            )),
            Arc::new(Field::new(
                format_state_name(args.name, "sum_weight"),
                DataType::Float64,
                true,
            )),
            Arc::new(Field::new(
                format_state_name(args.name, "count"),
                DataType::UInt64,
                true,
            )),
        ])
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        !args.is_distinct
    }

    fn create_groups_accumulator(
        &self,
        _args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::<WeightedAvgGroupsAccumulator>::default())
    }

    fn documentation(&self) -> Option<&Documentation> {
        static DOC: LazyLock<Documentation> = LazyLock::new(|| {
            doc(
                "Weighted mean sum(value * weight) / sum(weight) over the rows where neither value nor weight is \
                 NULL or NaN, in float64; NULL when there is no such row or the weights sum to 0. Works in \
                 GROUP BY, two-phase/distributed aggregation and sliding window frames.",
                "weighted_avg(value, weight)",
                "SELECT time, weighted_avg(sla, lat_weight(latitude)) FROM sla GROUP BY time ORDER BY time",
                &[
                    ("value", "The values to average (any numeric type)."),
                    ("weight", "Their weights (any numeric type)."),
                ],
            )
        });
        Some(&DOC)
    }
}

/// Single-group state of `weighted_avg` (used without GROUP BY and in window frames).
#[derive(Debug, Default)]
pub struct WeightedAvgAccumulator {
    sum_wx: f64,
    sum_w: f64,
    count: u64,
}

impl Accumulator for WeightedAvgAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let (value, weight) = value_weight(values)?;
        for (_, x, w) in valid_rows(&value, &weight, None) {
            self.sum_wx += x * w;
            self.sum_w += w;
            self.count += 1;
        }
        Ok(())
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let (value, weight) = value_weight(values)?;
        for (_, x, w) in valid_rows(&value, &weight, None) {
            self.sum_wx -= x * w;
            self.sum_w -= w;
            self.count = self.count.saturating_sub(1);
        }
        if self.count == 0 {
            // Drop the rounding residue so an emptied frame starts again from exact zeros.
            (self.sum_wx, self.sum_w) = (0.0, 0.0);
        }
        Ok(())
    }

    fn supports_retract_batch(&self) -> bool {
        true
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Float64(finish(
            self.sum_wx,
            self.sum_w,
            self.count,
        )))
    }

    fn size(&self) -> usize {
        size_of::<Self>()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![
            ScalarValue::Float64(Some(self.sum_wx)),
            ScalarValue::Float64(Some(self.sum_w)),
            ScalarValue::UInt64(Some(self.count)),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let (sum_wx, sum_w, count) = state_arrays(states)?;
        for i in 0..count.len() {
            if sum_wx.is_null(i) || sum_w.is_null(i) || count.is_null(i) {
                continue;
            }
            self.sum_wx += sum_wx.value(i);
            self.sum_w += sum_w.value(i);
            self.count += count.value(i);
        }
        Ok(())
    }
}

/// Many-group state of `weighted_avg`, indexed by group.
#[derive(Debug, Default)]
pub struct WeightedAvgGroupsAccumulator {
    sum_wx: Vec<f64>,
    sum_w: Vec<f64>,
    count: Vec<u64>,
}

impl WeightedAvgGroupsAccumulator {
    fn resize(&mut self, total_num_groups: usize) {
        self.sum_wx.resize(total_num_groups, 0.0);
        self.sum_w.resize(total_num_groups, 0.0);
        self.count.resize(total_num_groups, 0);
    }

    fn add(&mut self, group: usize, wx: f64, w: f64, n: u64) -> Result<()> {
        match (
            self.sum_wx.get_mut(group),
            self.sum_w.get_mut(group),
            self.count.get_mut(group),
        ) {
            (Some(a), Some(b), Some(c)) => {
                *a += wx;
                *b += w;
                *c += n;
                Ok(())
            }
            _ => exec_err!(
                "{NAME}: group index {group} out of range {}",
                self.count.len()
            ),
        }
    }
}

impl GroupsAccumulator for WeightedAvgGroupsAccumulator {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        let (value, weight) = value_weight(values)?;
        if group_indices.len() != value.len() {
            return exec_err!(
                "{NAME}: {} group indices for {} rows",
                group_indices.len(),
                value.len()
            );
        }
        self.resize(total_num_groups);
        for (i, x, w) in valid_rows(&value, &weight, opt_filter) {
            self.add(group_indices[i], x * w, w, 1)?;
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let sum_wx = emit_to.take_needed(&mut self.sum_wx);
        let sum_w = emit_to.take_needed(&mut self.sum_w);
        let count = emit_to.take_needed(&mut self.count);
        let out: Float64Array = sum_wx
            .iter()
            .zip(&sum_w)
            .zip(&count)
            .map(|((&a, &b), &c)| finish(a, b, c))
            .collect();
        Ok(Arc::new(out))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        Ok(vec![
            Arc::new(Float64Array::from(emit_to.take_needed(&mut self.sum_wx))),
            Arc::new(Float64Array::from(emit_to.take_needed(&mut self.sum_w))),
            Arc::new(UInt64Array::from(emit_to.take_needed(&mut self.count))),
        ])
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        let (sum_wx, sum_w, count) = state_arrays(values)?;
        if group_indices.len() != count.len() {
            return exec_err!(
                "{NAME}: {} group indices for {} states",
                group_indices.len(),
                count.len()
            );
        }
        self.resize(total_num_groups);
        for (i, &group) in group_indices.iter().enumerate() {
            if sum_wx.is_null(i) || sum_w.is_null(i) || count.is_null(i) {
                continue;
            }
            self.add(group, sum_wx.value(i), sum_w.value(i), count.value(i))?;
        }
        Ok(())
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let (value, weight) = value_weight(values)?;
        let n = value.len();
        let (mut sum_wx, mut sum_w, mut count) = (vec![0.0; n], vec![0.0; n], vec![0u64; n]);
        for (i, x, w) in valid_rows(&value, &weight, opt_filter) {
            (sum_wx[i], sum_w[i], count[i]) = (x * w, w, 1);
        }
        Ok(vec![
            Arc::new(Float64Array::from(sum_wx)),
            Arc::new(Float64Array::from(sum_w)),
            Arc::new(UInt64Array::from(count)),
        ])
    }

    fn size(&self) -> usize {
        self.sum_wx.capacity() * size_of::<f64>()
            + self.sum_w.capacity() * size_of::<f64>()
            + self.count.capacity() * size_of::<u64>()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use arrow::array::{Float32Array, Int64Array, RecordBatch};
    use arrow::datatypes::Schema;
    use datafusion::datasource::MemTable;
    use datafusion::prelude::{SessionConfig, SessionContext};

    use super::*;
    use crate::test_util::{assert_close, ctx, f64_value, rows};

    const SMALL: &str = "(VALUES (1, 1.0, 1.0), (2, 2.0, 3.0), (3, NULL, 5.0), (4, 4.0, NULL), \
        (5, CAST('NaN' AS DOUBLE), 2.0), (6, 6.0, CAST('NaN' AS DOUBLE)), (7, 8.0, 0.5), (8, NULL, NULL)) AS t(id, v, w)";

    #[test]
    fn skips_null_and_nan_in_value_or_weight() {
        let ctx = ctx();
        let got =
            f64_value(&ctx, &format!("SELECT weighted_avg(v, w) FROM {SMALL}")).expect("value");
        assert_close(got, (1.0 + 6.0 + 4.0) / 4.5, 1e-15);
        // the same as SUM(v*w)/SUM(w) over the valid rows
        let formula = f64_value(
            &ctx,
            &format!(
                "SELECT sum(v * w) / sum(w) FROM {SMALL} \
                 WHERE v IS NOT NULL AND w IS NOT NULL AND NOT isnan(v) AND NOT isnan(w)"
            ),
        );
        assert_eq!(Some(got), formula);
    }

    #[test]
    fn null_when_nothing_to_average() {
        let ctx = ctx();
        for sql in [
            format!("SELECT weighted_avg(v, w) FROM {SMALL} WHERE false"),
            format!("SELECT weighted_avg(v, w) FROM {SMALL} WHERE id IN (3, 4, 5, 6, 8)"),
            "SELECT weighted_avg(v, w) FROM (VALUES (1.0, 1.0), (2.0, -1.0)) AS t(v, w)"
                .to_string(),
            "SELECT weighted_avg(v, w) FROM (VALUES (1.0, 0.0), (2.0, 0.0)) AS t(v, w)".to_string(),
            "SELECT weighted_avg(NULL, 1)".to_string(),
            "SELECT weighted_avg(1, NULL)".to_string(),
        ] {
            assert_eq!(f64_value(&ctx, &sql), None, "{sql}");
        }
        assert_eq!(f64_value(&ctx, "SELECT weighted_avg(3, 2)"), Some(3.0));
    }

    #[test]
    fn coerces_numeric_arguments_and_rejects_others() {
        let ctx = ctx();
        let got = f64_value(
            &ctx,
            "SELECT weighted_avg(CAST(v AS FLOAT), CAST(w AS INT)) FROM (VALUES (1.5, 1), (2.5, 3)) AS t(v, w)",
        );
        assert_eq!(got, Some((1.5 + 7.5) / 4.0));
        let got = f64_value(
            &ctx,
            "SELECT weighted_avg(v, lat_weight(lat)) FROM (VALUES (1.0, 0.0), (4.0, 60.0)) AS t(v, lat)",
        );
        assert_close(got.expect("value"), (1.0 + 4.0 * 0.5) / 1.5, 1e-15);
        for sql in [
            "SELECT weighted_avg('a', 1)",
            "SELECT weighted_avg(1)",
            "SELECT weighted_avg(1, 2, 3)",
        ] {
            rows(&ctx, sql).expect_err(sql);
        }
    }

    /// Columns of the test table: row id, group, value, weight.
    struct Data {
        ids: Vec<i64>,
        gs: Vec<i64>,
        vs: Vec<Option<f64>>,
        ws: Vec<Option<f64>>,
    }

    /// Deterministic test data: `n` rows of (id, g, v, w) with NULLs and NaNs sprinkled in.
    fn data(n: usize, groups: u64) -> Data {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            state >> 11
        };
        let (mut ids, mut gs, mut vs, mut ws) = (vec![], vec![], vec![], vec![]);
        for i in 0..n {
            let r = next();
            ids.push(i64::try_from(i).expect("id"));
            gs.push(i64::try_from(r % groups).expect("group"));
            let x = (next() % 10_000) as f64 / 100.0 - 50.0;
            let w = (next() % 1000) as f64 / 1000.0;
            vs.push(match r % 17 {
                0 => None,
                1 => Some(f64::NAN),
                _ => Some(x),
            });
            ws.push(match r % 13 {
                0 => None,
                1 => Some(f64::NAN),
                _ => Some(w),
            });
        }
        Data { ids, gs, vs, ws }
    }

    /// Reference weighted means per group, straight from the definition.
    fn reference(gs: &[i64], vs: &[Option<f64>], ws: &[Option<f64>]) -> BTreeMap<i64, Option<f64>> {
        let mut sums: BTreeMap<i64, (f64, f64, u64)> = BTreeMap::new();
        for ((g, v), w) in gs.iter().zip(vs).zip(ws) {
            let e = sums.entry(*g).or_default();
            if let (Some(v), Some(w)) = (v, w)
                && !v.is_nan()
                && !w.is_nan()
            {
                *e = (e.0 + v * w, e.1 + w, e.2 + 1);
            }
        }
        sums.into_iter()
            .map(|(g, (a, b, c))| (g, finish(a, b, c)))
            .collect()
    }

    fn register_table(
        ctx: &SessionContext,
        n: usize,
        groups: u64,
        partitions: usize,
    ) -> BTreeMap<i64, Option<f64>> {
        let Data { ids, gs, vs, ws } = data(n, groups);
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("g", DataType::Int64, false),
            Field::new("v", DataType::Float64, true),
            Field::new("w", DataType::Float64, true),
        ]));
        let per = n.div_ceil(partitions);
        let parts = (0..partitions)
            .map(|p| {
                let r = (p * per).min(n)..((p + 1) * per).min(n);
                let batch = RecordBatch::try_new(
                    Arc::clone(&schema),
                    vec![
                        Arc::new(Int64Array::from(ids[r.clone()].to_vec())),
                        Arc::new(Int64Array::from(gs[r.clone()].to_vec())),
                        Arc::new(Float64Array::from(vs[r.clone()].to_vec())),
                        Arc::new(Float64Array::from(ws[r].to_vec())),
                    ],
                )
                .expect("batch");
                vec![batch]
            })
            .collect();
        let table = MemTable::try_new(schema, parts).expect("table");
        ctx.register_table("t", Arc::new(table)).expect("register");
        reference(&gs, &vs, &ws)
    }

    fn grouped(ctx: &SessionContext, sql: &str) -> BTreeMap<i64, Option<f64>> {
        rows(ctx, sql)
            .expect(sql)
            .into_iter()
            .map(|r| match (&r[0], &r[1]) {
                (ScalarValue::Int64(Some(g)), ScalarValue::Float64(v)) => (*g, *v),
                other => panic!("unexpected row {other:?}"),
            })
            .collect()
    }

    fn assert_same(got: &BTreeMap<i64, Option<f64>>, want: &BTreeMap<i64, Option<f64>>) {
        assert_eq!(got.len(), want.len());
        for (g, w) in want {
            match (got.get(g).copied().flatten(), *w) {
                (Some(a), Some(b)) => assert_close(a, b, 1e-9),
                (a, b) => assert_eq!(a, b, "group {g}"),
            }
        }
    }

    #[test]
    fn group_by_matches_reference_in_every_execution_mode() {
        let sql = "SELECT g, weighted_avg(v, w) FROM t GROUP BY g ORDER BY g";
        let configs = [
            SessionConfig::new().with_target_partitions(4),
            SessionConfig::new().with_target_partitions(1),
            // partial aggregation skipped at once: rows go through convert_to_state + merge_batch
            SessionConfig::new()
                .with_target_partitions(4)
                .set_usize(
                    "datafusion.execution.skip_partial_aggregation_probe_rows_threshold",
                    0,
                )
                .set_str(
                    "datafusion.execution.skip_partial_aggregation_probe_ratio_threshold",
                    "0.0",
                ),
            // tiny batches: many update/merge calls
            SessionConfig::new()
                .with_target_partitions(3)
                .with_batch_size(7),
        ];
        for config in configs {
            for (n, groups) in [(20_000, 500), (5_000, 3), (0, 3)] {
                let ctx = SessionContext::new_with_config(config.clone());
                crate::register_all(&ctx);
                let want = register_table(&ctx, n, groups, 3);
                assert_same(&grouped(&ctx, sql), &want);
                // one group (no GROUP BY): the plain Accumulator, two-phase over the partitions
                let d = data(n, groups);
                let all = reference(&vec![0; n], &d.vs, &d.ws);
                let got = f64_value(&ctx, "SELECT weighted_avg(v, w) FROM t");
                match (got, all.get(&0).copied().flatten()) {
                    (Some(a), Some(b)) => assert_close(a, b, 1e-9),
                    (a, b) => assert_eq!(a, b),
                }
            }
        }
    }

    #[test]
    fn filter_clause_and_many_groups() {
        let ctx = ctx();
        let n = 10_000;
        let Data { ids, gs, vs, ws } = data(n, 1000);
        register_table(&ctx, n, 1000, 2);
        let keep = |i: &i64| i % 3 == 0;
        let vs_f: Vec<Option<f64>> = ids
            .iter()
            .zip(&vs)
            .map(|(i, v)| if keep(i) { *v } else { None })
            .collect();
        let want = reference(&gs, &vs_f, &ws);
        let got = grouped(
            &ctx,
            "SELECT g, weighted_avg(v, w) FILTER (WHERE id % 3 = 0) FROM t GROUP BY g ORDER BY g",
        );
        assert_same(&got, &want);
    }

    #[test]
    fn sliding_window_uses_retract() {
        let ctx = ctx();
        let n = 300;
        let Data { vs, ws, .. } = data(n, 1);
        register_table(&ctx, n, 1, 1);
        let got = rows(
            &ctx,
            "SELECT id, weighted_avg(v, w) OVER (ORDER BY id ROWS BETWEEN 3 PRECEDING AND 1 FOLLOWING) FROM t ORDER BY id",
        )
        .expect("window");
        assert_eq!(got.len(), n);
        for (i, row) in got.iter().enumerate() {
            let r = i.saturating_sub(3)..(i + 2).min(n);
            let want = reference(&vec![0; r.len()], &vs[r.clone()], &ws[r])
                .get(&0)
                .copied()
                .flatten();
            match (&row[1], want) {
                (ScalarValue::Float64(Some(a)), Some(b)) => assert_close(*a, b, 1e-9),
                (ScalarValue::Float64(a), b) => assert_eq!(*a, b, "row {i}"),
                other => panic!("unexpected {other:?}"),
            }
        }
        // a running (growing) frame as well
        let got = rows(
            &ctx,
            "SELECT weighted_avg(v, w) OVER (ORDER BY id) FROM t ORDER BY id",
        )
        .expect("running");
        assert_eq!(got.len(), n);
    }

    fn args(v: &[Option<f64>], w: &[Option<f64>]) -> Vec<ArrayRef> {
        vec![
            Arc::new(Float64Array::from(v.to_vec())),
            Arc::new(Float64Array::from(w.to_vec())),
        ]
    }

    #[test]
    fn merged_partial_states_equal_one_pass() {
        let Data { gs, vs, ws, .. } = data(3000, 7);
        // plain accumulator: one pass vs three partial states merged
        let mut one = WeightedAvgAccumulator::default();
        one.update_batch(&args(&vs, &ws)).expect("update");
        let single = one.evaluate().expect("evaluate");
        let mut states: Vec<Vec<ScalarValue>> = vec![];
        for chunk in [0..1000, 1000..1001, 1001..1001, 1001..3000] {
            let mut acc = WeightedAvgAccumulator::default();
            acc.update_batch(&args(&vs[chunk.clone()], &ws[chunk]))
                .expect("update");
            states.push(acc.state().expect("state"));
        }
        let columns: Vec<ArrayRef> = (0..3)
            .map(|k| {
                ScalarValue::iter_to_array(states.iter().map(|s| s[k].clone())).expect("column")
            })
            .collect();
        let mut merged = WeightedAvgAccumulator::default();
        merged.merge_batch(&columns).expect("merge");
        match (merged.evaluate().expect("evaluate"), single) {
            (ScalarValue::Float64(Some(a)), ScalarValue::Float64(Some(b))) => {
                assert_close(a, b, 1e-12)
            }
            other => panic!("unexpected {other:?}"),
        }
        // retracting everything again gives NULL, not a rounding residue
        merged.retract_batch(&args(&vs, &ws)).expect("retract");
        assert_eq!(
            merged.evaluate().expect("evaluate"),
            ScalarValue::Float64(None)
        );

        // groups accumulator: two partial accumulators, states merged into a third
        let groups: Vec<usize> = gs
            .iter()
            .map(|g| usize::try_from(*g).expect("group"))
            .collect();
        let mut whole = WeightedAvgGroupsAccumulator::default();
        whole
            .update_batch(&args(&vs, &ws), &groups, None, 7)
            .expect("update");
        let want = whole.evaluate(EmitTo::All).expect("evaluate");
        let mut final_acc = WeightedAvgGroupsAccumulator::default();
        for chunk in [0..1234, 1234..3000] {
            let mut part = WeightedAvgGroupsAccumulator::default();
            part.update_batch(
                &args(&vs[chunk.clone()], &ws[chunk.clone()]),
                &groups[chunk],
                None,
                7,
            )
            .expect("update");
            let state = part.state(EmitTo::All).expect("state");
            final_acc
                .merge_batch(&state, &(0..7).collect::<Vec<_>>(), 7)
                .expect("merge");
        }
        let got = final_acc.evaluate(EmitTo::All).expect("evaluate");
        let (got, want) = (
            got.as_primitive::<Float64Type>(),
            want.as_primitive::<Float64Type>(),
        );
        assert_eq!(got.len(), 7);
        for g in 0..7 {
            assert_eq!(got.is_null(g), want.is_null(g));
            if want.is_valid(g) {
                assert_close(got.value(g), want.value(g), 1e-12);
            }
        }

        // convert_to_state rows merged per group equal the update path
        let conv = whole
            .convert_to_state(&args(&vs, &ws), None)
            .expect("convert");
        let mut from_rows = WeightedAvgGroupsAccumulator::default();
        from_rows.merge_batch(&conv, &groups, 7).expect("merge");
        let got = from_rows.evaluate(EmitTo::All).expect("evaluate");
        let got = got.as_primitive::<Float64Type>();
        for g in 0..7 {
            if want.is_valid(g) {
                assert_close(got.value(g), want.value(g), 1e-12);
            }
        }
    }

    #[test]
    fn groups_accumulator_emit_first_and_filter() {
        let v = [Some(1.0), Some(2.0), Some(3.0), None, Some(5.0)];
        let w = [Some(1.0), Some(1.0), Some(1.0), Some(1.0), Some(f64::NAN)];
        let groups = [0, 1, 2, 2, 3];
        let filter =
            BooleanArray::from(vec![Some(true), Some(true), Some(false), Some(true), None]);
        let mut acc = WeightedAvgGroupsAccumulator::default();
        acc.update_batch(&args(&v, &w), &groups, Some(&filter), 5)
            .expect("update");
        let first = acc.evaluate(EmitTo::First(2)).expect("first");
        assert_eq!(
            first.as_primitive::<Float64Type>(),
            &Float64Array::from(vec![Some(1.0), Some(2.0)])
        );
        // remaining groups shift down by 2: old 2, 3, 4 are now 0, 1, 2
        acc.update_batch(&args(&[Some(7.0)], &[Some(2.0)]), &[1], None, 3)
            .expect("update");
        let rest = acc.evaluate(EmitTo::All).expect("rest");
        assert_eq!(
            rest.as_primitive::<Float64Type>(),
            &Float64Array::from(vec![None, Some(7.0), None])
        );
        // bad input is an error, not a panic
        assert!(
            acc.update_batch(&args(&[Some(1.0)], &[Some(1.0)]), &[5], None, 3)
                .is_err()
        );
        assert!(
            acc.update_batch(&args(&[Some(1.0)], &[Some(1.0)]), &[], None, 3)
                .is_err()
        );
        assert!(
            acc.merge_batch(&args(&[Some(1.0)], &[Some(1.0)]), &[0], 1)
                .is_err()
        );
        let mut one = WeightedAvgAccumulator::default();
        assert!(
            one.update_batch(&[Arc::new(Float32Array::from(vec![1.0f32]))])
                .is_err()
        );
        // float32 / integer arrays passed directly are widened
        one.update_batch(&[
            Arc::new(Float32Array::from(vec![1.5f32, 2.5])),
            Arc::new(Int64Array::from(vec![1, 3])),
        ])
        .expect("widen");
        assert_eq!(
            one.evaluate().expect("evaluate"),
            ScalarValue::Float64(Some(9.0 / 4.0))
        );
    }
}
