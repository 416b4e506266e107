//! Aggregates computed inside the grid scan: dense per-group reductions
//! straight from decoded chunk buffers, no rows materialised.
//!
//! A query such as `SELECT time, avg(sla) FROM t GROUP BY time` groups by
//! functions of dimension columns only, so every group is a product of
//! index sets along the dimensions: a cell's group follows from its indices
//! alone. [`GridAggregateExec`] reads the scan's regions, decodes each
//! variable once, and adds every cell into dense arrays indexed by group,
//! one set per partition, merged at the end. The optimizer rule that plants
//! it (in `gridsql-engine`) describes the query with [`spec`].

pub mod dense;
pub mod emit;
pub mod exec;
mod kernels;
pub mod owned;
pub mod spec;
pub mod state;

pub use exec::GridAggregateExec;
pub use spec::{AggArg, AggFn, AggSpec, DimGroups, GroupSpec};
