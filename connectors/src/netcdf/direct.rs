//! Reads regions of NetCDF variables straight from their bytes: chunk bytes
//! by positional reads at the offsets of the chunk index
//! ([`super::chunk_index`], or a NetCDF-3 header), decoded in Rust
//! ([`super::filters`]), so that many regions decode at once on the scan's
//! threads instead of queueing behind libnetcdf's process-wide lock. The
//! bytes come from a local file or, for a remote file, from the ranges
//! [`byte_ranges`] names, fetched beforehand ([`super::ranged`]).

use std::ops::Range;
use std::os::unix::fs::FileExt;

use super::chunk_index::{ChunkLayout, StoredChunk};
use super::filters;
use crate::cf::RawType;
use crate::error::{ConnectorError, Result};
use crate::grid::RawBuffer;

/// Where a variable's stored bytes are read from.
pub trait ByteSource {
    /// Total length in bytes: offsets past it are a damaged index.
    fn size(&self) -> u64;
    /// Fills `buf` with the bytes at `offset`.
    ///
    /// # Errors
    /// Short reads and I/O errors.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()>;
}

impl<T: ByteSource + ?Sized> ByteSource for std::sync::Arc<T> {
    fn size(&self) -> u64 {
        T::size(self)
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        T::read_exact_at(self, buf, offset)
    }
}

impl ByteSource for std::fs::File {
    fn size(&self) -> u64 {
        self.metadata().map(|m| m.len()).unwrap_or(u64::MAX)
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        FileExt::read_exact_at(self, buf, offset)
    }
}

/// Names for errors: the dataset (or the file of a collection) and variable.
#[derive(Debug, Clone, Copy)]
pub struct Names<'a> {
    /// Dataset, or file of a collection.
    pub dataset: &'a str,
    /// Variable.
    pub variable: &'a str,
}

impl Names<'_> {
    fn chunk_err(&self, chunk: &[u64], reason: String) -> ConnectorError {
        ConnectorError::Chunk {
            dataset: self.dataset.to_string(),
            variable: self.variable.to_string(),
            chunk: format!("{chunk:?}"),
            reason,
        }
    }
}

/// Reads `region` of a variable stored as `layout` in `file`, as `raw`
/// values in C order; chunks never written read as the fill value.
///
/// # Errors
/// A region outside the variable, a short read, a damaged chunk (deflate,
/// checksum or size); each names the dataset, variable and chunk.
pub fn read_region(
    file: &dyn ByteSource,
    layout: &ChunkLayout,
    raw: RawType,
    region: &[Range<u64>],
    names: Names<'_>,
) -> Result<RawBuffer> {
    let rank = layout.shape.len();
    // Past its HDF5 extent along an unlimited dimension (other variables
    // grew the dimension), a variable reads as its fill value, as in
    // libnetcdf; a contiguous variable has no unlimited dimension.
    let beyond = region.iter().zip(&layout.shape).any(|(r, &s)| r.end > s);
    if region.len() != rank
        || region.iter().any(|r| r.start > r.end)
        || (beyond && layout.contiguous)
    {
        return Err(ConnectorError::Chunk {
            dataset: names.dataset.to_string(),
            variable: names.variable.to_string(),
            chunk: format!("{region:?}"),
            reason: format!("region outside the shape {:?}", layout.shape),
        });
    }
    let size = layout.elem_size;
    if size != raw.size() {
        return Err(names.chunk_err(
            &[],
            format!("{size}-byte elements stored, {} expected", raw.size()),
        ));
    }
    let out_shape: Vec<u64> = region.iter().map(|r| r.end - r.start).collect();
    let n = out_shape.iter().product::<u64>() as usize;
    let mut out = if beyond {
        layout.fill.repeat(n)
    } else {
        vec![0u8; n * size]
    };
    let clip = clip(layout, region);
    let origin: Vec<u64> = region.iter().map(|r| r.start).collect();
    let inside = clip.iter().all(|r| r.start < r.end);
    let chunk_elems = layout.chunk.iter().product::<u64>() as usize;
    if n > 0 && layout.contiguous {
        match layout.chunks.first().copied().flatten() {
            Some(c) => read_contiguous(file, layout, c, region, &mut out, names)?,
            None => copy_chunk(
                layout,
                &vec![0; rank],
                None,
                &clip,
                &origin,
                &out_shape,
                &mut out,
            ),
        }
    } else if n > 0 && inside {
        each_chunk(layout, &clip, |pos, stored| {
            let bytes = match stored {
                Some(c) => Some(read_chunk(file, layout, c, chunk_elems * size, pos, names)?),
                None => None,
            };
            copy_chunk(
                layout,
                pos,
                bytes.as_deref(),
                &clip,
                &origin,
                &out_shape,
                &mut out,
            );
            Ok(())
        })?;
    }
    Ok(typed(&out, raw, layout.big_endian))
}

