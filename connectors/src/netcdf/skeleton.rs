//! The metadata of a remote NetCDF file, read by byte range into a local
//! sparse copy: its *skeleton*.
//!
//! libnetcdf and libhdf5 read local files only. Instead of copying a remote
//! file whole, its metadata is walked by byte range with the pure-Rust
//! readers (`netcdf-reader`, `hdf5-reader`): the NetCDF header (every group,
//! variable and attribute as netCDF sees them), then every HDF5 object
//! header, attribute, chunk index and the data of small one-dimensional
//! variables (coordinates). The blocks those reads touched are written at
//! their offsets into a sparse file of the object's size; everything else
//! is a hole. libnetcdf reads the header from it and libhdf5 the chunk
//! indexes, exactly as from the real file, while chunk data is fetched by
//! range from the store ([`super::ranged`]). A sidecar lists the byte
//! ranges the skeleton holds, so reads inside them (coordinates) need no
//! request.
//!
//! Skeletons live in `headers/` of the cache directory, named from the
//! URL, ETag and size: a second session opens the file without reading
//! its header again, and a changed object gets a new skeleton.
//!
//! If the Rust readers cannot walk a file (or libnetcdf cannot read the
//! header from the skeleton), the caller falls back to a whole copy.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path as FsPath, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};

use bytes::Bytes;
use hdf5_reader::storage::{DynStorage, Storage, StorageBuffer};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

use super::sources::{Place, Source, cache_name, cache_root};
use crate::error::{ConnectorError, Result};

/// Granularity of the metadata reads, and of what the skeleton holds.
const BLOCK: u64 = 16 * 1024;

/// Blocks of the first read (the start of the file): superblock, root
/// group and most object headers sit there, and at cloud latency 256 KiB
/// cost little more than 16 KiB.
const FIRST_FETCH_BLOCKS: u64 = 16;

/// Blocks fetched at least on a later miss: chunk-index nodes lie scattered
/// between the chunks they index, a few KiB each.
const MIN_FETCH_BLOCKS: u64 = 2;

/// One-dimensional variables up to this size have their data in the
/// skeleton (coordinates, bounds, scalars).
const SMALL_VARIABLE: usize = 1 << 20;

/// Deepest group nesting walked (HDF5 links can form cycles).
const MAX_DEPTH: usize = 32;

/// A remote file's sparse local copy.
#[derive(Debug)]
pub struct Skeleton {
    /// The sparse file: the object's size, holding only `present`.
    pub path: PathBuf,
    /// Byte ranges of the object the skeleton holds: sorted, disjoint.
    present: Vec<Range<u64>>,
}

impl Skeleton {
    /// Whether the skeleton holds every byte of `r`.
    pub fn holds(&self, r: &Range<u64>) -> bool {
        let i = self.present.partition_point(|p| p.start <= r.start);
        i > 0 && self.present[i - 1].end >= r.end
    }
}

/// Skeletons opened by this process, by cache name.
static OPENED: LazyLock<Mutex<HashMap<String, Arc<Skeleton>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Cache names of skeletons libnetcdf could not read: those files are
/// copied whole from then on.
static REFUSED: LazyLock<Mutex<HashSet<String>>> = LazyLock::new(|| Mutex::new(HashSet::new()));

/// Names the temporary files of skeletons built at once.
static BUILDS: AtomicU64 = AtomicU64::new(0);

