//! Packed values and missing-value masks (CF 2.5 and 8.1), decoded into Arrow
//! arrays with validity bitmaps.
//!
//! The output type follows xarray's `_choose_float_dtype`: packed data takes
//! the float type of `scale_factor`/`add_offset` (float64 for 32-bit integers
//! or when only `add_offset` is given); masked but unpacked integers of at most
//! two bytes become float32, wider ones float64; float data keeps its width.
//! Arithmetic happens in the output type, as in xarray, so float32 results
//! match it bit for bit.

use std::sync::Arc;

use arrow::array::{ArrayRef, PrimitiveArray};
use arrow::buffer::{BooleanBuffer, NullBuffer};
use arrow::datatypes::{
    ArrowPrimitiveType, DataType, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type,
    Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};

use super::attrs::{AttrValue, Attributes};

/// The stored element type of a variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum RawType {
    /// int8
    I8,
    /// int16
    I16,
    /// int32
    I32,
    /// int64
    I64,
    /// uint8
    U8,
    /// uint16
    U16,
    /// uint32
    U32,
    /// uint64
    U64,
    /// float32
    F32,
    /// float64
    F64,
}

impl RawType {
    /// Size of one element in bytes.
    pub fn size(self) -> usize {
        match self {
            RawType::I8 | RawType::U8 => 1,
            RawType::I16 | RawType::U16 => 2,
            RawType::I32 | RawType::U32 | RawType::F32 => 4,
            RawType::I64 | RawType::U64 | RawType::F64 => 8,
        }
    }

    /// Whether the type is a float.
    pub fn is_float(self) -> bool {
        matches!(self, RawType::F32 | RawType::F64)
    }

    /// The Arrow type of undecoded values.
    pub fn arrow(self) -> DataType {
        match self {
            RawType::I8 => DataType::Int8,
            RawType::I16 => DataType::Int16,
            RawType::I32 => DataType::Int32,
            RawType::I64 => DataType::Int64,
            RawType::U8 => DataType::UInt8,
            RawType::U16 => DataType::UInt16,
            RawType::U32 => DataType::UInt32,
            RawType::U64 => DataType::UInt64,
            RawType::F32 => DataType::Float32,
            RawType::F64 => DataType::Float64,
        }
    }

    /// The numpy-style name (`int16`), for display.
    pub fn name(self) -> &'static str {
        match self {
            RawType::I8 => "int8",
            RawType::I16 => "int16",
            RawType::I32 => "int32",
            RawType::I64 => "int64",
            RawType::U8 => "uint8",
            RawType::U16 => "uint16",
            RawType::U32 => "uint32",
            RawType::U64 => "uint64",
            RawType::F32 => "float32",
            RawType::F64 => "float64",
        }
    }

    /// The unsigned twin of a signed integer type (for `_Unsigned = "true"`).
    pub fn unsigned(self) -> RawType {
        match self {
            RawType::I8 => RawType::U8,
            RawType::I16 => RawType::U16,
            RawType::I32 => RawType::U32,
            RawType::I64 => RawType::U64,
            other => other,
        }
    }
}

/// An element type that grids store; ties a Rust type to its [`RawType`] and Arrow type.
pub trait RawElem: Copy + Send + Sync + PartialEq + 'static {
    /// The matching Arrow primitive type.
    type Arrow: ArrowPrimitiveType<Native = Self>;
    /// The raw type tag.
    const RAW: RawType;
    /// Converts to f64 (may round for 64-bit integers).
    fn to_f64(self) -> f64;
    /// Converts to f32.
    fn to_f32(self) -> f32;
    /// Whether the value is a float NaN.
    fn is_nan(self) -> bool;
    /// The value of `v` in this type, if `v` is exactly representable.
    fn from_f64_exact(v: f64) -> Option<Self>;
    /// Whether this is an integer type of at most 32 bits, whose sums fit
    /// an `i64` exactly for any realistic number of values.
    const SMALL_INT: bool = false;
    /// The value as i64 (meaningful for integer types).
    fn as_i64(self) -> i64 {
        0
    }
}