/// Moves `pos` to the next chunk of the box `first..=last` in C order;
/// false after the last one.
fn advance(pos: &mut [u64], first: &[u64], last: &[u64]) -> bool {
    for d in (0..pos.len()).rev() {
        if pos[d] < last[d] {
            pos[d] += 1;
            return true;
        }
        pos[d] = first[d];
    }
    false
}

/// The byte ranges `read_region` reads for `region`: the stored chunks it
/// touches, or the runs of a contiguous variable. Empty for a region
/// `read_region` refuses (it then reports why).
pub fn byte_ranges(layout: &ChunkLayout, region: &[Range<u64>]) -> Vec<Range<u64>> {
    let mut out = Vec::new();
    let valid = region.len() == layout.shape.len() && region.iter().all(|r| r.start < r.end);
    if !valid {
        return out;
    }
    if layout.contiguous {
        if let Some(data) = layout.chunks.first().copied().flatten()
            && region.iter().zip(&layout.shape).all(|(r, &s)| r.end <= s)
        {
            let _infallible = each_run(layout, data, region, |_, offset, run| {
                out.push(offset..offset + run as u64);
                Ok(())
            });
        }
        return out;
    }
    let clip = clip(layout, region);
    if clip.iter().all(|r| r.start < r.end) {
        let _infallible = each_chunk(layout, &clip, |_, stored| {
            if let Some(c) = stored {
                out.push(c.offset..c.offset.saturating_add(c.size));
            }
            Ok(())
        });
    }
    out
}

/// The part of `region` inside the variable's stored extent.
fn clip(layout: &ChunkLayout, region: &[Range<u64>]) -> Vec<Range<u64>> {
    region
        .iter()
        .zip(&layout.shape)
        .map(|(r, &s)| r.start.min(s)..r.end.min(s))
        .collect()
}

/// Calls `f` with the position and storage of each chunk the non-empty box
/// `clip` touches, in C order.
fn each_chunk(
    layout: &ChunkLayout,
    clip: &[Range<u64>],
    mut f: impl FnMut(&[u64], Option<StoredChunk>) -> Result<()>,
) -> Result<()> {
    let grid = layout.grid();
    let first: Vec<u64> = clip
        .iter()
        .zip(&layout.chunk)
        .map(|(r, c)| r.start / c)
        .collect();
    let last: Vec<u64> = clip
        .iter()
        .zip(&layout.chunk)
        .map(|(r, c)| (r.end - 1) / c)
        .collect();
    let mut pos = first.clone();
    loop {
        let linear = pos.iter().zip(&grid).fold(0u64, |acc, (p, g)| acc * g + p) as usize;
        f(&pos, layout.chunks.get(linear).copied().flatten())?;
        if !advance(&mut pos, &first, &last) {
            return Ok(());
        }
    }
}