/// The skeleton of a remote source, from the cache or walked now; `None`
/// for a local source, or when the Rust readers cannot walk the file (it
/// is then read from a whole copy).
///
/// # Errors
/// Store errors while walking (they would fail a whole copy as well) and
/// file-system errors of the cache.
pub async fn skeleton(src: &Source) -> Result<Option<Arc<Skeleton>>> {
    let Place::Remote { store, path } = &src.place else {
        return Ok(None);
    };
    let name = cache_name(src);
    if REFUSED.lock().map_or(true, |r| r.contains(&name)) {
        return Ok(None);
    }
    if let Some(s) = OPENED.lock().ok().and_then(|o| o.get(&name).cloned()) {
        return Ok(Some(s));
    }
    let dir = cache_root().join("headers");
    let found = {
        let (dir, name, size) = (dir.clone(), name.clone(), src.size);
        tokio::task::spawn_blocking(move || load(&dir, &name, size))
            .await
            .ok()
            .flatten()
    };
    let skeleton = match found {
        Some(s) => s,
        None => {
            let storage = Arc::new(RangeStorage {
                store: Arc::clone(store),
                path: path.clone(),
                size: src.size,
                runtime: tokio::runtime::Handle::current(),
                blocks: Mutex::new(BTreeMap::new()),
                failure: Mutex::new(None),
            });
            let walker = Arc::clone(&storage);
            let walked = tokio::task::spawn_blocking(move || walk(walker))
                .await
                .map_err(|e| ConnectorError::Metadata {
                    dataset: src.display.clone(),
                    reason: format!("walking the header failed: {e}"),
                })?;
            if let Some(e) = storage.failure.lock().ok().and_then(|mut f| f.take()) {
                return Err(ConnectorError::Store {
                    dataset: src.display.clone(),
                    source: e,
                });
            }
            if let Err(why) = walked {
                log::info!(
                    "'{}': header not readable by range ({why}); the file is copied whole",
                    src.display
                );
                return Ok(None);
            }
            let blocks = storage.blocks.lock().map(|b| b.clone()).unwrap_or_default();
            let (dir2, name2, size) = (dir.clone(), name.clone(), src.size);
            tokio::task::spawn_blocking(move || write(&dir2, &name2, size, &blocks))
                .await
                .map_err(|e| ConnectorError::Metadata {
                    dataset: src.display.clone(),
                    reason: format!("writing the header cache failed: {e}"),
                })?
                .map_err(|e| ConnectorError::Metadata {
                    dataset: src.display.clone(),
                    reason: format!("cannot write the header cache in '{}': {e}", dir.display()),
                })?
        }
    };
    let skeleton = Arc::new(skeleton);
    if let Ok(mut opened) = OPENED.lock() {
        opened.insert(name, Arc::clone(&skeleton));
    }
    Ok(Some(skeleton))
}

/// Drops a skeleton libnetcdf could not read, so the file is copied whole
/// from now on in this process.
pub fn forget(src: &Source) {
    let name = cache_name(src);
    if let Ok(mut opened) = OPENED.lock() {
        opened.remove(&name);
    }
    if let Ok(mut refused) = REFUSED.lock() {
        refused.insert(name);
    }
}

/// The path of the sidecar listing the ranges a skeleton holds.
fn sidecar(dir: &FsPath, name: &str) -> PathBuf {
    dir.join(format!("{name}.ranges"))
}

/// A skeleton from the cache, when complete and of the expected size.
fn load(dir: &FsPath, name: &str, size: u64) -> Option<Skeleton> {
    let path = dir.join(name);
    if std::fs::metadata(&path).ok()?.len() != size {
        return None;
    }
    let text = std::fs::read_to_string(sidecar(dir, name)).ok()?;
    let mut present = Vec::new();
    for line in text.lines() {
        let (s, e) = line.split_once(' ')?;
        let (s, e) = (s.parse::<u64>().ok()?, e.parse::<u64>().ok()?);
        if s >= e || e > size || present.last().is_some_and(|p: &Range<u64>| p.end > s) {
            return None;
        }
        present.push(s..e);
    }
    Some(Skeleton { path, present })
}

/// Writes the blocks read into a sparse file of `size` bytes. The sidecar
/// is written first and the file renamed into place last, so a skeleton
/// that exists is complete.
fn write(
    dir: &FsPath,
    name: &str,
    size: u64,
    blocks: &BTreeMap<u64, Bytes>,
) -> std::io::Result<Skeleton> {
    std::fs::create_dir_all(dir)?;
    let n = BUILDS.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!("{name}.part{}-{n}", std::process::id()));
    let file = std::fs::File::create(&tmp)?;
    file.set_len(size)?;
    let mut present: Vec<Range<u64>> = Vec::new();
    for (&b, bytes) in blocks {
        let start = b * BLOCK;
        file.write_all_at(bytes, start)?;
        let end = start + bytes.len() as u64;
        match present.last_mut() {
            Some(last) if last.end == start => last.end = end,
            _ => present.push(start..end),
        }
    }
    drop(file);
    let listing: String = present
        .iter()
        .map(|r| format!("{} {}\n", r.start, r.end))
        .collect();
    std::fs::write(sidecar(dir, name), listing)?;
    let path = dir.join(name);
    std::fs::rename(&tmp, &path)?;
    Ok(Skeleton { path, present })
}

