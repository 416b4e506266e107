//! From result rows to a grid: which columns are dimensions, their sorted
//! coordinates, and the rows keyed so that [`super::slab`] can place them.
//!
//! A result is read once, as it streams: each batch becomes a *keyed*
//! batch (one integer key per dimension, the variables cast to the types
//! written) and its keys join the coordinates seen. The coordinates are
//! known only when the last row has arrived; the keyed rows wait in
//! [`super::rows::HeldRows`] (memory, or a spill file) until then.
//!
//! On a cluster the coordinates come first instead: a coordinates pass over
//! the query gives every dimension's values, each writing task pins them
//! ([`Layout::pin`]) and keys its rows against them, so every task places
//! a row in the same cell without seeing the others' rows.
//!
//! Dimension values become integer keys that sort as the values do (floats
//! by a total order of their bits, times in microseconds), so every type of
//! coordinate is collected, sorted and looked up the same way. Labels
//! (string dimensions) are numbered as they are first seen and put in
//! order when the grid is finished.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema, SchemaRef, TimeUnit};

use crate::cf::{AttrValue, Attributes};
use crate::error::{ConnectorError, Result};
use crate::grid::model::meta;

/// The fill value of integer variables: NetCDF's default for `int64`, which
/// xarray reads as missing.
pub const I64_FILL: i64 = -9_223_372_036_854_775_806;

/// The most cells (per variable) a written grid may have: a result whose
/// dimension columns do not form a grid (a computed float used as a
/// dimension, say) would otherwise describe an absurd one.
pub const MAX_GRID_CELLS: u64 = 1 << 36;

/// Coordinates of one dimension, in the order written.
#[derive(Debug, Clone, PartialEq)]
pub enum CoordValues {
    /// float32 coordinates (latitudes of most files).
    F32(Vec<f32>),
    /// float64 coordinates.
    F64(Vec<f64>),
    /// Integer coordinates (months, members, indices).
    I64(Vec<i64>),
    /// Times, as microseconds since 1970-01-01 (written as `<unit> since
    /// 1970-01-01`, the unit the coarsest that holds them exactly).
    Time(Vec<i64>),
    /// Labels (station names, regions, ensemble members), sorted.
    Str(Vec<String>),
}

