//! Typed buffers of stored values, as read from a region of a variable, and
//! their decoding into Arrow arrays.

use std::ops::Range;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, StringArray, TimestampMicrosecondArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type};

use super::model::VariableDecoding;
use crate::cf::RawType;
use crate::error::Result;

/// Stored values of one region of one variable, in C order.
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub enum RawBuffer {
    I8(Vec<i8>),
    I16(Vec<i16>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(Vec<u32>),
    U64(Vec<u64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

/// Runs `$body` with `$v` bound to the typed vector inside a [`RawBuffer`].
#[macro_export]
macro_rules! with_raw {
    ($buf:expr, $v:ident => $body:expr) => {
        match $buf {
            $crate::grid::RawBuffer::I8($v) => $body,
            $crate::grid::RawBuffer::I16($v) => $body,
            $crate::grid::RawBuffer::I32($v) => $body,
            $crate::grid::RawBuffer::I64($v) => $body,
            $crate::grid::RawBuffer::U8($v) => $body,
            $crate::grid::RawBuffer::U16($v) => $body,
            $crate::grid::RawBuffer::U32($v) => $body,
            $crate::grid::RawBuffer::U64($v) => $body,
            $crate::grid::RawBuffer::F32($v) => $body,
            $crate::grid::RawBuffer::F64($v) => $body,
        }
    };
}

/// The values of `region` out of a C-order block of `outer` (`region` lies
/// inside `outer`), copied a run of the last dimension at a time. A block
/// shorter than `outer` gives a shorter result, which readers report.
pub fn sub_block<T: Copy>(values: &[T], outer: &[Range<u64>], region: &[Range<u64>]) -> Vec<T> {
    let n = outer.len();
    let len = |r: &Range<u64>| usize::try_from(r.end.saturating_sub(r.start)).unwrap_or(usize::MAX);
    let lens: Vec<usize> = region.iter().map(len).collect();
    let total = lens.iter().try_fold(1usize, |a, &l| a.checked_mul(l)).unwrap_or(0);
    if n == 0 || region.len() != n || total == 0 {
        return Vec::new();
    }
    let shape: Vec<usize> = outer.iter().map(len).collect();
    let mut strides = vec![1usize; n];
    for d in (0..n - 1).rev() {
        strides[d] = strides[d + 1].saturating_mul(shape[d + 1]);
    }
    let offsets: Vec<usize> = region
        .iter()
        .zip(outer)
        .map(|(r, o)| usize::try_from(r.start.saturating_sub(o.start)).unwrap_or(usize::MAX))
        .collect();
    let run = lens[n - 1];
    let mut out = Vec::with_capacity(total);
    let mut index = vec![0usize; n - 1];
    loop {
        let at = (0..n - 1).fold(offsets[n - 1], |at, d| {
            at.saturating_add((offsets[d] + index[d]).saturating_mul(strides[d]))
        });
        match values.get(at..at.saturating_add(run)) {
            Some(run) => out.extend_from_slice(run),
            None => return out,
        }
        // The next run: an odometer over all dimensions but the last.
        let mut d = n - 1;
        loop {
            if d == 0 {
                return out;
            }
            d -= 1;
            index[d] += 1;
            if index[d] < lens[d] {
                break;
            }
            index[d] = 0;
        }
    }
}

impl RawBuffer {
    /// The values of `region` out of this block of `outer` (see [`sub_block`]).
    pub fn sub_block(&self, outer: &[Range<u64>], region: &[Range<u64>]) -> RawBuffer {
        match self {
            RawBuffer::I8(v) => RawBuffer::I8(sub_block(v, outer, region)),
            RawBuffer::I16(v) => RawBuffer::I16(sub_block(v, outer, region)),
            RawBuffer::I32(v) => RawBuffer::I32(sub_block(v, outer, region)),
            RawBuffer::I64(v) => RawBuffer::I64(sub_block(v, outer, region)),
            RawBuffer::U8(v) => RawBuffer::U8(sub_block(v, outer, region)),
            RawBuffer::U16(v) => RawBuffer::U16(sub_block(v, outer, region)),
            RawBuffer::U32(v) => RawBuffer::U32(sub_block(v, outer, region)),
            RawBuffer::U64(v) => RawBuffer::U64(sub_block(v, outer, region)),
            RawBuffer::F32(v) => RawBuffer::F32(sub_block(v, outer, region)),
            RawBuffer::F64(v) => RawBuffer::F64(sub_block(v, outer, region)),
        }
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        with_raw!(self, v => v.len())
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The stored type.
    pub fn raw_type(&self) -> RawType {
        match self {
            RawBuffer::I8(_) => RawType::I8,
            RawBuffer::I16(_) => RawType::I16,
            RawBuffer::I32(_) => RawType::I32,
            RawBuffer::I64(_) => RawType::I64,
            RawBuffer::U8(_) => RawType::U8,
            RawBuffer::U16(_) => RawType::U16,
            RawBuffer::U32(_) => RawType::U32,
            RawBuffer::U64(_) => RawType::U64,
            RawBuffer::F32(_) => RawType::F32,
            RawBuffer::F64(_) => RawType::F64,
        }
    }

    /// Decodes `range` of the values as the variable's SQL column.
    ///
    /// # Errors
    /// Arrow errors while casting time values.
    pub fn decode(&self, range: Range<usize>, decoding: &VariableDecoding) -> Result<ArrayRef> {
        let array = with_raw!(self, v => decoding.cf.decode(&v[range]));
        decode_time(array, decoding)
    }
}

/// Turns CF-decoded numbers of a time variable into timestamps (or strings
/// for `360_day`).
///
/// # Errors
/// Arrow errors while casting.
pub fn decode_time(array: ArrayRef, decoding: &VariableDecoding) -> Result<ArrayRef> {
    let Some(time) = &decoding.time else {
        return Ok(array);
    };
    let numbers = cast(&array, &DataType::Float64)?;
    let numbers = numbers.as_primitive::<Float64Type>();
    if time.calendar.is_string() {
        let out: StringArray = numbers
            .iter()
            .map(|v| v.and_then(|v| time.to_string_value(v)))
            .collect();
        return Ok(Arc::new(out));
    }
    let out: TimestampMicrosecondArray = numbers
        .iter()
        .map(|v| v.and_then(|v| time.to_timestamp_us(v)))
        .collect();
    debug_assert_eq!(out.len(), array.len());
    Ok(Arc::new(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_block_copies_the_region_out_of_its_block() {
        // A 2 x 3 x 4 block at offset (10, 20, 30), values 0..24 in C order.
        let outer = [10..12, 20..23, 30..34];
        let values: Vec<u32> = (0..24).collect();
        let got = sub_block(&values, &outer, &[11..12, 21..23, 31..33]);
        assert_eq!(got, vec![12 + 4 + 1, 12 + 4 + 2, 12 + 8 + 1, 12 + 8 + 2]);
        assert_eq!(sub_block(&values, &outer, &outer), values);
        assert_eq!(sub_block(&values[..5], &outer, &outer), values[..4].to_vec());
        assert!(sub_block(&values, &outer, &[10..10, 20..23, 30..34]).is_empty());
    }
}