/// Walks everything libnetcdf and libhdf5 read from the file's metadata.
fn walk(storage: Arc<RangeStorage>) -> std::result::Result<(), String> {
    let storage: DynStorage = storage;
    let nc =
        netcdf_reader::NcFile::from_storage(Arc::clone(&storage)).map_err(|e| e.to_string())?;
    match nc.format() {
        netcdf_reader::NcFormat::Nc4 | netcdf_reader::NcFormat::Nc4Classic => {
            nc.root_group().map_err(|e| e.to_string())?;
            let h5 = hdf5_reader::Hdf5File::from_storage(storage).map_err(|e| e.to_string())?;
            let root = h5.root_group().map_err(|e| e.to_string())?;
            walk_group(&root, 0).map_err(|e| e.to_string())
        }
        _ => {
            // Classic: the header was read at open; the values of small
            // one-dimensional variables (record ones too when records are
            // small) are read by offset.
            let root = nc.root_group().map_err(|e| e.to_string())?;
            let stride = netcdf_reader::classic::data::compute_record_stride(&root.variables)
                .map_err(|e| e.to_string())?;
            let numrecs = nc.as_classic().map_or(0, |c| c.numrecs());
            for v in &root.variables {
                // Bytes of one record (record variables) or of all values.
                let (records, len) = if v.is_record_var {
                    (numrecs, v.record_size)
                } else {
                    (1, v._data_size)
                };
                let small = v.dimensions.len() <= 1
                    && (!v.is_record_var || stride <= BLOCK)
                    && records.saturating_mul(len) <= SMALL_VARIABLE as u64;
                if !small || len == 0 {
                    continue;
                }
                for r in 0..records {
                    let offset = r
                        .checked_mul(stride)
                        .and_then(|o| o.checked_add(v.data_offset))
                        .filter(|o| o.saturating_add(len) <= storage.len())
                        .ok_or_else(|| format!("variable '{}': data past the end", v.name))?;
                    storage
                        .read_range(offset, len as usize)
                        .map_err(|e| e.to_string())?;
                }
            }
            Ok(())
        }
    }
}

/// Walks a group: attributes (strings resolve through the global heap),
/// datasets' attributes and chunk indexes, small datasets' data, subgroups.
fn walk_group(group: &hdf5_reader::group::Group, depth: usize) -> hdf5_reader::error::Result<()> {
    if depth > MAX_DEPTH {
        return Ok(());
    }
    for a in group.attributes()? {
        let _unused = a.read_strings();
    }
    let (groups, datasets) = group.members()?;
    for d in datasets {
        for a in d.attributes() {
            let _unused = a.read_strings();
        }
        if d.chunks().is_some() {
            // Collects the chunk index; no chunk is read.
            d.iter_chunks()?;
        }
        if d.ndim() <= 1 && d.raw_byte_len().is_ok_and(|n| n <= SMALL_VARIABLE) {
            d.read_raw_bytes()?;
        }
    }
    for g in groups {
        walk_group(&g, depth + 1)?;
    }
    Ok(())
}

/// `hdf5-reader` storage over an object: blocks fetched by range on first
/// use, kept for the skeleton. Called on blocking threads only.
struct RangeStorage {
    store: Arc<dyn ObjectStore>,
    path: Path,
    size: u64,
    runtime: tokio::runtime::Handle,
    blocks: Mutex<BTreeMap<u64, Bytes>>,
    /// The first store error, reported instead of the reader's.
    failure: Mutex<Option<object_store::Error>>,
}

impl RangeStorage {
    fn io_err(reason: String) -> hdf5_reader::error::Error {
        hdf5_reader::error::Error::Io(std::io::Error::other(reason))
    }

