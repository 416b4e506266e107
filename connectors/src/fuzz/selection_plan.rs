//! Fuzz body: the coordinate-filter → index-range planner. Random
//! coordinates (ascending, descending, unordered with NaN and NULL, or bare
//! indices), random chunking (with file splits along the first dimension,
//! as multi-file datasets have) and random filters on dimension columns go
//! through [`GridTableProvider::scan`], exactly as a query plans.
//!
//! Checked: per dimension the selection holds exactly the indices where a
//! direct evaluation of the filters (SQL three-valued logic, Arrow's total
//! order on floats) is true; the regions tile the selection, each inside
//! one chunk, in C order; the partitions are at most the target, none
//! empty, and together the regions in order.
//!
//! Input layout: a byte stream read front to back (zeros once exhausted):
//! rank, then per dimension size, chunk length and coordinate kind, then
//! the coordinate bytes, the target partition count, the file split bytes
//! and the filters.

use std::ops::Range;
use std::sync::{Arc, OnceLock};

use arrow::array::{ArrayRef, Float64Array};
use async_trait::async_trait;
use datafusion::execution::session_state::SessionState;
use datafusion::logical_expr::{Expr, col, lit};
use datafusion::prelude::{SessionConfig, SessionContext};

use super::block_on;
use crate::cf::{Attributes, CfDecoding, RawType};
use crate::error::{ConnectorError, Result};
use crate::grid::model::VariableDecoding;
use crate::grid::plan::region_cells;
use crate::grid::selection::ranges_of_mask;
use crate::grid::{Dimension, FileSplits, Grid, GridReader, GridVariable, RawBuffer};
use crate::provider::GridTableProvider;
use crate::scan::GridScanExec;
use crate::table::{Format, GridTable, TableSpec};

/// Reads the input front to back, zeros once it is exhausted.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn next(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
}

/// One coordinate value: a number or NULL.
type Coord = Option<f64>;

/// A filter on one dimension, as the direct evaluation sees it.
#[derive(Debug, Clone)]
enum Filter {
    Cmp(usize, Cmp, f64),
    Between(usize, f64, f64),
    InList(usize, Vec<f64>),
    IsNull(usize),
    Not(Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
}

#[derive(Debug, Clone, Copy)]
enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

/// A planner-only reader: the planner never reads data.
#[derive(Debug)]
struct NoData;

#[async_trait]
impl GridReader for NoData {
    async fn read(&self, variable: &str, _: &[Range<u64>]) -> Result<RawBuffer> {
        Err(ConnectorError::Variable {
            dataset: "fuzz".into(),
            variable: variable.into(),
            reason: "the planner fuzz target reads no data".into(),
        })
    }
}

/// Sessions with 1–8 target partitions, built once.
fn sessions() -> &'static Vec<SessionState> {
    static S: OnceLock<Vec<SessionState>> = OnceLock::new();
    S.get_or_init(|| {
        (1..=8)
            .map(|n| {
                SessionContext::new_with_config(SessionConfig::new().with_target_partitions(n))
                    .state()
            })
            .collect()
    })
}

/// Runs the target on one input.
pub fn run(data: &[u8]) -> bool {
    let mut b = Bytes(data);
    let rank = 1 + b.next() as usize % 3;
    let mut dims = Vec::new();
    let mut coords: Vec<Vec<Coord>> = Vec::new();
    let mut chunks = Vec::new();
    let mut indexed = Vec::new();
    for d in 0..rank {
        let size = 1 + u64::from(b.next() % 24);
        chunks.push(1 + u64::from(b.next() % 10));
        let kind = b.next() % 4;
        let name = format!("d{d}");
        let values: Vec<Coord> = match kind {
            0 | 1 => {
                let start = f64::from(b.next() as i8);
                let step = f64::from(1 + b.next() % 4) / 2.0;
                let sign = if kind == 0 { 1.0 } else { -1.0 };
                (0..size)
                    .map(|i| Some(start + sign * step * i as f64))
                    .collect()
            }
            2 => (0..size)
                .map(|_| match b.next() {
                    255 => Some(f64::NAN),
                    254 => None,
                    v => Some(f64::from(v % 16) - 8.0),
                })
                .collect(),
            _ => (0..size).map(|i| Some(i as f64)).collect(),
        };
        indexed.push(kind == 3);
        if kind == 3 {
            dims.push(Dimension::indexed(&name, size));
        } else {
            let array: ArrayRef = Arc::new(Float64Array::from(values.clone()));
            dims.push(Dimension::with_values(
                &name,
                variable(&name, vec![name.clone()], vec![size], vec![size]),
                array,
            ));
        }
        coords.push(values);
    }
    let target = 1 + b.next() as usize % 8;
    let shape: Vec<u64> = dims.iter().map(|d| d.size).collect();
    let files = (!b.next().is_multiple_of(2)).then(|| {
        let mut starts = vec![0];
        for i in 1..shape[0] {
            if b.next() % 3 == 0 {
                starts.push(i);
            }
        }
        FileSplits { dim: 0, starts }
    });
    let names: Vec<String> = dims.iter().map(|d| d.name.clone()).collect();
    let grid = Grid {
        dims,
        variables: vec![variable("v", names, shape.clone(), chunks)],
        aux: vec![],
        unreadable: vec![],
        global_attrs: Attributes::new(),
        files,
    };
    let mut filters = Vec::new();
    for _ in 0..b.next() % 4 {
        filters.push(filter(&mut b, &coords, 2));
    }
    let exprs: Vec<Expr> = filters.iter().map(|f| expr(f, &indexed)).collect();
    let spec = TableSpec {
        format: Format::Zarr,
        location: "fuzz".into(),
        options: Default::default(),
    };
    let table = Arc::new(GridTable::new(spec, grid, Arc::new(NoData)));
    let provider = GridTableProvider::new(Arc::clone(&table));
    let state = &sessions()[target - 1];
    let plan = match block_on(datafusion::catalog::TableProvider::scan(
        &provider, state, None, &exprs, None,
    )) {
        Ok(p) => p,
        Err(e) => panic!("planning {exprs:?} failed: {e}"),
    };
    let any: &dyn std::any::Any = plan.as_ref();
    let Some(scan) = any.downcast_ref::<GridScanExec>() else {
        panic!("plan is not a grid scan: {plan:?}");
    };
    check(scan, &coords, &filters, target, &table);
    true
}

