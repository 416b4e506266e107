//! NetCDF string variables in the grid model: char arrays (NetCDF-3 and
//! NetCDF-4 `char`, the last dimension the string length, as CF and xarray
//! read them) and NetCDF-4 variable-length strings. Both are labels and
//! names, read whole on the libnetcdf thread when the header is read, at
//! most [`MAX_COORD_LEN`] strings per variable. Any other non-numeric type
//! (compound, enum, opaque, vlen of numbers) is listed as unreadable.

use std::sync::Arc;

use arrow::array::{ArrayRef, StringArray};
use netcdf::types::NcVariableType;

use crate::cf::{AttrValue, Attributes, CfDecoding, RawType};
use crate::grid::build::MAX_COORD_LEN;
use crate::grid::model::meta;
use crate::grid::text::FixedText;
use crate::grid::{GridVariable, VarKind, VariableDecoding};

/// The model of a non-numeric variable: strings read whole when `strings`,
/// else (or when reading fails) unreadable with the reason.
pub fn string_variable(
    v: &netcdf::Variable<'_>,
    name: String,
    mut dims: Vec<String>,
    mut shape: Vec<u64>,
    mut attrs: Attributes,
    strings: bool,
) -> GridVariable {
    let vartype = v.vartype();
    let kind = match &vartype {
        NcVariableType::Char => {
            // The string length is the last dimension (none: one char).
            let width = shape.pop().unwrap_or(1);
            dims.pop();
            if strings {
                read_chars(v, &shape, width)
            } else {
                VarKind::Unreadable(REMOTE.into())
            }
        }
        NcVariableType::String if strings => read_vlen(v, &shape),
        NcVariableType::String => VarKind::Unreadable(REMOTE.into()),
        other => VarKind::Unreadable(format!("NetCDF type {other:?} is not supported")),
    };
    attrs.insert(
        meta::STORED_TYPE.to_string(),
        AttrValue::Str(format!("{vartype:?}").to_lowercase()),
    );
    GridVariable {
        name,
        chunks: shape.iter().map(|&n| n.max(1)).collect(),
        dims,
        shape,
        decoding: VariableDecoding {
            cf: CfDecoding::from_attrs(RawType::U8, &Attributes::new(), None),
            time: None,
        },
        attrs,
        kind,
    }
}

/// Why strings of a file read by byte range are not read.
const REMOTE: &str = "strings of a NetCDF file read by byte range are not read yet";

/// Checks the number of strings against the in-memory limit.
fn count(shape: &[u64]) -> Result<usize, String> {
    let n = shape.iter().fold(1u64, |a, &n| a.saturating_mul(n));
    if n > MAX_COORD_LEN {
        return Err(format!(
            "{n} strings are more than the {MAX_COORD_LEN} gridsql reads into memory"
        ));
    }
    usize::try_from(n).map_err(|e| e.to_string())
}

/// A char array as strings of `width` bytes.
fn read_chars(v: &netcdf::Variable<'_>, shape: &[u64], width: u64) -> VarKind {
    let read = || -> Result<ArrayRef, String> {
        let n = count(shape)?;
        let width = usize::try_from(width).map_err(|e| e.to_string())?;
        if n.checked_mul(width)
            .is_none_or(|b| b as u64 > MAX_COORD_LEN)
        {
            return Err(format!("{n} strings of {width} chars are too large"));
        }
        let bytes = v.get_raw_values(..).map_err(|e| e.to_string())?;
        if bytes.len() != n * width {
            return Err(format!(
                "{} bytes for {n} strings of {width} chars",
                bytes.len()
            ));
        }
        Ok(Arc::new(FixedText::Bytes { width }.decode(&bytes)))
    };
    read().map_or_else(VarKind::Unreadable, VarKind::Text)
}

/// A variable-length string variable, string by string.
fn read_vlen(v: &netcdf::Variable<'_>, shape: &[u64]) -> VarKind {
    let read = || -> Result<ArrayRef, String> {
        let n = count(shape)?;
        let dims: Vec<usize> = shape
            .iter()
            .map(|&d| usize::try_from(d).map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()?;
        let mut index = vec![0usize; dims.len()];
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(v.get_string(index.as_slice()).map_err(|e| e.to_string())?);
            // Next index in C order.
            for d in (0..dims.len()).rev() {
                index[d] += 1;
                if index[d] < dims[d] {
                    break;
                }
                index[d] = 0;
            }
        }
        Ok(Arc::new(StringArray::from(out)))
    };
    read().map_or_else(VarKind::Unreadable, VarKind::Text)
}
