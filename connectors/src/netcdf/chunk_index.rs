//! Where a NetCDF-4 variable's chunks lie in its file, read once per file and
//! variable through libhdf5, so that chunks can then be read by byte offset
//! and decoded in Rust on any thread.
//!
//! libhdf5 is not thread-safe and libnetcdf drives it too: every call here
//! runs under the lock the netcdf crate shares with libhdf5
//! (`hdf5_sys::LOCK`) and, by the caller, on the libnetcdf thread
//! ([`super::worker`]). Only metadata is read here; chunk bytes never go
//! through libhdf5. A variable whose storage the Rust decoder does not
//! handle (compact layout, a filter other than deflate/shuffle/fletcher32,
//! non-numeric or mixed-order types) gets `None` and stays on libnetcdf.

use std::ffi::CString;
use std::path::Path;

use hdf5_metno_sys::h5::{HADDR_UNDEF, haddr_t, hsize_t};
use hdf5_metno_sys::h5d::{
    H5D_fill_value_t, H5D_layout_t, H5Dclose, H5Dget_chunk_info_by_coord, H5Dget_create_plist,
    H5Dget_offset, H5Dget_space, H5Dget_type, H5Dopen2,
};
use hdf5_metno_sys::h5e::{H5E_DEFAULT, H5Eset_auto2};
use hdf5_metno_sys::h5f::{H5F_ACC_RDONLY, H5Fclose, H5Fopen};
use hdf5_metno_sys::h5i::hid_t;
use hdf5_metno_sys::h5l::H5Lexists;
use hdf5_metno_sys::h5p::{
    H5P_DEFAULT, H5Pclose, H5Pfill_value_defined, H5Pget_chunk, H5Pget_fill_value, H5Pget_filter2,
    H5Pget_layout, H5Pget_nfilters,
};
use hdf5_metno_sys::h5s::{H5Sclose, H5Sget_simple_extent_dims, H5Sget_simple_extent_ndims};
use hdf5_metno_sys::h5t::{
    H5T_class_t, H5T_order_t, H5Tclose, H5Tget_class, H5Tget_order, H5Tget_size,
};
use hdf5_metno_sys::h5z::{H5Z_FILTER_DEFLATE, H5Z_FILTER_FLETCHER32, H5Z_FILTER_SHUFFLE};

use super::filters::Filter;

/// Where one stored chunk lies and which filters it skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredChunk {
    /// Byte offset in the file.
    pub offset: u64,
    /// Stored (filtered) size in bytes.
    pub size: u64,
    /// Bit `i` set: filter `i` of the pipeline was not applied.
    pub mask: u32,
}

/// How a variable is stored: enough to read any region of it without
/// libhdf5.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkLayout {
    /// The variable's shape in this file.
    pub shape: Vec<u64>,
    /// Chunk shape; for a contiguous variable, the whole shape.
    pub chunk: Vec<u64>,
    /// Bytes per element.
    pub elem_size: usize,
    /// Whether elements are stored big-endian.
    pub big_endian: bool,
    /// The filter pipeline, in write order.
    pub filters: Vec<Filter>,
    /// One element of the fill value, in stored byte order.
    pub fill: Vec<u8>,
    /// Stored chunks in C order of the chunk grid; `None`: never written.
    pub chunks: Vec<Option<StoredChunk>>,
    /// Whether the variable is stored contiguously, unfiltered (its one
    /// "chunk" is the whole variable, read row by row instead of whole).
    pub contiguous: bool,
}

impl ChunkLayout {
    /// Chunks along each dimension.
    pub fn grid(&self) -> Vec<u64> {
        self.shape
            .iter()
            .zip(&self.chunk)
            .map(|(&s, &c)| s.div_ceil(c.max(1)))
            .collect()
    }
}

/// Why a variable stays on libnetcdf, or what went wrong reading its index.
#[derive(Debug)]
pub enum IndexError {
    /// Valid storage the Rust decoder does not handle.
    Unsupported(String),
    /// The HDF5 metadata could not be read.
    Failed(String),
}

/// An HDF5 identifier closed when dropped.
struct Id(hid_t, unsafe extern "C" fn(hid_t) -> i32);

impl Id {
    fn new(
        id: hid_t,
        close: unsafe extern "C" fn(hid_t) -> i32,
        what: &str,
    ) -> Result<Self, IndexError> {
        if id < 0 {
            Err(IndexError::Failed(format!("libhdf5 cannot {what}")))
        } else {
            Ok(Id(id, close))
        }
    }
}

impl Drop for Id {
    fn drop(&mut self) {
        // SAFETY: the id is valid (checked in `new`) and closed once.
        unsafe {
            (self.1)(self.0);
        }
    }
}

/// Whether a file starts with the HDF5 signature (NetCDF-4); NetCDF-3 files
/// and HDF5 files with a user block read through libnetcdf.
pub fn is_hdf5(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 8];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == *b"\x89HDF\r\n\x1a\n"
}