/// A float64 variable (or coordinate variable) without attributes.
fn variable(name: &str, dims: Vec<String>, shape: Vec<u64>, chunks: Vec<u64>) -> GridVariable {
    GridVariable {
        name: name.into(),
        dims,
        shape,
        chunks,
        decoding: VariableDecoding {
            cf: CfDecoding::from_attrs(RawType::F64, &Attributes::new(), None),
            time: None,
        },
        attrs: Attributes::new(),
        kind: crate::grid::VarKind::Numeric,
    }
}

/// A constant: often one of the dimension's own values (so that `=` hits).
fn constant(b: &mut Bytes<'_>, coords: &[Coord]) -> f64 {
    let x = b.next();
    if x.is_multiple_of(4) {
        let v = coords[(x as usize / 4) % coords.len()];
        if let Some(v) = v.filter(|v| !v.is_nan()) {
            return v;
        }
    }
    f64::from(b.next() as i8) / 2.0
}

fn filter(b: &mut Bytes<'_>, coords: &[Vec<Coord>], depth: u8) -> Filter {
    let d = b.next() as usize % coords.len();
    let c = &coords[d];
    let op = b.next() % if depth == 0 { 9 } else { 11 };
    let cmp = [Cmp::Lt, Cmp::Le, Cmp::Gt, Cmp::Ge, Cmp::Eq, Cmp::Ne];
    match op {
        0..=5 => Filter::Cmp(d, cmp[op as usize], constant(b, c)),
        6 => {
            let lo = constant(b, c);
            Filter::Between(d, lo, constant(b, c))
        }
        7 => {
            let n = 1 + b.next() % 3;
            Filter::InList(d, (0..n).map(|_| constant(b, c)).collect())
        }
        8 => Filter::IsNull(d),
        9 => Filter::Not(Box::new(filter(b, coords, depth - 1))),
        _ => {
            // Both sides on the same dimension: still a one-dimension filter.
            let left = Filter::Cmp(d, cmp[b.next() as usize % 6], constant(b, c));
            let right = Filter::Cmp(d, cmp[b.next() as usize % 6], constant(b, c));
            Filter::Or(Box::new(left), Box::new(right))
        }
    }
}

/// The literal of a constant in the type of dimension `d`'s column.
fn literal(v: f64, indexed: bool) -> Expr {
    if indexed {
        lit(v.floor() as i64)
    } else {
        lit(v)
    }
}

fn expr(f: &Filter, indexed: &[bool]) -> Expr {
    let c = |d: usize| col(format!("d{d}"));
    match f {
        Filter::Cmp(d, op, v) => {
            let (l, r) = (c(*d), literal(*v, indexed[*d]));
            match op {
                Cmp::Lt => l.lt(r),
                Cmp::Le => l.lt_eq(r),
                Cmp::Gt => l.gt(r),
                Cmp::Ge => l.gt_eq(r),
                Cmp::Eq => l.eq(r),
                Cmp::Ne => l.not_eq(r),
            }
        }
        Filter::Between(d, lo, hi) => {
            c(*d).between(literal(*lo, indexed[*d]), literal(*hi, indexed[*d]))
        }
        Filter::InList(d, vs) => {
            c(*d).in_list(vs.iter().map(|v| literal(*v, indexed[*d])).collect(), false)
        }
        Filter::IsNull(d) => c(*d).is_null(),
        Filter::Not(inner) => Expr::Not(Box::new(expr(inner, indexed))),
        Filter::Or(a, b) => expr(a, indexed).or(expr(b, indexed)),
    }
}

