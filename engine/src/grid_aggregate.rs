//! The optimizer rule that computes aggregates inside grid scans.
//!
//! It finds `AggregateExec` (final or single mode) over a partial
//! aggregate over a [`GridScanExec`] whose GROUP BY keys are functions of
//! one dimension column each (`time`, `date_part('month', time)`,
//! `season(time)`) and whose aggregates are `avg`, `sum`, `count`, `min` or
//! `max` of a variable, of a variable times a function of one dimension
//! (`sla * cos(radians(latitude))`), or of such a function where the
//! variable is not NULL; `var`, `var_pop`, `stddev`, `stddev_pop` of a
//! variable; or `weighted_avg(variable, function of one dimension)`. The whole aggregate becomes one
//! [`GridAggregateExec`]. Anything else keeps the ordinary plan, so answers
//! never depend on the rule; tests compare both.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch, UInt32Array};
use arrow::compute::{cast, take};
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::ScalarValue;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::error::Result;
use datafusion::logical_expr::Operator;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::aggregate::AggregateFunctionExpr;
use datafusion::physical_expr::expressions::{
    BinaryExpr, CaseExpr, CastExpr, Column, IsNotNullExpr, Literal, TryCastExpr,
};
use datafusion::physical_expr::utils::collect_columns;
use datafusion::physical_expr_common::physical_expr::is_volatile;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_optimizer::sanity_checker::SanityCheckPlan;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::coop::CooperativeExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, ExecutionPlan, ExecutionPlanProperties, Partitioning,
    ReplaceChildrenOptions,
};
use gridsql_connectors::aggregate::exec::{GridMode, MAX_DENSE_GROUPS};
use gridsql_connectors::aggregate::{
    AggArg, AggFn, AggSpec, DimGroups, GridAggregateExec, GroupSpec,
};
use gridsql_connectors::scan::GridScanExec;

/// Replaces aggregates over grid scans with [`GridAggregateExec`].
///
/// By default the whole aggregate (partial and final) becomes one
/// `GridAggregateExec`, which merges its scan partitions' dense states in
/// memory: the fastest plan on one machine. With `distributed` set (plans
/// for a cluster), each scan partition becomes a task of its own: when no
/// group has cells in two partitions (a GROUP BY of time over a scan split
/// by time), each task emits its groups' final values and nothing is
/// exchanged; otherwise tasks emit dense partial states that one merge adds
/// up by group index (see [`gridsql_connectors::aggregate::dense`]).
#[derive(Debug, Default)]
pub struct GridAggregateRule {
    /// Plan for a cluster.
    pub distributed: bool,
}

