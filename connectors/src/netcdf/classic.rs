//! Where a NetCDF-3 variable's values lie, as a [`ChunkLayout`] the direct
//! reader understands: a non-record variable is one contiguous block at its
//! `begin` offset; a record variable is one "chunk" per record, a record
//! (the values of every record variable for one index) apart. Values are
//! big-endian and never filtered.
//!
//! Used for remote files, whose bytes are fetched by range; local NetCDF-3
//! files read through libnetcdf.

use std::path::Path;

use netcdf_reader::NcType;

use super::chunk_index::{ChunkLayout, IndexError, StoredChunk};

/// The layout of variable `name` of the NetCDF-3 file (or skeleton) at
/// `path`, checking it has `rank` dimensions.
///
/// # Errors
/// [`IndexError::Unsupported`] for non-numeric types, [`IndexError::Failed`]
/// when the header cannot be read.
pub fn classic_layout(path: &Path, name: &str, rank: usize) -> Result<ChunkLayout, IndexError> {
    let failed = |e: netcdf_reader::Error| IndexError::Failed(e.to_string());
    let file = netcdf_reader::NcFile::open(path).map_err(failed)?;
    let Some(classic) = file.as_classic() else {
        return Err(IndexError::Unsupported("not a NetCDF-3 file".into()));
    };
    let var = file.variable(name).map_err(failed)?;
    // Records hold every record variable's values, one after the other.
    let stride =
        netcdf_reader::classic::data::compute_record_stride(&classic.root_group().variables)
            .map_err(failed)?;
    let elem_size = match var.dtype {
        NcType::Byte | NcType::UByte => 1,
        NcType::Short | NcType::UShort => 2,
        NcType::Int | NcType::UInt | NcType::Float => 4,
        NcType::Double | NcType::Int64 | NcType::UInt64 => 8,
        ref other => return Err(IndexError::Unsupported(format!("type {other:?}"))),
    };
    let shape: Vec<u64> = var.dimensions.iter().map(|d| d.size).collect();
    if shape.len() != rank {
        return Err(IndexError::Failed(format!(
            "{} dimensions in the header, {rank} expected",
            shape.len()
        )));
    }
    let bytes_of = |dims: &[u64]| -> Result<u64, IndexError> {
        dims.iter()
            .try_fold(elem_size as u64, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| IndexError::Failed(format!("shape {shape:?} too large")))
    };
    let stored = |offset: u64, size: u64| {
        Some(StoredChunk {
            offset,
            size,
            mask: 0,
        })
    };
    let (chunk, chunks, contiguous) = if var.is_record_var && rank > 0 {
        let records = classic.numrecs();
        if shape[0] != records {
            return Err(IndexError::Failed(format!(
                "{} records in the header, {records} in the file",
                shape[0]
            )));
        }
        let record_bytes = bytes_of(&shape[1..])?;
        let chunks = (0..records)
            .map(|r| {
                r.checked_mul(stride)
                    .and_then(|o| o.checked_add(var.data_offset))
                    .map(|o| stored(o, record_bytes))
                    .ok_or_else(|| IndexError::Failed(format!("record {r} offset overflows")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut chunk = shape.clone();
        chunk[0] = 1;
        (chunk, chunks, false)
    } else {
        let chunk = shape.iter().map(|&s| s.max(1)).collect();
        (
            chunk,
            vec![stored(var.data_offset, bytes_of(&shape)?)],
            true,
        )
    };
    Ok(ChunkLayout {
        shape,
        chunk,
        elem_size,
        big_endian: true,
        filters: Vec::new(),
        // Every value is stored: the fill value is never read.
        fill: vec![0; elem_size],
        chunks,
        contiguous,
    })
}
