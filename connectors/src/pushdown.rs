//! Filters evaluated on coordinate values when a grid scan is planned: the
//! helpers every dimension filter uses (is it plannable, which dimension,
//! its value along that dimension), and the one filter on two dimension
//! columns that still selects a product of index ranges, so it pushes in
//! exactly: `in_box(lat, lon, south, north, west, east)` with `lat` and `lon`
//! functions of two different dimension columns and constant bounds.
//!
//! A box is `south <= lat <= north` AND a longitude interval, the test of
//! [`crate::geo`] that gridsql-udfs' `in_box` calls too. Each half is
//! evaluated on its dimension's coordinate values; the cells that pass are
//! the product of both masks.

use std::ops::Range;
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, BooleanArray, RecordBatch, RecordBatchOptions};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Schema, SchemaRef};
use datafusion::catalog::Session;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, DFSchema, Result as DfResult, ScalarValue, plan_err};
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::PhysicalExpr;

pub(crate) mod coordinates;

use crate::geo::{lat_in_box, lon_in_box};
use crate::grid::selection::ranges_of_mask;
use crate::grid::{Dimension, Selection};
use crate::table::GridTable;

/// Name of the box function gridsql-udfs registers.
const IN_BOX: &str = "in_box";

/// Whether an expression can be evaluated when the scan is planned.
pub(crate) fn plannable(e: &Expr) -> bool {
    !e.is_volatile()
        && !e
            .exists(|e| {
                Ok(matches!(
                    e,
                    Expr::ScalarSubquery(_)
                        | Expr::Exists(_)
                        | Expr::InSubquery(_)
                        | Expr::Placeholder(_)
                ))
            })
            .unwrap_or(true)
}

/// The dimension an expression is a function of, when it references exactly
/// one column and that column is a dimension.
pub(crate) fn single_dim(e: &Expr, schema: &Schema, ndims: usize) -> Option<usize> {
    let cols = e.column_refs();
    if cols.len() != 1 {
        return None;
    }
    let d = schema.index_of(&cols.into_iter().next()?.name).ok()?;
    (d < ndims).then_some(d)
}

/// The six arguments of an `in_box(...)` call.
fn in_box_args(expr: &Expr) -> Option<&[Expr]> {
    match expr {
        Expr::ScalarFunction(f) if f.func.name() == IN_BOX && f.args.len() == 6 => Some(&f.args),
        _ => None,
    }
}

/// The (latitude, longitude) dimensions of a pushable `in_box` filter: its
/// first two arguments are functions of two different dimension columns,
/// the four bounds are constants.
pub(crate) fn in_box_dims(expr: &Expr, schema: &Schema, ndims: usize) -> Option<(usize, usize)> {
    let args = in_box_args(expr)?;
    if !plannable(expr) {
        return None;
    }
    let lat = single_dim(&args[0], schema, ndims)?;
    let lon = single_dim(&args[1], schema, ndims)?;
    if lat == lon || args[2..].iter().any(|a| !a.column_refs().is_empty()) {
        return None;
    }
    Some((lat, lon))
}

/// Drops table qualifiers, so an expression evaluates on a batch of the
/// table's own columns.
pub(crate) fn unqualified(expr: &Expr) -> DfResult<Expr> {
    Ok(expr
        .clone()
        .transform(|e| match e {
            Expr::Column(c) => Ok(Transformed::yes(Expr::Column(Column::new_unqualified(
                c.name,
            )))),
            other => Ok(Transformed::no(other)),
        })?
        .data)
}

/// Float64 values of an array (NULL where it cannot be cast).
fn as_f64(array: &ArrayRef, what: &Expr) -> DfResult<Vec<Option<f64>>> {
    let array = cast(array, &DataType::Float64)?;
    let Some(a) = array.as_primitive_opt::<Float64Type>() else {
        return plan_err!("in_box: {what} is not numeric");
    };
    Ok(a.iter().collect())
}

