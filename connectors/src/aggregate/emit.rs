//! Which groups a grid aggregate emits, and its output as a lazy stream of
//! bounded batches.
//!
//! Groups are numbered densely (see [`GroupSpec`]), so a query such as a
//! monthly climatology per cell has millions of them. Their output is
//! built one batch of group ids at a time as the consumer polls, never as
//! whole columns: the states are the only group-sized memory an aggregate
//! holds.

use std::ops::Range;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions, UInt32Array};
use arrow::compute::take;
use arrow::datatypes::SchemaRef;
use datafusion::common::Result as DfResult;

use super::spec::GroupSpec;

/// The groups to emit: those whose class along every grouped dimension
/// occurs among the selected indices.
#[derive(Debug)]
pub struct Emitted {
    groups: Arc<GroupSpec>,
    /// Per grouped dimension, whether each class holds a selected index.
    selected: Vec<Vec<bool>>,
    /// Every class is selected: group ids are emitted as they come.
    all: bool,
    /// No index is selected along some grouped dimension.
    none: bool,
}

impl Emitted {
    /// The groups with a cell in `ranges(dim)` for every grouped dimension.
    /// For a partition's regions this may include groups whose cells lie in
    /// other partitions; their partial states are empty and merge to nothing.
    /// Without GROUP BY there is one group, even over no cells (SQL gives one
    /// row: count 0, avg NULL).
    pub fn new(groups: Arc<GroupSpec>, ranges: impl Fn(usize) -> Vec<Range<u64>>) -> Self {
        let selected: Vec<Vec<bool>> = groups
            .dims
            .iter()
            .map(|g| {
                let mut s = vec![false; g.classes as usize];
                for r in ranges(g.dim) {
                    for i in r {
                        if let Some(&c) = g.class_of.get(i as usize) {
                            s[c as usize] = true;
                        }
                    }
                }
                s
            })
            .collect();
        let all = selected.iter().all(|s| s.iter().all(|&x| x));
        let none = selected.iter().any(|s| !s.contains(&true));
        Emitted {
            groups,
            selected,
            all,
            none,
        }
    }

    /// The number of group ids (emitted or not).
    pub fn len(&self) -> usize {
        self.groups.groups().unwrap_or(0)
    }

    /// Whether no group is emitted.
    pub fn is_empty(&self) -> bool {
        self.none && !self.groups.dims.is_empty()
    }

    /// The emitted group ids within `range`, ascending.
    pub fn ids(&self, range: Range<usize>) -> Vec<usize> {
        if self.is_empty() {
            return vec![];
        }
        if self.all {
            return range.collect();
        }
        range
            .filter(|&g| {
                let mut rest = g;
                for (d, sel) in self.groups.dims.iter().zip(&self.selected).rev() {
                    let c = rest % d.classes as usize;
                    rest /= d.classes as usize;
                    if !sel[c] {
                        return false;
                    }
                }
                true
            })
            .collect()
    }

    /// The GROUP BY key columns of the groups `ids`.
    ///
    /// # Errors
    /// Arrow's `take` failing.
    pub fn keys(&self, ids: &[usize]) -> DfResult<Vec<ArrayRef>> {
        let dims = &self.groups.dims;
        let mut out = Vec::with_capacity(self.groups.keys.len());
        for (k, values) in &self.groups.keys {
            let stride: usize = dims[k + 1..].iter().map(|d| d.classes as usize).product();
            let n = dims[*k].classes as usize;
            let classes =
                UInt32Array::from_iter_values(ids.iter().map(|&g| ((g / stride) % n) as u32));
            out.push(take(values.as_ref(), &classes, None)?);
        }
        Ok(out)
    }

    /// The output as batches of at most `batch_size` group ids, each built
    /// when it is polled: its keys, then `values(ids)` (the aggregates'
    /// columns of those groups).
    pub fn batches<F>(
        self,
        schema: SchemaRef,
        batch_size: usize,
        values: F,
    ) -> impl Iterator<Item = DfResult<RecordBatch>> + Send
    where
        F: Fn(&[usize]) -> DfResult<Vec<ArrayRef>> + Send,
    {
        let n = self.len();
        let batch_size = batch_size.max(1);
        (0..n).step_by(batch_size).filter_map(move |start| {
            let ids = self.ids(start..n.min(start + batch_size));
            if ids.is_empty() {
                return None;
            }
            let batch = || -> DfResult<RecordBatch> {
                let mut columns = self.keys(&ids)?;
                columns.extend(values(&ids)?);
                Ok(RecordBatch::try_new_with_options(
                    Arc::clone(&schema),
                    columns,
                    &RecordBatchOptions::new().with_row_count(Some(ids.len())),
                )?)
            };
            Some(batch())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::spec::DimGroups;
    use arrow::array::{Array, Int64Array};

    fn spec() -> Arc<GroupSpec> {
        // dim 0: 4 indices in 2 classes; dim 2: 3 indices, one class each
        let k0: ArrayRef = Arc::new(Int64Array::from(vec![10, 20]));
        let k1: ArrayRef = Arc::new(Int64Array::from(vec![100, 200, 300]));
        Arc::new(GroupSpec {
            dims: vec![
                DimGroups {
                    dim: 0,
                    class_of: vec![0, 0, 1, 1],
                    classes: 2,
                },
                DimGroups {
                    dim: 2,
                    class_of: vec![0, 1, 2],
                    classes: 3,
                },
            ],
            keys: vec![(1, k1), (0, k0)],
        })
    }

    #[test]
    fn ids_and_keys_of_selected_classes_in_small_batches() {
        let e = Emitted::new(spec(), |d| match d {
            0 => vec![2..4],
            _ => vec![0..1, 2..3],
        });
        assert_eq!(e.len(), 6);
        assert_eq!(e.ids(0..6), vec![3, 5]);
        let keys = e.keys(&[3, 5]).unwrap();
        let k = |a: &ArrayRef| {
            a.as_any()
                .downcast_ref::<Int64Array>()
                .unwrap()
                .values()
                .to_vec()
        };
        assert_eq!(k(&keys[0]), vec![100, 300]);
        assert_eq!(k(&keys[1]), vec![20, 20]);
        let schema = Arc::new(arrow::datatypes::Schema::new(vec![
            arrow::datatypes::Field::new("b", arrow::datatypes::DataType::Int64, false),
            arrow::datatypes::Field::new("a", arrow::datatypes::DataType::Int64, false),
            arrow::datatypes::Field::new("g", arrow::datatypes::DataType::Int64, false),
        ]));
        let batches: Vec<RecordBatch> = e
            .batches(schema, 4, |ids| {
                Ok(vec![
                    Arc::new(Int64Array::from_iter_values(ids.iter().map(|&g| g as i64)))
                        as ArrayRef,
                ])
            })
            .collect::<DfResult<_>>()
            .unwrap();
        // windows 0..4 and 4..6 each hold one emitted group
        assert_eq!(batches.len(), 2);
        assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 2);
        assert_eq!(k(batches[1].column(2)), vec![5]);
    }

    #[test]
    fn one_group_without_group_by_and_none_over_an_empty_selection() {
        let ungrouped = Arc::new(GroupSpec {
            dims: vec![],
            keys: vec![],
        });
        let e = Emitted::new(ungrouped, |_| vec![]);
        assert_eq!(e.ids(0..1), vec![0]);
        let e = Emitted::new(spec(), |d| if d == 0 { vec![] } else { vec![0..3] });
        assert!(e.is_empty());
        assert!(e.ids(0..6).is_empty());
    }
}
