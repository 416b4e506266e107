//! Regions of a GRIB table's variables: coordinates from memory (computed
//! when the file opened), data field by field. A data variable's chunk is one
//! field (one message's 2-D grid), decoded whole and cut to the region.

use std::collections::HashMap;
use std::ops::Range;

use async_trait::async_trait;
use bytes::Bytes;

use super::message::{FieldAt, decode};
use crate::error::{ConnectorError, Result};
use crate::grid::plan::region_cells;
use crate::grid::{GridReader, RawBuffer};

/// The values of a coordinate variable, whole.
#[derive(Debug, Clone)]
pub enum CoordValues {
    /// Integers (`number`, `time`).
    I64(Vec<i64>),
    /// Floats (levels, steps, latitudes, longitudes, valid times).
    F64(Vec<f64>),
}

/// A coordinate variable: its shape and values (C order).
#[derive(Debug, Clone)]
pub struct Coord {
    /// Shape.
    pub shape: Vec<u64>,
    /// Values.
    pub values: CoordValues,
}

/// Where the fields of a data variable are: one slot per combination of
/// its leading (non-grid) dimensions, in C order; `None` where the file has
/// no message (cfgrib's NaN).
#[derive(Debug, Clone)]
pub struct FieldIndex {
    /// Lengths of the leading dimensions.
    pub outer: Vec<u64>,
    /// Rows and columns of the grid.
    pub grid: (u64, u64),
    /// Field of each slot.
    pub fields: Vec<Option<FieldAt>>,
}

/// Reads a GRIB table's variables from the file's bytes.
#[derive(Debug)]
pub struct GribReader {
    dataset: String,
    bytes: Bytes,
    coords: HashMap<String, Coord>,
    data: HashMap<String, FieldIndex>,
}

impl GribReader {
    /// A reader over a file's bytes, its coordinates and the field index of
    /// each data variable.
    pub fn new(
        dataset: String,
        bytes: Bytes,
        coords: HashMap<String, Coord>,
        data: HashMap<String, FieldIndex>,
    ) -> Self {
        GribReader {
            dataset,
            bytes,
            coords,
            data,
        }
    }

    fn bad_region(&self, variable: &str, region: &[Range<u64>], shape: &[u64]) -> ConnectorError {
        ConnectorError::Variable {
            dataset: self.dataset.clone(),
            variable: variable.to_string(),
            reason: format!("region {region:?} outside the shape {shape:?}"),
        }
    }

    fn read_data(
        &self,
        variable: &str,
        index: &FieldIndex,
        region: &[Range<u64>],
    ) -> Result<RawBuffer> {
        let (ny, nx) = index.grid;
        let shape: Vec<u64> = index.outer.iter().copied().chain([ny, nx]).collect();
        if !fits(region, &shape) {
            return Err(self.bad_region(variable, region, &shape));
        }
        let (outer, grid) = region.split_at(index.outer.len());
        let cells = region_cells(region);
        let mut out = Vec::with_capacity(usize::try_from(cells).unwrap_or(0));
        let points = usize::try_from(ny * nx).unwrap_or(usize::MAX);
        for slot in slots(outer, &index.outer) {
            let field = index.fields.get(slot).copied().flatten();
            let values = match field {
                Some(at) => {
                    decode(&self.bytes, at, points).map_err(|reason| ConnectorError::Chunk {
                        dataset: self.dataset.clone(),
                        variable: variable.to_string(),
                        chunk: format!("message at byte {}", at.offset),
                        reason,
                    })?
                }
                None => vec![f32::NAN; points],
            };
            copy_window(&values, &[ny, nx], grid, &mut out);
        }
        Ok(RawBuffer::F32(out))
    }
}

/// Whether `region` lies inside `shape`.
fn fits(region: &[Range<u64>], shape: &[u64]) -> bool {
    region.len() == shape.len()
        && region
            .iter()
            .zip(shape)
            .all(|(r, &n)| r.start <= r.end && r.end <= n)
}

/// Flat C-order indexes of the cells of `region` in an array of `shape`.
fn slots(region: &[Range<u64>], shape: &[u64]) -> Vec<usize> {
    let mut out = vec![0u64];
    for (r, &n) in region.iter().zip(shape) {
        out = out
            .iter()
            .flat_map(|&base| r.clone().map(move |i| base * n + i))
            .collect();
    }
    out.into_iter()
        .map(|s| usize::try_from(s).unwrap_or(usize::MAX))
        .collect()
}

/// Appends the cells of `region` of `data` (an array of `shape`) to `out`,
/// in C order.
fn copy_window<T: Copy>(data: &[T], shape: &[u64], region: &[Range<u64>], out: &mut Vec<T>) {
    let Some((last, lead)) = region.split_last() else {
        out.extend_from_slice(&data[..1.min(data.len())]);
        return;
    };
    let row = shape.last().copied().unwrap_or(1);
    for s in slots(lead, &shape[..shape.len() - 1]) {
        let base = s * row as usize;
        out.extend_from_slice(&data[base + last.start as usize..base + last.end as usize]);
    }
}

#[async_trait]
impl GridReader for GribReader {
    async fn read(&self, variable: &str, region: &[Range<u64>]) -> Result<RawBuffer> {
        if let Some(c) = self.coords.get(variable) {
            if !fits(region, &c.shape) {
                return Err(self.bad_region(variable, region, &c.shape));
            }
            return Ok(match &c.values {
                CoordValues::I64(v) => {
                    let mut out = Vec::new();
                    copy_window(v, &c.shape, region, &mut out);
                    RawBuffer::I64(out)
                }
                CoordValues::F64(v) => {
                    let mut out = Vec::new();
                    copy_window(v, &c.shape, region, &mut out);
                    RawBuffer::F64(out)
                }
            });
        }
        let index = self
            .data
            .get(variable)
            .ok_or_else(|| ConnectorError::Variable {
                dataset: self.dataset.clone(),
                variable: variable.to_string(),
                reason: "no such variable".into(),
            })?;
        self.read_data(variable, index, region)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_in_c_order() {
        let data: Vec<u32> = (0..12).collect();
        let mut out = Vec::new();
        copy_window(&data, &[3, 4], &[1..3, 1..3], &mut out);
        assert_eq!(out, vec![5, 6, 9, 10]);
        assert_eq!(slots(&[0..2, 1..2], &[2, 3]), vec![1, 4]);
        assert!(!fits(&[0..4], &[3]));
    }
}