/// Reads the layout of variable `name` in `group` of the HDF5 file at
/// `path`, checking it has `rank` dimensions.
///
/// # Errors
/// [`IndexError::Unsupported`] for storage to leave to libnetcdf,
/// [`IndexError::Failed`] when libhdf5 cannot read the metadata.
pub fn read_layout(
    path: &Path,
    group: &str,
    name: &str,
    rank: usize,
) -> Result<ChunkLayout, IndexError> {
    let _lock = hdf5_metno_sys::LOCK.lock();
    let failed = |what: &str| IndexError::Failed(what.to_string());
    let cpath = CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| failed("path holds a NUL byte"))?;
    // SAFETY: plain libhdf5 calls on ids checked by `Id::new`, under the
    // library lock; buffers are sized from the ranks libhdf5 reports.
    unsafe {
        // libnetcdf silences libhdf5's error printing only on its own thread.
        H5Eset_auto2(H5E_DEFAULT, None, std::ptr::null_mut());
        let file = Id::new(
            H5Fopen(cpath.as_ptr(), H5F_ACC_RDONLY, H5P_DEFAULT),
            H5Fclose,
            "open the file",
        )?;
        let dset = open_dataset(file.0, group, name)?;
        let space = Id::new(H5Dget_space(dset.0), H5Sclose, "read the dataspace")?;
        let hrank = usize::try_from(H5Sget_simple_extent_ndims(space.0))
            .map_err(|_| failed("read the rank"))?;
        if hrank != rank {
            return Err(IndexError::Unsupported(format!(
                "HDF5 rank {hrank} differs from the NetCDF rank {rank}"
            )));
        }
        let mut dims = vec![0 as hsize_t; rank];
        if H5Sget_simple_extent_dims(space.0, dims.as_mut_ptr(), std::ptr::null_mut()) < 0 {
            return Err(failed("read the dimensions"));
        }
        let dtype = Id::new(H5Dget_type(dset.0), H5Tclose, "read the type")?;
        match H5Tget_class(dtype.0) {
            H5T_class_t::H5T_INTEGER | H5T_class_t::H5T_FLOAT => {}
            other => return Err(IndexError::Unsupported(format!("type class {other:?}"))),
        }
        let elem_size = H5Tget_size(dtype.0);
        let big_endian = match H5Tget_order(dtype.0) {
            H5T_order_t::H5T_ORDER_LE => false,
            H5T_order_t::H5T_ORDER_BE => true,
            H5T_order_t::H5T_ORDER_NONE if elem_size == 1 => false,
            other => return Err(IndexError::Unsupported(format!("byte order {other:?}"))),
        };
        let dcpl = Id::new(
            H5Dget_create_plist(dset.0),
            H5Pclose,
            "read the creation properties",
        )?;
        let fill = fill_value(dcpl.0, dtype.0, elem_size);
        match H5Pget_layout(dcpl.0) {
            H5D_layout_t::H5D_CHUNKED => {}
            H5D_layout_t::H5D_CONTIGUOUS => {
                return Ok(contiguous(dset.0, dims, elem_size, big_endian, fill));
            }
            other => return Err(IndexError::Unsupported(format!("layout {other:?}"))),
        }
        let mut chunk = vec![0 as hsize_t; rank];
        let crank = H5Pget_chunk(dcpl.0, rank as i32, chunk.as_mut_ptr());
        if usize::try_from(crank).ok() != Some(rank) || chunk.contains(&0) {
            return Err(failed("read the chunk shape"));
        }
        let filters = filters(dcpl.0)?;
        let mut layout = ChunkLayout {
            shape: dims,
            chunk,
            elem_size,
            big_endian,
            filters,
            fill,
            chunks: Vec::new(),
            contiguous: false,
        };
        layout.chunks = chunk_index(dset.0, &layout)?;
        Ok(layout)
    }
}

/// Opens the HDF5 dataset of a NetCDF variable: libnetcdf renames a
/// variable that shares its name with a dimension it does not index.
///
/// # Safety
/// `file` is an open file id and the library lock is held.
unsafe fn open_dataset(file: hid_t, group: &str, name: &str) -> Result<Id, IndexError> {
    let group = group.trim_matches('/');
    let prefix = if group.is_empty() {
        "/".to_string()
    } else {
        format!("/{group}/")
    };
    for candidate in [name.to_string(), format!("_nc4_non_coord_{name}")] {
        let Ok(path) = CString::new(format!("{prefix}{candidate}")) else {
            continue;
        };
        // SAFETY: as the caller promises.
        if unsafe { H5Lexists(file, path.as_ptr(), H5P_DEFAULT) } > 0 {
            // SAFETY: as the caller promises.
            let id = unsafe { H5Dopen2(file, path.as_ptr(), H5P_DEFAULT) };
            return Id::new(id, H5Dclose, "open the dataset");
        }
    }
    Err(IndexError::Failed(format!(
        "no HDF5 dataset for '{prefix}{name}'"
    )))
}

