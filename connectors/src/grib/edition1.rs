//! GRIB edition 1 (WMO FM 92 GRIB, 1994), decoded here: no crate on
//! crates.io reads it. Sections: indicator (8 bytes), product definition,
//! optional grid description, optional bit map, binary data, `7777`.
//! Supported: regular lat/lon and Gaussian grids, simple grid-point packing,
//! bit maps (missing points are NaN), ECMWF's ensemble member number.

use super::geometry::GridDef;
use super::message::{Field, FieldKeys, unit_seconds};
use super::params;

/// Bytes `at..at + n` of `b`, or why not.
fn slice<'a>(b: &'a [u8], at: usize, n: usize, what: &str) -> Result<&'a [u8], String> {
    b.get(at..at.saturating_add(n))
        .ok_or_else(|| format!("truncated GRIB1 {what} (needs {n} bytes at {at})"))
}

fn u24(b: &[u8]) -> usize {
    (usize::from(b[0]) << 16) | (usize::from(b[1]) << 8) | usize::from(b[2])
}

fn u16_at(b: &[u8], at: usize) -> u32 {
    u32::from(u16::from_be_bytes([b[at], b[at + 1]]))
}

/// A sign-and-magnitude integer (GRIB1 stores negatives this way).
fn signed(b: &[u8]) -> i64 {
    let mut v: i64 = 0;
    for (k, &byte) in b.iter().enumerate() {
        v = (v << 8) | i64::from(if k == 0 { byte & 0x7f } else { byte });
    }
    if b[0] & 0x80 != 0 { -v } else { v }
}

/// An IBM System/360 single-precision float (the reference value).
fn ibm_float(b: &[u8]) -> f64 {
    let sign = if b[0] & 0x80 != 0 { -1.0 } else { 1.0 };
    let exponent = i32::from(b[0] & 0x7f) - 64;
    let mantissa = f64::from(u32::from_be_bytes([0, b[1], b[2], b[3]]));
    sign * mantissa / f64::from(1 << 24) * 16f64.powi(exponent)
}

/// The sections of one message.
struct Sections<'a> {
    pds: &'a [u8],
    gds: &'a [u8],
    bms: Option<&'a [u8]>,
    bds: &'a [u8],
}

/// The section starting at byte `at` of `msg` (its first three bytes are its
/// length), at least `min` bytes long.
fn section<'a>(msg: &'a [u8], at: usize, what: &str, min: usize) -> Result<&'a [u8], String> {
    let len = u24(slice(msg, at, 3, what)?);
    let s = slice(msg, at, len, what)?;
    if s.len() < min {
        return Err(format!(
            "GRIB1 {what} of {} bytes (at least {min})",
            s.len()
        ));
    }
    Ok(s)
}

fn sections(msg: &[u8]) -> Result<Sections<'_>, String> {
    let pds = section(msg, 8, "product definition section", 28)?;
    let mut at = 8 + pds.len();
    let flags = pds[7];
    if flags & 0x80 == 0 {
        return Err(
            "GRIB1 message without a grid description (a predefined grid) is not supported".into(),
        );
    }
    let gds = section(msg, at, "grid description", 28)?;
    at += gds.len();
    let bms = if flags & 0x40 != 0 {
        let bms = section(msg, at, "bit map", 6)?;
        at += bms.len();
        Some(bms)
    } else {
        None
    };
    let bds = section(msg, at, "binary data section", 11)?;
    Ok(Sections { pds, gds, bms, bds })
}

/// The ensemble member of the MARS local definitions that carry one (the
/// local section starts at octet 41 with its definition number): one octet
/// at octet 50 in definitions 1, 26, 30 and 36 (ERA5's ensemble), two in the
/// seasonal-forecast definitions 12, 15 and 16.
fn ensemble_member(pds: &[u8]) -> Option<i64> {
    match pds.get(40)? {
        1 | 26 | 30 | 36 => pds.get(49).map(|&n| i64::from(n)),
        12 | 15 | 16 => pds
            .get(49..51)
            .map(|b| i64::from(u16::from_be_bytes([b[0], b[1]]))),
        _ => None,
    }
}

fn grid(gds: &[u8]) -> Result<GridDef, String> {
    let ni = u16_at(gds, 6);
    let nj = u16_at(gds, 8);
    let milli = |at: usize| signed(&gds[at..at + 3]) * 1000;
    let scan = gds[27];
    match gds[5] {
        0 => Ok(GridDef::LatLon {
            ni,
            nj,
            la1: milli(10),
            lo1: milli(13),
            la2: milli(17),
            lo2: milli(20),
            scan,
        }),
        4 => Ok(GridDef::Gaussian {
            ni,
            nj,
            n: u16_at(gds, 25),
            lo1: milli(13),
            lo2: milli(20),
            scan,
        }),
        other => Err(format!(
            "GRIB1 grid type {other} is not supported (regular lat/lon and Gaussian are)"
        )),
    }
}