impl PhysicalOptimizerRule for GridAggregateRule {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if self.distributed {
            return replace_checked(plan, config, &split);
        }
        replace_checked(plan, config, &|node| {
            Ok(rewrite(node)?.map(|g| Arc::new(g) as Arc<dyn ExecutionPlan>))
        })
    }

    fn name(&self) -> &str {
        "grid_aggregate"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// A node's grid replacement, if it has one: the whole grid aggregate
/// ([`rewrite`]) locally, the tasks of one ([`split`]) on a cluster.
type Replace = dyn Fn(&Arc<dyn ExecutionPlan>) -> Result<Option<Arc<dyn ExecutionPlan>>>;

/// Every final aggregate over a grid scan replaced by `replace`, under what
/// its parent expects. The replaced aggregate's partitioning is kept where
/// the plan may rely on it: a single partition stays single, and when the
/// cheaper plan (the grid aggregate's output as it comes) fails
/// DataFusion's sanity check (a join of the aggregate with its scan wants
/// both sides hash-partitioned alike), a hash partitioning is restored by a
/// repartition.
fn replace_checked(
    plan: Arc<dyn ExecutionPlan>,
    config: &ConfigOptions,
    replace: &Replace,
) -> Result<Arc<dyn ExecutionPlan>> {
    let cheap = replace_with(Arc::clone(&plan), false, replace)?;
    if SanityCheckPlan::new()
        .optimize(Arc::clone(&cheap), config)
        .is_ok()
    {
        return Ok(cheap);
    }
    let safe = replace_with(Arc::clone(&plan), true, replace)?;
    if SanityCheckPlan::new()
        .optimize(Arc::clone(&safe), config)
        .is_ok()
    {
        return Ok(safe);
    }
    Ok(plan)
}

fn replace_with(
    plan: Arc<dyn ExecutionPlan>,
    keep_hash: bool,
    replace: &Replace,
) -> Result<Arc<dyn ExecutionPlan>> {
    let plan = plan
        .transform_up(|node| {
            let mut changed = false;
            let mut children = Vec::new();
            for c in node.children() {
                match replace(c)? {
                    Some(new) => {
                        changed = true;
                        children.push(fit(new, c, keep_hash)?);
                    }
                    None => children.push(Arc::clone(c)),
                }
            }
            if changed {
                Ok(Transformed::yes(node.replace_children(
                    children,
                    ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
                )?))
            } else {
                Ok(Transformed::no(node))
            }
        })?
        .data;
    Ok(replace(&plan)?.unwrap_or(plan))
}

/// `new` with the partitioning of `old`, the node it replaces, where a
/// parent may depend on it.
fn fit(
    new: Arc<dyn ExecutionPlan>,
    old: &Arc<dyn ExecutionPlan>,
    keep_hash: bool,
) -> Result<Arc<dyn ExecutionPlan>> {
    let want = old.output_partitioning();
    let have = new.output_partitioning().partition_count();
    if want.partition_count() == 1 && have > 1 {
        return Ok(Arc::new(CoalescePartitionsExec::new(new)));
    }
    if keep_hash && matches!(want, Partitioning::Hash(..)) {
        return Ok(Arc::new(RepartitionExec::try_new(new, want.clone())?));
    }
    Ok(new)
}

/// A final aggregate over a grid scan as tasks: a grid aggregate per scan
/// partition emitting final values when the partitions own their groups or
/// its regions can be cut cheaply so that they do, else emitting dense
/// partial states for one merge. Single-mode
/// aggregates (one input partition) stay whole.
fn split(node: &Arc<dyn ExecutionPlan>) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let Some(top) = as_aggregate(node) else {
        return Ok(None);
    };
    if matches!(top.mode(), AggregateMode::Partial) {
        return Ok(None);
    }
    let Some(whole) = rewrite(node)? else {
        return Ok(None);
    };
    let single = matches!(
        top.mode(),
        AggregateMode::Single | AggregateMode::SinglePartitioned
    );
    if single || whole.partitions().len() < 2 {
        return Ok(Some(Arc::new(whole)));
    }
    if whole.owns_groups() {
        return Ok(Some(Arc::new(whole.split(GridMode::PerPartition)?)));
    }
    if let Some(owned) = whole.cut_to_own_groups()? {
        return Ok(Some(Arc::new(owned)));
    }
    let dense: Arc<dyn ExecutionPlan> = Arc::new(whole.split(GridMode::Dense)?);
    let coalesced = Arc::new(CoalescePartitionsExec::new(dense));
    Ok(Some(Arc::new(whole.merging(coalesced)?)))
}

/// Skips nodes that only move rows between partitions or yield to the
/// runtime.
fn through_exchanges(mut plan: &Arc<dyn ExecutionPlan>) -> &Arc<dyn ExecutionPlan> {
    loop {
        let any: &dyn std::any::Any = plan.as_ref();
        let next = if any.downcast_ref::<RepartitionExec>().is_some()
            || any.downcast_ref::<CoalescePartitionsExec>().is_some()
            || any.downcast_ref::<CooperativeExec>().is_some()
        {
            plan.children().into_iter().next()
        } else {
            None
        };
        match next {
            Some(n) => plan = n,
            None => return plan,
        }
    }
}

