//! The last physical optimizer rule of a distributed plan: partition tags
//! under gridsql's leaves, so that each Ballista task reads only its slice
//! of a grid scan (see [`gridsql_connectors::partition_tags`]).

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::error::Result;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use gridsql_connectors::aggregate::GridAggregateExec;
use gridsql_connectors::scan::GridScanExec;

/// Gives every [`GridScanExec`] and split [`GridAggregateExec`] its
/// partition tags. Runs after every other rule, so none of them sees the
/// tags (which would look to them like an input to repartition).
#[derive(Debug, Default)]
pub struct TagGridPartitions;

impl PhysicalOptimizerRule for TagGridPartitions {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            if !node.children().is_empty() {
                return Ok(Transformed::no(node));
            }
            if let Some(scan) = node.downcast_ref::<GridScanExec>() {
                return Ok(Transformed::yes(Arc::new(scan.with_partition_tags()?)));
            }
            if let Some(agg) = node.downcast_ref::<GridAggregateExec>()
                && agg.mode().is_split()
            {
                return Ok(Transformed::yes(Arc::new(agg.with_partition_tags()?)));
            }
            Ok(Transformed::no(node))
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "tag_grid_partitions"
    }

    fn schema_check(&self) -> bool {
        true
    }
}
