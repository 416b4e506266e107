//! String arrays in Zarr stores, as zarr-python 3 and xarray write them:
//!
//! | xarray | Zarr v2 `dtype` | Zarr v3 `data_type` |
//! |---|---|---|
//! | `<U n` | `<U n` | `fixed_length_utf32` |
//! | `|S n` (NetCDF chars) | `|S n` | `null_terminated_bytes` |
//! | `object` strings | `|O` + `vlen-utf8` | `string` + `vlen-utf8` |
//!
//! zarrs 0.23 reads `fixed_length_utf32` and `string`; it knows neither
//! `|S n` nor `null_terminated_bytes`, and refuses the `null` fill value
//! xarray writes for `<U n` in v2. Those arrays are opened with their
//! metadata rewritten to raw bytes of the same width (`|V n`, `r{8n}`) and
//! a zero fill value: the stored bytes and codecs are unchanged, only the
//! element type zarrs is told differs. Strings are then decoded here
//! ([`crate::grid::text`]). They are labels and names, read whole when the
//! store opens, at most [`MAX_COORD_LEN`] of them per array.

use std::sync::Arc;

use arrow::array::{ArrayRef, StringArray};
use zarrs::array::{ArrayBytes, ArrayMetadata};

use super::reader::ZarrArray;
use crate::grid::build::MAX_COORD_LEN;
use crate::grid::text::FixedText;

/// Most bytes of fixed-width strings read from one array.
pub const MAX_TEXT_BYTES: u64 = 1 << 28;

/// How a Zarr array holds strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextKind {
    /// Fixed-width cells.
    Fixed(FixedText),
    /// Variable-length UTF-8 (`string`, `|O` + `vlen-utf8`).
    Vlen,
}

/// The string layout of an array's metadata, if it holds strings.
pub fn text_kind(metadata: &ArrayMetadata) -> Option<TextKind> {
    let json = serde_json::to_value(metadata).ok()?;
    match metadata {
        ArrayMetadata::V2(_) => {
            let dtype = json.get("dtype")?.as_str()?;
            let width = |rest: &str| rest.parse::<usize>().ok().filter(|&n| n > 0);
            if let Some(n) = dtype
                .strip_prefix("<U")
                .or_else(|| dtype.strip_prefix(">U"))
                .or_else(|| dtype.strip_prefix("=U"))
            {
                let n = width(n)?;
                return Some(TextKind::Fixed(FixedText::Utf32 {
                    width: n.checked_mul(4)?,
                }));
            }
            if let Some(n) = dtype.strip_prefix("|S") {
                return Some(TextKind::Fixed(FixedText::Bytes { width: width(n)? }));
            }
            (dtype == "|O").then_some(TextKind::Vlen)
        }
        ArrayMetadata::V3(_) => {
            let dt = json.get("data_type")?;
            let name = dt.as_str().or_else(|| dt.get("name")?.as_str())?;
            let length = || {
                dt.pointer("/configuration/length_bytes")?
                    .as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .filter(|&n| n > 0)
            };
            match name {
                "string" => Some(TextKind::Vlen),
                "fixed_length_utf32" => {
                    Some(TextKind::Fixed(FixedText::Utf32 { width: length()? }))
                }
                "null_terminated_bytes" => {
                    Some(TextKind::Fixed(FixedText::Bytes { width: length()? }))
                }
                _ => None,
            }
        }
    }
}

/// Widest string cell read (bytes): wider ones are refused before zarrs
/// allocates a fill value of that width.
pub const MAX_WIDTH: usize = 1 << 20;

/// Refuses string arrays whose cells are wider than [`MAX_WIDTH`].
///
/// # Errors
/// The width, for the variable's listing.
pub fn check_width(metadata: &ArrayMetadata) -> Result<(), String> {
    let wide = |w: usize| w > MAX_WIDTH;
    if let Some(TextKind::Fixed(f)) = text_kind(metadata)
        && wide(f.width())
    {
        return Err(format!(
            "strings of {} bytes are wider than the {MAX_WIDTH} bytes gridsql reads",
            f.width()
        ));
    }
    // A width that does not even parse (overflows) is refused too.
    let json = serde_json::to_value(metadata).map_err(|e| e.to_string())?;
    let declared = json
        .pointer("/data_type/configuration/length_bytes")
        .and_then(serde_json::Value::as_u64)
        .or_else(|| {
            let d = json.get("dtype")?.as_str()?;
            let n = d.get(2..)?;
            (d.starts_with("|S") || d.get(1..2) == Some("U") || d.starts_with("|V"))
                .then(|| n.parse::<u64>().unwrap_or(u64::MAX))
        });
    match declared {
        Some(n) if n > MAX_WIDTH as u64 => Err(format!(
            "strings of {n} bytes are wider than the {MAX_WIDTH} bytes gridsql reads"
        )),
        _ => Ok(()),
    }
}

/// The metadata rewritten so that zarrs opens the array (see the module
/// docs); `None` when it needs no rewriting or is not a string array.
pub fn readable_metadata(metadata: &ArrayMetadata) -> Option<ArrayMetadata> {
    let kind = text_kind(metadata)?;
    let mut json = serde_json::to_value(metadata).ok()?;
    let zeros = |n: usize| serde_json::Value::from(vec![0u8; n]);
    match (metadata, kind) {
        (ArrayMetadata::V2(_), TextKind::Fixed(FixedText::Utf32 { .. })) => {
            json["fill_value"] = "".into();
        }
        (ArrayMetadata::V2(_), TextKind::Fixed(FixedText::Bytes { width })) => {
            json["dtype"] = format!("|V{width}").into();
            json["fill_value"] = zeros(width);
        }
        (ArrayMetadata::V3(_), TextKind::Fixed(FixedText::Bytes { width })) => {
            json["data_type"] = format!("r{}", width.checked_mul(8)?).into();
            json["fill_value"] = zeros(width);
        }
        _ => return None,
    }
    match metadata {
        ArrayMetadata::V2(_) => serde_json::from_value(json).ok().map(ArrayMetadata::V2),
        ArrayMetadata::V3(_) => serde_json::from_value(json).ok().map(ArrayMetadata::V3),
    }
}

