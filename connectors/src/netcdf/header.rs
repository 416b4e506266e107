//! A NetCDF file's header in the grid model: variables with their stored
//! types, shapes, chunking and attributes, read through libnetcdf.

use std::collections::BTreeMap;
use std::ops::Range;

use netcdf::AttributeValue;
use netcdf::types::NcVariableType;
use netcdf::types::{FloatType, IntType};

use crate::cf::{AttrValue, Attributes, CfDecoding, RawType};
use crate::error::{ConnectorError, Result};
use crate::grid::build::DatasetVariables;
use crate::grid::model::VariableDecoding;
use crate::grid::{GridVariable, RawBuffer, VarKind};
use crate::open::time_decoding;

/// What a header holds beyond the variables.
#[derive(Debug, Clone)]
pub struct Header {
    /// Variables and global attributes.
    pub vars: DatasetVariables,
    /// Names of unlimited dimensions.
    pub unlimited: Vec<String>,
}

/// Opens a local NetCDF file.
///
/// # Errors
/// The file is missing or not NetCDF.
pub fn open_file(path: &std::path::Path, dataset: &str) -> Result<netcdf::File> {
    netcdf::open(path).map_err(|e| ConnectorError::Metadata {
        dataset: dataset.to_string(),
        reason: format!("cannot open '{}' as NetCDF: {e}", path.display()),
    })
}

/// Converts a NetCDF attribute value.
fn attr_value(v: AttributeValue) -> AttrValue {
    fn list<T>(v: Vec<T>, f: impl Fn(T) -> AttrValue) -> AttrValue {
        AttrValue::List(v.into_iter().map(f).collect())
    }
    let float = |value: f64, f32: bool| AttrValue::Float { value, f32 };
    match v {
        AttributeValue::Uchar(x) => AttrValue::Int(x.into()),
        AttributeValue::Schar(x) => AttrValue::Int(x.into()),
        AttributeValue::Ushort(x) => AttrValue::Int(x.into()),
        AttributeValue::Short(x) => AttrValue::Int(x.into()),
        AttributeValue::Uint(x) => AttrValue::Int(x.into()),
        AttributeValue::Int(x) => AttrValue::Int(x.into()),
        AttributeValue::Ulonglong(x) => match i64::try_from(x) {
            Ok(i) => AttrValue::Int(i),
            Err(_) => float(x as f64, false),
        },
        AttributeValue::Longlong(x) => AttrValue::Int(x),
        AttributeValue::Float(x) => float(x.into(), true),
        AttributeValue::Double(x) => float(x, false),
        AttributeValue::Str(s) => AttrValue::Str(s),
        AttributeValue::Uchars(v) => list(v, |x| AttrValue::Int(x.into())),
        AttributeValue::Schars(v) => list(v, |x| AttrValue::Int(x.into())),
        AttributeValue::Ushorts(v) => list(v, |x| AttrValue::Int(x.into())),
        AttributeValue::Shorts(v) => list(v, |x| AttrValue::Int(x.into())),
        AttributeValue::Uints(v) => list(v, |x| AttrValue::Int(x.into())),
        AttributeValue::Ints(v) => list(v, |x| AttrValue::Int(x.into())),
        AttributeValue::Ulonglongs(v) => list(v, |x| match i64::try_from(x) {
            Ok(i) => AttrValue::Int(i),
            Err(_) => float(x as f64, false),
        }),
        AttributeValue::Longlongs(v) => list(v, AttrValue::Int),
        AttributeValue::Floats(v) => list(v, |x| float(x.into(), true)),
        AttributeValue::Doubles(v) => list(v, |x| float(x, false)),
        AttributeValue::Strs(v) => list(v, AttrValue::Str),
    }
}

/// Reads the attributes of an attribute iterator, skipping unreadable ones
/// (user-defined types) with a warning.
pub(super) fn read_attrs<'a>(
    attrs: impl Iterator<Item = netcdf::Attribute<'a>>,
    dataset: &str,
    owner: &str,
) -> Attributes {
    let mut out = BTreeMap::new();
    for a in attrs {
        match a.value() {
            Ok(v) => {
                out.insert(a.name().to_string(), attr_value(v));
            }
            Err(e) => log::warn!(
                "dataset '{dataset}', {owner}: attribute '{}' skipped: {e}",
                a.name()
            ),
        }
    }
    out
}

