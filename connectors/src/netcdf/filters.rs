//! The HDF5 filters NetCDF-4 writes (deflate, byte shuffle, Fletcher-32),
//! undone in Rust so that chunks decode on any thread, outside libnetcdf's
//! process-wide lock.
//!
//! A chunk's stored bytes went through the pipeline in order at write time;
//! reading undoes it in reverse, skipping the filters the chunk's filter
//! mask marks as not applied.

use std::io::Read;

/// One filter of a variable's HDF5 pipeline that gridsql can undo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// zlib stream (HDF5 filter 1).
    Deflate,
    /// Byte shuffle of elements of this many bytes (HDF5 filter 2).
    Shuffle(usize),
    /// Fletcher-32 checksum appended to the chunk (HDF5 filter 3).
    Fletcher32,
}

/// Undoes `filters` (in write order) on `stored`, skipping filter `i` when
/// bit `i` of `mask` is set; `expected` is the decoded size, used to size
/// buffers and checked at the end.
///
/// # Errors
/// A damaged stream, a checksum mismatch or a decoded size other than
/// `expected`, as a message for the caller to wrap with the chunk's name.
pub fn decode(
    filters: &[Filter],
    mask: u32,
    stored: Vec<u8>,
    expected: usize,
) -> Result<Vec<u8>, String> {
    let mut data = stored;
    for (i, f) in filters.iter().enumerate().rev() {
        if i < 32 && mask & (1 << i) != 0 {
            continue;
        }
        data = match f {
            Filter::Deflate => inflate(&data, expected)?,
            Filter::Shuffle(size) => unshuffle(&data, *size),
            Filter::Fletcher32 => check_fletcher32(data)?,
        };
    }
    if data.len() != expected {
        return Err(format!(
            "decoded to {} bytes, expected {expected}",
            data.len()
        ));
    }
    Ok(data)
}

/// Inflates a zlib stream.
fn inflate(stored: &[u8], expected: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(expected + 4);
    // A damaged stream may inflate to anything: read at most what a chunk
    // holds (plus a checksum) and one byte more, which the size check rejects.
    flate2::read::ZlibDecoder::new(stored)
        .take(expected as u64 + 5)
        .read_to_end(&mut out)
        .map_err(|e| format!("deflate: {e}"))?;
    Ok(out)
}

/// Undoes HDF5's byte shuffle: the stored bytes hold byte 0 of every
/// element, then byte 1 of every element, and so on; trailing bytes that do
/// not fill an element stay where they are.
pub fn unshuffle(data: &[u8], size: usize) -> Vec<u8> {
    if size <= 1 || data.len() < size {
        return data.to_vec();
    }
    let n = data.len() / size;
    let mut out = vec![0u8; data.len()];
    let (planes, tail) = data.split_at(n * size);
    let body = &mut out[..n * size];
    match size {
        2 => gather::<2>(planes, n, body),
        4 => gather::<4>(planes, n, body),
        8 => gather::<8>(planes, n, body),
        _ => {
            for (b, plane) in planes.chunks_exact(n).enumerate() {
                for (e, &byte) in plane.iter().enumerate() {
                    body[e * size + b] = byte;
                }
            }
        }
    }
    out[n * size..].copy_from_slice(tail);
    out
}

/// Unshuffles `n` elements of `N` bytes (the common sizes, unrolled).
fn gather<const N: usize>(planes: &[u8], n: usize, out: &mut [u8]) {
    let planes: [&[u8]; N] = std::array::from_fn(|b| &planes[b * n..(b + 1) * n]);
    for (e, o) in out.chunks_exact_mut(N).enumerate() {
        for (x, p) in o.iter_mut().zip(&planes) {
            *x = p[e];
        }
    }
}

/// HDF5's Fletcher-32 over `data` (`H5_checksum_fletcher32`): 16-bit
/// big-endian words, sums folded every 360 words.
pub fn fletcher32(data: &[u8]) -> u32 {
    let (mut sum1, mut sum2) = (0u32, 0u32);
    let fold = |s: u32| (s & 0xffff) + (s >> 16);
    for block in data.chunks(720) {
        let mut words = block.chunks_exact(2);
        for w in &mut words {
            sum1 += (u32::from(w[0]) << 8) | u32::from(w[1]);
            sum2 += sum1;
        }
        if let [last] = words.remainder() {
            sum1 += u32::from(*last) << 8;
            sum2 += sum1;
        }
        sum1 = fold(sum1);
        sum2 = fold(sum2);
    }
    sum1 = fold(sum1);
    sum2 = fold(sum2);
    (sum2 << 16) | sum1
}