/// Reads a whole string array.
///
/// # Errors
/// Too many strings, storage or codec errors, bytes of the wrong length.
pub async fn read_text(array: &ZarrArray, kind: TextKind) -> Result<ArrayRef, String> {
    let cells = array.shape().iter().fold(1u64, |a, &n| a.saturating_mul(n));
    if cells > MAX_COORD_LEN {
        return Err(format!(
            "{cells} strings are more than the {MAX_COORD_LEN} gridsql reads into memory"
        ));
    }
    // A hostile width (`|S99999999999`) must not make zarrs allocate it.
    if let TextKind::Fixed(fixed) = kind
        && cells.saturating_mul(fixed.width() as u64) > MAX_TEXT_BYTES
    {
        return Err(format!(
            "{cells} strings of {} bytes are more than the {MAX_TEXT_BYTES} bytes gridsql \
             reads into memory",
            fixed.width()
        ));
    }
    let subset = array.subset_all();
    let values: StringArray = match kind {
        TextKind::Vlen => array
            .async_retrieve_array_subset::<Vec<String>>(&subset)
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(Some)
            .collect(),
        TextKind::Fixed(fixed) => {
            let bytes = array
                .async_retrieve_array_subset::<ArrayBytes<'static>>(&subset)
                .await
                .map_err(|e| e.to_string())?
                .into_fixed()
                .map_err(|e| e.to_string())?;
            let want = usize::try_from(cells)
                .ok()
                .and_then(|c| c.checked_mul(fixed.width()));
            if Some(bytes.len()) != want {
                return Err(format!(
                    "{} bytes for {cells} strings of {} bytes",
                    bytes.len(),
                    fixed.width()
                ));
            }
            fixed.decode(&bytes)
        }
    };
    Ok(Arc::new(values))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2(dtype: &str) -> ArrayMetadata {
        let j = serde_json::json!({
            "zarr_format": 2, "shape": [3], "chunks": [3], "dtype": dtype, "fill_value": null,
            "order": "C", "filters": null, "compressor": null
        });
        ArrayMetadata::V2(serde_json::from_value(j).expect("v2 metadata"))
    }

    fn v3(data_type: serde_json::Value) -> ArrayMetadata {
        let j = serde_json::json!({
            "zarr_format": 3, "node_type": "array", "shape": [3], "data_type": data_type,
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [3]}},
            "chunk_key_encoding": {"name": "default"}, "fill_value": "",
            "codecs": [{"name": "bytes"}]
        });
        ArrayMetadata::V3(serde_json::from_value(j).expect("v3 metadata"))
    }

    #[test]
    fn kinds_of_every_string_layout() {
        let utf32 = |width| Some(TextKind::Fixed(FixedText::Utf32 { width }));
        let bytes = |width| Some(TextKind::Fixed(FixedText::Bytes { width }));
        assert_eq!(text_kind(&v2("<U9")), utf32(36));
        assert_eq!(text_kind(&v2("|S15")), bytes(15));
        assert_eq!(text_kind(&v2("|O")), Some(TextKind::Vlen));
        assert_eq!(text_kind(&v2("<f4")), None);
        assert_eq!(text_kind(&v2("|S0")), None);
        let cfg = |name: &str, n: u64| serde_json::json!({"name": name, "configuration": {"length_bytes": n}});
        assert_eq!(text_kind(&v3(cfg("fixed_length_utf32", 36))), utf32(36));
        assert_eq!(text_kind(&v3(cfg("null_terminated_bytes", 4))), bytes(4));
        assert_eq!(text_kind(&v3("string".into())), Some(TextKind::Vlen));
        assert_eq!(text_kind(&v3("float32".into())), None);
    }

    #[test]
    fn byte_strings_are_opened_as_raw_bytes_of_their_width() {
        let m = readable_metadata(&v2("|S4")).expect("rewritten");
        let j = serde_json::to_value(&m).expect("json");
        assert_eq!(j["dtype"], "|V4");
        assert_eq!(j["fill_value"], serde_json::json!([0, 0, 0, 0]));
        let m = readable_metadata(&v3(serde_json::json!(
            {"name": "null_terminated_bytes", "configuration": {"length_bytes": 2}}
        )))
        .expect("rewritten");
        let j = serde_json::to_value(&m).expect("json");
        assert_eq!(j["data_type"], "r16");
        assert!(readable_metadata(&v3("string".into())).is_none());
    }

    #[test]
    fn hostile_widths_are_refused_before_opening() {
        assert!(check_width(&v2("|S15")).is_ok());
        assert!(check_width(&v2("|S1099511627776")).is_err());
        assert!(check_width(&v2("|S99999999999999999999999")).is_err());
        assert!(check_width(&v2("<U999999999")).is_err());
        assert!(
            check_width(&v3(serde_json::json!(
                {"name": "fixed_length_utf32", "configuration": {"length_bytes": 1u64 << 40}}
            )))
            .is_err()
        );
    }
}