fn as_aggregate(plan: &Arc<dyn ExecutionPlan>) -> Option<&AggregateExec> {
    let any: &dyn std::any::Any = plan.as_ref();
    any.downcast_ref::<AggregateExec>()
}

fn as_scan(plan: &Arc<dyn ExecutionPlan>) -> Option<&GridScanExec> {
    let any: &dyn std::any::Any = plan.as_ref();
    any.downcast_ref::<GridScanExec>()
}

/// The whole grid aggregate that computes `node`, when it is an aggregate
/// the rule handles.
fn rewrite(node: &Arc<dyn ExecutionPlan>) -> Result<Option<GridAggregateExec>> {
    let Some(top) = as_aggregate(node) else {
        return Ok(None);
    };
    // The aggregate whose expressions read the scan's columns.
    let lower = match top.mode() {
        AggregateMode::Final | AggregateMode::FinalPartitioned => {
            match as_aggregate(through_exchanges(top.input())) {
                Some(p) if *p.mode() == AggregateMode::Partial => p,
                _ => return Ok(None),
            }
        }
        AggregateMode::Single | AggregateMode::SinglePartitioned => top,
        _ => return Ok(None),
    };
    // The scan, possibly under a projection (common subexpressions such as
    // `cos(radians(latitude))` are computed there): its expressions are
    // inlined into the aggregate's.
    let below = through_exchanges(lower.input());
    let any: &dyn std::any::Any = below.as_ref();
    let (scan, projected) = match any.downcast_ref::<ProjectionExec>() {
        Some(p) => match as_scan(through_exchanges(p.input())) {
            Some(s) => (
                s,
                Some(
                    p.expr()
                        .iter()
                        .map(|e| Arc::clone(&e.expr))
                        .collect::<Vec<_>>(),
                ),
            ),
            None => return Ok(None),
        },
        None => match as_scan(below) {
            Some(s) => (s, None),
            None => return Ok(None),
        },
    };
    let inline = |e: &Arc<dyn PhysicalExpr>| -> Result<Arc<dyn PhysicalExpr>> {
        let Some(proj) = &projected else {
            return Ok(Arc::clone(e));
        };
        Ok(Arc::clone(e)
            .transform(|x| {
                let any: &dyn std::any::Any = x.as_ref();
                match any
                    .downcast_ref::<Column>()
                    .and_then(|c| proj.get(c.index()))
                {
                    Some(p) => Ok(Transformed::new(
                        Arc::clone(p),
                        true,
                        TreeNodeRecursion::Jump,
                    )),
                    None => Ok(Transformed::no(x)),
                }
            })?
            .data)
    };
    if scan.limit().is_some()
        || top.limit_options().is_some()
        || !lower.group_expr().is_single()
        || lower.filter_expr().iter().any(Option::is_some)
    {
        return Ok(None);
    }
    let group_exprs: Vec<Arc<dyn PhysicalExpr>> = lower
        .group_expr()
        .expr()
        .iter()
        .map(|(e, _)| inline(e))
        .collect::<Result<_>>()?;
    // A volatile expression (`random()`) means one value per row; the rule
    // would evaluate it once per coordinate instead.
    if group_exprs.iter().any(is_volatile) {
        return Ok(None);
    }
    let Some(groups) = group_spec(scan, &group_exprs)? else {
        return Ok(None);
    };
    let mut aggs = Vec::new();
    for a in lower.aggr_expr() {
        let args: Vec<Arc<dyn PhysicalExpr>> =
            a.expressions().iter().map(&inline).collect::<Result<_>>()?;
        if args.iter().any(is_volatile) {
            return Ok(None);
        }
        match agg_spec(scan, a, &args)? {
            Some(s) => aggs.push(s),
            None => return Ok(None),
        }
    }
    if groups.groups().is_none_or(|n| n > MAX_DENSE_GROUPS) {
        return Ok(None);
    }
    let schema = top.schema();
    // Key columns must have the types the aggregate's schema gives them.
    let mut groups = groups;
    for (k, (_, values)) in groups.keys.iter_mut().enumerate() {
        let want = schema.field(k).data_type();
        if values.data_type() != want {
            *values = cast(values, want)?;
        }
    }
    for (a, f) in aggs
        .iter_mut()
        .zip(schema.fields().iter().skip(groups.keys.len()))
    {
        if &a.output != f.data_type() {
            return Ok(None);
        }
    }
    let exec = GridAggregateExec::try_new(
        Arc::clone(scan.table()),
        scan.selection().clone(),
        scan.partitions().to_vec(),
        groups,
        aggs,
        schema,
    )?;
    Ok(Some(exec))
}

