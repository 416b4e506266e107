//! Reads a region of one blosc-compressed chunk by fetching and
//! decompressing only the blosc blocks that hold it.
//!
//! Why: zarrs 0.23 decodes a whole blosc chunk for any subset of it (its
//! blosc codec declares no partial decoding, see `BloscCodec::
//! partial_decoder_capability`). A box selection that needs a sixth of a
//! chunk then pays for all of it: reading every compressed byte,
//! decompressing every block, and zeroing and copying chunk-sized buffers.
//!
//! A blosc frame (format version 2, written by c-blosc 1.x and numcodecs) is
//! a 16-byte header, a table of one 32-bit start offset per block, and the
//! blocks, each compressed on its own. So the blocks a region touches can be
//! read by byte range and decompressed one by one with `blosc_getitem`,
//! c-blosc's own partial decoder. Each block is decompressed once, however
//! many of the region's rows fall in it.
//!
//! Anything this module does not expect (a missing chunk, a frame stored
//! uncompressed, a header that does not match the chunk, a failed read, a
//! block that fails to decompress) makes [`read_region`] return `None`, and
//! the caller reads the chunk through zarrs, which decodes it or reports
//! what is wrong with it.

use std::ops::Range;
use std::sync::Arc;

use object_store::path::Path;
use object_store::{GetOptions, ObjectStore};
use zarrs::array::codec::{BloscCodec, BytesCodec};

use super::frame_cache;
use super::reader::ZarrArray;

/// Size of a blosc frame header.
const HEADER: usize = 16;
/// `flags` bit: the frame holds the data uncompressed (no block table).
const MEMCPYED: u8 = 0x02;
/// The only frame format c-blosc 1.x writes and `blosc_getitem` reads.
const FORMAT_VERSION: u8 = 2;
/// The block size assumed when guessing how long the block table is (see
/// [`read_region`]): blosc picks 32 KiB and more for chunks of any size.
const GUESS_BLOCK: u64 = 16 << 10;
/// Most table entries guessed: the first request stays under 64 KiB.
const MAX_GUESS_ENTRIES: u64 = 16 << 10;

/// Whether an array's chunks are plain blosc frames of C-order,
/// native-endian elements: no array-to-array codecs (transpose), the
/// `bytes` codec in little endian (or none, for one-byte types), exactly one
/// bytes-to-bytes codec that is blosc, and no storage transformers.
pub fn applies(array: &ZarrArray) -> bool {
    if cfg!(target_endian = "big") {
        return false;
    }
    let codecs = array.codecs();
    if !codecs.array_to_array_codecs().is_empty()
        || !array.storage_transformers().create_metadatas().is_empty()
    {
        return false;
    }
    let [blosc] = codecs.bytes_to_bytes_codecs() else {
        return false;
    };
    if blosc.as_any().downcast_ref::<BloscCodec>().is_none() {
        return false;
    }
    let bytes = codecs.array_to_bytes_codec();
    if bytes.as_any().downcast_ref::<BytesCodec>().is_none() {
        return false;
    }
    let config = bytes.configuration_v3(&zarrs::array::CodecMetadataOptions::default());
    config
        .as_ref()
        .and_then(|c| c.get("endian"))
        .is_none_or(|e| e.is_null() || e.as_str() == Some("little"))
}

/// A blosc frame's header.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Frame {
    flags: u8,
    typesize: usize,
    nbytes: usize,
    blocksize: usize,
    cbytes: usize,
}

impl Frame {
    /// Parses a header; `None` when it is not one [`read_region`] reads.
    fn parse(head: &[u8]) -> Option<Frame> {
        let word = |at: usize| -> Option<usize> {
            let b: [u8; 4] = head.get(at..at + 4)?.try_into().ok()?;
            usize::try_from(i32::from_le_bytes(b)).ok()
        };
        let frame = Frame {
            flags: *head.get(2)?,
            typesize: usize::from(*head.get(3)?),
            nbytes: word(4)?,
            blocksize: word(8)?,
            cbytes: word(12)?,
        };
        let ok = *head.first()? == FORMAT_VERSION
            && frame.flags & MEMCPYED == 0
            && frame.typesize > 0
            && frame.blocksize > 0
            && frame.blocksize <= frame.nbytes
            && frame.blocksize.is_multiple_of(frame.typesize)
            && frame.nbytes.is_multiple_of(frame.typesize)
            && frame.table_end() < frame.cbytes;
        ok.then_some(frame)
    }

