//! The messages of a GRIB file: where each starts and ends, and what field
//! it holds (edition 1 and 2 alike). A GRIB file is a plain sequence of
//! self-describing messages, each beginning `GRIB` and ending `7777`.

use super::geometry::GridDef;
use super::params::{Level, Param};
use super::{edition1, edition2};

/// What a field is: the keys cfgrib builds its hypercube from.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldKeys {
    /// The parameter (the table's variable).
    pub param: Param,
    /// The vertical level.
    pub level: Option<Level>,
    /// Ensemble member, when the product has one.
    pub number: Option<i64>,
    /// Reference time, seconds since 1970-01-01 UTC.
    pub time: i64,
    /// Forecast step in hours.
    pub step_hours: f64,
}

/// One field of a file.
#[derive(Debug, Clone)]
pub struct Field {
    /// Its keys.
    pub keys: FieldKeys,
    /// Its horizontal grid.
    pub grid: GridDef,
}

/// Where a field's bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldAt {
    /// Message start in the file.
    pub offset: usize,
    /// Message length.
    pub len: usize,
    /// Edition (1 or 2).
    pub edition: u8,
    /// Field within a GRIB2 message (which may repeat sections 2 to 7).
    pub sub: usize,
}

/// Seconds of one unit of time (GRIB1 code table 4, GRIB2 code table 4.4:
/// they agree up to 12 hours); `None` for months, years and unknown units.
pub fn unit_seconds(edition: u8, unit: u8) -> Option<f64> {
    Some(match (edition, unit) {
        (_, 0) => 60.0,
        (_, 1) => 3600.0,
        (_, 2) => 86_400.0,
        (_, 10) => 3.0 * 3600.0,
        (_, 11) => 6.0 * 3600.0,
        (_, 12) => 12.0 * 3600.0,
        (1, 13) => 15.0 * 60.0,
        (1, 14) => 30.0 * 60.0,
        (1, 254) | (2, 13) => 1.0,
        _ => return None,
    })
}

/// The messages of a file, as (start, length, edition).
///
/// # Errors
/// A file without messages, a message that claims more bytes than the file
/// has, an edition other than 1 or 2.
pub fn messages(bytes: &[u8]) -> Result<Vec<(usize, usize, u8)>, String> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while let Some(found) = find(&bytes[at..], b"GRIB") {
        let start = at + found;
        let head = bytes
            .get(start..start + 16)
            .ok_or_else(|| format!("truncated GRIB message at byte {start}"))?;
        let (len, edition) = match head[7] {
            1 => {
                let len = (usize::from(head[4]) << 16)
                    | (usize::from(head[5]) << 8)
                    | usize::from(head[6]);
                (len, 1)
            }
            2 => {
                let len = u64::from_be_bytes([
                    head[8], head[9], head[10], head[11], head[12], head[13], head[14], head[15],
                ]);
                (usize::try_from(len).unwrap_or(usize::MAX), 2)
            }
            e => return Err(format!("GRIB edition {e} at byte {start} is not supported")),
        };
        let end = start
            .checked_add(len)
            .filter(|&end| end <= bytes.len() && len >= 16)
            .ok_or_else(|| {
                format!(
                    "GRIB message at byte {start} claims {len} bytes; the file has {} after it",
                    bytes.len() - start
                )
            })?;
        if &bytes[end - 4..end] != b"7777" {
            return Err(format!(
                "GRIB message at byte {start} does not end with 7777"
            ));
        }
        out.push((start, len, edition));
        at = end;
    }
    if out.is_empty() {
        return Err("no GRIB message in the file".into());
    }
    Ok(out)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The fields of a file with where each is.
///
/// # Errors
/// As [`messages`], and any message whose sections cannot be read.
pub fn fields(bytes: &bytes::Bytes) -> Result<Vec<(FieldAt, Field)>, String> {
    let mut out = Vec::new();
    for (offset, len, edition) in messages(bytes)? {
        let msg = bytes.slice(offset..offset + len);
        let what = |e: String| format!("GRIB message at byte {offset}: {e}");
        if edition == 1 {
            let field = edition1::field(&msg).map_err(what)?;
            out.push((
                FieldAt {
                    offset,
                    len,
                    edition,
                    sub: 0,
                },
                field,
            ));
        } else {
            for (sub, field) in edition2::fields(msg).map_err(what)?.into_iter().enumerate() {
                out.push((
                    FieldAt {
                        offset,
                        len,
                        edition,
                        sub,
                    },
                    field,
                ));
            }
        }
    }
    Ok(out)
}

/// The values of the field at `at`, `points` of them in storage order.
///
/// # Errors
/// Packings the decoders do not support, truncated or corrupt data.
pub fn decode(bytes: &bytes::Bytes, at: FieldAt, points: usize) -> Result<Vec<f32>, String> {
    let msg = bytes
        .get(at.offset..at.offset + at.len)
        .ok_or("message outside the file")?;
    let values = if at.edition == 1 {
        edition1::decode(msg, points)?
    } else {
        edition2::decode(bytes.slice(at.offset..at.offset + at.len), at.sub)?
    };
    if values.len() != points {
        return Err(format!(
            "decoded {} values for a grid of {points} points",
            values.len()
        ));
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_boundaries_are_checked() {
        assert!(messages(b"nothing here").is_err());
        // a GRIB1 message that claims 1000 bytes
        let mut m = b"GRIB\0\x03\xe8\x01".to_vec();
        m.resize(40, 0);
        assert!(messages(&m).unwrap_err().contains("claims 1000 bytes"));
        // a GRIB3 message
        let mut m = b"GRIB\0\0\0\x03".to_vec();
        m.resize(40, 0);
        assert!(messages(&m).unwrap_err().contains("edition 3"));
    }
}