/// The grid dimension a scan column is, if it is one.
fn scan_dim(scan: &GridScanExec, col: &Column) -> Option<usize> {
    let c = *scan.projection().get(col.index())?;
    (c < scan.table().ndims()).then_some(c)
}

/// The grid variable a scan column is, if it is one.
fn scan_var(scan: &GridScanExec, col: &Column) -> Option<usize> {
    let c = *scan.projection().get(col.index())?;
    match scan.table().grid.column(c)? {
        gridsql_connectors::grid::GridColumn::Var(v) => Some(v),
        _ => None,
    }
}

/// Evaluates an expression of one dimension column on that dimension's
/// coordinate values: its value at every index along the dimension.
fn eval_on_dim(
    scan: &GridScanExec,
    expr: &Arc<dyn PhysicalExpr>,
) -> Result<Option<(usize, ArrayRef)>> {
    let cols = collect_columns(expr);
    if cols.len() != 1 {
        return Ok(None);
    }
    let Some(col) = cols.iter().next() else {
        return Ok(None);
    };
    let Some(d) = scan_dim(scan, col) else {
        return Ok(None);
    };
    let dim = &scan.table().grid.dims[d];
    let Some(values) = dim.all_values(MAX_DENSE_GROUPS as u64) else {
        return Ok(None);
    };
    let field = scan.schema().field(col.index()).clone();
    let schema = Arc::new(Schema::new(vec![Field::new(
        field.name(),
        field.data_type().clone(),
        true,
    )]));
    let rebased = Arc::clone(expr)
        .transform(|e| {
            let any: &dyn std::any::Any = e.as_ref();
            match any.downcast_ref::<Column>() {
                Some(c) => Ok(Transformed::yes(
                    Arc::new(Column::new(c.name(), 0)) as Arc<dyn PhysicalExpr>
                )),
                None => Ok(Transformed::no(e)),
            }
        })?
        .data;
    let batch = RecordBatch::try_new(schema, vec![values])?;
    let out = rebased.evaluate(&batch)?.into_array(batch.num_rows())?;
    Ok(Some((d, out)))
}