    fn nblocks(&self) -> usize {
        self.nbytes.div_ceil(self.blocksize)
    }

    /// End of the block start table.
    fn table_end(&self) -> usize {
        HEADER + 4 * self.nblocks()
    }

    /// Decompressed bytes of block `j`.
    fn block(&self, j: usize) -> Range<usize> {
        let start = j * self.blocksize;
        start..(start + self.blocksize).min(self.nbytes)
    }
}

/// The byte runs (ascending, each contiguous in the chunk) that a box of
/// `shape` elements at `start` covers in a C-order chunk of `chunk`
/// elements of `elem` bytes.
///
/// Inner dimensions the box covers whole merge into one run, so a box of
/// full rows is one run per outer index.
fn runs(chunk: &[u64], start: &[u64], shape: &[u64], elem: usize) -> (usize, Vec<usize>) {
    let rank = chunk.len();
    // strides[d]: bytes between consecutive indices of dimension d.
    let mut strides = vec![elem; rank];
    for d in (0..rank.saturating_sub(1)).rev() {
        strides[d] = strides[d + 1] * chunk[d + 1] as usize;
    }
    // The run: dimensions from `inner` on, where all after `inner` are whole.
    let mut inner = rank.saturating_sub(1);
    while inner > 0 && shape[inner] == chunk[inner] && start[inner] == 0 {
        inner -= 1;
    }
    let run = if rank == 0 {
        elem
    } else {
        shape[inner] as usize * strides[inner]
    };
    let base: usize = (0..rank).map(|d| start[d] as usize * strides[d]).sum();
    let count: usize = shape[..inner].iter().map(|&n| n as usize).product();
    let mut out = Vec::with_capacity(count);
    let mut index = vec![0u64; inner];
    for _ in 0..count {
        out.push(
            base + index
                .iter()
                .zip(&strides)
                .map(|(&i, &s)| i as usize * s)
                .sum::<usize>(),
        );
        for d in (0..inner).rev() {
            index[d] += 1;
            if index[d] < shape[d] {
                break;
            }
            index[d] = 0;
        }
    }
    (run, out)
}

/// Where the block reader reads an array's chunks: as objects of a store,
/// so that a chunk's ETag comes with its bytes (zarrs' storage trait gives
/// bytes only).
#[derive(Clone)]
pub struct ChunkObjects {
    /// The store, rooted where the array's chunk keys start.
    pub store: Arc<dyn ObjectStore>,
    /// Names the store in [`frame_cache`]: its dataset and group.
    pub id: Arc<str>,
    /// Whether the store is remote: then blocks are decompressed off the
    /// runtime ([`crate::io::decode`]), reads are checked by ETag and
    /// tables are kept in [`frame_cache`]. Local reads need neither: they
    /// cost no round trip.
    pub remote: bool,
}

impl std::fmt::Debug for ChunkObjects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkObjects")
            .field("id", &self.id)
            .field("remote", &self.remote)
            .finish_non_exhaustive()
    }
}

/// A chunk's header and block table, checked against the chunk.
struct Header {
    frame: Frame,
    head: Vec<u8>,
    table: Vec<u8>,
    starts: Vec<usize>,
}

impl Header {
    /// Checks a header and table read for a chunk of `chunk_bytes`
    /// decompressed bytes; `None` when they are not one this module reads.
    fn new(head: &[u8], table: Vec<u8>, chunk_bytes: u64) -> Option<Header> {
        let frame = Frame::parse(head)?;
        // The frame must be this chunk's, and no larger than blosc's worst
        // case (every split stored raw behind its 4-byte size), so a hostile
        // header cannot send block reads far past the chunk.
        let worst = frame.table_end() + frame.nbytes + 4 * frame.typesize * frame.nblocks();
        if frame.nbytes as u64 != chunk_bytes || frame.cbytes > worst {
            return None;
        }
        let starts = block_starts(&frame, &table)?;
        Some(Header {
            frame,
            head: head.get(..HEADER)?.to_vec(),
            table,
            starts,
        })
    }
}