/// Calls `f` with the first index, file offset and byte length of each run
/// of consecutive values of `region` of a contiguous variable stored at
/// `data` (a run spans every trailing dimension the region covers whole).
fn each_run(
    layout: &ChunkLayout,
    data: StoredChunk,
    region: &[Range<u64>],
    mut f: impl FnMut(&[u64], u64, usize) -> Result<()>,
) -> Result<()> {
    let rank = region.len();
    let size = layout.elem_size as u64;
    if rank == 0 {
        return f(&[], data.offset, size as usize);
    }
    // `d0`: the first dimension of the run; all after it are covered whole.
    let mut d0 = rank.saturating_sub(1);
    while d0 > 0 && region[d0].start == 0 && region[d0].end == layout.shape[d0] {
        d0 -= 1;
    }
    let inner: u64 = layout.shape[d0 + 1..].iter().product();
    let run = ((region[d0].end - region[d0].start) * inner * size) as usize;
    let mut idx: Vec<u64> = region.iter().map(|r| r.start).collect();
    loop {
        let elem = idx
            .iter()
            .zip(&layout.shape)
            .fold(0u64, |acc, (i, s)| acc * s + i);
        f(&idx, data.offset + elem * size, run)?;
        // Next run: the dimensions before `d0`.
        let mut d = d0;
        loop {
            if d == 0 {
                return Ok(());
            }
            d -= 1;
            idx[d] += 1;
            if idx[d] < region[d].end {
                break;
            }
            idx[d] = region[d].start;
        }
    }
}

/// Reads `region` of an unfiltered contiguous variable stored at `data`:
/// one positional read per run of consecutive values.
fn read_contiguous(
    file: &dyn ByteSource,
    layout: &ChunkLayout,
    data: StoredChunk,
    region: &[Range<u64>],
    out: &mut [u8],
    names: Names<'_>,
) -> Result<()> {
    let mut o = 0usize;
    each_run(layout, data, region, |idx, offset, run| {
        file.read_exact_at(&mut out[o..o + run], offset)
            .map_err(|e| {
                names.chunk_err(
                    idx,
                    format!("cannot read {run} bytes at offset {offset}: {e}"),
                )
            })?;
        o += run;
        Ok(())
    })
}

/// Reads and decodes one stored chunk.
fn read_chunk(
    file: &dyn ByteSource,
    layout: &ChunkLayout,
    chunk: StoredChunk,
    expected: usize,
    pos: &[u64],
    names: Names<'_>,
) -> Result<Vec<u8>> {
    // A damaged index must not make us allocate more than the file holds.
    let file_len = file.size();
    if chunk.offset.saturating_add(chunk.size) > file_len {
        return Err(names.chunk_err(
            pos,
            format!(
                "stored at bytes {}..{}, past the end of the file ({file_len} bytes)",
                chunk.offset,
                chunk.offset.saturating_add(chunk.size)
            ),
        ));
    }
    let len = usize::try_from(chunk.size)
        .map_err(|_| names.chunk_err(pos, format!("stored size {}", chunk.size)))?;
    let mut stored = vec![0u8; len];
    file.read_exact_at(&mut stored, chunk.offset).map_err(|e| {
        names.chunk_err(
            pos,
            format!("cannot read {len} bytes at offset {}: {e}", chunk.offset),
        )
    })?;
    filters::decode(&layout.filters, chunk.mask, stored, expected)
        .map_err(|reason| names.chunk_err(pos, reason))
}