/// The GROUP BY as classes of indices per dimension.
fn group_spec(scan: &GridScanExec, exprs: &[Arc<dyn PhysicalExpr>]) -> Result<Option<GroupSpec>> {
    let mut per_dim: HashMap<usize, Vec<(usize, ArrayRef)>> = HashMap::new();
    for (i, e) in exprs.iter().enumerate() {
        match eval_on_dim(scan, e)? {
            Some((d, values)) => per_dim.entry(d).or_default().push((i, values)),
            None => return Ok(None),
        }
    }
    let mut dims: Vec<usize> = per_dim.keys().copied().collect();
    dims.sort_unstable();
    let mut out_dims = Vec::with_capacity(dims.len());
    let mut keys: Vec<Option<(usize, ArrayRef)>> = vec![None; exprs.len()];
    for (k, d) in dims.iter().enumerate() {
        let cols = &per_dim[d];
        let len = cols.first().map_or(0, |c| c.1.len());
        let mut ids: HashMap<Vec<ScalarValue>, u32> = HashMap::new();
        let mut firsts: Vec<u32> = Vec::new();
        let mut class_of = Vec::with_capacity(len);
        for idx in 0..len {
            let key: Vec<ScalarValue> = cols
                .iter()
                .map(|(_, a)| ScalarValue::try_from_array(a, idx))
                .collect::<Result<_>>()?;
            let next = ids.len() as u32;
            let id = *ids.entry(key).or_insert_with(|| {
                firsts.push(idx as u32);
                next
            });
            class_of.push(id);
        }
        let firsts = UInt32Array::from(firsts);
        for (i, values) in cols {
            keys[*i] = Some((k, take(values.as_ref(), &firsts, None)?));
        }
        out_dims.push(DimGroups {
            dim: *d,
            class_of,
            classes: ids.len() as u32,
        });
    }
    Ok(Some(GroupSpec {
        dims: out_dims,
        keys: keys.into_iter().flatten().collect(),
    }))
}

/// A variable column, possibly under a cast to a float type.
fn var_of(scan: &GridScanExec, e: &Arc<dyn PhysicalExpr>) -> Option<usize> {
    let any: &dyn std::any::Any = e.as_ref();
    if let Some(c) = any.downcast_ref::<Column>() {
        return scan_var(scan, c);
    }
    let (inner, to) = if let Some(c) = any.downcast_ref::<CastExpr>() {
        (c.expr(), c.cast_type())
    } else if let Some(c) = any.downcast_ref::<TryCastExpr>() {
        (c.expr(), c.cast_type())
    } else {
        return None;
    };
    if !matches!(to, DataType::Float64 | DataType::Float32) {
        return None;
    }
    let inner_any: &dyn std::any::Any = inner.as_ref();
    let c = inner_any.downcast_ref::<Column>()?;
    let v = scan_var(scan, c)?;
    // Casting float32 to float64 is exact; other casts are not the identity.
    let from = scan.schema().field(c.index()).data_type().clone();
    let exact = matches!(
        (&from, to),
        (DataType::Float32 | DataType::Float64, DataType::Float64)
            | (DataType::Float32, DataType::Float32)
    );
    exact.then_some(v)
}

/// A function of one dimension as Float64 weights per index.
fn weight_of(
    scan: &GridScanExec,
    e: &Arc<dyn PhysicalExpr>,
) -> Result<Option<(usize, Vec<Option<f64>>)>> {
    let Some((d, values)) = eval_on_dim(scan, e)? else {
        return Ok(None);
    };
    // float32 weights widen exactly, as DataFusion's own cast does.
    if !matches!(values.data_type(), DataType::Float64 | DataType::Float32) {
        return Ok(None);
    }
    let f = cast(&values, &DataType::Float64)?;
    let f = f
        .as_any()
        .downcast_ref::<arrow::array::Float64Array>()
        .map(|a| a.iter().collect::<Vec<_>>());
    Ok(f.map(|w| (d, w)))
}