/// Reads the box `start`/`shape` (element indices within chunk
/// `chunk_indices`) of `array`, elements of `elem` bytes, into `out` (C
/// order, little endian), reading and decompressing only the blosc blocks
/// it touches.
///
/// From a remote store, a chunk whose header and table were read before
/// (and that has not changed since, see [`frame_cache`]) costs one round
/// trip instead of two.
///
/// `None` when this chunk is not one it reads (see the module docs); `out`
/// is then in an unspecified state.
pub async fn read_region(
    array: &ZarrArray,
    objects: &ChunkObjects,
    chunk_indices: &[u64],
    start: &[u64],
    shape: &[u64],
    elem: usize,
    out: &mut [u8],
) -> Option<()> {
    let chunk: Vec<u64> = array
        .chunk_shape(chunk_indices)
        .ok()?
        .iter()
        .map(|n| n.get())
        .collect();
    let cells: u64 = shape.iter().product();
    if elem == 0
        || cells.checked_mul(elem as u64)? != out.len() as u64
        || chunk.len() != shape.len()
    {
        return None;
    }
    let chunk_bytes = chunk.iter().product::<u64>().checked_mul(elem as u64)?;
    let path = Path::from(array.chunk_key(chunk_indices).as_str());
    let (run, run_starts) = runs(&chunk, start, shape, elem);
    // Tables are kept for remote stores only.
    let key: Option<frame_cache::Key> = objects
        .remote
        .then(|| (Arc::clone(&objects.id), path.to_string()));

    if let Some(key) = &key
        && let Some(known) = frame_cache::get(key)
    {
        let header = Header::new(&known.head, known.table.clone(), chunk_bytes)?;
        match read_blocks(
            objects,
            &path,
            &header,
            run,
            &run_starts,
            Some(&known.e_tag),
        )
        .await
        {
            Ok(compact) => {
                return decode(objects, compact, header.frame, run, run_starts, out).await;
            }
            Err(Stale) => frame_cache::forget(key, &known),
        }
    }

    // The header and the block table in one request: the table has one
    // entry per block, and blosc's blocks are rarely smaller than
    // [`GUESS_BLOCK`]. A frame shorter than the guess (a chunk that
    // compressed to almost nothing) comes back short, and its table is
    // then all there.
    let guess = HEADER as u64 + 4 * chunk_bytes.div_ceil(GUESS_BLOCK).min(MAX_GUESS_ENTRIES);
    let probe = objects
        .store
        .get_opts(
            &path,
            GetOptions {
                range: Some((0..guess).into()),
                ..GetOptions::default()
            },
        )
        .await
        .ok()?;
    let e_tag = probe.meta.e_tag.clone().filter(|_| objects.remote);
    let probe = probe.bytes().await.ok()?;
    let frame = Frame::parse(probe.get(..HEADER)?)?;
    let table = if let Some(table) = probe.get(HEADER..frame.table_end()) {
        table.to_vec()
    } else {
        let rest = read(
            objects,
            &path,
            &[probe.len() as u64..frame.table_end() as u64],
            e_tag.as_deref(),
        )
        .await
        .ok()?;
        [&probe[HEADER..], &rest.first()?[..]].concat()
    };
    let header = Header::new(&probe[..HEADER], table, chunk_bytes)?;
    let compact = read_blocks(objects, &path, &header, run, &run_starts, e_tag.as_deref())
        .await
        .ok()?;
    let frame = header.frame;
    if let (Some(key), Some(e_tag)) = (key, e_tag) {
        let known = frame_cache::Known {
            e_tag,
            head: header.head,
            table: header.table,
        };
        frame_cache::insert(key, known);
    }
    decode(objects, compact, frame, run, run_starts, out).await
}

/// Decompresses the runs out of a compact frame into `out`: on a blocking
/// thread for a remote store, else on the caller's.
async fn decode(
    objects: &ChunkObjects,
    compact: Vec<u8>,
    frame: Frame,
    run: usize,
    run_starts: Vec<usize>,
    out: &mut [u8],
) -> Option<()> {
    if !objects.remote {
        return copy_runs(&compact, &frame, run, &run_starts, out);
    }
    let len = out.len();
    let decoded = crate::io::decode::off_runtime(move || {
        let mut region = vec![0u8; len];
        copy_runs(&compact, &frame, run, &run_starts, &mut region).map(|()| region)
    })
    .await
    .ok()??;
    out.copy_from_slice(&decoded);
    Some(())
}

/// A block read that did not give the blocks: the chunk changed since its
/// table was read, or the read failed (the caller then reads the chunk
/// through zarrs, which reports what is wrong).
struct Stale;