/// Copies the part of chunk `pos` inside `clip` into `out` (the values of
/// the region of shape `out_shape` starting at `origin`, C order, stored
/// byte order); `None` writes the fill value.
fn copy_chunk(
    layout: &ChunkLayout,
    pos: &[u64],
    bytes: Option<&[u8]>,
    clip: &[Range<u64>],
    origin: &[u64],
    out_shape: &[u64],
    out: &mut [u8],
) {
    let size = layout.elem_size;
    let rank = pos.len();
    // The intersection of the chunk with the region, in variable indices.
    let lo: Vec<u64> = (0..rank)
        .map(|d| (pos[d] * layout.chunk[d]).max(clip[d].start))
        .collect();
    let hi: Vec<u64> = (0..rank)
        .map(|d| ((pos[d] + 1) * layout.chunk[d]).min(clip[d].end))
        .collect();
    if rank == 0 {
        match bytes {
            Some(b) => out[..size].copy_from_slice(&b[..size]),
            None => out[..size].copy_from_slice(&layout.fill),
        }
        return;
    }
    let row = (hi[rank - 1] - lo[rank - 1]) as usize * size;
    let mut idx = lo.clone();
    loop {
        // Offsets of the row starting at `idx` in the chunk and in `out`.
        let (mut c_off, mut o_off) = (0u64, 0u64);
        for d in 0..rank {
            c_off = c_off * layout.chunk[d] + (idx[d] - pos[d] * layout.chunk[d]);
            o_off = o_off * out_shape[d] + (idx[d] - origin[d]);
        }
        let o = o_off as usize * size;
        match bytes {
            Some(b) => {
                let c = c_off as usize * size;
                out[o..o + row].copy_from_slice(&b[c..c + row]);
            }
            None => {
                for v in out[o..o + row].chunks_exact_mut(size) {
                    v.copy_from_slice(&layout.fill);
                }
            }
        }
        // Next row: every dimension but the last.
        let mut d = rank - 1;
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            idx[d] += 1;
            if idx[d] < hi[d] {
                break;
            }
            idx[d] = lo[d];
        }
    }
}

