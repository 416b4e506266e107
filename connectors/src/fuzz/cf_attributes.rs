//! Fuzz body: CF attribute decoding (`scale_factor`, `add_offset`,
//! `_FillValue` in every encoding Zarr writers use, `missing_value`, time
//! `units` and `calendar`) applied to stored values of every dtype.
//!
//! Input layout: byte 0 picks the stored type, byte 1 how `_FillValue` is
//! read (bit 0: as Zarr v3 writes it, base64 allowed; bit 1: ignore it);
//! then the attributes as a JSON object, `0xFF`, and the stored values as
//! little-endian bytes of that type.
//!
//! Checked: decoding keeps one value per stored value and the schema's
//! type, and the per-value decoder the in-scan aggregates use
//! ([`crate::cf::ScalarDecoder`]) agrees with the array decoder on every
//! value, NULL or not.

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type};

use crate::cf::attrs::decode_v3_fill;
use crate::cf::{AttrValue, Attributes, CfDecoding, RawElem, RawType};
use crate::grid::RawBuffer;
use crate::grid::model::VariableDecoding;
use crate::open::time_decoding;

/// The stored types, indexed by the input's first byte.
const TYPES: [RawType; 10] = [
    RawType::I8,
    RawType::I16,
    RawType::I32,
    RawType::I64,
    RawType::U8,
    RawType::U16,
    RawType::U32,
    RawType::U64,
    RawType::F32,
    RawType::F64,
];

/// Runs the target on one input.
pub fn run(data: &[u8]) -> bool {
    let [t, flags, rest @ ..] = data else {
        return false;
    };
    let raw = TYPES[*t as usize % TYPES.len()];
    let mut split = rest.splitn(2, |&b| b == 0xFF);
    let attrs_json = split.next().unwrap_or_default();
    let values = split.next().unwrap_or_default();
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(attrs_json) else {
        return false;
    };
    let attrs: Attributes = map
        .iter()
        .map(|(k, v)| (k.clone(), AttrValue::from_json(v)))
        .collect();
    let fill = match (flags & 2 != 0, flags & 1 != 0) {
        (true, _) => None,
        (false, true) => map.get("_FillValue").and_then(decode_v3_fill),
        (false, false) => attrs.get("_FillValue").and_then(AttrValue::as_f64),
    };
    let cf = CfDecoding::from_attrs(raw, &attrs, fill);
    let time = time_decoding("fuzz", "v", &attrs);
    let decoding = VariableDecoding { cf, time };
    let buf = buffer(raw, values);
    let Ok(array) = buf.decode(0..buf.len(), &decoding) else {
        return false;
    };
    assert_eq!(array.len(), buf.len());
    assert_eq!(array.data_type(), &decoding.arrow_type());
    if decoding.time.is_none() {
        crate::with_raw!(&buf, v => check_scalar(&decoding.cf, v, &array));
    }
    true
}

/// Stored values of `raw` from little-endian bytes (a trailing partial
/// value is dropped).
fn buffer(raw: RawType, bytes: &[u8]) -> RawBuffer {
    crate::raw_buffer_of!(raw, T => bytes
        .chunks_exact(std::mem::size_of::<T>())
        .map(|c| {
            let mut a = [0u8; std::mem::size_of::<T>()];
            a.copy_from_slice(c);
            T::from_le_bytes(a)
        })
        .collect())
}

/// The scalar decoder gives, value by value, what the array decoder gave.
fn check_scalar<T: RawElem>(cf: &CfDecoding, values: &[T], array: &ArrayRef) {
    let dec = cf.scalar::<T>();
    let Ok(wide) = cast(array, &DataType::Float64) else {
        return;
    };
    let wide = wide.as_primitive::<Float64Type>();
    for (i, &v) in values.iter().enumerate() {
        let got = dec.get(v);
        let want = (!array.is_null(i)).then(|| wide.value(i));
        let same = match (got, want) {
            (None, None) => true,
            (Some(a), Some(b)) => a == b || (a.is_nan() && b.is_nan()),
            _ => false,
        };
        assert!(
            same,
            "value {i} of {:?}: scalar decoder {got:?}, array decoder {want:?} ({cf:?})",
            T::RAW
        );
    }
}
