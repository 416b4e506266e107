//! Units of result columns, for plot labels and for the variables a COPY
//! writes: a column keeps the CF `units` of the grid variable it is
//! computed from.
//!
//! A plain column reference keeps its field metadata through DataFusion's
//! plans, so its units are on the output field. An aggregate or an
//! expression (`avg(sla) AS sla`) loses the metadata; then the units are
//! those of the variables the column's expression names, when they all have
//! the same units and the expression only applies operations that keep
//! units: the functions in [`KEEPS_UNITS`] and sums or differences of
//! columns (anomalies). A call of any other function (`count`, `regr_slope`,
//! `kelvin_to_celsius`) or arithmetic with a constant (`tas - 273.15`) gives
//! no units; `\plot ... UNITS` names them. A label heuristic, not
//! dimensional analysis.

use std::collections::BTreeSet;

use arrow::datatypes::{Field, Schema};
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::logical_expr::LogicalPlan;
use gridsql_connectors::grid::model::meta;

/// The units of each output column of `plan` (`None` when unknown).
pub fn column_units(plan: &LogicalPlan) -> Vec<Option<String>> {
    let output = plan.schema().inner();
    let variables = scanned_variables(plan);
    let expressions = top_expressions(plan);
    output
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            if let Some(u) = units_of(f) {
                return Some(u);
            }
            let text = expressions
                .as_ref()
                .and_then(|e| e.get(i).cloned())
                .unwrap_or_else(|| f.name().clone());
            if !keeps_units(&text) {
                return None;
            }
            let names = identifiers(&text);
            let found: BTreeSet<&String> = variables
                .iter()
                .filter(|(name, _)| names.contains(name.as_str()))
                .map(|(_, u)| u)
                .collect();
            match found.len() {
                1 => found.into_iter().next().cloned(),
                _ => None,
            }
        })
        .collect()
}

/// Functions whose result has the units of their argument.
const KEEPS_UNITS: &[&str] = &[
    // a cast between number types (the float64 DataFusion adds for
    // `float32 - float64`) keeps the units
    "cast",
    "try_cast",
    "avg",
    "mean",
    "min",
    "max",
    "median",
    "approx_median",
    "approx_percentile_cont",
    "stddev",
    "stddev_samp",
    "stddev_pop",
    "weighted_avg",
    "first_value",
    "last_value",
    "nth_value",
    "lag",
    "lead",
    "abs",
    "round",
    "trunc",
    "coalesce",
    "nanvl",
    "greatest",
    "least",
    // weights inside `weighted_avg(x, w)`: they do not change the units of `x`
    "lat_weight",
    "cell_area",
    "cos",
    "radians",
];

/// Arrow type names, which DataFusion prints around literals (`Float64(273.15)`).
const LITERAL_TYPES: &[&str] = &[
    "Float16",
    "Float32",
    "Float64",
    "Int8",
    "Int16",
    "Int32",
    "Int64",
    "UInt8",
    "UInt16",
    "UInt32",
    "UInt64",
    "Decimal128",
    "Decimal256",
];

/// Whether an expression's text only applies unit-keeping operations.
fn keeps_units(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut calls = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        let ident = c.is_alphanumeric() || c == '_';
        match (ident, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                if c == '(' {
                    calls.push((&text[s..i], i));
                }
                start = None;
            }
            _ => {}
        }
    }
    for (name, open) in calls {
        if LITERAL_TYPES.contains(&name) {
            // a numeric literal next to an arithmetic operator changes units
            let before = text[..open - name.len()].trim_end();
            let after = text[open..]
                .find(')')
                .map_or("", |close| text[open + close + 1..].trim_start());
            let op = |s: &str| s.starts_with(['+', '-', '*', '/', '%']);
            let op_before = before.ends_with(['+', '-', '*', '/', '%']);
            if op_before || op(after) {
                return false;
            }
        } else if !KEEPS_UNITS.contains(&name.to_ascii_lowercase().as_str()) {
            return false;
        }
    }
    // products and quotients of columns change units
    !bytes.windows(3).any(|w| w == b" * " || w == b" / ")
}