/// The stored element type of a NetCDF type, when it is numeric.
fn raw_type(t: &NcVariableType) -> Option<RawType> {
    Some(match t {
        NcVariableType::Int(IntType::I8) => RawType::I8,
        NcVariableType::Int(IntType::I16) => RawType::I16,
        NcVariableType::Int(IntType::I32) => RawType::I32,
        NcVariableType::Int(IntType::I64) => RawType::I64,
        NcVariableType::Int(IntType::U8) => RawType::U8,
        NcVariableType::Int(IntType::U16) => RawType::U16,
        NcVariableType::Int(IntType::U32) => RawType::U32,
        NcVariableType::Int(IntType::U64) => RawType::U64,
        NcVariableType::Float(FloatType::F32) => RawType::F32,
        NcVariableType::Float(FloatType::F64) => RawType::F64,
        _ => return None,
    })
}

/// The unsigned type of the same size, for CF's `_Unsigned = "true"`.
fn unsigned_of(raw: RawType) -> RawType {
    match raw {
        RawType::I8 => RawType::U8,
        RawType::I16 => RawType::U16,
        RawType::I32 => RawType::U32,
        RawType::I64 => RawType::U64,
        other => other,
    }
}

/// Whether a variable's attributes ask for unsigned interpretation.
fn is_unsigned(attrs: &Attributes) -> bool {
    attrs
        .get("_Unsigned")
        .and_then(AttrValue::as_str)
        .is_some_and(|s| s.eq_ignore_ascii_case("true"))
}

/// The chunk shape regions use for a variable without HDF5 chunks
/// (contiguous NetCDF-4, every NetCDF-3 variable): one 2-D field of the last
/// two dimensions per leading index, so reads stay bounded.
fn synthetic_chunks(shape: &[u64]) -> Vec<u64> {
    let n = shape.len();
    shape
        .iter()
        .enumerate()
        .map(|(i, &s)| if i + 2 >= n { s.max(1) } else { 1 })
        .collect()
}

/// Reads a file's (or group's) header into the grid model. String and char
/// variables are read whole too when `strings` (the file is all there, not
/// a skeleton of a remote one); otherwise they are listed as unreadable.
///
/// # Errors
/// A group that does not exist, or libnetcdf errors.
pub fn read_header(
    file: &netcdf::File,
    group: &str,
    dataset: &str,
    strings: bool,
) -> Result<Header> {
    let meta_err = |reason: String| ConnectorError::Metadata {
        dataset: dataset.to_string(),
        reason,
    };
    let group = group.trim_matches('/');
    let grp = if group.is_empty() {
        None
    } else {
        let g = file
            .group(group)
            .map_err(|e| meta_err(format!("group '{group}': {e}")))?
            .ok_or_else(|| meta_err(format!("no group '{group}' in the file")))?;
        Some(g)
    };
    let (nc_vars, global_attrs): (Vec<netcdf::Variable<'_>>, Attributes) = match &grp {
        Some(g) => (
            g.variables().collect(),
            read_attrs(g.attributes(), dataset, "global"),
        ),
        None => (
            file.variables().collect(),
            read_attrs(file.attributes(), dataset, "global"),
        ),
    };
    let mut variables = Vec::with_capacity(nc_vars.len());
    let mut unlimited: Vec<String> = Vec::new();
    for v in &nc_vars {
        let name = v.name();
        let attrs = read_attrs(v.attributes(), dataset, &format!("variable '{name}'"));
        let dims: Vec<String> = v.dimensions().iter().map(netcdf::Dimension::name).collect();
        let shape: Vec<u64> = v.dimensions().iter().map(|d| d.len() as u64).collect();
        for d in v.dimensions() {
            if d.is_unlimited() && !unlimited.contains(&d.name()) {
                unlimited.push(d.name());
            }
        }
        let Some(stored) = raw_type(&v.vartype()) else {
            let var = super::strings::string_variable(v, name, dims, shape, attrs, strings);
            if let VarKind::Unreadable(why) = &var.kind {
                log::info!("dataset '{dataset}', variable '{}': {why}", var.name);
            }
            variables.push(var);
            continue;
        };
        let chunks = match v.chunking() {
            Ok(Some(c)) if c.len() == shape.len() => c.iter().map(|&c| c as u64).collect(),
            _ => synthetic_chunks(&shape),
        };
        let unsigned = is_unsigned(&attrs) && !stored.is_float();
        let raw = if unsigned {
            unsigned_of(stored)
        } else {
            stored
        };
        let mut fill = attrs.get("_FillValue").and_then(AttrValue::as_f64);
        if unsigned && let Some(f) = fill.filter(|f| *f < 0.0) {
            fill = Some(f + 2f64.powi(8 * raw.size() as i32));
        }
        let cf = CfDecoding::from_attrs(raw, &attrs, fill);
        let time = time_decoding(dataset, &name, &attrs);
        variables.push(GridVariable {
            name,
            dims,
            shape,
            chunks,
            decoding: VariableDecoding { cf, time },
            attrs,
            kind: VarKind::Numeric,
        });
    }
    Ok(Header {
        vars: DatasetVariables::new(dataset.to_string(), variables, global_attrs),
        unlimited,
    })
}