    /// The blocks fetched so far.
    fn blocks(&self) -> hdf5_reader::error::Result<MutexGuard<'_, BTreeMap<u64, Bytes>>> {
        self.blocks
            .lock()
            .map_err(|_| Self::io_err("poisoned".into()))
    }

    /// Fetches blocks `first..=last` that are missing, in runs of at least
    /// [`MIN_FETCH_BLOCKS`] ([`FIRST_FETCH_BLOCKS`] for the first).
    fn fetch(&self, first: u64, last: u64) -> hdf5_reader::error::Result<()> {
        let last_block = self.size.saturating_sub(1) / BLOCK;
        let mut b = first;
        while b <= last {
            // A run of missing blocks from `b`, grown to the minimum fetch.
            let end = {
                let blocks = self.blocks()?;
                if blocks.contains_key(&b) {
                    b += 1;
                    continue;
                }
                let min = if blocks.is_empty() {
                    FIRST_FETCH_BLOCKS
                } else {
                    MIN_FETCH_BLOCKS
                };
                let mut end = b;
                while end < last_block
                    && (end < last || end + 1 < b + min)
                    && !blocks.contains_key(&(end + 1))
                {
                    end += 1;
                }
                end
            };
            let range = b * BLOCK..((end + 1) * BLOCK).min(self.size);
            let got = self
                .runtime
                .block_on(self.store.get_range(&self.path, range.clone()));
            let bytes = match got {
                Ok(bytes) => bytes,
                Err(e) => {
                    let reason = e.to_string();
                    if let Ok(mut f) = self.failure.lock() {
                        f.get_or_insert(e);
                    }
                    return Err(Self::io_err(reason));
                }
            };
            if bytes.len() as u64 != range.end - range.start {
                return Err(Self::io_err(format!(
                    "asked for bytes {range:?}, got {}",
                    bytes.len()
                )));
            }
            let mut blocks = self.blocks()?;
            for k in b..=end {
                let s = ((k - b) * BLOCK) as usize;
                let e = (s + BLOCK as usize).min(bytes.len());
                blocks.insert(k, bytes.slice(s..e));
            }
            b = end + 1;
        }
        Ok(())
    }
}

impl Storage for RangeStorage {
    fn len(&self) -> u64 {
        self.size
    }

    fn read_range(&self, offset: u64, len: usize) -> hdf5_reader::error::Result<StorageBuffer> {
        let end = offset
            .checked_add(len as u64)
            .filter(|&e| e <= self.size)
            .ok_or_else(|| {
                Self::io_err(format!(
                    "bytes {offset}+{len} past the end of the file ({} bytes)",
                    self.size
                ))
            })?;
        if len == 0 {
            return Ok(StorageBuffer::from_vec(Vec::new()));
        }
        let (first, last) = (offset / BLOCK, (end - 1) / BLOCK);
        self.fetch(first, last)?;
        let blocks = self.blocks()?;
        let mut out = Vec::with_capacity(len);
        for b in first..=last {
            let block = blocks
                .get(&b)
                .ok_or_else(|| Self::io_err(format!("block {b} missing")))?;
            let s = if b == first {
                (offset - b * BLOCK) as usize
            } else {
                0
            };
            let e = if b == last {
                (end - b * BLOCK) as usize
            } else {
                block.len()
            };
            out.extend_from_slice(block.get(s..e).ok_or_else(|| {
                Self::io_err(format!("block {b} is short ({} bytes)", block.len()))
            })?);
        }
        Ok(StorageBuffer::from_vec(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_checks_whole_ranges() {
        let s = Skeleton {
            path: PathBuf::new(),
            present: vec![0..100, 200..300],
        };
        assert!(s.holds(&(0..100)));
        assert!(s.holds(&(210..250)));
        assert!(!s.holds(&(90..110)));
        assert!(!s.holds(&(150..160)));
        assert!(!s.holds(&(290..301)));
    }

    #[test]
    fn written_skeletons_load_back_and_bad_sidecars_do_not() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut blocks = BTreeMap::new();
        blocks.insert(0, Bytes::from(vec![1u8; BLOCK as usize]));
        blocks.insert(1, Bytes::from(vec![2u8; BLOCK as usize]));
        blocks.insert(3, Bytes::from(vec![3u8; 10]));
        let size = 3 * BLOCK + 10;
        let s = write(dir.path(), "f", size, &blocks).expect("written");
        assert_eq!(s.present, vec![0..2 * BLOCK, 3 * BLOCK..size]);
        let back = load(dir.path(), "f", size).expect("loads");
        assert_eq!(back.present, s.present);
        let mut byte = [0u8; 1];
        let f = std::fs::File::open(&back.path).expect("open");
        f.read_exact_at(&mut byte, BLOCK + 5).expect("read");
        assert_eq!(byte[0], 2);
        // Another size (a changed object) or a damaged sidecar: not used.
        assert!(load(dir.path(), "f", size + 1).is_none());
        std::fs::write(sidecar(dir.path(), "f"), "5 3\n").expect("write");
        assert!(load(dir.path(), "f", size).is_none());
    }
}