/// The dimension a filter constrains.
fn dim_of(f: &Filter) -> usize {
    match f {
        Filter::Cmp(d, ..) | Filter::Between(d, ..) | Filter::InList(d, _) | Filter::IsNull(d) => {
            *d
        }
        Filter::Not(i) => dim_of(i),
        Filter::Or(a, _) => dim_of(a),
    }
}

/// SQL three-valued evaluation of a filter at one coordinate value, with
/// Arrow's total order on floats (NaN equals NaN and sorts above +inf).
fn eval(f: &Filter, x: Coord, indexed: bool) -> Option<bool> {
    let k = |v: f64| if indexed { v.floor() } else { v };
    let ord = |v: f64| x.map(|x| x.total_cmp(&k(v)));
    match f {
        Filter::Cmp(_, op, v) => ord(*v).map(|o| match op {
            Cmp::Lt => o.is_lt(),
            Cmp::Le => o.is_le(),
            Cmp::Gt => o.is_gt(),
            Cmp::Ge => o.is_ge(),
            Cmp::Eq => o.is_eq(),
            Cmp::Ne => o.is_ne(),
        }),
        Filter::Between(_, lo, hi) => {
            let a = ord(*lo).map(|o| o.is_ge());
            let b = ord(*hi).map(|o| o.is_le());
            and(a, b)
        }
        Filter::InList(_, vs) => {
            x?;
            vs.iter()
                .any(|v| ord(*v).is_some_and(|o| o.is_eq()))
                .then_some(true)
                .or(Some(false))
        }
        Filter::IsNull(_) => Some(x.is_none()),
        Filter::Not(i) => eval(i, x, indexed).map(|v| !v),
        Filter::Or(a, b) => match (eval(a, x, indexed), eval(b, x, indexed)) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        },
    }
}

fn and(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    }
}

/// Compares the scan's selection, regions and partitions with the direct
/// evaluation.
fn check(
    scan: &GridScanExec,
    coords: &[Vec<Coord>],
    filters: &[Filter],
    target: usize,
    table: &GridTable,
) {
    let sel = scan.selection();
    for (d, values) in coords.iter().enumerate() {
        let indexed = table.grid.dims[d].coord_var.is_none();
        let mask: arrow::array::BooleanArray = values
            .iter()
            .map(|&x| {
                Some(
                    filters
                        .iter()
                        .filter(|f| dim_of(f) == d)
                        .all(|f| eval(f, x, indexed) == Some(true)),
                )
            })
            .collect();
        let want = ranges_of_mask(&mask);
        assert_eq!(
            sel.ranges[d], want,
            "dimension d{d} (coordinates {values:?}, filters {filters:?})"
        );
    }
    let partitions = scan.partitions();
    assert!(
        partitions.len() <= target.max(1),
        "more partitions than the target"
    );
    let regions: Vec<_> = partitions.iter().flatten().cloned().collect();
    if sel.is_empty() {
        assert!(regions.is_empty(), "regions for an empty selection");
        return;
    }
    assert!(
        partitions.iter().all(|p| !p.is_empty()),
        "an empty partition"
    );
    let total: u64 = regions.iter().map(|r| region_cells(r)).sum();
    assert_eq!(total, sel.cells(), "regions do not tile the selection");
    let var = &table.grid.variables[0];
    let grid = table.grid.chunk_grid(&var.chunks);
    let bounds = chunk_starts(table, &grid);
    for r in &regions {
        for (d, range) in r.iter().enumerate() {
            assert!(range.start < range.end, "an empty range in {r:?}");
            assert!(
                sel.ranges[d]
                    .iter()
                    .any(|s| s.start <= range.start && range.end <= s.end),
                "region {r:?} leaves the selection {:?}",
                sel.ranges
            );
            let chunk = bounds[d].partition_point(|&s| s <= range.start);
            let next = bounds[d].get(chunk).copied().unwrap_or(u64::MAX);
            assert!(
                range.end <= next,
                "region {r:?} crosses a chunk boundary of d{d}"
            );
        }
    }
    for w in regions.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        let key = |r: &Vec<Range<u64>>| r.iter().map(|x| x.start).collect::<Vec<_>>();
        assert!(key(a) < key(b), "regions out of C order: {a:?} then {b:?}");
    }
}

/// The start index of every chunk along every dimension.
fn chunk_starts(table: &GridTable, grid: &crate::grid::ChunkGrid) -> Vec<Vec<u64>> {
    grid.axes
        .iter()
        .zip(&table.grid.dims)
        .map(|(axis, dim)| match axis {
            crate::grid::Axis::Regular(c) => (0..dim.size).step_by((*c).max(1) as usize).collect(),
            crate::grid::Axis::Starts(s) => s.clone(),
        })
        .collect()
}
