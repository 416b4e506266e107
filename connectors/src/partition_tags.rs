//! Partition tags: how a Ballista scheduler learns to give each task only
//! its share of a grid scan.
//!
//! Ballista 55 runs a stage as tasks that each cover a slice of the stage's
//! partitions. Before shipping a task, its scheduler cuts the plan's leaves
//! down to the slice, but only leaves it knows: file scans, in-memory scans
//! and shuffle readers (`restrict_plan_to_partitions` in ballista-scheduler's
//! `task_builder.rs`). A [`GridScanExec`](crate::scan::GridScanExec) or a
//! partial [`GridAggregateExec`](crate::aggregate::GridAggregateExec) went
//! out whole, so every task of a four-partition scan read all four, and two
//! tasks returned grouped counts twice too large.
//!
//! So in distributed plans our leaves get a child it does know: an
//! in-memory scan whose partition `i` holds one row, the number `i`. The
//! scheduler slices it like any in-memory scan and hands it back through
//! `with_new_children`, and our node keeps the partitions whose numbers
//! survived. The child is never executed.

use std::sync::Arc;

use arrow::array::{Array, RecordBatch, UInt32Array};
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::Result as DfResult;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::error::DataFusionError;
use datafusion::physical_plan::ExecutionPlan;

use crate::grid::{Region, select_partitions};

/// An in-memory scan of `n` partitions, partition `i` one row holding `i`.
///
/// # Errors
/// More partitions than a `u32` counts.
pub fn tags(n: usize) -> DfResult<Arc<dyn ExecutionPlan>> {
    let schema = Arc::new(Schema::new(vec![Field::new(
        "grid_partition",
        DataType::UInt32,
        false,
    )]));
    let partitions = (0..n)
        .map(|i| {
            let i = u32::try_from(i).map_err(|_| {
                DataFusionError::Plan(format!("{n} partitions are too many to tag"))
            })?;
            let batch = RecordBatch::try_new(
                Arc::clone(&schema),
                vec![Arc::new(UInt32Array::from(vec![i]))],
            )?;
            Ok(vec![batch])
        })
        .collect::<DfResult<Vec<_>>>()?;
    Ok(MemorySourceConfig::try_new_exec(&partitions, schema, None)?)
}

/// The partition numbers a tag scan (see [`tags`]) still holds, in order.
///
/// # Errors
/// `plan` is not a tag scan.
pub fn tagged(plan: &Arc<dyn ExecutionPlan>) -> DfResult<Vec<usize>> {
    let memory = memory_source(plan).ok_or_else(|| {
        DataFusionError::Internal(format!(
            "a grid node's child must be its partition tags, not {}",
            plan.name()
        ))
    })?;
    let mut out = Vec::new();
    for batch in memory.partitions().iter().flatten() {
        let numbers = batch
            .columns()
            .first()
            .and_then(|c| c.as_any().downcast_ref::<UInt32Array>())
            .ok_or_else(|| {
                DataFusionError::Internal("partition tags are not a UInt32 column".into())
            })?;
        out.extend(numbers.values().iter().map(|&i| i as usize));
    }
    Ok(out)
}

/// The in-memory source of `plan`, if it is an in-memory scan.
fn memory_source(plan: &Arc<dyn ExecutionPlan>) -> Option<&MemorySourceConfig> {
    let source: &dyn std::any::Any = plan
        .downcast_ref::<DataSourceExec>()?
        .data_source()
        .as_ref();
    source.downcast_ref::<MemorySourceConfig>()
}

/// A grid node's partitions and its partition tags, if any.
pub type Retagged = (Vec<Vec<Region>>, Option<Arc<dyn ExecutionPlan>>);

/// A grid node's partitions after its children were replaced by
/// `children`: none (untagged), or one tag scan naming which of
/// `partitions` to keep. Returns the kept partitions and fresh tags that
/// number them from 0, so that replacing the children again is a no-op.
///
/// # Errors
/// More than one child, a child that is not a tag scan, or a tag past the
/// end of `partitions`.
pub fn retag(
    partitions: &[Vec<Region>],
    children: &[Arc<dyn ExecutionPlan>],
    owner: &str,
) -> DfResult<Retagged> {
    match children {
        [] => Ok((partitions.to_vec(), None)),
        [child] => {
            let keep = tagged(child)?;
            let identity =
                keep.len() == partitions.len() && keep.iter().enumerate().all(|(i, &k)| i == k);
            if identity {
                return Ok((partitions.to_vec(), Some(Arc::clone(child))));
            }
            let kept = select_partitions(partitions, &keep, owner)?;
            let fresh = tags(kept.len())?;
            Ok((kept, Some(fresh)))
        }
        _ => Err(DataFusionError::Internal(format!(
            "{owner} takes at most one child (its partition tags), not {}",
            children.len()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(n: u64) -> Vec<Vec<Region>> {
        (0..n).map(|i| vec![vec![i..i + 1]]).collect()
    }

    #[test]
    fn tags_number_their_partitions() {
        let t = tags(3).expect("tags");
        assert_eq!(t.properties().output_partitioning().partition_count(), 3);
        assert_eq!(tagged(&t).expect("tagged"), vec![0, 1, 2]);
    }

    #[test]
    fn retag_keeps_the_sliced_partitions_and_renumbers() {
        let all = parts(4);
        // What the scheduler hands back for a task given partitions 1 and 3.
        let memory = tags(4).expect("tags");
        let config = memory_source(&memory).expect("memory scan").clone();
        let kept: Vec<_> = [1, 3]
            .iter()
            .map(|&i| config.partitions()[i].clone())
            .collect();
        let sliced: Arc<dyn ExecutionPlan> =
            MemorySourceConfig::try_new_exec(&kept, config.original_schema(), None).expect("slice");
        let (p, t) = retag(&all, &[sliced], "test").expect("retag");
        assert_eq!(p, vec![all[1].clone(), all[3].clone()]);
        let t = t.expect("fresh tags");
        assert_eq!(tagged(&t).expect("tagged"), vec![0, 1]);
        // Again with the fresh tags: nothing changes.
        let (again, _) = retag(&p, &[t], "test").expect("retag");
        assert_eq!(again, p);
    }

    #[test]
    fn a_tag_past_the_end_is_an_error() {
        let err = retag(&parts(2), &[tags(3).expect("tags")], "GridScanExec").unwrap_err();
        assert!(
            err.to_string().contains("GridScanExec: partition 2"),
            "{err}"
        );
    }
}
