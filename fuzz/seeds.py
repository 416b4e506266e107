"""Writes the seed corpus of gridsql's fuzz targets (fuzz/corpus/<target>/).

Seeds are small, valid inputs in each target's layout (see the module docs
in connectors/src/fuzz/); libFuzzer mutates them. Run with the test venv's
python (numcodecs compresses the chunk seeds):
    ~/.cache/gridsql/venv/bin/python fuzz/seeds.py
"""
import base64
import gzip
import json
import os
import struct
import sys

import numcodecs
import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def j(obj):
    return json.dumps(obj).encode()


# --- zarr_metadata: metadata 0xFF attrs 0xFF chunk [0xFE second array] ----
v2_data = {"zarr_format": 2, "shape": [4, 3], "chunks": [2, 3], "dtype": "<i2",
           "fill_value": -32767, "order": "C", "filters": None, "compressor": None}
v2_attrs = {"_ARRAY_DIMENSIONS": ["time", "lat"], "scale_factor": 0.5, "add_offset": 10.0,
            "missing_value": -32767, "units": "K"}
v2_time = {"zarr_format": 2, "shape": [4], "chunks": [4], "dtype": "<f8",
           "fill_value": "NaN", "order": "C", "filters": None, "compressor": None}
v2_time_attrs = {"_ARRAY_DIMENSIONS": ["time"], "units": "hours since 1900-01-01",
                 "calendar": "proleptic_gregorian"}
write("zarr_metadata", "v2_packed_with_time",
      j(v2_data) + b"\xff" + j(v2_attrs) + b"\xff" + np.arange(6, dtype="<i2").tobytes()
      + b"\xfe" + j(v2_time) + b"\xff" + j(v2_time_attrs) + b"\xff"
      + np.array([0, 24, 48, 72], dtype="<f8").tobytes())
nan_b64 = base64.b64encode(struct.pack("<d", float("nan"))).decode()
v3_data = {"zarr_format": 3, "node_type": "array", "shape": [5, 2], "data_type": "float32",
           "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [3, 2]}},
           "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
           "fill_value": 0.0,
           "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
           "attributes": {"_FillValue": nan_b64, "units": "m"},
           "dimension_names": ["day", "x"]}
v3_day = {"zarr_format": 3, "node_type": "array", "shape": [5], "data_type": "int32",
          "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [5]}},
          "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
          "fill_value": 0,
          "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
          "attributes": {"units": "days since 2000-02-28", "calendar": "360_day"},
          "dimension_names": ["day"]}
write("zarr_metadata", "v3_nan_fill_360_day",
      j(v3_data) + b"\xff\xff" + np.array([1, 2, np.nan, 4, 5, 6], dtype="<f4").tobytes()
      + b"\xfe" + j(v3_day) + b"\xff\xff" + np.arange(5, dtype="<i4").tobytes())
write("zarr_metadata", "v2_no_dims", j(dict(v2_data, dtype="|u1", fill_value=0)))
write("zarr_metadata", "v3_descending_noleap",
      j(dict(v3_data, data_type="uint16", fill_value=0,
             attributes={"_FillValue": 65535, "scale_factor": 0.01},
             dimension_names=["t", None]))
      + b"\xff\xff" + np.arange(6, dtype="<u2").tobytes() + b"\xfe"
      + j(dict(v3_day, attributes={"units": "seconds since 1970-01-01T00:00:00Z",
                                   "calendar": "noleap"}, dimension_names=["t"]))
      + b"\xff\xff" + np.arange(5, 0, -1, dtype="<i4").tobytes())

# --- cf_attributes: type flags attrs 0xFF values ----------------------------
TYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
         "float32", "float64"]
cases = [
    ("int16_packed", "int16", 0, {"scale_factor": 0.01, "add_offset": 273.15, "_FillValue": -32767}),
    ("int8_fill_missing", "int8", 0, {"_FillValue": -128, "missing_value": [-127, 5]}),
    ("uint8_unsigned", "uint8", 0, {"_FillValue": 255, "_Unsigned": "true"}),
    ("float32_nan_b64", "float32", 1, {"_FillValue": base64.b64encode(struct.pack("<f", 9.96921e36)).decode()}),
    ("float64_time", "float64", 0, {"units": "days since 1582-10-10", "calendar": "standard"}),
    ("int64_time_julian", "int64", 2, {"units": "hours since 0001-01-01 00:00:00", "calendar": "julian"}),
    ("uint64_big", "uint64", 0, {"_FillValue": 18446744073709551615, "scale_factor": 2}),
    ("int32_360_day", "int32", 0, {"units": "months since 2000-01-01", "calendar": "360_day"}),
]
for name, t, flags, attrs in cases:
    values = np.array([0, 1, -1, 127, 255, 1000, 3], dtype="<f8").astype(t).tobytes()
    write("cf_attributes", name, bytes([TYPES.index(t), flags]) + j(attrs) + b"\xff" + values)

