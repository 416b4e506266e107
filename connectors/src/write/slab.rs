//! A slab of a result's grid: the cells of every variable over a range of
//! the first dimension, filled from the keyed rows that fall in it. A grid
//! is written slab by slab, each a whole number of chunks along the first
//! dimension, so memory holds one slab, never the grid.

use std::ops::Range;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Float32Type, Float64Type, Int64Type};

use super::layout::{Cells, Grid};
use super::rows::HeldRows;
use crate::error::{ConnectorError, Result};

impl Grid {
    /// The cells of every variable for `range` of the first dimension
    /// (C order, shape `[range.len(), rest of the grid]`), missing cells the
    /// fill value.
    ///
    /// # Errors
    /// Two rows for one cell; a spill file that cannot be read.
    pub fn fill(&self, range: Range<u64>, rows: &HeldRows) -> Result<Vec<Cells>> {
        let shape = self.shape();
        let mut strides = vec![1usize; shape.len()];
        for d in (0..shape.len().saturating_sub(1)).rev() {
            strides[d] = strides[d + 1] * shape[d + 1] as usize;
        }
        let (start, len) = (range.start as usize, (range.end - range.start) as usize);
        let n = len * strides[0];
        let mut cells: Vec<Cells> = self.vars.iter().map(|v| v.cell_type.missing(n)).collect();
        let mut filled = vec![false; n];
        let dims = self.dims.len();
        let mut at: Vec<usize> = Vec::new();
        let mut rows_in: Vec<usize> = Vec::new();
        rows.for_each(|batch| {
            at.clear();
            rows_in.clear();
            let keys: Vec<&[i64]> = (0..dims)
                .map(|d| {
                    batch
                        .column(d)
                        .as_primitive_opt::<Int64Type>()
                        .map(|k| k.values().as_ref())
                        .ok_or_else(|| not_keyed(d))
                })
                .collect::<Result<_>>()?;
            for r in 0..batch.num_rows() {
                // every key was seen when the grid was laid out
                let first = self.index[0].get(&keys[0][r]).copied().unwrap_or_default();
                if first < start || first >= start + len {
                    continue;
                }
                let mut cell = (first - start) * strides[0];
                for d in 1..dims {
                    cell +=
                        self.index[d].get(&keys[d][r]).copied().unwrap_or_default() * strides[d];
                }
                if std::mem::replace(&mut filled[cell], true) {
                    return Err(self.duplicate(&keys, r));
                }
                at.push(cell);
                rows_in.push(r);
            }
            for (v, out) in cells.iter_mut().enumerate() {
                place(out, batch.column(dims + v).as_ref(), &rows_in, &at)
                    .ok_or_else(|| not_keyed(dims + v))?;
            }
            Ok(())
        })?;
        Ok(cells)
    }

    fn duplicate(&self, keys: &[&[i64]], r: usize) -> ConnectorError {
        let coords: Vec<String> = self
            .dims
            .iter()
            .zip(keys)
            .enumerate()
            .map(|(i, (d, k))| format!("{}={}", d.name, self.show_key(i, k[r])))
            .collect();
        ConnectorError::Option {
            option: "dims".into(),
            reason: format!(
                "two rows for the cell ({}): the dimension columns must identify each row; add the missing one to 'dims' or aggregate",
                coords.join(", ")
            ),
        }
    }
}

/// A keyed batch whose column is not of the type keying gave it (a spill
/// file that is not the one written).
fn not_keyed(column: usize) -> ConnectorError {
    ConnectorError::Option {
        option: "dims".into(),
        reason: format!("keyed rows whose column {column} has another type than written"),
    }
}

