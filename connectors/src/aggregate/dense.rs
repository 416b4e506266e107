//! The dense layout in which a cluster's partial grid aggregates travel to
//! the task that merges them.
//!
//! Group ids are dense (see [`GroupSpec`](super::spec::GroupSpec)), so a
//! partial state is a few arrays indexed by group. They travel as blocks of
//! [`BLOCK_GROUPS`] consecutive ids, one row per block: the block's first
//! id, then per aggregate its counts, values and extra values (see
//! [`State`](super::state::State)) as lists. A group's id is implied by its
//! position, so nothing is hashed on either side, no key column travels, and
//! the merge adds by index; blocks no cell of the partition reached are not
//! sent. DataFusion's own exchange sends one hashed row per group with its
//! keys and merges them in a hash table: for a monthly climatology per cell
//! (12 M groups) that exchange and merge cost more than the scan.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, ListArray, RecordBatch, UInt64Array};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, Field, Float64Type, Schema, SchemaRef, UInt64Type};
use datafusion::common::Result as DfResult;
use datafusion::error::DataFusionError;

use super::spec::{AggFn, AggSpec};
use super::state::{States, keeps_extra};

/// Groups per block.
pub const BLOCK_GROUPS: usize = 1 << 16;

fn list_of(t: DataType) -> DataType {
    DataType::List(Arc::new(Field::new_list_field(t, false)))
}

/// The schema of the blocks of `aggs`' states.
pub fn dense_schema(aggs: &[AggSpec]) -> SchemaRef {
    let mut fields = vec![Field::new("first_group", DataType::UInt64, false)];
    for (i, a) in aggs.iter().enumerate() {
        fields.push(Field::new(
            format!("a{i}_count"),
            list_of(DataType::UInt64),
            false,
        ));
        if a.func != AggFn::Count {
            fields.push(Field::new(
                format!("a{i}_value"),
                list_of(DataType::Float64),
                false,
            ));
        }
        if keeps_extra(a.func) {
            fields.push(Field::new(
                format!("a{i}_extra"),
                list_of(DataType::Float64),
                false,
            ));
        }
    }
    Arc::new(Schema::new(fields))
}

fn one_list(values: ArrayRef) -> ArrayRef {
    let field = Arc::new(Field::new_list_field(values.data_type().clone(), false));
    let offsets = OffsetBuffer::from_lengths([values.len()]);
    Arc::new(ListArray::new(field, offsets, values, None))
}

/// `states` as blocks, one batch per block that holds a counted cell.
pub fn blocks(
    states: States,
    schema: SchemaRef,
) -> impl Iterator<Item = DfResult<RecordBatch>> + Send {
    let n = states.states.first().map_or(0, |s| s.counts.len());
    (0..n).step_by(BLOCK_GROUPS).filter_map(move |start| {
        let range = start..n.min(start + BLOCK_GROUPS);
        let reached = states
            .states
            .iter()
            .any(|s| s.counts[range.clone()].iter().any(|&c| c > 0));
        if !reached {
            return None;
        }
        let mut columns: Vec<ArrayRef> = vec![Arc::new(UInt64Array::from(vec![start as u64]))];
        for s in &states.states {
            let (counts, values, extra) = s.dense(range.clone());
            columns.push(one_list(Arc::new(UInt64Array::from(counts.to_vec()))));
            if s.func != AggFn::Count {
                columns.push(one_list(Arc::new(Float64Array::from(values))));
            }
            if keeps_extra(s.func) {
                columns.push(one_list(Arc::new(Float64Array::from(extra.to_vec()))));
            }
        }
        Some(RecordBatch::try_new(Arc::clone(&schema), columns).map_err(Into::into))
    })
}

fn bad(what: &str) -> DataFusionError {
    DataFusionError::Internal(format!("a dense grid aggregate block {what}"))
}

/// The values of row `row` of list column `c` of `batch`.
fn floats(batch: &RecordBatch, c: usize, row: usize) -> DfResult<Float64Array> {
    let list = batch
        .column(c)
        .as_list_opt::<i32>()
        .ok_or_else(|| bad("has a column that is not a list"))?;
    let values = list.value(row);
    let f = values
        .as_primitive_opt::<Float64Type>()
        .ok_or_else(|| bad("has values that are not float64"))?;
    Ok(f.clone())
}

