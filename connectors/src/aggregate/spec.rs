//! What a grid aggregate computes: the groups, as combinations of index
//! classes along dimensions, and each aggregate's function and argument.

use arrow::array::ArrayRef;
use arrow::datatypes::DataType;

/// How the indices of one dimension fall into groups.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct DimGroups {
    /// Grid dimension index.
    pub dim: usize,
    /// Group class of each index along the dimension.
    pub class_of: Vec<u32>,
    /// Number of classes.
    pub classes: u32,
}

/// The GROUP BY of a grid aggregate.
#[derive(Debug, Clone)]
pub struct GroupSpec {
    /// Grouped dimensions, in grid order; the group id is the mixed-radix
    /// number of their classes (the last dimension varies fastest).
    pub dims: Vec<DimGroups>,
    /// One output column per GROUP BY expression: the index into `dims` it
    /// depends on and its value for each class of that dimension.
    pub keys: Vec<(usize, ArrayRef)>,
}

impl GroupSpec {
    /// Number of groups, or `None` when it overflows.
    pub fn groups(&self) -> Option<usize> {
        self.dims
            .iter()
            .try_fold(1usize, |a, d| a.checked_mul(d.classes as usize))
    }
}

/// The aggregate functions computed in the scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum AggFn {
    /// `avg`.
    Avg,
    /// `sum`.
    Sum,
    /// `count`.
    Count,
    /// `min`.
    Min,
    /// `max`.
    Max,
    /// `var_pop` (`sample: false`) or `var`/`var_samp` (`sample: true`).
    Var {
        /// Divide by n − 1 instead of n.
        sample: bool,
    },
    /// `stddev_pop` or `stddev`/`stddev_samp`: the square root of [`AggFn::Var`].
    Stddev {
        /// Divide by n − 1 instead of n.
        sample: bool,
    },
    /// `weighted_avg(value, weight)` (gridsql's UDF): Σ value·weight / Σ weight
    /// over the cells where both are valid; the argument is an
    /// [`AggArg::Value`] with a weight.
    WeightedAvg,
}

impl AggFn {
    /// The SQL name, as plans show it.
    pub fn name(self) -> &'static str {
        match self {
            AggFn::Avg => "avg",
            AggFn::Sum => "sum",
            AggFn::Count => "count",
            AggFn::Min => "min",
            AggFn::Max => "max",
            AggFn::Var { sample: false } => "var_pop",
            AggFn::Var { sample: true } => "var_samp",
            AggFn::Stddev { sample: false } => "stddev_pop",
            AggFn::Stddev { sample: true } => "stddev_samp",
            AggFn::WeightedAvg => "weighted_avg",
        }
    }

    /// Whether the state keeps a running mean and sum of squared
    /// deviations (Welford) instead of a sum.
    pub fn is_moment(self) -> bool {
        matches!(self, AggFn::Var { .. } | AggFn::Stddev { .. })
    }
}

/// The argument of an aggregate, per cell.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum AggArg {
    /// Every cell counts (`count(*)`).
    Cells,
    /// A variable's value, optionally times a weight that depends on one
    /// dimension (`sla * cos(radians(latitude))`); NULL when either is.
    Value {
        /// Grid variable index.
        var: usize,
        /// Grid dimension and its weight per index.
        weight: Option<(usize, Vec<Option<f64>>)>,
    },
    /// A dimension weight where the variable is not NULL
    /// (`CASE WHEN sla IS NOT NULL THEN cos(radians(latitude)) END`).
    WeightWhereValid {
        /// Grid variable index.
        var: usize,
        /// Grid dimension and its weight per index.
        weight: (usize, Vec<Option<f64>>),
    },
}

impl AggArg {
    /// The variable the argument reads, if any.
    pub fn var(&self) -> Option<usize> {
        match self {
            AggArg::Cells => None,
            AggArg::Value { var, .. } | AggArg::WeightWhereValid { var, .. } => Some(*var),
        }
    }
}

/// One aggregate of the query.
#[derive(Debug, Clone)]
pub struct AggSpec {
    /// Function.
    pub func: AggFn,
    /// Argument.
    pub arg: AggArg,
    /// Output type (Float64 or Float32 for avg/sum/min/max, Int64 for count).
    pub output: DataType,
}