/// Reads byte `ranges` of a chunk: from a remote store through the I/O
/// budget's coalescing, each request checked against `e_tag` when there is
/// one; from a local one with the store's own reader.
async fn read(
    objects: &ChunkObjects,
    path: &Path,
    ranges: &[Range<u64>],
    e_tag: Option<&str>,
) -> Result<Vec<bytes::Bytes>, Stale> {
    if !objects.remote {
        return objects
            .store
            .get_ranges(path, ranges)
            .await
            .map_err(|_| Stale);
    }
    let settings = crate::io::settings();
    let got = crate::io::scheduled::read_ranges(&*objects.store, path, ranges, settings, e_tag)
        .await
        .map_err(|_| Stale)?;
    if e_tag.is_some() && got.e_tag.as_deref() != e_tag {
        return Err(Stale); // a store that ignored If-Match
    }
    Ok(got.bytes)
}

/// Reads the blocks the runs touch and returns a compact frame: the header,
/// the table and those blocks only, with the table and the header's size
/// rewritten to match. That is all `blosc_getitem` reads for these blocks,
/// and nothing chunk-sized is allocated or zeroed.
async fn read_blocks(
    objects: &ChunkObjects,
    path: &Path,
    header: &Header,
    run: usize,
    run_starts: &[usize],
    e_tag: Option<&str>,
) -> Result<Vec<u8>, Stale> {
    let Header {
        frame,
        head,
        table,
        starts,
    } = header;
    let mut wanted = vec![false; frame.nblocks()];
    for &s in run_starts {
        let blocks = s / frame.blocksize..(s + run).div_ceil(frame.blocksize);
        wanted
            .get_mut(blocks)
            .ok_or(Stale)?
            .iter_mut()
            .for_each(|w| *w = true);
    }
    let ranges = block_ranges(frame, starts, &wanted);
    let asked: Vec<Range<u64>> = ranges
        .iter()
        .map(|r| r.start as u64..r.end as u64)
        .collect();
    let parts = read(objects, path, &asked, e_tag).await?;
    compact_frame(frame, head, table, starts, &wanted, &ranges, &parts).ok_or(Stale)
}

/// The compact frame of [`read_blocks`] from the `parts` read for
/// `ranges`.
fn compact_frame(
    frame: &Frame,
    head: &[u8],
    table: &[u8],
    starts: &[usize],
    wanted: &[bool],
    ranges: &[Range<usize>],
    parts: &[bytes::Bytes],
) -> Option<Vec<u8>> {
    let fetched: usize = ranges.iter().map(Range::len).sum();
    let mut compact = Vec::with_capacity(frame.table_end() + fetched);
    compact.extend_from_slice(head);
    compact.extend_from_slice(table);
    let mut moved = Vec::with_capacity(ranges.len()); // (old start, new start)
    if parts.len() != ranges.len() {
        return None;
    }
    for (r, part) in ranges.iter().zip(parts) {
        if part.len() != r.len() {
            return None;
        }
        moved.push((r.start, compact.len()));
        compact.extend_from_slice(part);
    }
    let compact_len = i32::try_from(compact.len()).ok()?;
    compact[12..HEADER].copy_from_slice(&compact_len.to_le_bytes());
    for (j, &s) in starts.iter().enumerate() {
        let new = if wanted[j] {
            let at = moved.partition_point(|&(old, _)| old <= s).checked_sub(1)?;
            let (old, new) = moved[at];
            i32::try_from(new + (s - old)).ok()?
        } else {
            // Never read; any offset inside the frame keeps it well formed.
            i32::try_from(frame.table_end()).ok()?
        };
        let entry = HEADER + 4 * j;
        compact[entry..entry + 4].copy_from_slice(&new.to_le_bytes());
    }
    Some(compact)
}

/// Copies the runs (of `run` bytes at `run_starts`, ascending) out of the
/// frame's blocks into `out`, decompressing each block once, when the first
/// run that needs it comes.
fn copy_runs(
    compact: &[u8],
    frame: &Frame,
    run: usize,
    run_starts: &[usize],
    out: &mut [u8],
) -> Option<()> {
    let mut block = vec![0u8; frame.blocksize];
    let mut current = None;
    let mut at = 0;
    for &s in run_starts {
        let mut from = s;
        let end = s + run;
        while from < end {
            let j = from / frame.blocksize;
            let bytes = frame.block(j);
            if current != Some(j) {
                decompress_block(compact, frame, j, &mut block)?;
                current = Some(j);
            }
            let to = end.min(bytes.end);
            let n = to - from;
            out.get_mut(at..at + n)?
                .copy_from_slice(&block[from - bytes.start..to - bytes.start]);
            at += n;
            from = to;
        }
    }
    (at == out.len()).then_some(())
}