/// Puts the non-NULL values of rows `rows` of `column` (already of the
/// cells' type) into cells `at`; `None` when the column is of another type.
fn place(cells: &mut Cells, column: &dyn Array, rows: &[usize], at: &[usize]) -> Option<()> {
    macro_rules! put {
        ($out:expr, $t:ty) => {{
            let a = column.as_primitive_opt::<$t>()?;
            for (&r, &i) in rows.iter().zip(at) {
                if a.is_valid(r) {
                    $out[i] = a.value(r);
                }
            }
        }};
    }
    match cells {
        Cells::F32(out) => put!(out, Float32Type),
        Cells::F64(out) => put!(out, Float64Type),
        Cells::I64(out) => put!(out, Int64Type),
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Float32Array, Float64Array, Int64Array, RecordBatch};
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;
    use crate::grid::model::meta;
    use crate::write::layout::{CoordValues, I64_FILL, Layout};

    fn result() -> (Arc<Schema>, RecordBatch) {
        let lat = Field::new("lat", DataType::Float32, true)
            .with_metadata([(meta::ORDER.to_string(), "descending".to_string())].into());
        let schema = Arc::new(Schema::new(vec![
            Field::new("month", DataType::Int64, true),
            lat,
            Field::new("sst", DataType::Float64, true),
            Field::new("n", DataType::Int64, true),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Int64Array::from(vec![2, 1, 1])),
                Arc::new(Float32Array::from(vec![-10.0, 10.0, -10.0])),
                Arc::new(Float64Array::from(vec![Some(3.0), Some(1.0), None])),
                Arc::new(Int64Array::from(vec![3, 1, 2])),
            ],
        )
        .expect("batch");
        (schema, batch)
    }

    fn grid_of(batch: &RecordBatch, dims: &[&str]) -> Result<(Grid, HeldRows)> {
        let dims: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
        let mut layout = Layout::new(batch.schema().as_ref(), Some(&dims))?;
        // two batches: rows arrive in pieces
        let keyed = vec![
            layout.key(&batch.slice(0, 1))?,
            layout.key(&batch.slice(1, 2))?,
        ];
        Ok((layout.finish()?, HeldRows::Memory(keyed)))
    }

    #[test]
    fn rows_land_in_their_cells_and_missing_cells_are_filled() {
        let (_, batch) = result();
        let (g, rows) = grid_of(&batch, &["month", "lat"]).expect("laid out");
        assert_eq!(g.shape(), vec![2, 2]);
        assert_eq!(g.dims[0].coords, CoordValues::I64(vec![1, 2]));
        assert_eq!(g.dims[1].coords, CoordValues::F32(vec![10.0, -10.0]));
        let cells = g.fill(0..2, &rows).expect("filled");
        let Cells::F64(sst) = &cells[0] else {
            panic!("float64 cells")
        };
        // (1, 10) = 1; (1, -10) NULL; (2, 10) no row; (2, -10) = 3
        assert_eq!(sst[0], 1.0);
        assert!(sst[1].is_nan() && sst[2].is_nan());
        assert_eq!(sst[3], 3.0);
        assert_eq!(cells[1], Cells::I64(vec![1, 2, I64_FILL, 3]));
        // slab by slab: the same cells, one month at a time
        for (m, want_n) in [(0u64, vec![1, 2]), (1, vec![I64_FILL, 3])] {
            let slab = g.fill(m..m + 1, &rows).expect("slab");
            assert_eq!(slab[1], Cells::I64(want_n), "month index {m}");
        }
    }

    #[test]
    fn labels_are_sorted_and_their_rows_land_in_their_cells() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("station", DataType::Utf8View, true),
            Field::new("month", DataType::Int64, true),
            Field::new("t", DataType::Float32, true),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(arrow::array::StringViewArray::from(vec![
                    "Vancouver",
                    "Amos",
                    "Vancouver",
                ])),
                Arc::new(Int64Array::from(vec![1, 1, 2])),
                Arc::new(Float32Array::from(vec![5.0, -12.0, 7.0])),
            ],
        )
        .expect("batch");
        let (g, rows) = grid_of(&batch, &["station", "month"]).expect("laid out");
        assert_eq!(
            g.dims[0].coords,
            CoordValues::Str(vec!["Amos".into(), "Vancouver".into()])
        );
        let cells = g.fill(0..2, &rows).expect("filled");
        let Cells::F32(t) = &cells[0] else {
            panic!("float32 cells")
        };
        // (Amos, 1) = -12; (Amos, 2) no row; (Vancouver, 1) = 5, (Vancouver, 2) = 7
        assert_eq!(t[0], -12.0);
        assert!(t[1].is_nan());
        assert_eq!(&t[2..], &[5.0, 7.0]);
        // a duplicate names the label
        let (g, rows) = grid_of(&batch, &["station"]).expect("laid out");
        let e = g.fill(0..2, &rows).expect_err("duplicate");
        assert!(
            e.to_string()
                .contains("two rows for the cell (station='Vancouver')"),
            "{e}"
        );
    }

    #[test]
    fn bad_layouts_are_named() {
        let (schema, batch) = result();
        // one dimension too few: two rows share a cell
        let (g, rows) = grid_of(&batch, &["month"]).expect("laid out");
        let e = g.fill(0..2, &rows).expect_err("duplicate");
        assert!(
            e.to_string().contains("two rows for the cell (month=1)"),
            "{e}"
        );
        // no dimension known
        let e = Layout::new(&schema, None).err().expect("no dims");
        assert!(e.to_string().contains("'dims'"), "{e}");
    }
}