/// Most groups listed below one group.
const MAX_GROUPS: usize = 10_000;

/// Paths (relative to the file's root, `/`-separated) of the groups below
/// group `group` of a NetCDF-4 file.
///
/// # Errors
/// A group that does not exist, or libnetcdf errors.
pub fn child_groups(file: &netcdf::File, group: &str, dataset: &str) -> Result<Vec<String>> {
    fn walk(g: &netcdf::Group<'_>, path: &str, depth: usize, out: &mut Vec<String>) {
        if depth > 16 {
            return;
        }
        for c in g.groups() {
            if out.len() >= MAX_GROUPS {
                return;
            }
            let p = format!("{path}{}", c.name());
            out.push(p.clone());
            walk(&c, &format!("{p}/"), depth + 1, out);
        }
    }
    let meta_err = |reason: String| ConnectorError::Metadata {
        dataset: dataset.to_string(),
        reason,
    };
    let group = group.trim_matches('/');
    let mut out = Vec::new();
    if group.is_empty() {
        for c in file.groups().map_err(|e| meta_err(e.to_string()))? {
            let p = c.name();
            out.push(p.clone());
            walk(&c, &format!("{p}/"), 1, &mut out);
        }
    } else if let Some(g) = file.group(group).map_err(|e| meta_err(e.to_string()))? {
        walk(&g, &format!("{group}/"), 1, &mut out);
    }
    Ok(out)
}

/// Reads `region` of variable `name` (stored values, C order) as `raw`.
///
/// # Errors
/// A missing variable, a region outside it, libnetcdf read or
/// decompression errors; each names the dataset, variable and region.
pub fn read_region(
    file: &netcdf::File,
    group: &str,
    dataset: &str,
    name: &str,
    raw: RawType,
    region: &[Range<u64>],
) -> Result<RawBuffer> {
    let chunk_err = |reason: String| ConnectorError::Chunk {
        dataset: dataset.to_string(),
        variable: name.to_string(),
        chunk: format!("{region:?}"),
        reason,
    };
    let group = group.trim_matches('/');
    let grp = if group.is_empty() {
        None
    } else {
        file.group(group).map_err(|e| chunk_err(e.to_string()))?
    };
    let var = match &grp {
        Some(g) => g.variable(name),
        None => file.variable(name),
    }
    .ok_or_else(|| chunk_err("variable not found in the file".into()))?;
    let extents: Vec<Range<usize>> = region
        .iter()
        .map(|r| {
            let s = usize::try_from(r.start).map_err(|e| chunk_err(e.to_string()))?;
            let e = usize::try_from(r.end).map_err(|e| chunk_err(e.to_string()))?;
            Ok(s..e)
        })
        .collect::<Result<_>>()?;
    let stored = raw_type(&var.vartype()).ok_or_else(|| chunk_err("non-numeric type".into()))?;
    let err = |e: netcdf::Error| chunk_err(e.to_string());
    let buf = crate::raw_buffer_of!(stored, T => var.get_values::<T, _>(extents).map_err(err)?);
    if raw == stored {
        return Ok(buf);
    }
    // `_Unsigned`: the same bits, read as the unsigned type.
    Ok(match buf {
        RawBuffer::I8(v) => RawBuffer::U8(v.into_iter().map(|x| x as u8).collect()),
        RawBuffer::I16(v) => RawBuffer::U16(v.into_iter().map(|x| x as u16).collect()),
        RawBuffer::I32(v) => RawBuffer::U32(v.into_iter().map(|x| x as u32).collect()),
        RawBuffer::I64(v) => RawBuffer::U64(v.into_iter().map(|x| x as u64).collect()),
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_chunks_keep_last_two_dims() {
        assert_eq!(synthetic_chunks(&[10, 20, 30]), vec![1, 20, 30]);
        assert_eq!(synthetic_chunks(&[7]), vec![7]);
        assert_eq!(synthetic_chunks(&[0, 5]), vec![1, 5]);
    }

    #[test]
    fn float_attributes_remember_f32() {
        assert_eq!(
            attr_value(AttributeValue::Float(0.5)),
            AttrValue::Float {
                value: 0.5,
                f32: true
            }
        );
        assert_eq!(
            attr_value(AttributeValue::Shorts(vec![1, -2])),
            AttrValue::List(vec![AttrValue::Int(1), AttrValue::Int(-2)])
        );
    }
}