/// The block start offsets, each checked to lie in the frame's block area.
fn block_starts(frame: &Frame, table: &[u8]) -> Option<Vec<usize>> {
    if table.len() != frame.table_end() - HEADER {
        return None;
    }
    table
        .chunks_exact(4)
        .map(|b| {
            let s = usize::try_from(i32::from_le_bytes(b.try_into().ok()?)).ok()?;
            (frame.table_end()..frame.cbytes).contains(&s).then_some(s)
        })
        .collect()
}

/// Byte ranges of the frame to read for the `wanted` blocks, merged where
/// they touch. A block's bytes run from its start to the next start in the
/// frame (blocks need not be stored in order) or the frame's end.
fn block_ranges(frame: &Frame, starts: &[usize], wanted: &[bool]) -> Vec<Range<usize>> {
    let mut sorted: Vec<usize> = starts.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut ranges: Vec<Range<usize>> = starts
        .iter()
        .zip(wanted)
        .filter(|(_, w)| **w)
        .map(|(&s, _)| {
            let next = sorted.partition_point(|&x| x <= s);
            s..sorted.get(next).copied().unwrap_or(frame.cbytes)
        })
        .collect();
    ranges.sort_unstable_by_key(|r| r.start);
    let mut merged: Vec<Range<usize>> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match merged.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => merged.push(r),
        }
    }
    merged
}

