//! The options of `COPY ... TO ... STORED AS ZARR|NETCDF OPTIONS (...)`.

use std::collections::HashMap;

use crate::error::{ConnectorError, Result};

/// How chunks are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// zstd (level 3) in Zarr, zlib (level 4, shuffled) in NetCDF-4.
    Zstd,
    /// Blosc (lz4, level 5, byte shuffle), as numcodecs' default; Zarr
    /// only (NetCDF-4 needs a filter plugin for it).
    Blosc,
    /// None.
    None,
}

/// What the options of one COPY say.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteOptions {
    /// Result columns that become dimensions, in order; `None`: the columns
    /// that come from dimension columns of the source.
    pub dims: Option<Vec<String>>,
    /// Zarr format, 2 or 3.
    pub zarr_format: u8,
    /// Chunk shape, one length per dimension; `None`: the source's, else
    /// about 8 MiB chunks ([`super::chunking`]).
    pub chunks: Option<Vec<u64>>,
    /// Compression.
    pub compression: Compression,
    /// Whether an existing target is replaced.
    pub overwrite: bool,
}

/// The option keys, for messages.
const KNOWN: &[&str] = &["dims", "zarr_format", "chunks", "compression", "overwrite"];

impl WriteOptions {
    /// Parses COPY's options (keys may carry DataFusion's `format.` prefix).
    ///
    /// # Errors
    /// An unknown key or a bad value, named.
    pub fn parse(options: &HashMap<String, String>) -> Result<Self> {
        let mut out = WriteOptions {
            dims: None,
            zarr_format: 3,
            chunks: None,
            compression: Compression::Zstd,
            overwrite: false,
        };
        let bad = |option: &str, reason: String| ConnectorError::Option {
            option: option.to_string(),
            reason,
        };
        for (key, value) in options {
            let k = key.trim().to_ascii_lowercase();
            let k = k.strip_prefix("format.").unwrap_or(&k);
            let v = value.trim();
            match k {
                "dims" => {
                    let dims: Vec<String> = v
                        .split(',')
                        .map(|d| d.trim().to_string())
                        .filter(|d| !d.is_empty())
                        .collect();
                    if dims.is_empty() {
                        return Err(bad(k, "name at least one column".into()));
                    }
                    out.dims = Some(dims);
                }
                "zarr_format" => {
                    out.zarr_format = match v {
                        "2" => 2,
                        "3" => 3,
                        _ => return Err(bad(k, format!("'{v}': use 2 or 3"))),
                    }
                }
                "chunks" => {
                    let chunks = v
                        .split(',')
                        .map(|c| c.trim().parse::<u64>().ok().filter(|&n| n > 0))
                        .collect::<Option<Vec<u64>>>()
                        .ok_or_else(|| {
                            bad(k, format!("'{v}': positive lengths separated by commas"))
                        })?;
                    out.chunks = Some(chunks);
                }
                "compression" => {
                    out.compression = match v.to_ascii_lowercase().as_str() {
                        "zstd" | "zlib" => Compression::Zstd,
                        "blosc" => Compression::Blosc,
                        "none" => Compression::None,
                        other => {
                            return Err(bad(k, format!("'{other}': use zstd, blosc or none")));
                        }
                    }
                }
                "overwrite" => {
                    out.overwrite = match v.to_ascii_lowercase().as_str() {
                        "true" => true,
                        "false" => false,
                        other => return Err(bad(k, format!("'{other}': use true or false"))),
                    }
                }
                other => {
                    return Err(bad(
                        other,
                        format!("unknown option; known options are {}", KNOWN.join(", ")),
                    ));
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_parse_and_bad_ones_are_named() {
        let o = WriteOptions::parse(&HashMap::from([
            ("format.dims".to_string(), "month, lat,lon".to_string()),
            ("zarr_format".to_string(), "2".to_string()),
            ("chunks".to_string(), "1,89,180".to_string()),
            ("overwrite".to_string(), "TRUE".to_string()),
        ]))
        .expect("valid");
        assert_eq!(
            o.dims.as_deref(),
            Some(&["month".to_string(), "lat".into(), "lon".into()][..])
        );
        assert_eq!((o.zarr_format, o.overwrite), (2, true));
        assert_eq!(o.chunks, Some(vec![1, 89, 180]));
        for (k, v) in [
            ("zarr_format", "4"),
            ("chunks", "1,0"),
            ("colour", "red"),
            ("compression", "lz9"),
        ] {
            let e = WriteOptions::parse(&HashMap::from([(k.to_string(), v.to_string())]))
                .expect_err("refused");
            assert!(e.to_string().contains(k), "{e}");
        }
    }
}