impl CoordValues {
    /// Number of coordinates.
    pub fn len(&self) -> usize {
        match self {
            CoordValues::F32(v) => v.len(),
            CoordValues::F64(v) => v.len(),
            CoordValues::I64(v) | CoordValues::Time(v) => v.len(),
            CoordValues::Str(v) => v.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Cells of one variable (a whole grid, or a slab of it), C order.
#[derive(Debug, Clone, PartialEq)]
pub enum Cells {
    /// float32, NaN where missing.
    F32(Vec<f32>),
    /// float64, NaN where missing.
    F64(Vec<f64>),
    /// int64, [`I64_FILL`] where missing.
    I64(Vec<i64>),
}

impl Cells {
    /// Number of cells.
    pub fn len(&self) -> usize {
        match self {
            Cells::F32(v) => v.len(),
            Cells::F64(v) => v.len(),
            Cells::I64(v) => v.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Their type.
    pub fn cell_type(&self) -> CellType {
        match self {
            Cells::F32(_) => CellType::F32,
            Cells::F64(_) => CellType::F64,
            Cells::I64(_) => CellType::I64,
        }
    }
}

/// The type a variable is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellType {
    /// float32 (float16 and float32 columns).
    F32,
    /// float64 (other numbers but integers).
    F64,
    /// int64 (integer columns).
    I64,
}

impl CellType {
    fn of(t: &DataType) -> CellType {
        match t {
            DataType::Float32 | DataType::Float16 => CellType::F32,
            t if t.is_integer() => CellType::I64,
            _ => CellType::F64,
        }
    }

    /// Bytes of one cell.
    pub fn item_bytes(self) -> u64 {
        match self {
            CellType::F32 => 4,
            CellType::F64 | CellType::I64 => 8,
        }
    }

    /// The Arrow type keyed rows hold the variable as.
    pub fn arrow_type(self) -> DataType {
        match self {
            CellType::F32 => DataType::Float32,
            CellType::F64 => DataType::Float64,
            CellType::I64 => DataType::Int64,
        }
    }

    /// `n` missing cells.
    pub fn missing(self, n: usize) -> Cells {
        match self {
            CellType::F32 => Cells::F32(vec![f32::NAN; n]),
            CellType::F64 => Cells::F64(vec![f64::NAN; n]),
            CellType::I64 => Cells::I64(vec![I64_FILL; n]),
        }
    }
}

/// One output dimension.
#[derive(Debug, Clone)]
pub struct OutDim {
    /// Name (the result column's).
    pub name: String,
    /// Coordinates.
    pub coords: CoordValues,
    /// CF attributes of the coordinate variable.
    pub attrs: Attributes,
}

/// One output variable.
#[derive(Debug, Clone)]
pub struct OutVar {
    /// Name (the result column's).
    pub name: String,
    /// The type its cells are written as.
    pub cell_type: CellType,
    /// CF attributes (`units`, `long_name` where the column carries them).
    pub attrs: Attributes,
}

/// A result's grid: its dimensions with their coordinates, its variables,
/// and how a keyed row finds its cell. The cells themselves are filled slab
/// by slab ([`Grid::fill`]).
#[derive(Debug, Clone)]
pub struct Grid {
    /// Dimensions, in the order of the `dims` option (else of the result).
    pub dims: Vec<OutDim>,
    /// Variables, in the result's column order.
    pub vars: Vec<OutVar>,
    /// Global attributes.
    pub attrs: Attributes,
    /// The chunk length along each dimension of the source variable the
    /// result's variables come from, where that variable has the dimension.
    pub source_chunks: Vec<Option<u64>>,
    /// Per dimension, the position of each key.
    pub(super) index: Vec<HashMap<i64, usize>>,
    pub(super) kinds: Vec<KeyKind>,
}

impl Grid {
    /// The dimension lengths.
    pub fn shape(&self) -> Vec<u64> {
        self.dims.iter().map(|d| d.coords.len() as u64).collect()
    }

    /// Bytes of one step along the first dimension: every variable's cells
    /// and the flag of each cell that says a row filled it.
    pub fn step_bytes(&self) -> u64 {
        let inner: u64 = self.shape().iter().skip(1).product();
        let per_cell: u64 = 1 + self
            .vars
            .iter()
            .map(|v| v.cell_type.item_bytes())
            .sum::<u64>();
        inner.saturating_mul(per_cell)
    }
}

/// How a dimension column's values become sortable keys and back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum KeyKind {
    F32,
    F64,
    Int,
    Time,
    /// The number of a label, in the order labels were first seen (the
    /// order is known only at the end: [`Layout::finish`]).
    Label,
}

fn order_bits(x: f64) -> i64 {
    let x = if x == 0.0 { 0.0 } else { x };
    let b = x.to_bits() as i64;
    if b < 0 { b ^ i64::MAX } else { b }
}

fn from_order_bits(k: i64) -> f64 {
    let b = if k < 0 { k ^ i64::MAX } else { k };
    f64::from_bits(b as u64)
}

fn key_kind(field: &Field) -> Option<KeyKind> {
    match field.data_type() {
        DataType::Float32 | DataType::Float16 => Some(KeyKind::F32),
        DataType::Float64 | DataType::Decimal128(..) => Some(KeyKind::F64),
        t if t.is_integer() => Some(KeyKind::Int),
        DataType::Timestamp(..) | DataType::Date32 | DataType::Date64 => Some(KeyKind::Time),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Some(KeyKind::Label),
        DataType::Dictionary(_, values)
            if matches!(
                values.as_ref(),
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            ) =>
        {
            Some(KeyKind::Label)
        }
        _ => None,
    }
}

fn bad(reason: String) -> ConnectorError {
    ConnectorError::Option {
        option: "dims".into(),
        reason,
    }
}

fn null_coordinate(name: &str) -> ConnectorError {
    bad(format!(
        "column '{name}' has a NULL, which cannot be a coordinate"
    ))
}

fn cast(column: &ArrayRef, to: &DataType) -> Result<ArrayRef> {
    arrow::compute::cast(column, to).map_err(|e| bad(e.to_string()))
}

/// The keys of a dimension column (`None` for NULL); labels are numbered
/// in `labels` (by their first sight).
fn keys(
    column: &ArrayRef,
    kind: KeyKind,
    labels: &mut HashMap<String, i64>,
) -> Result<Vec<Option<i64>>> {
    let ints = |column: &ArrayRef| -> Result<Vec<Option<i64>>> {
        Ok(cast(column, &DataType::Int64)?
            .as_primitive::<Int64Type>()
            .iter()
            .collect())
    };
    match kind {
        KeyKind::F32 | KeyKind::F64 => Ok(cast(column, &DataType::Float64)?
            .as_primitive::<Float64Type>()
            .iter()
            .map(|v| v.map(order_bits))
            .collect()),
        KeyKind::Int => ints(column),
        KeyKind::Time => ints(&cast(
            column,
            &DataType::Timestamp(TimeUnit::Microsecond, None),
        )?),
        KeyKind::Label => Ok(cast(column, &DataType::Utf8)?
            .as_string::<i32>()
            .iter()
            .map(|v| {
                v.map(|v| match labels.get(v) {
                    Some(k) => *k,
                    None => {
                        let k = labels.len() as i64;
                        labels.insert(v.to_string(), k);
                        k
                    }
                })
            })
            .collect()),
    }
}

/// A dimension being collected.
struct DimBuild {
    name: String,
    column: usize,
    kind: KeyKind,
    descending: bool,
    attrs: Attributes,
    seen: BTreeSet<i64>,
    /// The number of each label seen (label dimensions only).
    labels: HashMap<String, i64>,
}

/// The CF attributes a result column carries in its field metadata.
fn column_attrs(field: &Field) -> Attributes {
    let mut attrs = Attributes::new();
    for (key, name) in [(meta::UNITS, "units"), (meta::LONG_NAME, "long_name")] {
        if let Some(v) = field.metadata().get(key).filter(|v| !v.trim().is_empty()) {
            attrs.insert(name.to_string(), AttrValue::Str(v.clone()));
        }
    }
    attrs
}

/// The chunk length along each of `dims` of the first variable column that
/// still says how its source variable is chunked and on which dimensions
/// (a column read straight from the source; aggregates lose it).
fn source_chunks(schema: &Schema, var_columns: &[usize], dims: &[String]) -> Vec<Option<u64>> {
    let source = var_columns.iter().find_map(|&c| {
        let md = schema.field(c).metadata();
        let chunks: Vec<u64> = md
            .get(meta::CHUNKS)?
            .split('x')
            .map(|n| n.parse().ok())
            .collect::<Option<_>>()?;
        let names: Vec<&str> = md.get(meta::DIMS)?.split(',').collect();
        (chunks.len() == names.len()).then(|| {
            names
                .into_iter()
                .map(str::to_string)
                .zip(chunks)
                .collect::<HashMap<String, u64>>()
        })
    });
    dims.iter()
        .map(|d| source.as_ref().and_then(|s| s.get(d).copied()))
        .collect()
}

/// Lays a streamed result out as a grid: keys each batch as it arrives,
/// then [`Layout::finish`] sorts the coordinates.
pub struct Layout {
    dims: Vec<DimBuild>,
    /// Result column and output variable of each variable.
    vars: Vec<(usize, OutVar)>,
    keyed: SchemaRef,
    source_chunks: Vec<Option<u64>>,
    /// Whether the coordinates were given ([`Layout::pin`]): a row with
    /// another coordinate is then an error, not a new coordinate.
    pinned: bool,
}

impl Layout {
    /// The layout of a result with `schema` on `dims` (else the columns
    /// marked as source dimensions).
    ///
    /// # Errors
    /// No dimension column, an unknown or non-numeric column.
    pub fn new(schema: &Schema, dims: Option<&[String]>) -> Result<Self> {
        let dim_columns: Vec<usize> = match dims {
            Some(names) => names
                .iter()
                .map(|n| {
                    schema
                        .index_of(n)
                        .map_err(|_| bad(format!("the result has no column '{n}'")))
                })
                .collect::<Result<_>>()?,
            None => schema
                .fields()
                .iter()
                .enumerate()
                .filter(|(_, f)| {
                    f.metadata().get(meta::ROLE).map(String::as_str) == Some("dimension")
                })
                .map(|(i, _)| i)
                .collect(),
        };
        if dim_columns.is_empty() {
            return Err(bad(
                "no result column comes straight from a dimension of the source; name the dimension columns with OPTIONS ('dims' 'a,b')".into(),
            ));
        }
        let mut builds = Vec::new();
        for &c in &dim_columns {
            let f = schema.field(c);
            let kind = key_kind(f).ok_or_else(|| {
                bad(format!(
                    "column '{}' ({}) cannot be a dimension: numbers, times and strings can",
                    f.name(),
                    f.data_type()
                ))
            })?;
            builds.push(DimBuild {
                name: f.name().clone(),
                column: c,
                kind,
                descending: f.metadata().get(meta::ORDER).map(String::as_str) == Some("descending"),
                attrs: column_attrs(f),
                seen: BTreeSet::new(),
                labels: HashMap::new(),
            });
        }
        let var_columns: Vec<usize> = (0..schema.fields().len())
            .filter(|c| !dim_columns.contains(c))
            .collect();
        let mut vars = Vec::new();
        for &c in &var_columns {
            let f = schema.field(c);
            if !f.data_type().is_numeric() {
                return Err(bad(format!(
                    "column '{}' ({}) is neither a dimension nor a number; leave it out of the query or name it in 'dims'",
                    f.name(),
                    f.data_type()
                )));
            }
            let var = OutVar {
                name: f.name().clone(),
                cell_type: CellType::of(f.data_type()),
                attrs: column_attrs(f),
            };
            vars.push((c, var));
        }
        let names: Vec<String> = builds.iter().map(|b| b.name.clone()).collect();
        let keyed = Arc::new(Schema::new(
            builds
                .iter()
                .enumerate()
                .map(|(d, _)| Field::new(format!("k{d}"), DataType::Int64, false))
                .chain(
                    vars.iter()
                        .map(|(_, v)| Field::new(&v.name, v.cell_type.arrow_type(), true)),
                )
                .collect::<Vec<_>>(),
        ));
        Ok(Layout {
            source_chunks: source_chunks(schema, &var_columns, &names),
            dims: builds,
            vars,
            keyed,
            pinned: false,
        })
    }

    /// Gives the coordinates, one array per dimension (in the order of
    /// [`Layout::dim_names`]; repeats and order do not matter), and returns
    /// the grid they make. Rows keyed afterwards must fall on them.
    ///
    /// # Errors
    /// Another number of arrays than dimensions, a NULL coordinate, a grid
    /// too large.
    pub fn pin(&mut self, coords: &[ArrayRef]) -> Result<Grid> {
        if coords.len() != self.dims.len() {
            return Err(bad(format!(
                "{} coordinate arrays for {} dimensions",
                coords.len(),
                self.dims.len()
            )));
        }
        for (b, values) in self.dims.iter_mut().zip(coords) {
            for k in keys(values, b.kind, &mut b.labels)? {
                let k = k.ok_or_else(|| null_coordinate(&b.name))?;
                b.seen.insert(k);
            }
        }
        self.pinned = true;
        self.grid()
    }

    /// The dimension columns' names, in the grid's order.
    pub fn dim_names(&self) -> Vec<String> {
        self.dims.iter().map(|b| b.name.clone()).collect()
    }

    /// The result columns of the dimensions, in the grid's order.
    pub fn dim_columns(&self) -> Vec<usize> {
        self.dims.iter().map(|b| b.column).collect()
    }

    /// The keys of dimension `d` in `batch`, each joining the coordinates
    /// seen (or, pinned, checked against them).
    ///
    /// # Errors
    /// A NULL; pinned, a coordinate that was not given.
    pub fn dim_keys(&mut self, batch: &RecordBatch, d: usize) -> Result<Vec<i64>> {
        let pinned = self.pinned;
        let b = self
            .dims
            .get_mut(d)
            .ok_or_else(|| bad(format!("no dimension {d}")))?;
        let k = keys(batch.column(b.column), b.kind, &mut b.labels)?;
        let mut dense = Vec::with_capacity(k.len());
        for v in k {
            let v = v.ok_or_else(|| null_coordinate(&b.name))?;
            if pinned {
                if !b.seen.contains(&v) {
                    return Err(bad(format!(
                        "column '{}' has a value the coordinates pass did not see: the query does not give the same rows twice (random(), now(), LIMIT without ORDER BY?)",
                        b.name
                    )));
                }
            } else {
                b.seen.insert(v);
            }
            dense.push(v);
        }
        Ok(dense)
    }

    /// The schema of keyed batches: `k0..kn` (Int64), then the variables.
    pub fn keyed_schema(&self) -> SchemaRef {
        Arc::clone(&self.keyed)
    }

    /// A result batch keyed for placing; its coordinates join those seen.
    ///
    /// # Errors
    /// A NULL coordinate, a column that does not cast.
    pub fn key(&mut self, batch: &RecordBatch) -> Result<RecordBatch> {
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.keyed.fields().len());
        for d in 0..self.dims.len() {
            columns.push(Arc::new(Int64Array::from(self.dim_keys(batch, d)?)));
        }
        for (c, v) in &self.vars {
            columns.push(cast(batch.column(*c), &v.cell_type.arrow_type())?);
        }
        RecordBatch::try_new(Arc::clone(&self.keyed), columns).map_err(|e| bad(e.to_string()))
    }

    /// The grid: every coordinate seen, sorted (descending where the source
    /// dimension is).
    ///
    /// # Errors
    /// A grid of more than [`MAX_GRID_CELLS`] cells.
    pub fn finish(self) -> Result<Grid> {
        self.grid()
    }

    /// The grid of the coordinates seen so far.
    fn grid(&self) -> Result<Grid> {
        let shape: Vec<u64> = self.dims.iter().map(|b| b.seen.len() as u64).collect();
        shape
            .iter()
            .try_fold(1u64, |n, s| n.checked_mul(*s))
            .filter(|n| *n <= MAX_GRID_CELLS)
            .ok_or_else(|| {
                bad(format!(
                    "a grid of {} cells is more than gridsql writes ({MAX_GRID_CELLS}); are the dimension columns really a grid?",
                    shape.iter().map(u64::to_string).collect::<Vec<_>>().join(" x "),
                ))
            })?;
        let mut dims = Vec::new();
        let mut index = Vec::new();
        let mut kinds = Vec::new();
        for b in &self.dims {
            let mut keys: Vec<i64> = b.seen.iter().copied().collect();
            let mut labels: Vec<(String, i64)> =
                b.labels.iter().map(|(l, k)| (l.clone(), *k)).collect();
            if b.kind == KeyKind::Label {
                labels.sort_unstable();
                keys = labels.iter().map(|(_, k)| *k).collect();
            }
            if b.descending {
                keys.reverse();
                labels.reverse();
            }
            index.push(keys.iter().enumerate().map(|(i, k)| (*k, i)).collect());
            kinds.push(b.kind);
            let coords = match b.kind {
                KeyKind::F32 => {
                    CoordValues::F32(keys.iter().map(|k| from_order_bits(*k) as f32).collect())
                }
                KeyKind::F64 => {
                    CoordValues::F64(keys.iter().map(|k| from_order_bits(*k)).collect())
                }
                KeyKind::Int => CoordValues::I64(keys),
                KeyKind::Time => CoordValues::Time(keys),
                KeyKind::Label => CoordValues::Str(labels.into_iter().map(|(l, _)| l).collect()),
            };
            dims.push(OutDim {
                name: b.name.clone(),
                coords,
                attrs: b.attrs.clone(),
            });
        }
        let mut attrs = Attributes::new();
        attrs.insert("Conventions".into(), AttrValue::Str("CF-1.8".into()));
        attrs.insert(
            "history".into(),
            AttrValue::Str(format!(
                "written by gridsql {} (COPY ... TO)",
                env!("CARGO_PKG_VERSION")
            )),
        );
        Ok(Grid {
            dims,
            vars: self.vars.iter().map(|(_, v)| v.clone()).collect(),
            attrs,
            source_chunks: self.source_chunks.clone(),
            index,
            kinds,
        })
    }
}

impl Grid {
    /// The position along dimension `d` of the coordinate keyed `k`.
    pub fn position(&self, d: usize, k: i64) -> Option<usize> {
        self.index.get(d)?.get(&k).copied()
    }

    /// Key `k` of dimension `d` shown as the coordinate it stands for, in
    /// messages.
    pub(super) fn show_key(&self, d: usize, k: i64) -> String {
        match self.kinds[d] {
            KeyKind::F32 | KeyKind::F64 => from_order_bits(k).to_string(),
            KeyKind::Int => k.to_string(),
            KeyKind::Time => chrono::DateTime::from_timestamp_micros(k)
                .map(|t| t.naive_utc().to_string())
                .unwrap_or_else(|| k.to_string()),
            KeyKind::Label => match (&self.dims[d].coords, self.index[d].get(&k)) {
                (CoordValues::Str(labels), Some(&i)) => format!("'{}'", labels[i]),
                _ => k.to_string(),
            },
        }
    }
}

/// A coordinate variable's values as written.
#[derive(Debug)]
pub enum CoordCells<'a> {
    /// Numbers (times encoded).
    Numbers(Cells),
    /// Labels, written as variable-length strings.
    Labels(&'a [String]),
}

/// A coordinate's cells and attributes (times as `<unit> since 1970-01-01`).
pub fn encoded_coordinate<'a>(
    coords: &'a CoordValues,
    attrs: &Attributes,
) -> (CoordCells<'a>, Attributes) {
    let mut attrs = attrs.clone();
    let cells = match coords {
        CoordValues::F32(v) => Cells::F32(v.clone()),
        CoordValues::F64(v) => Cells::F64(v.clone()),
        CoordValues::I64(v) => Cells::I64(v.clone()),
        CoordValues::Str(v) => return (CoordCells::Labels(v), attrs),
        CoordValues::Time(micros) => {
            let (unit, per) = time_unit(micros);
            attrs.insert(
                "units".into(),
                AttrValue::Str(format!("{unit} since 1970-01-01 00:00:00")),
            );
            attrs.insert(
                "calendar".into(),
                AttrValue::Str("proleptic_gregorian".into()),
            );
            Cells::I64(micros.iter().map(|m| m / per).collect())
        }
    };
    (CoordCells::Numbers(cells), attrs)
}

/// The coarsest unit that holds every time exactly, and its microseconds.
pub fn time_unit(micros: &[i64]) -> (&'static str, i64) {
    for (unit, per) in [
        ("days", 86_400_000_000i64),
        ("hours", 3_600_000_000),
        ("seconds", 1_000_000),
    ] {
        if micros.iter().all(|m| m % per == 0) {
            return (unit, per);
        }
    }
    ("microseconds", 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_units_are_the_coarsest_exact_ones() {
        assert_eq!(time_unit(&[0, 86_400_000_000]).0, "days");
        assert_eq!(time_unit(&[3_600_000_000]).0, "hours");
        assert_eq!(time_unit(&[1_500_000]).0, "microseconds");
    }

    #[test]
    fn float_keys_sort_as_floats() {
        let mut v = [3.5, -0.0, -2.0, 1e-300, -1e300, 0.0];
        let mut k: Vec<i64> = v.iter().map(|x| order_bits(*x)).collect();
        k.sort_unstable();
        k.dedup();
        let back: Vec<f64> = k.iter().map(|x| from_order_bits(*x)).collect();
        v.sort_by(f64::total_cmp);
        assert_eq!(back, vec![-1e300, -2.0, 0.0, 1e-300, 3.5]);
    }

    #[test]
    fn the_source_chunking_follows_the_dimensions_by_name() {
        let md = |chunks: &str, dims: &str| {
            HashMap::from([
                (meta::CHUNKS.to_string(), chunks.to_string()),
                (meta::DIMS.to_string(), dims.to_string()),
            ])
        };
        let schema = Schema::new(vec![
            Field::new("lon", DataType::Float32, false),
            Field::new("time", DataType::Int64, false),
            Field::new("sla", DataType::Float32, true)
                .with_metadata(md("5x720x1440", "time,lat,lon")),
        ]);
        let dims = ["lon".to_string(), "time".to_string(), "depth".to_string()];
        assert_eq!(
            source_chunks(&schema, &[2], &dims),
            vec![Some(1440), Some(5), None]
        );
        // an aggregate carries no chunking
        let plain = Schema::new(vec![Field::new("m", DataType::Float64, true)]);
        assert_eq!(source_chunks(&plain, &[0], &dims), vec![None, None, None]);
    }

    /// Two tasks that pin the same coordinates, given in other orders, put
    /// a row in the same cell; a row off the coordinates is refused.
    #[test]
    fn pinned_layouts_agree_and_refuse_other_coordinates() {
        use arrow::array::{Float64Array, StringArray};
        let schema = Schema::new(vec![
            Field::new("site", DataType::Utf8, false),
            Field::new("lat", DataType::Float64, false),
            Field::new("v", DataType::Float64, true),
        ]);
        let dims = ["site".to_string(), "lat".to_string()];
        let pinned = |sites: &[&str], lats: &[f64]| {
            let mut layout = Layout::new(&schema, Some(&dims)).expect("layout");
            let coords: Vec<ArrayRef> = vec![
                Arc::new(StringArray::from(sites.to_vec())),
                Arc::new(Float64Array::from(lats.to_vec())),
            ];
            let grid = layout.pin(&coords).expect("pinned");
            (layout, grid)
        };
        let (mut a, grid_a) = pinned(&["b", "a", "c"], &[10.0, -5.0]);
        let (mut b, grid_b) = pinned(&["c", "b", "a", "b"], &[-5.0, 10.0]);
        assert_eq!(grid_a.shape(), vec![3, 2]);
        assert_eq!(grid_b.shape(), vec![3, 2]);
        let rows = RecordBatch::try_new(
            Arc::new(schema.clone()),
            vec![
                Arc::new(StringArray::from(vec!["c", "a"])),
                Arc::new(Float64Array::from(vec![10.0, -5.0])),
                Arc::new(Float64Array::from(vec![1.0, 2.0])),
            ],
        )
        .expect("batch");
        let places = |layout: &mut Layout, grid: &Grid| -> Vec<(usize, usize)> {
            let sites = layout.dim_keys(&rows, 0).expect("sites");
            let lats = layout.dim_keys(&rows, 1).expect("lats");
            sites
                .iter()
                .zip(&lats)
                .map(|(s, l)| {
                    (
                        grid.position(0, *s).expect("site placed"),
                        grid.position(1, *l).expect("lat placed"),
                    )
                })
                .collect()
        };
        assert_eq!(places(&mut a, &grid_a), vec![(2, 1), (0, 0)]);
        assert_eq!(places(&mut b, &grid_b), vec![(2, 1), (0, 0)]);
        let off = RecordBatch::try_new(
            Arc::new(schema.clone()),
            vec![
                Arc::new(StringArray::from(vec!["d"])),
                Arc::new(Float64Array::from(vec![10.0])),
                Arc::new(Float64Array::from(vec![1.0])),
            ],
        )
        .expect("batch");
        let e = a.key(&off).expect_err("not a pinned coordinate");
        assert!(e.to_string().contains("coordinates pass"), "{e}");
    }
}
