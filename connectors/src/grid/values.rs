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

/// The one switch from a stored type to its values: runs `$body` with `$t`
/// the Rust type a [`RawType`](crate::cf::RawType) is stored as, and wraps
/// the `Vec<$t>` it gives in the matching [`RawBuffer`] variant. `$body` may
/// use `?` and `.await` of the function it stands in.
#[macro_export]
macro_rules! raw_buffer_of {
    ($raw:expr, $t:ident => $body:expr) => {
        match $raw {
            $crate::cf::RawType::I8 => {
                type $t = i8;
                $crate::grid::RawBuffer::I8($body)
            }
            $crate::cf::RawType::I16 => {
                type $t = i16;
                $crate::grid::RawBuffer::I16($body)
            }
            $crate::cf::RawType::I32 => {
                type $t = i32;
                $crate::grid::RawBuffer::I32($body)
            }
            $crate::cf::RawType::I64 => {
                type $t = i64;
                $crate::grid::RawBuffer::I64($body)
            }
            $crate::cf::RawType::U8 => {
                type $t = u8;
                $crate::grid::RawBuffer::U8($body)
            }
            $crate::cf::RawType::U16 => {
                type $t = u16;
                $crate::grid::RawBuffer::U16($body)
            }
            $crate::cf::RawType::U32 => {
                type $t = u32;
                $crate::grid::RawBuffer::U32($body)
            }
            $crate::cf::RawType::U64 => {
                type $t = u64;
                $crate::grid::RawBuffer::U64($body)
            }
            $crate::cf::RawType::F32 => {
                type $t = f32;
                $crate::grid::RawBuffer::F32($body)
            }
            $crate::cf::RawType::F64 => {
                type $t = f64;
                $crate::grid::RawBuffer::F64($body)
            }
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