macro_rules! int_elem {
    ($t:ty, $arrow:ty, $raw:expr) => {
        impl RawElem for $t {
            type Arrow = $arrow;
            const RAW: RawType = $raw;
            #[inline]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline]
            fn to_f32(self) -> f32 {
                self as f32
            }
            const SMALL_INT: bool = std::mem::size_of::<$t>() <= 4;
            #[inline]
            fn as_i64(self) -> i64 {
                self as i64
            }
            #[inline]
            fn is_nan(self) -> bool {
                false
            }
            fn from_f64_exact(v: f64) -> Option<Self> {
                if v.fract() != 0.0 || !v.is_finite() {
                    return None;
                }
                let c = v as $t;
                ((c as f64) == v).then_some(c)
            }
        }
    };
}
int_elem!(i8, Int8Type, RawType::I8);
int_elem!(i16, Int16Type, RawType::I16);
int_elem!(i32, Int32Type, RawType::I32);
int_elem!(i64, Int64Type, RawType::I64);
int_elem!(u8, UInt8Type, RawType::U8);
int_elem!(u16, UInt16Type, RawType::U16);
int_elem!(u32, UInt32Type, RawType::U32);
int_elem!(u64, UInt64Type, RawType::U64);

impl RawElem for f32 {
    type Arrow = Float32Type;
    const RAW: RawType = RawType::F32;
    #[inline]
    fn to_f64(self) -> f64 {
        self as f64
    }
    #[inline]
    fn to_f32(self) -> f32 {
        self
    }
    #[inline]
    fn is_nan(self) -> bool {
        f32::is_nan(self)
    }
    fn from_f64_exact(v: f64) -> Option<Self> {
        // numpy compares a float32 array with a Python float in float32 (NEP 50).
        Some(v as f32)
    }
}

impl RawElem for f64 {
    type Arrow = Float64Type;
    const RAW: RawType = RawType::F64;
    #[inline]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline]
    fn to_f32(self) -> f32 {
        self as f32
    }
    #[inline]
    fn is_nan(self) -> bool {
        f64::is_nan(self)
    }
    fn from_f64_exact(v: f64) -> Option<Self> {
        Some(v)
    }
}

/// The SQL type of a decoded variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum OutputType {
    /// The stored values unchanged (float NaN still becomes NULL).
    Raw,
    /// Unpacked or masked into float32.
    F32,
    /// Unpacked or masked into float64.
    F64,
}

/// How to turn one variable's stored values into SQL values.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CfDecoding {
    /// Stored element type.
    pub raw: RawType,
    /// `scale_factor`, if any.
    pub scale: Option<f64>,
    /// `add_offset`, if any.
    pub offset: Option<f64>,
    /// Stored values that mean "missing" (`_FillValue`, `missing_value`).
    pub fills: Vec<f64>,
    /// The decoded type.
    pub output: OutputType,
}

impl CfDecoding {
    /// Derives the decoding from a variable's attributes.
    ///
    /// `fill` is the CF fill value as the format defines it (NetCDF and Zarr
    /// v3: the `_FillValue` attribute; Zarr v2: the array's `fill_value`);
    /// `missing_value` comes from the attributes. Non-conforming fills that
    /// the stored type cannot hold (a NaN `_FillValue` on int16 data) mask
    /// nothing, as in xarray.
    pub fn from_attrs(raw: RawType, attrs: &Attributes, fill: Option<f64>) -> Self {
        let scale_attr = attrs.get("scale_factor").filter(|v| v.as_f64().is_some());
        let offset_attr = attrs.get("add_offset").filter(|v| v.as_f64().is_some());
        let scale = scale_attr.and_then(AttrValue::as_f64);
        let offset = offset_attr.and_then(AttrValue::as_f64);
        let mut fills: Vec<f64> = Vec::new();
        let mut push = |v: f64| {
            let usable = if raw.is_float() {
                true
            } else {
                v.is_finite() && v.fract() == 0.0
            };
            if usable && !fills.iter().any(|f| f == &v || (f.is_nan() && v.is_nan())) {
                fills.push(v);
            }
        };
        if let Some(f) = fill {
            push(f);
        }
        if let Some(mv) = attrs.get("missing_value") {
            for v in mv.numbers() {
                push(v);
            }
        }
        let output = if scale.is_some() || offset.is_some() {
            let float_type = |a: Option<&AttrValue>| a.map(|v| if v.is_f32() { 32 } else { 64 });
            let (st, ot) = (float_type(scale_attr), float_type(offset_attr));
            match (st, ot) {
                (Some(s), Some(o)) if s == o => {
                    let both_float = scale_attr.is_some_and(AttrValue::is_float)
                        && offset_attr.is_some_and(AttrValue::is_float);
                    if !both_float {
                        OutputType::F64
                    } else if s == 32 && (raw.is_float() || raw.size() != 4) {
                        OutputType::F32
                    } else {
                        OutputType::F64
                    }
                }
                (_, Some(_)) => OutputType::F64,
                (Some(32), None) if scale_attr.is_some_and(AttrValue::is_float) => OutputType::F32,
                _ => OutputType::F64,
            }
        } else if !fills.is_empty() && !raw.is_float() {
            if raw.size() <= 2 {
                OutputType::F32
            } else {
                OutputType::F64
            }
        } else {
            OutputType::Raw
        };
        CfDecoding {
            raw,
            scale,
            offset,
            fills,
            output,
        }
    }