/// Longest dimension whose filters are evaluated when the scan is planned;
/// filters on longer ones (without coordinate values, so index dimensions)
/// run after the scan.
pub(crate) const MAX_PLANNED_INDEX: u64 = 1 << 31;

/// Indices evaluated at once along an index dimension.
const EVAL_BLOCK: u64 = 1 << 20;

/// A function of dimension `d` that evaluates on `range` of its coordinate
/// values.
struct DimExpr<'a> {
    schema: SchemaRef,
    phys: Arc<dyn PhysicalExpr>,
    dim: &'a Dimension,
}

impl<'a> DimExpr<'a> {
    fn new(table: &'a GridTable, state: &dyn Session, d: usize, expr: &Expr) -> DfResult<Self> {
        let schema = Arc::new(Schema::new(vec![table.schema.field(d).clone()]));
        let df_schema = DFSchema::try_from(Arc::clone(&schema))?;
        let phys = state.create_physical_expr(unqualified(expr)?, &df_schema)?;
        Ok(DimExpr {
            schema,
            phys,
            dim: &table.grid.dims[d],
        })
    }

    fn eval(&self, range: Range<u64>) -> DfResult<ArrayRef> {
        let batch = RecordBatch::try_new(Arc::clone(&self.schema), vec![self.dim.values(range)])?;
        self.phys.evaluate(&batch)?.into_array(batch.num_rows())
    }
}

/// Evaluates a function of dimension `d` on that dimension's coordinates:
/// its value at every index along the dimension.
pub(crate) fn eval_on_dim(
    table: &GridTable,
    state: &dyn Session,
    d: usize,
    expr: &Expr,
) -> DfResult<ArrayRef> {
    DimExpr::new(table, state, d, expr)?.eval(0..table.grid.dims[d].size)
}

/// The index ranges of dimension `d` where a boolean function of it holds,
/// evaluated block by block, so an index dimension of any length is never
/// held whole.
pub(crate) fn ranges_on_dim(
    table: &GridTable,
    state: &dyn Session,
    d: usize,
    expr: &Expr,
) -> DfResult<Vec<Range<u64>>> {
    let f = DimExpr::new(table, state, d, expr)?;
    let size = f.dim.size;
    let mut out: Vec<Range<u64>> = Vec::new();
    let mut start = 0;
    while start < size {
        let end = start.saturating_add(EVAL_BLOCK).min(size);
        let result = f.eval(start..end)?;
        let Some(mask) = result.as_boolean_opt() else {
            return plan_err!("filter {expr} is not a boolean expression");
        };
        for r in ranges_of_mask(mask) {
            let r = (r.start + start)..(r.end + start);
            match out.last_mut() {
                Some(last) if last.end == r.start => last.end = r.end,
                _ => out.push(r),
            }
        }
        start = end;
    }
    Ok(out)
}

/// Evaluates a constant expression.
fn eval_const(state: &dyn Session, expr: &Expr) -> DfResult<Option<f64>> {
    let schema = Arc::new(Schema::empty());
    let df_schema = DFSchema::try_from(Arc::clone(&schema))?;
    let phys = state.create_physical_expr(expr.clone(), &df_schema)?;
    let batch = RecordBatch::try_new_with_options(
        schema,
        vec![],
        &RecordBatchOptions::new().with_row_count(Some(1)),
    )?;
    let value = phys.evaluate(&batch)?.into_array(1)?;
    let v = ScalarValue::try_from_array(&value, 0)?;
    if v.is_null() {
        return Ok(None);
    }
    match v.cast_to(&DataType::Float64)? {
        ScalarValue::Float64(x) => Ok(x),
        _ => plan_err!("in_box: bound {expr} is not numeric"),
    }
}