/// Decompresses block `j` of the frame in `src` into `block`; `None` if
/// c-blosc reports an error.
fn decompress_block(src: &[u8], frame: &Frame, j: usize, block: &mut [u8]) -> Option<()> {
    let bytes = frame.block(j);
    let (Ok(first), Ok(items)) = (
        i32::try_from(bytes.start / frame.typesize),
        i32::try_from(bytes.len() / frame.typesize),
    ) else {
        return None;
    };
    let own_size = i32::try_from(src.len()).ok()?.to_le_bytes();
    if block.len() < bytes.len() || src.get(12..HEADER) != Some(&own_size[..]) {
        return None;
    }
    // SAFETY: `src` is a frame whose header gives its own length as its
    // compressed size; c-blosc 1.21 checks every split it reads against that
    // size (`blosc_d`), and `src` holds the whole block table, which
    // `blosc_getitem` reads for this block only. `block` holds at least the
    // block's `items * typesize` bytes, all `blosc_getitem` writes.
    let written = unsafe {
        blosc_src::blosc_getitem(src.as_ptr().cast(), first, items, block.as_mut_ptr().cast())
    };
    (usize::try_from(written).ok() == Some(bytes.len())).then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzz::{block_on, memory_store, open};
    use crate::grid::RawBuffer;
    use object_store::ObjectStore;

    /// Array shape and chunk shape of the store [`store`] writes: edge
    /// chunks are partial.
    const SHAPE: [u64; 3] = [6, 37, 53];
    const CHUNKS: [u64; 3] = [4, 20, 30];

    /// The stored value at an index: smooth (so blosc compresses it), with
    /// a hole of fill values.
    fn value(i: [u64; 3]) -> i16 {
        if i[1] == 7 && i[2] > 40 {
            return -32768;
        }
        (i[0] * 1000 + i[1] * 10 + i[2] / 3) as i16
    }

    /// Compresses one chunk's bytes with c-blosc, as numcodecs would.
    fn compress(
        bytes: &[u8],
        shuffle: i32,
        cname: &str,
        blocksize: usize,
        threads: i32,
    ) -> Vec<u8> {
        let mut dest = vec![0u8; bytes.len() + 16];
        let cname = std::ffi::CString::new(cname).expect("no NUL");
        // SAFETY: `dest` has room for `nbytes` + BLOSC_MAX_OVERHEAD, which
        // c-blosc guarantees is enough.
        let n = unsafe {
            blosc_src::blosc_compress_ctx(
                5,
                shuffle,
                2,
                bytes.len(),
                bytes.as_ptr().cast(),
                dest.as_mut_ptr().cast(),
                dest.len(),
                cname.as_ptr(),
                blocksize,
                threads,
            )
        };
        dest.truncate(usize::try_from(n).expect("compressed"));
        dest
    }

    /// A Zarr v2 store of one int16 array `data` whose chunks use a
    /// different blosc set-up each: shuffles, compressors, block sizes
    /// (small ones, so a chunk has many blocks), multithreaded compression
    /// (blocks stored out of order) and one chunk stored uncompressed.
    fn files() -> Vec<(String, Vec<u8>)> {
        let meta = serde_json::json!({
            "zarr_format": 2, "shape": SHAPE, "chunks": CHUNKS, "dtype": "<i2",
            "compressor": {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1, "blocksize": 0},
            "fill_value": -32768, "order": "C", "filters": null,
        });
        let mut files = vec![
            (".zgroup".to_string(), br#"{"zarr_format":2}"#.to_vec()),
            ("data/.zarray".to_string(), meta.to_string().into_bytes()),
            (
                "data/.zattrs".to_string(),
                br#"{"_ARRAY_DIMENSIONS":["t","y","x"]}"#.to_vec(),
            ),
        ];
        let setups = [
            (1, "lz4", 512, 1),
            (2, "zstd", 256, 1),
            (0, "blosclz", 128, 1),
            (1, "lz4", 512, 2),
            (1, "zlib", 1024, 1),
        ];
        let mut n: u64 = 0;
        for c0 in 0..SHAPE[0].div_ceil(CHUNKS[0]) {
            for c1 in 0..SHAPE[1].div_ceil(CHUNKS[1]) {
                for c2 in 0..SHAPE[2].div_ceil(CHUNKS[2]) {
                    let mut bytes = Vec::new();
                    for i in 0..CHUNKS[0] {
                        for j in 0..CHUNKS[1] {
                            for k in 0..CHUNKS[2] {
                                let at =
                                    [c0 * CHUNKS[0] + i, c1 * CHUNKS[1] + j, c2 * CHUNKS[2] + k];
                                bytes.extend_from_slice(&value(at).to_le_bytes());
                            }
                        }
                    }
                    let (shuffle, cname, blocksize, threads) = setups[n as usize % setups.len()];
                    let frame = if n == MEMCPYED_CHUNK {
                        // clevel 0 is never compressed: a memcpyed frame.
                        let mut dest = vec![0u8; bytes.len() + 16];
                        let cname = std::ffi::CString::new("lz4").expect("no NUL");
                        // SAFETY: as in `compress`.
                        let len = unsafe {
                            blosc_src::blosc_compress_ctx(
                                0,
                                1,
                                2,
                                bytes.len(),
                                bytes.as_ptr().cast(),
                                dest.as_mut_ptr().cast(),
                                dest.len(),
                                cname.as_ptr(),
                                0,
                                1,
                            )
                        };
                        dest.truncate(usize::try_from(len).expect("stored"));
                        dest
                    } else {
                        compress(&bytes, shuffle, cname, blocksize, threads)
                    };
                    files.push((format!("data/{c0}.{c1}.{c2}"), frame));
                    n += 1;
                }
            }
        }
        files
    }

    /// The chunk stored uncompressed (c-blosc also stores any chunk it
    /// cannot compress that way), by its number in C order.
    const MEMCPYED_CHUNK: u64 = 3;

    /// Boxes of every kind inside and across chunks: single cells, rows,
    /// columns, whole chunks, edge chunks, boxes over the hole.
    fn boxes() -> Vec<[std::ops::Range<u64>; 3]> {
        let mut out = vec![
            [0..4, 0..20, 0..30],
            [4..6, 20..37, 30..53],
            [1..2, 7..8, 35..53],
            [0..4, 3..17, 0..30],
            [2..3, 0..20, 29..30],
            [0..6, 0..37, 0..53],
            [5..6, 36..37, 52..53],
        ];
        // A fixed pseudo-random walk, so failures reproduce.
        let mut x: u64 = 0x9e37_79b9;
        let mut next = |n: u64| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (x >> 33) % n
        };
        for _ in 0..300 {
            let b: Vec<std::ops::Range<u64>> = SHAPE
                .iter()
                .zip(CHUNKS)
                .map(|(&n, c)| {
                    let chunk = next(n.div_ceil(c));
                    let lo = chunk * c;
                    let hi = (lo + c).min(n);
                    let a = lo + next(hi - lo);
                    a..a + 1 + next(hi - a)
                })
                .collect();
            out.push([b[0].clone(), b[1].clone(), b[2].clone()]);
        }
        out
    }

    #[test]
    fn block_reads_match_the_stored_values() {
        let files = files();
        let table = open(memory_store(&files)).expect("the store opens");
        let array = data_array(memory_store(&files));
        assert!(applies(&array), "a v2 blosc array of C-order <i2");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        let (mut by_blocks, mut fell_back) = (0, 0);
        for region in boxes() {
            let expected: Vec<i16> = region[0]
                .clone()
                .flat_map(|i| {
                    let r = region.clone();
                    r[1].clone()
                        .flat_map(move |j| r[2].clone().map(move |k| value([i, j, k])))
                })
                .collect();
            // Through the reader: blocks or zarrs, whichever it picks.
            let read = block_on(table.reader.read("data", &region)).expect("the region reads");
            let RawBuffer::I16(values) = read else {
                panic!("int16 reads as I16");
            };
            assert_eq!(values, expected, "region {region:?}");

            // The block reader alone, on boxes inside one chunk: it reads
            // them all, except in the chunk stored uncompressed.
            let chunk: Vec<u64> = region
                .iter()
                .zip(CHUNKS)
                .map(|(r, c)| r.start / c)
                .collect();
            if region
                .iter()
                .zip(CHUNKS)
                .any(|(r, c)| (r.end - 1) / c != r.start / c)
            {
                continue;
            }
            let start: Vec<u64> = region
                .iter()
                .zip(CHUNKS)
                .map(|(r, c)| r.start % c)
                .collect();
            let shape: Vec<u64> = region.iter().map(|r| r.end - r.start).collect();
            let mut out = vec![0i16; expected.len()];
            // every other box read as from a remote store: decompressed
            // off the runtime, its chunk's table kept for the next box
            let objects = ChunkObjects {
                store: memory_store(&files),
                id: "block_reads_match_the_stored_values".into(),
                remote: by_blocks % 2 == 1,
            };
            let read = runtime.block_on(read_region(
                &array,
                &objects,
                &chunk,
                &start,
                &shape,
                2,
                bytemuck::cast_slice_mut(&mut out),
            ));
            let key = format!("data/{}.{}.{}", chunk[0], chunk[1], chunk[2]);
            let flags = files
                .iter()
                .find(|(k, _)| *k == key)
                .and_then(|(_, f)| f.get(2))
                .expect("every chunk is written");
            if flags & MEMCPYED != 0 {
                assert_eq!(read, None, "an uncompressed frame falls back");
                fell_back += 1;
            } else {
                assert_eq!(read, Some(()), "region {region:?}");
                assert_eq!(out, expected, "region {region:?}");
                by_blocks += 1;
            }
        }
        assert!(by_blocks > 100, "only {by_blocks} boxes read by blocks");
        assert!(fell_back > 0, "no box in an uncompressed chunk");
    }

    /// The array `data` of a store of [`files`].
    fn data_array(store: Arc<dyn ObjectStore>) -> ZarrArray {
        let storage: Arc<dyn zarrs::storage::AsyncReadableStorageTraits> =
            Arc::new(crate::io::ZarrStorage::new(store));
        block_on(ZarrArray::async_open(storage, "/fuzz.zarr/data")).expect("the array opens")
    }

    #[tokio::test]
    async fn a_kept_table_saves_a_round_trip_until_the_chunk_changes() {
        use crate::io::counters::{IoCounters, scope};
        use object_store::ObjectStoreExt;
        let files = files();
        let inner = memory_store(&files);
        let objects = ChunkObjects {
            store: Arc::new(crate::io::ScheduledStore::new(Arc::clone(&inner))),
            id: "a_kept_table_saves_a_round_trip_until_the_chunk_changes".into(),
            remote: true,
        };
        let array = data_array(Arc::clone(&inner));
        // Chunk 0.0.0 (lz4, 512-byte blocks): rows 3..5 of every time step.
        let (start, shape) = ([0, 3, 0], [4, 2, 30]);
        let stored = |plus: i16| -> Vec<i16> {
            (0..4u64)
                .flat_map(|i| (3..5u64).flat_map(move |j| (0..30u64).map(move |k| [i, j, k])))
                .map(|at| value(at).wrapping_add(plus))
                .collect()
        };
        let read = |expected: Vec<i16>| {
            let (array, objects) = (&array, &objects);
            async move {
                let counters = Arc::new(IoCounters::default());
                let mut out = vec![0i16; expected.len()];
                let got = scope(
                    Arc::clone(&counters),
                    read_region(
                        array,
                        objects,
                        &[0, 0, 0],
                        &start,
                        &shape,
                        2,
                        bytemuck::cast_slice_mut(&mut out),
                    ),
                )
                .await;
                assert_eq!(got, Some(()), "the block reader reads the region");
                assert_eq!(out, expected);
                counters.snapshot().requests
            }
        };
        assert_eq!(read(stored(0)).await, 2, "header and table, then blocks");
        assert_eq!(read(stored(0)).await, 1, "the blocks only");

        // The chunk is rewritten: other values, other compression, another
        // table (of one block: the header request holds it all).
        let mut bytes = Vec::new();
        for i in 0..CHUNKS[0] {
            for j in 0..CHUNKS[1] {
                for k in 0..CHUNKS[2] {
                    bytes.extend_from_slice(&value([i, j, k]).wrapping_add(7).to_le_bytes());
                }
            }
        }
        let path = Path::from("fuzz.zarr/data/0.0.0");
        let frame = compress(&bytes, 2, "zstd", 0, 1);
        inner.put(&path, frame.into()).await.expect("put");
        assert_eq!(
            read(stored(7)).await,
            3,
            "refused blocks under the old ETag, then header and table, then blocks"
        );
        assert_eq!(read(stored(7)).await, 1, "the new table is kept");
    }

    #[test]
    fn runs_merge_whole_inner_dimensions() {
        // A box of whole rows: one run per outer index.
        let (run, starts) = runs(&[2, 3, 4], &[0, 1, 0], &[2, 2, 4], 2);
        assert_eq!(run, 16);
        assert_eq!(starts, vec![8, 32]);
        // A box cut in the last dimension: one run per row.
        let (run, starts) = runs(&[2, 3, 4], &[1, 0, 1], &[1, 3, 2], 1);
        assert_eq!(run, 2);
        assert_eq!(starts, vec![13, 17, 21]);
        // The whole chunk: one run.
        let (run, starts) = runs(&[2, 3], &[0, 0], &[2, 3], 4);
        assert_eq!((run, starts), (24, vec![0]));
    }

    #[test]
    fn frames_that_are_not_plain_blosc_fall_back() {
        let mut head = [0u8; 16];
        head[0] = FORMAT_VERSION;
        head[3] = 2;
        head[4..8].copy_from_slice(&1000i32.to_le_bytes());
        head[8..12].copy_from_slice(&256i32.to_le_bytes());
        head[12..16].copy_from_slice(&900i32.to_le_bytes());
        let frame = Frame::parse(&head).expect("a plain frame");
        assert_eq!(frame.nblocks(), 4);
        assert_eq!(frame.block(3), 768..1000);
        let mut memcpyed = head;
        memcpyed[2] = MEMCPYED;
        assert_eq!(Frame::parse(&memcpyed), None);
        let mut odd = head;
        odd[8..12].copy_from_slice(&255i32.to_le_bytes());
        assert_eq!(Frame::parse(&odd), None, "blocks not whole elements");
        let mut short = head;
        short[12..16].copy_from_slice(&20i32.to_le_bytes());
        assert_eq!(Frame::parse(&short), None, "table longer than the frame");
        assert_eq!(Frame::parse(&head[..10]), None);
    }

    #[test]
    fn block_ranges_follow_the_next_start_even_out_of_order() {
        let frame = Frame {
            flags: 0,
            typesize: 1,
            nbytes: 400,
            blocksize: 100,
            cbytes: 300,
        };
        // Blocks stored in the order 2, 0, 3, 1.
        let starts = [100, 250, 32, 180];
        let ranges = block_ranges(&frame, &starts, &[true, false, true, false]);
        assert_eq!(ranges, vec![32..180], "touching ranges merge");
        let ranges = block_ranges(&frame, &starts, &[true, true, true, true]);
        assert_eq!(ranges, vec![32..300]);
    }
}