/// The fill value in stored byte order; zeros when none is defined.
///
/// # Safety
/// `dcpl` and `dtype` are open ids and the library lock is held.
unsafe fn fill_value(dcpl: hid_t, dtype: hid_t, elem_size: usize) -> Vec<u8> {
    let mut fill = vec![0u8; elem_size];
    let mut status = H5D_fill_value_t::H5D_FILL_VALUE_UNDEFINED;
    // SAFETY: as the caller promises; `fill` holds one element of `dtype`.
    unsafe {
        if H5Pfill_value_defined(dcpl, &mut status) >= 0
            && status != H5D_fill_value_t::H5D_FILL_VALUE_UNDEFINED
            && H5Pget_fill_value(dcpl, dtype, fill.as_mut_ptr().cast()) < 0
        {
            fill.fill(0);
        }
    }
    fill
}

/// A contiguous variable as one chunk of its whole shape, or none when it
/// was never written.
///
/// # Safety
/// `dset` is an open dataset id and the library lock is held.
unsafe fn contiguous(
    dset: hid_t,
    dims: Vec<u64>,
    elem_size: usize,
    big_endian: bool,
    fill: Vec<u8>,
) -> ChunkLayout {
    // SAFETY: as the caller promises.
    let offset: haddr_t = unsafe { H5Dget_offset(dset) };
    let size = dims.iter().product::<u64>() * elem_size as u64;
    let stored = (offset != HADDR_UNDEF && size > 0).then_some(StoredChunk {
        offset,
        size,
        mask: 0,
    });
    ChunkLayout {
        chunk: dims.iter().map(|&d| d.max(1)).collect(),
        shape: dims,
        elem_size,
        big_endian,
        filters: Vec::new(),
        fill,
        chunks: vec![stored],
        contiguous: true,
    }
}

/// The filter pipeline, when every filter is one the Rust decoder undoes.
///
/// # Safety
/// `dcpl` is an open property list id and the library lock is held.
unsafe fn filters(dcpl: hid_t) -> Result<Vec<Filter>, IndexError> {
    // SAFETY: as the caller promises.
    let n = unsafe { H5Pget_nfilters(dcpl) };
    let n = u32::try_from(n).map_err(|_| IndexError::Failed("cannot read the filters".into()))?;
    let mut out = Vec::new();
    for i in 0..n {
        let mut flags = 0u32;
        let mut cd = [0u32; 8];
        let mut ncd = cd.len();
        let mut cname = [0 as std::ffi::c_char; 64];
        let mut config = 0u32;
        // SAFETY: buffers sized as passed.
        let id = unsafe {
            H5Pget_filter2(
                dcpl,
                i,
                &mut flags,
                &mut ncd,
                cd.as_mut_ptr(),
                cname.len(),
                cname.as_mut_ptr(),
                &mut config,
            )
        };
        out.push(match id {
            H5Z_FILTER_DEFLATE => Filter::Deflate,
            H5Z_FILTER_SHUFFLE => Filter::Shuffle(if ncd >= 1 { cd[0] as usize } else { 1 }),
            H5Z_FILTER_FLETCHER32 => Filter::Fletcher32,
            other => {
                return Err(IndexError::Unsupported(format!("HDF5 filter {other}")));
            }
        });
    }
    Ok(out)
}

/// Looks up every position of the chunk grid in the dataset's chunk index.
///
/// # Safety
/// `dset` is an open dataset id and the library lock is held.
unsafe fn chunk_index(
    dset: hid_t,
    layout: &ChunkLayout,
) -> Result<Vec<Option<StoredChunk>>, IndexError> {
    let grid = layout.grid();
    let total = grid.iter().product::<u64>();
    let total =
        usize::try_from(total).map_err(|_| IndexError::Unsupported(format!("{total} chunks")))?;
    let mut out = Vec::with_capacity(total);
    let mut pos = vec![0u64; grid.len()];
    for _ in 0..total {
        let offset: Vec<hsize_t> = pos.iter().zip(&layout.chunk).map(|(p, c)| p * c).collect();
        let (mut mask, mut addr, mut size) = (0u32, HADDR_UNDEF, 0 as hsize_t);
        // SAFETY: `offset` has one entry per dimension.
        let rc = unsafe {
            H5Dget_chunk_info_by_coord(dset, offset.as_ptr(), &mut mask, &mut addr, &mut size)
        };
        if rc < 0 {
            return Err(IndexError::Failed(format!(
                "cannot look up the chunk at {offset:?} in the chunk index"
            )));
        }
        out.push((addr != HADDR_UNDEF && size > 0).then_some(StoredChunk {
            offset: addr,
            size,
            mask,
        }));
        for d in (0..pos.len()).rev() {
            pos[d] += 1;
            if pos[d] < grid[d] {
                break;
            }
            pos[d] = 0;
        }
    }
    Ok(out)
}