/// Checks and strips the Fletcher-32 checksum HDF5 appends (little-endian;
/// files from old HDF5 versions hold it byte-swapped, which HDF5 accepts too).
fn check_fletcher32(mut data: Vec<u8>) -> Result<Vec<u8>, String> {
    let n = data
        .len()
        .checked_sub(4)
        .ok_or_else(|| "fletcher32: chunk shorter than its checksum".to_string())?;
    let stored = u32::from_le_bytes([data[n], data[n + 1], data[n + 2], data[n + 3]]);
    let sum = fletcher32(&data[..n]);
    if stored != sum && stored != sum.swap_bytes() {
        return Err(format!(
            "fletcher32 checksum mismatch (stored {stored:#010x}, computed {sum:#010x})"
        ));
    }
    data.truncate(n);
    Ok(data)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn shuffle(data: &[u8], size: usize) -> Vec<u8> {
        let n = data.len() / size;
        let mut out = data.to_vec();
        for e in 0..n {
            for b in 0..size {
                out[b * n + e] = data[e * size + b];
            }
        }
        out
    }

    fn deflate(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(4));
        enc.write_all(data).expect("in-memory write");
        enc.finish().expect("in-memory write")
    }

    #[test]
    fn unshuffle_inverts_shuffle_and_keeps_the_tail() {
        let data: Vec<u8> = (0..53).collect();
        for size in [2, 3, 4, 8] {
            let s = shuffle(&data, size);
            assert_ne!(s, data);
            assert_eq!(unshuffle(&s, size), data, "size {size}");
        }
        assert_eq!(unshuffle(&data, 1), data);
    }

    #[test]
    fn fletcher32_matches_hdf5_reference_values() {
        // Values printed by libhdf5 1.10.8's own H5_checksum_fletcher32.
        assert_eq!(fletcher32(b"abcde"), 0x4FF029C7);
        assert_eq!(fletcher32(b"abcdef"), 0x50562A2D);
        assert_eq!(fletcher32(b"abcdefgh"), 0xE1EB9195);
        assert_eq!(fletcher32(&[]), 0);
        let big: Vec<u8> = (0..2000u32).map(|i| (i * 31 + 7) as u8).collect();
        assert_eq!(fletcher32(&big), 0x372FF20D);
        assert_eq!(fletcher32(&big[..1999]), 0x3717F1F5);
    }

    #[test]
    fn pipeline_undoes_shuffle_deflate_and_fletcher32() {
        let raw: Vec<u8> = (0..400u32).flat_map(|i| (i * 7).to_le_bytes()).collect();
        let mut with_sum = raw.clone();
        with_sum.extend_from_slice(&fletcher32(&raw).to_le_bytes());
        let stored = deflate(&shuffle(&with_sum, 4));
        let filters = [Filter::Fletcher32, Filter::Shuffle(4), Filter::Deflate];
        assert_eq!(decode(&filters, 0, stored, raw.len()), Ok(raw.clone()));
        // Mask bit 2: deflate was skipped for this chunk.
        let stored = shuffle(&with_sum, 4);
        assert_eq!(decode(&filters, 0b100, stored, raw.len()), Ok(raw));
    }

    #[test]
    fn damage_is_reported() {
        let raw = vec![1u8; 64];
        let mut stored = deflate(&raw);
        stored.truncate(stored.len() / 2);
        let e = decode(&[Filter::Deflate], 0, stored, 64).expect_err("truncated");
        assert!(e.starts_with("deflate"), "{e}");
        let mut bad = raw.clone();
        bad.extend_from_slice(&[0, 0, 0, 1]);
        let e = decode(&[Filter::Fletcher32], 0, bad, 64).expect_err("checksum");
        assert!(e.contains("checksum mismatch"), "{e}");
        let e = decode(&[], 0, raw, 32).expect_err("size");
        assert!(e.contains("expected 32"), "{e}");
    }
}