/// Narrows the selection by an `in_box` filter whose dimensions
/// [`in_box_dims`] found: the latitude mask on one dimension, the longitude
/// mask on the other. A NULL bound selects nothing, as the filter would.
pub(crate) fn apply_in_box(
    table: &GridTable,
    state: &dyn Session,
    expr: &Expr,
    (lat_dim, lon_dim): (usize, usize),
    sel: &mut Selection,
) -> DfResult<()> {
    let Some(args) = in_box_args(expr) else {
        return plan_err!("filter {expr} is not an in_box call");
    };
    let mut bounds = [0.0; 4];
    let mut null_bound = false;
    for (b, e) in bounds.iter_mut().zip(&args[2..]) {
        match eval_const(state, e)? {
            Some(v) => *b = v,
            None => null_bound = true,
        }
    }
    let [south, north, west, east] = bounds;
    let lats = as_f64(&eval_on_dim(table, state, lat_dim, &args[0])?, &args[0])?;
    let lons = as_f64(&eval_on_dim(table, state, lon_dim, &args[1])?, &args[1])?;
    let lat_mask: BooleanArray = lats
        .iter()
        .map(|v| Some(!null_bound && v.is_some_and(|x| lat_in_box(x, south, north))))
        .collect();
    let lon_mask: BooleanArray = lons
        .iter()
        .map(|v| Some(!null_bound && v.is_some_and(|x| lon_in_box(x, west, east))))
        .collect();
    debug_assert_eq!(lat_mask.len() as u64, table.grid.dims[lat_dim].size);
    sel.restrict(lat_dim, &lat_mask);
    sel.restrict(lon_dim, &lon_mask);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_boxes_on_two_dimensions() {
        use arrow::datatypes::Field;
        use datafusion::logical_expr::{ScalarUDF, col, lit};
        let schema = Schema::new(vec![
            Field::new("lat", DataType::Float32, true),
            Field::new("lon", DataType::Float32, true),
            Field::new("sst", DataType::Float32, true),
        ]);
        #[derive(Debug, PartialEq, Eq, Hash)]
        struct Fake(datafusion::logical_expr::Signature);
        impl datafusion::logical_expr::ScalarUDFImpl for Fake {
            fn name(&self) -> &str {
                IN_BOX
            }
            fn signature(&self) -> &datafusion::logical_expr::Signature {
                &self.0
            }
            fn return_type(&self, _: &[DataType]) -> DfResult<DataType> {
                Ok(DataType::Boolean)
            }
            fn invoke_with_args(
                &self,
                _: datafusion::logical_expr::ScalarFunctionArgs,
            ) -> DfResult<datafusion::logical_expr::ColumnarValue> {
                unreachable!()
            }
        }
        let f = Arc::new(ScalarUDF::new_from_impl(Fake(
            datafusion::logical_expr::Signature::any(
                6,
                datafusion::logical_expr::Volatility::Immutable,
            ),
        )));
        let call =
            |a: Expr, b: Expr, s: Expr| f.call(vec![a, b, s, lit(10.0), lit(170.0), lit(-170.0)]);
        let cast = |e: Expr| {
            Expr::Cast(datafusion::logical_expr::Cast::new(
                Box::new(e),
                DataType::Float64,
            ))
        };
        assert_eq!(
            in_box_dims(&call(col("lat"), col("lon"), lit(-10.0)), &schema, 2),
            Some((0, 1))
        );
        assert_eq!(
            in_box_dims(
                &call(cast(col("lon")), cast(col("lat")), lit(-10.0)),
                &schema,
                2
            ),
            Some((1, 0))
        );
        // same dimension twice, a variable column, a column bound
        assert_eq!(
            in_box_dims(&call(col("lat"), col("lat"), lit(0.0)), &schema, 2),
            None
        );
        assert_eq!(
            in_box_dims(&call(col("lat"), col("sst"), lit(0.0)), &schema, 2),
            None
        );
        assert_eq!(
            in_box_dims(&call(col("lat"), col("lon"), col("lat")), &schema, 2),
            None
        );
        assert_eq!(in_box_dims(&col("lat").gt(lit(0.0)), &schema, 2), None);
    }
}