fn counts(batch: &RecordBatch, c: usize, row: usize) -> DfResult<UInt64Array> {
    let list = batch
        .column(c)
        .as_list_opt::<i32>()
        .ok_or_else(|| bad("has a column that is not a list"))?;
    let values = list.value(row);
    let u = values
        .as_primitive_opt::<UInt64Type>()
        .ok_or_else(|| bad("has counts that are not uint64"))?;
    Ok(u.clone())
}

/// Adds every block of `batch` into `states`, by group index.
///
/// # Errors
/// A batch not in the layout of `states`' aggregates, or a block past their
/// groups.
pub fn merge_blocks(states: &mut States, batch: &RecordBatch) -> DfResult<()> {
    let n = states.states.first().map_or(0, |s| s.counts.len());
    let firsts = batch
        .column(0)
        .as_primitive_opt::<UInt64Type>()
        .ok_or_else(|| bad("has no first group"))?;
    for row in 0..batch.num_rows() {
        let start = usize::try_from(firsts.value(row)).map_err(|_| bad("starts past usize"))?;
        let mut c = 1;
        for s in &mut states.states {
            let cnt = counts(batch, c, row)?;
            c += 1;
            let len = cnt.len();
            if start.checked_add(len).is_none_or(|end| end > n) || cnt.null_count() > 0 {
                return Err(bad(&format!(
                    "of {len} groups at {start} does not fit {n} groups"
                )));
            }
            let values = if s.func == AggFn::Count {
                None
            } else {
                c += 1;
                Some(floats(batch, c - 1, row)?)
            };
            let extra = if keeps_extra(s.func) {
                c += 1;
                Some(floats(batch, c - 1, row)?)
            } else {
                None
            };
            let v = values.as_ref().map_or(&[][..], |a| a.values());
            let e = extra.as_ref().map_or(&[][..], |a| a.values());
            if (values.is_some() && v.len() != len) || (extra.is_some() && e.len() != len) {
                return Err(bad("has lists of different lengths"));
            }
            s.merge_range(start, cnt.values(), v, e);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::spec::AggArg;

    fn spec(func: AggFn) -> AggSpec {
        AggSpec {
            func,
            arg: AggArg::Cells,
            output: DataType::Float64,
        }
    }

    #[test]
    fn blocks_skip_empty_ranges_and_merge_back_by_index() {
        let aggs = vec![
            spec(AggFn::Avg),
            spec(AggFn::Var { sample: true }),
            spec(AggFn::Count),
        ];
        let n = BLOCK_GROUPS * 3 + 5;
        let mut a = States::new(&aggs, n);
        // groups in the first and the last block only
        for g in [3, n - 1] {
            a.states[0].add(g, 2.0);
            a.states[0].add(g, 4.0);
            a.states[1].add(g, 2.0);
            a.states[1].add(g, 4.0);
            a.states[2].add(g, 1.0);
        }
        let schema = dense_schema(&aggs);
        let batches: Vec<RecordBatch> = blocks(a, Arc::clone(&schema))
            .collect::<DfResult<_>>()
            .unwrap();
        assert_eq!(batches.len(), 2);
        let mut merged = States::new(&aggs, n);
        for b in &batches {
            merge_blocks(&mut merged, b).unwrap();
            merge_blocks(&mut merged, b).unwrap();
        }
        let ids = [3, 4, n - 1];
        let avg = merged.states[0].finish(&ids, &DataType::Float64).unwrap();
        let avg = avg.as_primitive::<Float64Type>();
        assert_eq!(avg.value(0), 3.0);
        assert!(avg.is_null(1));
        assert_eq!(avg.value(2), 3.0);
        // the sample variance of 2, 4, 2, 4
        let var = merged.states[1].finish(&ids, &DataType::Float64).unwrap();
        assert!((var.as_primitive::<Float64Type>().value(0) - 4.0 / 3.0).abs() < 1e-12);
        assert_eq!(merged.states[2].counts[n - 1], 2);
    }

    #[test]
    fn a_block_past_the_groups_is_an_error() {
        let aggs = vec![spec(AggFn::Count)];
        let mut a = States::new(&aggs, 10);
        a.states[0].add(9, 1.0);
        let batch = blocks(a, dense_schema(&aggs)).next().unwrap().unwrap();
        let mut small = States::new(&aggs, 5);
        let err = merge_blocks(&mut small, &batch).unwrap_err();
        assert!(err.to_string().contains("does not fit 5 groups"), "{err}");
    }
}