# --- chunk_decode: dtype chain rank shape.. chunks.. chunk bytes -------------
def chunk(t, chain, shape, chunks, raw_to_bytes):
    a = np.arange(int(np.prod(chunks)), dtype="<f8").reshape(chunks).astype(TYPES[t])
    return bytes([t, chain, len(shape) - 1] + [s - 1 for s in shape] + [c - 1 for c in chunks]) \
        + raw_to_bytes(a)

def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return struct.pack("<I", crc ^ 0xFFFFFFFF)


le = lambda a: a.astype(a.dtype.newbyteorder("<")).tobytes()
be = lambda a: a.astype(a.dtype.newbyteorder(">")).tobytes()
write("chunk_decode", "v3_bytes_int16", chunk(1, 0, [5, 4], [3, 4], le))
write("chunk_decode", "v3_bytes_big_f64", chunk(9, 1, [6], [4], be))
write("chunk_decode", "v3_gzip_u32", chunk(6, 2, [4, 4], [2, 4], lambda a: gzip.compress(le(a))))
write("chunk_decode", "v3_zstd_f32", chunk(8, 3, [3, 3, 3], [2, 2, 2],
                                           lambda a: numcodecs.Zstd(level=1).encode(le(a))))
write("chunk_decode", "v3_blosc_i8", chunk(0, 4, [7], [7],
                                           lambda a: numcodecs.Blosc(cname="blosclz", clevel=1).encode(le(a))))
write("chunk_decode", "v3_transpose_i32", chunk(2, 5, [2, 3], [2, 3], lambda a: le(a.T)))
write("chunk_decode", "v3_crc32c_u8", chunk(4, 6, [5], [5], lambda a: le(a) + crc32c(le(a))))
write("chunk_decode", "v2_raw_u16", chunk(5, 8, [4, 4], [4, 4], le))
write("chunk_decode", "v2_gzip_i64", chunk(3, 10, [3], [3], lambda a: gzip.compress(le(a))))
write("chunk_decode", "v2_zstd_f64", chunk(9, 11, [2, 2], [2, 2],
                                           lambda a: numcodecs.Zstd(level=1).encode(le(a))))
write("chunk_decode", "v2_blosc_f32", chunk(8, 12, [8], [4],
                                            lambda a: numcodecs.Blosc(cname="lz4", clevel=1).encode(le(a))))

# --- selection_plan: a byte stream (see selection_plan.rs) -------------------
write("selection_plan", "one_dim_ascending", bytes([0, 20, 4, 0, 246, 2, 3, 0, 2, 0, 0, 4, 8]))
write("selection_plan", "two_dims_desc_nan", bytes([1, 10, 3, 1, 10, 1, 7, 2, 2, 1, 2, 3, 255, 254, 3, 4, 5, 6,
                                                    255, 8, 4, 1, 1, 0, 1, 2, 3, 10, 0, 4, 0, 5, 1, 9, 0, 6,
                                                    1, 7, 8, 9]))
write("selection_plan", "three_dims_files", bytes([2, 9, 2, 3, 5, 5, 0, 1, 2, 6, 4, 3, 7, 3, 1, 0, 0, 3, 0, 1,
                                                   0, 0, 3, 0, 6, 0, 4, 8, 16, 2, 8, 1, 2, 4, 1, 7, 3, 1, 2, 3]))
# --- grib_messages: GRIB files, cut from the shared data's (see grib_messages.rs) ---
DATA = os.environ.get("GRIDSQL_DATA", os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../shared/data"))
ukmo = open(os.path.join(DATA, "forecast_monthly_ukmo.grib"), "rb").read()
first = int.from_bytes(ukmo[4:7], "big")
second_at = ukmo.index(b"GRIB", 4)
second = int.from_bytes(ukmo[second_at + 4:second_at + 7], "big")
write("grib_messages", "grib1_ukmo_one_message", ukmo[:first])
write("grib_messages", "grib1_ukmo_two_messages", ukmo[:second_at + second])
write("grib_messages", "reject-truncated", ukmo[:first - 100])
write("grib_messages", "grib2_cmc_jpeg2000",
      open(os.path.join(DATA, "CMC_glb_TMP_ISBL_1015_ps30km_2013052000_P006.grib2"), "rb").read())

print("seeds written to", ROOT, file=sys.stderr)
