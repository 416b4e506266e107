//! Filters on auxiliary coordinate columns (2-D `lat`/`lon` of a
//! curvilinear grid, station labels): they cannot select a product of index
//! ranges exactly, so they push in *inexactly*. When the scan is planned the
//! filter is evaluated on the coordinates' values in memory; along each
//! grid dimension they span, only the indices where some cell passes are
//! kept, so chunks outside the filter's window are never read. DataFusion
//! still applies the filter to the rows read.

use std::ops::Range;

use arrow::array::{ArrayRef, BooleanArray, RecordBatch};
use arrow::datatypes::{Field, Schema};
use datafusion::catalog::Session;
use datafusion::common::{DFSchema, Result as DfResult};
use datafusion::logical_expr::Expr;
use datafusion::logical_expr::utils::conjunction;
use std::sync::Arc;

use super::{plannable, unqualified};
use crate::grid::model::meta;
use crate::grid::selection::ranges_of_mask;
use crate::grid::{GridColumn, Selection};
use crate::table::GridTable;

/// Whether a filter only names auxiliary coordinate columns (by their role
/// in the schema) and can be evaluated when the scan is planned.
pub(crate) fn on_coordinates(e: &Expr, schema: &Schema) -> bool {
    let cols = e.column_refs();
    !cols.is_empty()
        && plannable(e)
        && cols.iter().all(|c| {
            schema.field_with_name(&c.name).is_ok_and(|f| {
                f.metadata().get(meta::ROLE).map(String::as_str) == Some("coordinate")
            })
        })
}

/// Narrows `sel` by the filters on auxiliary coordinates, those on the same
/// dimensions together: the window where `lat BETWEEN a AND b AND lon
/// BETWEEN c AND d` holds on a curvilinear grid is much smaller than the
/// intersection of the latitude band's window with the longitude band's.
///
/// # Errors
/// As [`narrow`].
pub(crate) fn narrow_all(
    table: &GridTable,
    state: &dyn Session,
    filters: &[Expr],
    sel: &mut Selection,
) -> DfResult<()> {
    let mut groups: Vec<(Vec<usize>, Vec<Expr>)> = Vec::new();
    for f in filters {
        let dims = aux_dims(table, f);
        match groups.iter_mut().find(|(d, _)| *d == dims) {
            Some((_, fs)) => fs.push(f.clone()),
            None => groups.push((dims, vec![f.clone()])),
        }
    }
    for (_, fs) in groups {
        if let Some(all) = conjunction(fs) {
            narrow(table, state, &all, sel)?;
        }
    }
    Ok(())
}

/// The dimensions of the first auxiliary column a filter names (empty when
/// it names none).
fn aux_dims(table: &GridTable, e: &Expr) -> Vec<usize> {
    e.column_refs()
        .into_iter()
        .find_map(
            |c| match table.grid.column(table.schema.index_of(&c.name).ok()?) {
                Some(GridColumn::Aux(a)) => Some(table.grid.aux[a].dims.clone()),
                _ => None,
            },
        )
        .unwrap_or_default()
}

/// Narrows `sel` to the window of indices where `expr` holds on the
/// auxiliary coordinates it names. Does nothing (the filter then only runs
/// after the scan) when the columns span different dimensions.
///
/// # Errors
/// The filter cannot be planned or evaluated, or is not boolean.
pub(crate) fn narrow(
    table: &GridTable,
    state: &dyn Session,
    expr: &Expr,
    sel: &mut Selection,
) -> DfResult<()> {
    let grid = &table.grid;
    let mut aux = Vec::new();
    for c in expr.column_refs() {
        let i = table.schema.index_of(&c.name)?;
        match grid.column(i) {
            Some(GridColumn::Aux(a)) => aux.push(a),
            _ => return Ok(()),
        }
    }
    aux.sort_unstable();
    aux.dedup();
    let Some(&first) = aux.first() else {
        return Ok(());
    };
    let dims = grid.aux[first].dims.clone();
    let shape = grid.aux[first].var.shape.clone();
    if aux.iter().any(|&a| grid.aux[a].dims != dims) || dims.len() != shape.len() {
        return Ok(());
    }
    let fields: Vec<Field> = aux.iter().map(|&a| grid.aux[a].field()).collect();
    let columns: Vec<ArrayRef> = aux
        .iter()
        .map(|&a| Arc::clone(&grid.aux[a].values))
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns)?;
    let phys = state.create_physical_expr(
        unqualified(expr)?,
        &DFSchema::try_from(schema.as_ref().clone())?,
    )?;
    let result = phys.evaluate(&batch)?.into_array(batch.num_rows())?;
    let Some(mask) = result.as_any().downcast_ref::<BooleanArray>() else {
        return datafusion::common::plan_err!("filter {expr} is not a boolean expression");
    };
    for (k, keep) in window(mask, &shape).into_iter().enumerate() {
        sel.restrict_ranges(dims[k], &keep);
    }
    Ok(())
}

/// For each dimension of an array of `shape` (C order), the index ranges
/// where some cell of `mask` is true (NULL counts as false).
fn window(mask: &BooleanArray, shape: &[u64]) -> Vec<Vec<Range<u64>>> {
    let mut any: Vec<Vec<bool>> = shape
        .iter()
        .map(|&n| vec![false; usize::try_from(n).unwrap_or(0)])
        .collect();
    let mut strides = vec![1u64; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        strides[d] = strides[d + 1] * shape[d + 1];
    }
    for (flat, v) in mask.iter().enumerate() {
        if v != Some(true) {
            continue;
        }
        for (d, s) in strides.iter().enumerate() {
            let i = (flat as u64 / s) % shape[d].max(1);
            if let Some(slot) = any[d].get_mut(i as usize) {
                *slot = true;
            }
        }
    }
    any.into_iter()
        .map(|a| ranges_of_mask(&BooleanArray::from(a)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_of_a_2d_mask_is_its_projection_on_each_dimension() {
        // 3 x 4, true at (1, 1), (1, 2) and (2, 2)
        let mut m = vec![false; 12];
        m[5] = true;
        m[6] = true;
        m[10] = true;
        let w = window(&BooleanArray::from(m), &[3, 4]);
        assert_eq!(w, vec![vec![1..3], vec![1..3]]);
    }

    #[test]
    fn an_all_false_mask_keeps_nothing() {
        let w = window(&BooleanArray::from(vec![false; 6]), &[2, 3]);
        assert_eq!(w, vec![Vec::<Range<u64>>::new(), vec![]]);
    }
}