    /// The Arrow type of decoded values.
    pub fn arrow_type(&self) -> DataType {
        match self.output {
            OutputType::Raw => self.raw.arrow(),
            OutputType::F32 => DataType::Float32,
            OutputType::F64 => DataType::Float64,
        }
    }

    /// A decoder of single values of element type `T`: the same arithmetic
    /// as [`CfDecoding::decode`], for loops that reduce values without
    /// building arrays.
    pub fn scalar<T: RawElem>(&self) -> ScalarDecoder<T> {
        let fills: Vec<T> = self
            .fills
            .iter()
            .filter_map(|f| T::from_f64_exact(*f))
            .collect();
        ScalarDecoder {
            first: fills.first().copied(),
            rest: fills.get(1..).map(<[T]>::to_vec).unwrap_or_default(),
            output: self.output,
            scale: self.scale,
            offset: self.offset,
            scale32: self.scale.map(|s| s as f32),
            offset32: self.offset.map(|o| o as f32),
        }
    }

    /// Decodes stored values into an Arrow array with NULLs for missing values.
    pub fn decode<T: RawElem>(&self, values: &[T]) -> ArrayRef {
        let dec = self.scalar::<T>();
        let missing = |v: T| dec.is_missing(v);
        match self.output {
            OutputType::Raw => {
                if !T::RAW.is_float() && dec.first.is_none() {
                    return Arc::new(PrimitiveArray::<T::Arrow>::from_iter_values(
                        values.iter().copied(),
                    ));
                }
                build::<T::Arrow, T>(values, missing, |v| v)
            }
            OutputType::F32 => build::<Float32Type, T>(values, missing, |v| dec.unpack_f32(v)),
            OutputType::F64 => build::<Float64Type, T>(values, missing, |v| dec.unpack_f64(v)),
        }
    }
}

/// Decodes single stored values of type `T` (see [`CfDecoding::scalar`]).
#[derive(Debug, Clone)]
pub struct ScalarDecoder<T> {
    first: Option<T>,
    rest: Vec<T>,
    output: OutputType,
    scale: Option<f64>,
    offset: Option<f64>,
    scale32: Option<f32>,
    offset32: Option<f32>,
}

impl<T: RawElem> ScalarDecoder<T> {
    /// For small integer types decoded to float64 with at most one fill
    /// value: the fill and the affine map `(scale, offset)`, so that sums of
    /// stored integers can be taken first and unpacked once.
    pub fn affine_int(&self) -> Option<(Option<T>, f64, f64)> {
        (T::SMALL_INT && self.rest.is_empty() && self.output == OutputType::F64).then(|| {
            (
                self.first,
                self.scale.unwrap_or(1.0),
                self.offset.unwrap_or(0.0),
            )
        })
    }

    /// Whether a stored value is missing (NaN or a fill value).
    #[inline]
    pub fn is_missing(&self, v: T) -> bool {
        v.is_nan() || self.first == Some(v) || (!self.rest.is_empty() && self.rest.contains(&v))
    }

    /// A value unpacked in float32 arithmetic (output type float32).
    #[inline]
    fn unpack_f32(&self, v: T) -> f32 {
        let mut x = v.to_f32();
        if let Some(s) = self.scale32 {
            x *= s;
        }
        if let Some(o) = self.offset32 {
            x += o;
        }
        x
    }

    /// A value unpacked in float64 arithmetic (output type float64).
    #[inline]
    fn unpack_f64(&self, v: T) -> f64 {
        let mut x = v.to_f64();
        if let Some(s) = self.scale {
            x *= s;
        }
        if let Some(o) = self.offset {
            x += o;
        }
        x
    }