/// Converts stored bytes to typed values.
fn typed(bytes: &[u8], raw: RawType, big_endian: bool) -> RawBuffer {
    crate::raw_buffer_of!(raw, T => bytes
        .chunks_exact(std::mem::size_of::<T>())
        .map(|b| {
            let mut a = [0u8; std::mem::size_of::<T>()];
            a.copy_from_slice(b);
            if big_endian {
                T::from_be_bytes(a)
            } else {
                T::from_le_bytes(a)
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// A 5x7 i16 variable in 2x3 chunks (edge chunks stored full size, as
    /// HDF5 does), values 100*i+j, big-endian, chunk (1,2) never written.
    fn fixture() -> (tempfile::NamedTempFile, ChunkLayout) {
        let (shape, chunk) = ([5u64, 7], [2u64, 3]);
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        let mut chunks = Vec::new();
        let mut offset = 0u64;
        for ci in 0..3u64 {
            for cj in 0..3u64 {
                if (ci, cj) == (1, 2) {
                    chunks.push(None);
                    continue;
                }
                let mut bytes = Vec::new();
                for i in 0..2 {
                    for j in 0..3 {
                        let (gi, gj) = (ci * 2 + i, cj * 3 + j);
                        let v = if gi < shape[0] && gj < shape[1] {
                            (100 * gi + gj) as i16
                        } else {
                            -1
                        };
                        bytes.extend_from_slice(&v.to_be_bytes());
                    }
                }
                file.write_all(&bytes).expect("temp write");
                chunks.push(Some(StoredChunk {
                    offset,
                    size: bytes.len() as u64,
                    mask: 0,
                }));
                offset += bytes.len() as u64;
            }
        }
        let layout = ChunkLayout {
            shape: shape.to_vec(),
            chunk: chunk.to_vec(),
            elem_size: 2,
            big_endian: true,
            filters: Vec::new(),
            fill: (-999i16).to_be_bytes().to_vec(),
            chunks,
            contiguous: false,
        };
        (file, layout)
    }

    const NAMES: Names<'static> = Names {
        dataset: "d.nc",
        variable: "v",
    };

    #[test]
    fn regions_cross_chunks_edges_and_unwritten_chunks() {
        let (file, layout) = fixture();
        let f = file.as_file();
        let all = read_region(f, &layout, RawType::I16, &[0..5, 0..7], NAMES).expect("read");
        let RawBuffer::I16(v) = all else {
            panic!("type")
        };
        for i in 0..5u64 {
            for j in 0..7u64 {
                let want = if (2..4).contains(&i) && j >= 6 {
                    -999
                } else {
                    (100 * i + j) as i16
                };
                assert_eq!(v[(i * 7 + j) as usize], want, "({i},{j})");
            }
        }
        let part = read_region(f, &layout, RawType::I16, &[1..3, 2..5], NAMES).expect("read");
        let RawBuffer::I16(v) = part else {
            panic!("type")
        };
        assert_eq!(v, vec![102, 103, 104, 202, 203, 204]);
        let empty = read_region(f, &layout, RawType::I16, &[1..1, 0..7], NAMES).expect("read");
        assert!(empty.is_empty());
    }

    #[test]
    fn regions_past_the_extent_read_as_fill() {
        let (file, mut layout) = fixture();
        // The variable's extent is 3 rows; the dimension grew to 5.
        layout.shape = vec![3, 7];
        layout.chunks.truncate(2 * 3);
        let f = file.as_file();
        let got = read_region(f, &layout, RawType::I16, &[2..5, 5..7], NAMES).expect("read");
        let RawBuffer::I16(v) = got else {
            panic!("type")
        };
        assert_eq!(v, vec![205, -999, -999, -999, -999, -999]);
        let got = read_region(f, &layout, RawType::I16, &[3..5, 0..2], NAMES).expect("read");
        assert!(matches!(got, RawBuffer::I16(v) if v == vec![-999; 4]));
    }

    #[test]
    fn contiguous_variables_read_runs() {
        let shape = [3u64, 4, 5];
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        let header = [7u8; 10];
        file.write_all(&header).expect("temp write");
        for v in 0..60i32 {
            file.write_all(&v.to_le_bytes()).expect("temp write");
        }
        let layout = ChunkLayout {
            shape: shape.to_vec(),
            chunk: shape.to_vec(),
            elem_size: 4,
            big_endian: false,
            filters: Vec::new(),
            fill: vec![0; 4],
            chunks: vec![Some(StoredChunk {
                offset: 10,
                size: 240,
                mask: 0,
            })],
            contiguous: true,
        };
        let f = file.as_file();
        for region in [
            vec![0..3, 0..4, 0..5],
            vec![1..2, 0..4, 0..5],
            vec![0..3, 1..3, 0..5],
            vec![1..3, 2..4, 1..4],
            vec![2..3, 3..4, 4..5],
        ] {
            let got = read_region(f, &layout, RawType::I32, &region, NAMES).expect("read");
            let mut want = Vec::new();
            for i in region[0].clone() {
                for j in region[1].clone() {
                    for k in region[2].clone() {
                        want.push((i * 20 + j * 5 + k) as i32);
                    }
                }
            }
            let RawBuffer::I32(got) = got else {
                panic!("type")
            };
            assert_eq!(got, want, "{region:?}");
        }
    }

    #[test]
    fn bad_regions_and_truncated_files_name_the_chunk() {
        let (file, mut layout) = fixture();
        let f = file.as_file();
        let e = read_region(f, &layout, RawType::I16, &[0..5], NAMES).expect_err("rank");
        assert!(e.to_string().contains("outside the shape"), "{e}");
        layout.chunks[4] = Some(StoredChunk {
            offset: 1 << 20,
            size: 12,
            mask: 0,
        });
        let e = read_region(f, &layout, RawType::I16, &[2..4, 3..6], NAMES).expect_err("short");
        let msg = e.to_string();
        assert!(
            msg.contains("dataset 'd.nc', variable 'v', chunk [1, 1]")
                && msg.contains("past the end of the file"),
            "{msg}"
        );
    }
}
