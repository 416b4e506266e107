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

impl RawBuffer {
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