    /// The decoded value as f64 (exactly the value [`CfDecoding::decode`]
    /// gives, widened), or `None` when missing.
    #[inline]
    pub fn get(&self, v: T) -> Option<f64> {
        if self.is_missing(v) {
            return None;
        }
        Some(match self.output {
            OutputType::Raw => v.to_f64(),
            OutputType::F32 => f64::from(self.unpack_f32(v)),
            OutputType::F64 => self.unpack_f64(v),
        })
    }
}

/// Builds a primitive array from `values`, NULL where `missing`, else `f(value)`.
///
/// Two passes that the compiler vectorises: the validity bitmap 64 values
/// at a time, then the values (missing ones become `f(fill)`, hidden by the
/// bitmap).
fn build<O: ArrowPrimitiveType, T: Copy>(
    values: &[T],
    missing: impl Fn(T) -> bool,
    f: impl Fn(T) -> O::Native,
) -> ArrayRef {
    let valid = BooleanBuffer::collect_bool(values.len(), |i| !missing(values[i]));
    let out: Vec<O::Native> = values.iter().map(|&v| f(v)).collect();
    let nulls = NullBuffer::new(valid);
    let nulls = (nulls.null_count() > 0).then_some(nulls);
    Arc::new(PrimitiveArray::<O>::new(out.into(), nulls))
}

#[cfg(test)]
mod tests {
    use arrow::array::{Array, AsArray};

    use super::*;

    fn attrs(pairs: &[(&str, AttrValue)]) -> Attributes {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }
    fn f64a(v: f64) -> AttrValue {
        AttrValue::Float {
            value: v,
            f32: false,
        }
    }
    fn f32a(v: f64) -> AttrValue {
        AttrValue::Float {
            value: v,
            f32: true,
        }
    }

    #[test]
    fn packed_int16_scale_only_f64() {
        let d = CfDecoding::from_attrs(
            RawType::I16,
            &attrs(&[("scale_factor", f64a(1e-4))]),
            Some(-32767.0),
        );
        assert_eq!(d.output, OutputType::F64);
        let a = d.decode(&[1000i16, -32767, -5]);
        let a = a.as_primitive::<Float64Type>();
        assert_eq!(a.null_count(), 1);
        assert!((a.value(0) - 0.1).abs() < 1e-12);
        assert!(a.is_null(1));
        assert!((a.value(2) + 0.0005).abs() < 1e-12);
    }

    #[test]
    fn float32_scale_and_offset_stay_float32() {
        let d = CfDecoding::from_attrs(
            RawType::I16,
            &attrs(&[("scale_factor", f32a(0.5)), ("add_offset", f32a(10.0))]),
            None,
        );
        assert_eq!(d.output, OutputType::F32);
        // int32 data with float32 packing is upcast to float64
        let d32 = CfDecoding::from_attrs(
            RawType::I32,
            &attrs(&[("scale_factor", f32a(0.5)), ("add_offset", f32a(10.0))]),
            None,
        );
        assert_eq!(d32.output, OutputType::F64);
    }

    #[test]
    fn negative_scale_with_offset() {
        let d = CfDecoding::from_attrs(
            RawType::I16,
            &attrs(&[("scale_factor", f64a(-2.0)), ("add_offset", f64a(100.0))]),
            Some(f64::NAN),
        );
        // NaN fill on integer data is non-conforming: it masks nothing
        assert!(d.fills.is_empty());
        let a = d.decode(&[3i16]);
        assert_eq!(a.as_primitive::<Float64Type>().value(0), 94.0);
    }

    #[test]
    fn missing_value_differs_from_fill() {
        let d = CfDecoding::from_attrs(
            RawType::F32,
            &attrs(&[("missing_value", f32a(-9.969209968386869e36))]),
            Some(f64::NAN),
        );
        let a = d.decode(&[1.5f32, -9.969_21e36, f32::NAN]);
        assert_eq!(a.null_count(), 2);
        assert_eq!(a.data_type(), &DataType::Float32);
    }

    #[test]
    fn masked_ints_become_floats_like_xarray() {
        assert_eq!(
            CfDecoding::from_attrs(RawType::I16, &Attributes::new(), Some(-1.0)).output,
            OutputType::F32
        );
        assert_eq!(
            CfDecoding::from_attrs(RawType::I32, &Attributes::new(), Some(-1.0)).output,
            OutputType::F64
        );
        assert_eq!(
            CfDecoding::from_attrs(RawType::I32, &Attributes::new(), None).output,
            OutputType::Raw
        );
    }
}
