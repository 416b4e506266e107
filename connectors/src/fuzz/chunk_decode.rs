//! Fuzz body: chunk bytes through the codecs gridsql reads (zarrs' bytes,
//! gzip, zstd, blosc, transpose, crc32c, sharding; the v2 compressors) into
//! stored values of a given dtype, then CF decoding into a column.
//!
//! Input layout: byte 0 picks the dtype, byte 1 the codec chain, byte 2
//! the rank (1–3), then one byte per dimension for the shape and one for
//! the chunk shape (each 1–12); the rest is the bytes of chunk 0. The
//! metadata is well formed; only the chunk is hostile.
//!
//! Checked (in [`super::read_first_chunks`]): a chunk either fails with an
//! error or yields exactly one value per cell of the region read.

use super::{memory_store, open, read_first_chunks};

/// (v3 name, v2 little-endian name, v2 big-endian name) per dtype.
const DTYPES: [(&str, &str, &str); 10] = [
    ("int8", "|i1", "|i1"),
    ("int16", "<i2", ">i2"),
    ("int32", "<i4", ">i4"),
    ("int64", "<i8", ">i8"),
    ("uint8", "|u1", "|u1"),
    ("uint16", "<u2", ">u2"),
    ("uint32", "<u4", ">u4"),
    ("uint64", "<u8", ">u8"),
    ("float32", "<f4", ">f4"),
    ("float64", "<f8", ">f8"),
];

/// Number of codec chains [`metadata`] knows.
const CHAINS: u8 = 13;

/// Runs the target on one input.
pub fn run(data: &[u8]) -> bool {
    let [t, codec, rank, rest @ ..] = data else {
        return false;
    };
    let rank = 1 + (*rank as usize % 3);
    if rest.len() < 2 * rank {
        return false;
    }
    let (dims, chunk) = rest.split_at(2 * rank);
    let shape: Vec<u64> = dims[..rank]
        .iter()
        .map(|b| 1 + u64::from(*b % 12))
        .collect();
    let chunks: Vec<u64> = dims[rank..]
        .iter()
        .map(|b| 1 + u64::from(*b % 12))
        .collect();
    let dtype = DTYPES[*t as usize % DTYPES.len()];
    let files = metadata(dtype, *codec % CHAINS, &shape, &chunks, chunk);
    match open(memory_store(&files)) {
        Ok(table) => read_first_chunks(&table),
        Err(_) => false,
    }
}

/// The store's files: group and array metadata for one codec chain, and
/// the chunk at index 0.
fn metadata(
    (v3_name, v2_le, v2_be): (&str, &str, &str),
    chain: u8,
    shape: &[u64],
    chunks: &[u64],
    chunk: &[u8],
) -> Vec<(String, Vec<u8>)> {
    let names: Vec<String> = (0..shape.len()).map(|i| format!("d{i}")).collect();
    let fill = if v3_name.starts_with("float") {
        serde_json::json!("NaN")
    } else {
        serde_json::json!(0)
    };
    let bytes =
        |endian: &str| serde_json::json!({"name": "bytes", "configuration": {"endian": endian}});
    let zeros = vec!["0"; shape.len()];
    if chain < 8 {
        let codecs = match chain {
            0 => vec![bytes("little")],
            1 => vec![bytes("big")],
            2 => vec![
                bytes("little"),
                serde_json::json!({"name": "gzip", "configuration": {"level": 1}}),
            ],
            3 => vec![
                bytes("little"),
                serde_json::json!({"name": "zstd", "configuration": {"level": 1, "checksum": false}}),
            ],
            4 => vec![
                bytes("little"),
                serde_json::json!({"name": "blosc", "configuration": {
                    "cname": "blosclz", "clevel": 1, "shuffle": "shuffle", "typesize": 1, "blocksize": 0}}),
            ],
            5 => {
                let order: Vec<usize> = (0..shape.len()).rev().collect();
                vec![
                    serde_json::json!({"name": "transpose", "configuration": {"order": order}}),
                    bytes("little"),
                ]
            }
            6 => vec![bytes("little"), serde_json::json!({"name": "crc32c"})],
            _ => {
                let inner: Vec<u64> = chunks.iter().map(|&c| c.div_ceil(2)).collect();
                let sub: Vec<u64> = chunks
                    .iter()
                    .zip(&inner)
                    .map(|(&c, &i)| if c % i == 0 { i } else { c })
                    .collect();
                vec![
                    serde_json::json!({"name": "sharding_indexed", "configuration": {
                    "chunk_shape": sub,
                    "codecs": [bytes("little")],
                    "index_codecs": [bytes("little"), {"name": "crc32c"}],
                    "index_location": "end"}}),
                ]
            }
        };
        let meta = serde_json::json!({
            "zarr_format": 3,
            "node_type": "array",
            "shape": shape,
            "data_type": v3_name,
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": chunks}},
            "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
            "fill_value": fill,
            "codecs": codecs,
            "dimension_names": names,
            "attributes": {},
        });
        vec![
            (
                "zarr.json".into(),
                br#"{"zarr_format":3,"node_type":"group","attributes":{}}"#.to_vec(),
            ),
            ("data/zarr.json".into(), meta.to_string().into_bytes()),
            (format!("data/c/{}", zeros.join("/")), chunk.to_vec()),
        ]
    } else {
        let (dtype, compressor) = match chain {
            8 => (v2_le, serde_json::Value::Null),
            9 => (v2_be, serde_json::Value::Null),
            10 => (v2_le, serde_json::json!({"id": "gzip", "level": 1})),
            11 => (v2_le, serde_json::json!({"id": "zstd", "level": 1})),
            _ => (
                v2_le,
                serde_json::json!({"id": "blosc", "cname": "lz4", "clevel": 1, "shuffle": 1, "blocksize": 0}),
            ),
        };
        let meta = serde_json::json!({
            "zarr_format": 2,
            "shape": shape,
            "chunks": chunks,
            "dtype": dtype,
            "compressor": compressor,
            "fill_value": fill,
            "order": "C",
            "filters": null,
        });
        vec![
            (".zgroup".into(), br#"{"zarr_format":2}"#.to_vec()),
            ("data/.zarray".into(), meta.to_string().into_bytes()),
            (
                "data/.zattrs".into(),
                serde_json::json!({"_ARRAY_DIMENSIONS": names})
                    .to_string()
                    .into_bytes(),
            ),
            (format!("data/{}", zeros.join(".")), chunk.to_vec()),
        ]
    }
}