/// Non-empty `units` of a field.
fn units_of(f: &Field) -> Option<String> {
    f.metadata()
        .get(meta::UNITS)
        .filter(|u| !u.trim().is_empty())
        .cloned()
}

/// (name, units) of every variable with units in the tables `plan` scans.
fn scanned_variables(plan: &LogicalPlan) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let _ = plan.apply(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            let schema: std::sync::Arc<Schema> = scan.source.schema();
            for f in schema.fields() {
                let is_variable =
                    f.metadata().get(meta::ROLE).map(String::as_str) != Some("dimension");
                if is_variable && let Some(u) = units_of(f) {
                    out.push((f.name().clone(), u));
                }
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
    out
}

/// The text of each expression of the projection that makes the output,
/// looking through sorts, limits, filters and distinct.
fn top_expressions(plan: &LogicalPlan) -> Option<Vec<String>> {
    let mut node = plan;
    loop {
        match node {
            LogicalPlan::Projection(p) => {
                // an expression over an aggregate names the aggregate's
                // output column, whose name holds the aggregated expression
                return Some(p.expr.iter().map(ToString::to_string).collect());
            }
            LogicalPlan::Aggregate(a) => {
                return Some(
                    a.group_expr
                        .iter()
                        .chain(&a.aggr_expr)
                        .map(ToString::to_string)
                        .collect(),
                );
            }
            LogicalPlan::Sort(_)
            | LogicalPlan::Limit(_)
            | LogicalPlan::Filter(_)
            | LogicalPlan::Distinct(_)
            | LogicalPlan::SubqueryAlias(_) => {
                node = node.inputs().into_iter().next()?;
            }
            _ => return None,
        }
    }
}

/// The identifiers in an expression's text (`avg(sla.sla) AS m` → avg, sla, m).
fn identifiers(text: &str) -> BTreeSet<&str> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|s| !s.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use arrow::datatypes::DataType;
    use datafusion::datasource::MemTable;
    use datafusion::prelude::SessionContext;

    use super::*;

    async fn units_for(sql: &str) -> Vec<Option<String>> {
        let with = |name: &str, role: &str, units: &str| {
            Field::new(name, DataType::Float64, true).with_metadata(HashMap::from([
                (meta::ROLE.to_string(), role.to_string()),
                (meta::UNITS.to_string(), units.to_string()),
            ]))
        };
        let schema = Arc::new(Schema::new(vec![
            with("lat", "dimension", "degrees_north"),
            with("tas", "variable", "K"),
            with("pr", "variable", "mm/day"),
        ]));
        let ctx = SessionContext::new();
        let table = MemTable::try_new(schema, vec![vec![]]).expect("table");
        ctx.register_table("t", Arc::new(table)).expect("register");
        let df = ctx.sql(sql).await.expect("plan");
        column_units(df.logical_plan())
    }

    #[tokio::test]
    async fn plain_aggregated_and_mixed_columns() {
        let u = units_for(
            "SELECT lat, tas, avg(pr) AS p, avg(tas) - 273.15 AS c, avg(tas) + avg(pr) AS mix, \
             count(*) AS n, stddev(tas) AS sd, max(tas) - min(tas) AS spread, \
             approx_percentile_cont(pr, 0.9) AS p90, regr_slope(tas, lat) AS trend, \
             avg(tas * 2) AS twice FROM t GROUP BY lat, tas ORDER BY lat",
        )
        .await;
        let s = |x: &str| Some(x.to_string());
        assert_eq!(
            u,
            vec![
                s("degrees_north"),
                s("K"),
                s("mm/day"),
                None,
                None,
                None,
                s("K"),
                s("K"),
                s("mm/day"),
                None,
                None
            ]
        );
    }
}