/// The keys of the GRIB1 message `msg`.
///
/// # Errors
/// Truncated sections, unsupported grids, levels or time units.
pub fn field(msg: &[u8]) -> Result<Field, String> {
    let s = sections(msg)?;
    let pds = s.pds;
    let param = params::edition1(pds[3], pds[8]);
    let level = params::level1(pds[9], [pds[10], pds[11]])?;
    let century = i32::from(pds[24]);
    let year = (century - 1) * 100 + i32::from(pds[12]);
    let time = chrono::NaiveDate::from_ymd_opt(year, u32::from(pds[13]), u32::from(pds[14]))
        .and_then(|d| d.and_hms_opt(u32::from(pds[15]), u32::from(pds[16]), 0))
        .ok_or_else(|| {
            format!(
                "invalid GRIB1 reference date {year}-{}-{}",
                pds[13], pds[14]
            )
        })?
        .and_utc()
        .timestamp();
    let unit = unit_seconds(1, pds[17])
        .ok_or_else(|| format!("GRIB1 time unit {} is not supported", pds[17]))?;
    // Code table 5: P1 alone is the step, except for indicator 10 (P1 and P2
    // one 16-bit number) and the statistics over P1..P2, which end at P2.
    let periods = match pds[20] {
        10 => u16_at(pds, 18),
        2..=5 => u32::from(pds[19]),
        _ => u32::from(pds[18]),
    };
    let step_hours = f64::from(periods) * unit / 3600.0;
    let number = ensemble_member(pds);
    let grid = grid(s.gds)?;
    grid.check()?;
    Ok(Field {
        keys: FieldKeys {
            param,
            level,
            number,
            time,
            step_hours,
        },
        grid,
    })
}

/// The values of the GRIB1 message `msg`, `points` of them in storage
/// order, NaN where the bit map says missing.
///
/// # Errors
/// Truncated data, packings other than simple grid-point packing.
pub fn decode(msg: &[u8], points: usize) -> Result<Vec<f32>, String> {
    let s = sections(msg)?;
    let bds = s.bds;
    let flags = bds[3] >> 4;
    if flags & 0x8 != 0 {
        return Err("GRIB1 spherical harmonics are not supported".into());
    }
    if flags & 0x4 != 0 {
        return Err("GRIB1 complex (second-order) packing is not supported".into());
    }
    let binary_scale = signed(&bds[4..6]);
    let reference = ibm_float(&bds[6..10]);
    let bits = usize::from(bds[10]);
    let decimal_scale = signed(&s.pds[26..28]);
    let bscale = 2f64.powi(i32::try_from(binary_scale).map_err(|_| "bad binary scale")?);
    let dscale = 10f64.powi(-i32::try_from(decimal_scale).map_err(|_| "bad decimal scale")?);
    let present: Option<&[u8]> = match s.bms {
        Some(bms) if u16_at(bms, 4) != 0 => {
            return Err("GRIB1 predefined bit maps are not supported".into());
        }
        Some(bms) => Some(&bms[6..]),
        None => None,
    };
    if present.is_some_and(|m| m.len() * 8 < points) {
        return Err(format!(
            "GRIB1 bit map shorter than the grid's {points} points"
        ));
    }
    let is_present = |k: usize| present.is_none_or(|m| m[k / 8] & (0x80 >> (k % 8)) != 0);
    let encoded = (0..points).filter(|&k| is_present(k)).count();
    if bits > 32 {
        return Err(format!("GRIB1 packing of {bits} bits per value"));
    }
    let data = &bds[11..];
    if data.len() * 8 < encoded * bits {
        return Err(format!(
            "GRIB1 data section holds {} bytes, {encoded} values of {bits} bits need more",
            data.len()
        ));
    }
    let mut out = Vec::with_capacity(points);
    let mut packed = Unpacker::new(data, bits);
    for k in 0..points {
        if !is_present(k) {
            out.push(f32::NAN);
            continue;
        }
        let x = packed.next_value();
        out.push(((reference + x as f64 * bscale) * dscale) as f32);
    }
    Ok(out)
}

/// Reads `bits`-bit unsigned integers (at most 32) packed big-endian one
/// after the other, a byte at a time. The caller checks that the data holds
/// every value it asks for.
struct Unpacker<'a> {
    data: &'a [u8],
    bits: u32,
    /// Bits read but not yet used, in the low `held` bits.
    acc: u64,
    held: u32,
}

impl<'a> Unpacker<'a> {
    fn new(data: &'a [u8], bits: usize) -> Self {
        Unpacker {
            data,
            bits: u32::try_from(bits).unwrap_or(u32::MAX),
            acc: 0,
            held: 0,
        }
    }

    fn next_value(&mut self) -> u64 {
        while self.held < self.bits {
            let (byte, rest) = self
                .data
                .split_first()
                .map_or((0, &[][..]), |(b, r)| (*b, r));
            self.data = rest;
            self.acc = (self.acc << 8) | u64::from(byte);
            self.held += 8;
        }
        self.held -= self.bits;
        let x = self.acc >> self.held;
        self.acc &= (1u64 << self.held) - 1;
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ibm_floats_and_signed_numbers() {
        // 0x4110_0000 = 1.0; 0xC276_A000 = -118.625 (IBM's own example)
        assert_eq!(ibm_float(&[0x41, 0x10, 0, 0]), 1.0);
        assert_eq!(ibm_float(&[0xC2, 0x76, 0xA0, 0]), -118.625);
        assert_eq!(signed(&[0x80, 0x01]), -1);
        assert_eq!(signed(&[0x01, 0x00]), 256);
    }

    #[test]
    fn packed_values_of_any_width() {
        // 3-bit values 5, 1, 7, 0, 2 then padding: 101 001 111 000 010 0
        let data = [0b1010_0111, 0b1000_0100];
        let mut p = Unpacker::new(&data, 3);
        let got: Vec<u64> = (0..5).map(|_| p.next_value()).collect();
        assert_eq!(got, vec![5, 1, 7, 0, 2]);
        let mut p = Unpacker::new(&[0xAB, 0xCD, 0xEF], 24);
        assert_eq!(p.next_value(), 0xAB_CDEF);
        let mut p = Unpacker::new(&[], 0);
        assert_eq!(p.next_value(), 0);
    }

    #[test]
    fn truncated_messages_are_errors() {
        assert!(field(b"GRIB\0\0\x10\x01\0\0").is_err());
        assert!(decode(b"GRIB\0\0\x10\x01", 4).is_err());
    }
}