/// The aggregate, if the rule can compute it.
fn agg_spec(
    scan: &GridScanExec,
    a: &Arc<AggregateFunctionExpr>,
    args: &[Arc<dyn PhysicalExpr>],
) -> Result<Option<AggSpec>> {
    if a.is_distinct() || !a.order_bys().is_empty() || a.ignore_nulls() {
        return Ok(None);
    }
    let func = match a.fun().name().to_ascii_lowercase().as_str() {
        "avg" | "mean" => AggFn::Avg,
        "sum" => AggFn::Sum,
        "count" => AggFn::Count,
        "min" => AggFn::Min,
        "max" => AggFn::Max,
        "var" | "var_samp" | "var_sample" => AggFn::Var { sample: true },
        "var_pop" | "var_population" => AggFn::Var { sample: false },
        "stddev" | "stddev_samp" => AggFn::Stddev { sample: true },
        "stddev_pop" => AggFn::Stddev { sample: false },
        "weighted_avg" => AggFn::WeightedAvg,
        _ => return Ok(None),
    };
    let output = a.field().data_type().clone();
    let ok_type = match func {
        AggFn::Count => output == DataType::Int64,
        AggFn::Avg | AggFn::Sum | AggFn::Var { .. } | AggFn::Stddev { .. } | AggFn::WeightedAvg => {
            output == DataType::Float64
        }
        AggFn::Min | AggFn::Max => matches!(output, DataType::Float64 | DataType::Float32),
    };
    if !ok_type {
        return Ok(None);
    }
    // weighted_avg(variable, function of one dimension): the UDF skips NaN
    // weights as it skips NULL ones.
    if func == AggFn::WeightedAvg {
        let [value, weight] = args else {
            return Ok(None);
        };
        let (Some(var), Some((d, mut w))) = (var_of(scan, value), weight_of(scan, weight)?) else {
            return Ok(None);
        };
        for x in &mut w {
            if x.is_some_and(f64::is_nan) {
                *x = None;
            }
        }
        let arg = AggArg::Value {
            var,
            weight: Some((d, w)),
        };
        return Ok(Some(AggSpec { func, arg, output }));
    }
    let [arg] = args else {
        return Ok(None);
    };
    // var/stddev of a variable (cast to float64 by the planner).
    if func.is_moment() {
        return Ok(var_of(scan, arg).map(|var| AggSpec {
            func,
            arg: AggArg::Value { var, weight: None },
            output,
        }));
    }
    let any: &dyn std::any::Any = arg.as_ref();
    // A CASE under a cast to float64 (the type coercion of sum's argument).
    let case_any: &dyn std::any::Any = match any.downcast_ref::<CastExpr>() {
        Some(c) if c.cast_type() == &DataType::Float64 => c.expr().as_ref(),
        _ => any,
    };
    let arg = if let Some(l) = any.downcast_ref::<Literal>() {
        if func != AggFn::Count || l.value().is_null() {
            return Ok(None);
        }
        AggArg::Cells
    } else if let Some(v) = var_of(scan, arg) {
        // min/max keep the column's type: it must be the output type.
        if matches!(func, AggFn::Min | AggFn::Max) && arg.data_type(&scan.schema())? != output {
            return Ok(None);
        }
        AggArg::Value {
            var: v,
            weight: None,
        }
    } else if let Some(b) = any.downcast_ref::<BinaryExpr>() {
        if *b.op() != Operator::Multiply || arg.data_type(&scan.schema())? != DataType::Float64 {
            return Ok(None);
        }
        let (v, w) = match (var_of(scan, b.left()), var_of(scan, b.right())) {
            (Some(v), None) => (v, b.right()),
            (None, Some(v)) => (v, b.left()),
            _ => return Ok(None),
        };
        match weight_of(scan, w)? {
            Some(w) => AggArg::Value {
                var: v,
                weight: Some(w),
            },
            None => return Ok(None),
        }
    } else if let Some(c) = case_any.downcast_ref::<CaseExpr>() {
        let [(when, then)] = c.when_then_expr() else {
            return Ok(None);
        };
        if c.expr().is_some() || c.else_expr().is_some() {
            return Ok(None);
        }
        let when_any: &dyn std::any::Any = when.as_ref();
        let Some(nn) = when_any.downcast_ref::<IsNotNullExpr>() else {
            return Ok(None);
        };
        let Some(v) = var_of(scan, nn.arg()) else {
            return Ok(None);
        };
        match weight_of(scan, then)? {
            Some(w) => AggArg::WeightWhereValid { var: v, weight: w },
            None => return Ok(None),
        }
    } else {
        return Ok(None);
    };
    Ok(Some(AggSpec { func, arg, output }))
}
