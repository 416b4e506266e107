//! Hostile Zarr stores: truncated and corrupt chunks, broken metadata,
//! unknown codecs, absurd shapes, paths that are not stores. gridsql must
//! answer each with one clear line naming the dataset (and the variable and
//! chunk where that applies), and never panic, hang or try to allocate
//! terabytes. Two oddities are not errors: a 0-length dimension (an empty
//! table) and a missing chunk (which reads as the array's fill value).
//!
//! Each case copies `tcw.nc.v2.zarr` or `tcw.nc.v3.zarr` (31 x 73 x 144
//! int16, chunks 1 x 73 x 144, packed) into a temporary folder and damages
//! the copy. The binary runs under `ulimit -v` (4 GiB) and is killed after
//! 60 s. Every error message is printed so that a reviewer can read them.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::util::{data_dir, output_within};

/// A run longer than this is a hang.
const LIMIT: Duration = Duration::from_secs(60);

/// Address space the binary may reserve, in KiB (`ulimit -v`): 4 GiB.
const VMEM_KIB: u64 = 4 << 20;

/// 2^40 cells along one dimension.
const HUGE: u64 = 1 << 40;

/// Cells in one time step of `tcw` (73 x 144).
const STEP_CELLS: u64 = 73 * 144;

/// Non-missing cells of `tcw` (MANIFEST.md, Q3).
const TCW_COUNT: u64 = 325_872;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Version {
    V2,
    V3,
}
use Version::{V2, V3};

/// A writable copy of `tcw.nc.v{2,3}.zarr` in a temporary folder.
struct Store {
    _dir: tempfile::TempDir,
    path: PathBuf,
    version: Version,
}

impl Store {
    /// Copies the store; `None` (a visible skip, a failure under CI) when
    /// the shared data are missing.
    fn copy(version: Version) -> Option<Store> {
        let data = data_dir()?;
        let name = match version {
            V2 => "tcw.nc.v2.zarr",
            V3 => "tcw.nc.v3.zarr",
        };
        let dir = tempfile::tempdir().expect("tempdir");
        // not named after the variable, so that "tcw" in a message names it
        let path = dir.path().join("hostile.zarr");
        copy_dir(&data.join(name), &path);
        Some(Store {
            _dir: dir,
            path,
            version,
        })
    }

    /// The dataset location as given on the command line.
    fn location(&self) -> &str {
        self.path.to_str().expect("utf-8 temp path")
    }

    /// Runs `sql` on the store as table `t`, CSV output.
    fn query(&self, sql: &str) -> Output {
        run(&[
            "--format",
            "csv",
            &format!("t={}", self.location()),
            "-c",
            sql,
        ])
    }

    /// The metadata document of array `var`.
    fn meta_path(&self, var: &str) -> PathBuf {
        match self.version {
            V2 => self.path.join(var).join(".zarray"),
            V3 => self.path.join(var).join("zarr.json"),
        }
    }

    /// The file of chunk `idx` of array `var` (xarray's default keys).
    fn chunk_path(&self, var: &str, idx: &[u64]) -> PathBuf {
        let parts: Vec<String> = idx.iter().map(u64::to_string).collect();
        match self.version {
            V2 => self.path.join(var).join(parts.join(".")),
            V3 => parts
                .iter()
                .fold(self.path.join(var).join("c"), |p, i| p.join(i)),
        }
    }

    /// Edits the metadata of array `var`, and its copy in the consolidated
    /// metadata, so that both tell the same story.
    fn edit_array(&self, var: &str, edit: impl Fn(&mut Value)) {
        let p = self.meta_path(var);
        let mut m = read_json(&p);
        edit(&mut m);
        write_json(&p, &m);
        self.edit_consolidated(|c| {
            let key = match self.version {
                V2 => format!("/metadata/{var}~1.zarray"),
                V3 => format!("/consolidated_metadata/metadata/{var}"),
            };
            if let Some(m) = c.pointer_mut(&key) {
                edit(m);
            }
        });
    }

    /// Edits the consolidated metadata (`.zmetadata` in v2, the root
    /// `zarr.json` in v3), if there is one.
    fn edit_consolidated(&self, edit: impl FnOnce(&mut Value)) {
        let p = match self.version {
            V2 => self.path.join(".zmetadata"),
            V3 => self.path.join("zarr.json"),
        };
        if p.exists() {
            let mut c = read_json(&p);
            edit(&mut c);
            write_json(&p, &c);
        }
    }

    /// Sets the shape of array `var`.
    fn set_shape(&self, var: &str, shape: &[u64]) {
        self.edit_array(var, |m| m["shape"] = json!(shape));
    }

    /// Sets the chunk shape of array `var`.
    fn set_chunks(&self, var: &str, chunks: &[u64]) {
        let version = self.version;
        self.edit_array(var, |m| match version {
            V2 => m["chunks"] = json!(chunks),
            V3 => m["chunk_grid"]["configuration"]["chunk_shape"] = json!(chunks),
        });
    }

    /// Deletes array `var` and its consolidated metadata.
    fn remove_array(&self, var: &str) {
        std::fs::remove_dir_all(self.path.join(var)).expect("remove array");
        self.edit_consolidated(|c| match self.version {
            V2 => {
                if let Some(m) = c["metadata"].as_object_mut() {
                    m.retain(|k, _| !k.starts_with(&format!("{var}/")));
                }
            }
            V3 => {
                if let Some(m) = c
                    .pointer_mut("/consolidated_metadata/metadata")
                    .and_then(Value::as_object_mut)
                {
                    m.remove(var);
                }
            }
        });
    }

    /// Removes the consolidated metadata: readers must use the arrays' own
    /// metadata documents.
    fn drop_consolidated(&self) {
        match self.version {
            V2 => std::fs::remove_file(self.path.join(".zmetadata")).expect("remove .zmetadata"),
            V3 => self.edit_consolidated(|c| {
                c.as_object_mut()
                    .expect("root zarr.json is an object")
                    .remove("consolidated_metadata");
            }),
        }
    }

    /// A numeric attribute of array `var`.
    fn attr(&self, var: &str, key: &str) -> f64 {
        let attrs = match self.version {
            V2 => read_json(&self.path.join(var).join(".zattrs")),
            V3 => read_json(&self.meta_path(var))["attributes"].clone(),
        };
        attrs[key]
            .as_f64()
            .unwrap_or_else(|| panic!("attribute {key} of {var}"))
    }

    /// The Zarr `fill_value` of array `var` (what a missing chunk holds).
    fn fill_value(&self, var: &str) -> f64 {
        read_json(&self.meta_path(var))["fill_value"]
            .as_f64()
            .expect("numeric fill_value")
    }
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).expect("create dir");
    for entry in std::fs::read_dir(src).expect("read dir") {
        let entry = entry.expect("dir entry");
        let to = dst.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &to);
        } else {
            std::fs::copy(entry.path(), &to).expect("copy file");
            // the shared data are read-only; the copy must not be
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        }
    }
}

fn read_json(p: &Path) -> Value {
    let text = std::fs::read(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
    serde_json::from_slice(&text).unwrap_or_else(|e| panic!("parse {}: {e}", p.display()))
}

fn write_json(p: &Path, v: &Value) {
    std::fs::write(p, serde_json::to_vec_pretty(v).expect("serialize")).expect("write json");
}

/// Runs gridsql with `args` under `ulimit -v` and the time limit.
fn run(args: &[&str]) -> Output {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("ulimit -v {VMEM_KIB} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_gridsql"))
        .args(args)
        .env("RUST_LOG", "error")
        // a panic then says "run with `RUST_BACKTRACE=1`", which the checks catch
        .env("RUST_BACKTRACE", "0");
    output_within(cmd, LIMIT)
}

/// Asserts a clear failure: non-zero exit, exactly one line on stderr that
/// contains every one of `needles`, no panic. Prints and returns the line.
fn assert_clear_error(case: &str, out: &Output, needles: &[&str]) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    eprintln!(
        "[{case}] exit {:?}, stderr: {}",
        out.status.code(),
        err.trim_end()
    );
    assert!(
        !out.status.success(),
        "[{case}] expected a failure, got success; stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        !err.contains("panicked")
            && !err.contains("RUST_BACKTRACE")
            && !err.contains("internal error (a bug in gridsql"),
        "[{case}] gridsql panicked or aborted: {err}"
    );
    assert!(
        out.status.code().is_some(),
        "[{case}] gridsql was killed by a signal (an abort: out of memory under `ulimit -v`?): {err}"
    );
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "[{case}] stderr is not exactly one line: {err}"
    );
    for n in needles {
        assert!(
            err.contains(n),
            "[{case}] the error does not mention {n:?}: {err}"
        );
    }
    err
}

/// Asserts that `err` names chunk `idx` (as `[5, 0, 0]`, `(5, 0, 0)`,
/// `5.0.0` or `c/5/0/0`).
fn assert_names_chunk(case: &str, err: &str, idx: &[u64]) {
    let parts: Vec<String> = idx.iter().map(u64::to_string).collect();
    let forms = [
        format!("[{}]", parts.join(", ")),
        format!("[{}]", parts.join(",")),
        format!("({})", parts.join(", ")),
        parts.join("."),
        format!("c/{}", parts.join("/")),
    ];
    assert!(
        forms.iter().any(|f| err.contains(f.as_str())),
        "[{case}] the error does not name chunk {idx:?}: {err}"
    );
}

/// Asserts success and returns the CSV lines of stdout (an empty field for
/// a NULL in a one-column row).
fn csv_lines(case: &str, out: &Output) -> Vec<String> {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "[{case}] expected success, got {:?}: {err}",
        out.status.code()
    );
    assert!(!err.contains("panicked"), "[{case}] {err}");
    // a row of one empty (NULL) field is written `""`, as CSV must
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            if l == "\"\"" {
                String::new()
            } else {
                l.to_string()
            }
        })
        .collect()
}

/// The chunk every chunk-level case damages: time step 5 (2002-07-06T12).
const CHUNK: [u64; 3] = [5, 0, 0];

fn truncated_chunk(version: Version) {
    let Some(s) = Store::copy(version) else {
        return;
    };
    let p = s.chunk_path("tcw", &CHUNK);
    let bytes = std::fs::read(&p).expect("read chunk");
    std::fs::write(&p, &bytes[..bytes.len() / 2]).expect("truncate chunk");
    let case = format!("truncated chunk {version:?}");
    let err = assert_clear_error(
        &case,
        &s.query("SELECT avg(tcw) FROM t"),
        &[s.location(), "tcw"],
    );
    assert_names_chunk(&case, &err, &CHUNK);
}

#[test]
fn truncated_chunk_v2() {
    truncated_chunk(V2);
}

#[test]
fn truncated_chunk_v3() {
    truncated_chunk(V3);
}

/// Overwrites the second half of a compressed chunk (length unchanged). The
/// first half alone may go unnoticed (literal runs carry no check), but the
/// structure at the end of a blosc or zstd stream cannot decode.
fn corrupt_chunk(version: Version) {
    let Some(s) = Store::copy(version) else {
        return;
    };
    let p = s.chunk_path("tcw", &CHUNK);
    let mut bytes = std::fs::read(&p).expect("read chunk");
    let n = bytes.len();
    bytes[n / 2..].fill(0xAB);
    std::fs::write(&p, &bytes).expect("corrupt chunk");
    let case = format!("corrupt chunk {version:?}");
    let err = assert_clear_error(
        &case,
        &s.query("SELECT avg(tcw) FROM t"),
        &[s.location(), "tcw"],
    );
    assert_names_chunk(&case, &err, &CHUNK);
}

#[test]
fn corrupt_chunk_bytes_v2() {
    corrupt_chunk(V2);
}

#[test]
fn corrupt_chunk_bytes_v3() {
    corrupt_chunk(V3);
}

/// A valid zstd frame holding `raw` in one raw (stored) block.
fn zstd_frame(raw: &[u8]) -> Vec<u8> {
    assert!(raw.len() < 1 << 17, "one block");
    let mut f = 0xFD2F_B528u32.to_le_bytes().to_vec();
    f.push(0xA0); // single segment, 4-byte content size, no checksum
    f.extend_from_slice(&(raw.len() as u32).to_le_bytes());
    let header = ((raw.len() as u32) << 3) | 1; // raw block, last
    f.extend_from_slice(&header.to_le_bytes()[..3]);
    f.extend_from_slice(raw);
    f
}

/// A valid blosc (v1 format) buffer holding `raw` uncompressed (memcpy flag).
fn blosc_frame(raw: &[u8], typesize: u8) -> Vec<u8> {
    let n = raw.len() as u32;
    let mut f = vec![2, 1, 0x02, typesize];
    for v in [n, n, n + 16] {
        f.extend_from_slice(&v.to_le_bytes());
    }
    f.extend_from_slice(raw);
    f
}

/// A chunk that decodes cleanly to too few bytes (100 instead of 73 x 144 x 2).
fn short_chunk(version: Version) {
    let Some(s) = Store::copy(version) else {
        return;
    };
    let raw: Vec<u8> = (0..100u8).collect();
    let frame = match version {
        V2 => blosc_frame(&raw, 2),
        V3 => zstd_frame(&raw),
    };
    std::fs::write(s.chunk_path("tcw", &CHUNK), frame).expect("write chunk");
    let case = format!("short decoded chunk {version:?}");
    let err = assert_clear_error(
        &case,
        &s.query("SELECT avg(tcw) FROM t"),
        &[s.location(), "tcw"],
    );
    assert_names_chunk(&case, &err, &CHUNK);
}

#[test]
fn chunk_decoding_to_too_few_bytes_v2() {
    short_chunk(V2);
}

#[test]
fn chunk_decoding_to_too_few_bytes_v3() {
    short_chunk(V3);
}

/// The array's own metadata document is not JSON (and there is no
/// consolidated copy to fall back on).
fn array_metadata_not_json(version: Version) {
    let Some(s) = Store::copy(version) else {
        return;
    };
    s.drop_consolidated();
    std::fs::write(
        s.meta_path("tcw"),
        b"{\"shape\": [31, 73, 144], \"chunks\": ",
    )
    .expect("write");
    let case = format!("array metadata not JSON {version:?}");
    assert_clear_error(
        &case,
        &s.query("SELECT avg(tcw) FROM t"),
        &[s.location(), "tcw"],
    );
}

#[test]
fn array_metadata_not_json_v2() {
    array_metadata_not_json(V2);
}

#[test]
fn array_metadata_not_json_v3() {
    array_metadata_not_json(V3);
}

#[test]
fn consolidated_metadata_not_json_v2() {
    let Some(s) = Store::copy(V2) else { return };
    std::fs::write(s.path.join(".zmetadata"), b"not json at all\n").expect("write");
    let out = s.query("SELECT avg(tcw) FROM t");
    assert_clear_error(
        "consolidated .zmetadata not JSON",
        &out,
        &[s.location(), ".zmetadata"],
    );
}

#[test]
fn root_metadata_not_json_v3() {
    let Some(s) = Store::copy(V3) else { return };
    std::fs::write(s.path.join("zarr.json"), b"\x00\x01 binary garbage").expect("write");
    let out = s.query("SELECT avg(tcw) FROM t");
    assert_clear_error(
        "root zarr.json (consolidated) not JSON",
        &out,
        &[s.location(), "zarr.json"],
    );
}

/// Chunks of rank 2 for an array of rank 3.
fn chunk_rank_mismatch(version: Version) {
    let Some(s) = Store::copy(version) else {
        return;
    };
    s.set_chunks("tcw", &[1, 73]);
    let case = format!("chunk rank differs from shape {version:?}");
    assert_clear_error(
        &case,
        &s.query("SELECT avg(tcw) FROM t"),
        &[s.location(), "tcw"],
    );
}

#[test]
fn chunk_rank_differs_from_shape_v2() {
    chunk_rank_mismatch(V2);
}

#[test]
fn chunk_rank_differs_from_shape_v3() {
    chunk_rank_mismatch(V3);
}

fn unknown_codec(version: Version) {
    let Some(s) = Store::copy(version) else {
        return;
    };
    s.edit_array("tcw", |m| match version {
        V2 => m["compressor"] = json!({"id": "nosuchcodec"}),
        V3 => m["codecs"] = json!([{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "nosuchcodec"}]),
    });
    let case = format!("unknown codec {version:?}");
    assert_clear_error(
        &case,
        &s.query("SELECT avg(tcw) FROM t"),
        &[s.location(), "tcw", "nosuchcodec"],
    );
}

#[test]
fn unknown_codec_v2() {
    unknown_codec(V2);
}

#[test]
fn unknown_codec_v3() {
    unknown_codec(V3);
}

/// A time dimension of length 0 is an empty table, not an error.
fn zero_length_dimension(version: Version) {
    let Some(s) = Store::copy(version) else {
        return;
    };
    s.set_shape("tcw", &[0, 73, 144]);
    s.set_shape("time", &[0]);
    let case = format!("0-length dimension {version:?}");
    let lines = csv_lines(
        &case,
        &s.query("SELECT count(*) AS n FROM t; SELECT avg(tcw) AS a FROM t"),
    );
    assert_eq!(
        lines,
        ["n", "0", "a", ""],
        "[{case}] count(*) is 0 and avg is NULL"
    );
}

#[test]
fn zero_length_dimension_is_an_empty_table_v2() {
    zero_length_dimension(V2);
}

#[test]
fn zero_length_dimension_is_an_empty_table_v3() {
    zero_length_dimension(V3);
}

/// A dimension of 2^40 cells: `count(*)` may be answered from metadata
/// (exactly) or refused clearly; reading the data must be refused clearly.
/// Never an attempt to allocate terabytes (`ulimit -v` turns one into a
/// failed allocation, which is not a clear error).
fn assert_huge_is_bounded(case: &str, s: &Store) {
    let t0 = Instant::now();
    let out = s.query("SELECT count(*) AS n FROM t");
    if out.status.success() {
        let lines = csv_lines(case, &out);
        eprintln!("[{case}] count(*) answered: {lines:?}");
        assert_eq!(
            lines,
            ["n".to_string(), (HUGE * STEP_CELLS).to_string()],
            "[{case}]"
        );
    } else {
        assert_clear_error(&format!("{case}, count(*)"), &out, &[s.location()]);
    }
    let out = s.query("SELECT avg(tcw) AS a FROM t");
    assert_clear_error(&format!("{case}, avg(tcw)"), &out, &[s.location()]);
    eprintln!("[{case}] both queries took {:?}", t0.elapsed());
}

/// `time` has 2^40 values, `tcw` is 2^40 x 73 x 144 in 1 x 73 x 144 chunks.
fn huge_dimension_with_coordinate(version: Version) {
    let Some(s) = Store::copy(version) else {
        return;
    };
    s.set_shape("tcw", &[HUGE, 73, 144]);
    s.set_shape("time", &[HUGE]);
    assert_huge_is_bounded(
        &format!("2^40 time steps with a coordinate {version:?}"),
        &s,
    );
}

#[test]
fn huge_dimension_with_coordinate_v2() {
    huge_dimension_with_coordinate(V2);
}

#[test]
fn huge_dimension_with_coordinate_v3() {
    huge_dimension_with_coordinate(V3);
}

/// No `time` coordinate variable; `tcw` is one chunk of 2^40 x 73 x 144.
fn huge_dimension_one_chunk(version: Version) {
    let Some(s) = Store::copy(version) else {
        return;
    };
    s.remove_array("time");
    s.set_shape("tcw", &[HUGE, 73, 144]);
    s.set_chunks("tcw", &[HUGE, 73, 144]);
    assert_huge_is_bounded(
        &format!("2^40 time steps, no coordinate, one chunk {version:?}"),
        &s,
    );
}

#[test]
fn huge_dimension_without_coordinate_in_one_chunk_v2() {
    huge_dimension_one_chunk(V2);
}

#[test]
fn huge_dimension_without_coordinate_in_one_chunk_v3() {
    huge_dimension_one_chunk(V3);
}

/// No `time` coordinate variable; `tcw` keeps its 1 x 73 x 144 chunks, so
/// the chunk grid has 2^40 chunks: planning must not enumerate them.
#[test]
fn huge_dimension_without_coordinate_in_2_pow_40_chunks() {
    let Some(s) = Store::copy(V3) else { return };
    s.remove_array("time");
    s.set_shape("tcw", &[HUGE, 73, 144]);
    assert_huge_is_bounded("2^40 time steps, no coordinate, 2^40 chunks", &s);
}

/// v3: a missing chunk holds the array's `fill_value` (0 raw), which is not
/// the CF `_FillValue` (-32767): its cells are values, decoded to
/// `add_offset`.
#[test]
fn missing_chunk_reads_fill_value_v3() {
    let Some(s) = Store::copy(V3) else { return };
    std::fs::remove_file(s.chunk_path("tcw", &CHUNK)).expect("delete chunk");
    let expected =
        s.fill_value("tcw") * s.attr("tcw", "scale_factor") + s.attr("tcw", "add_offset");
    let out = s.query(
        "SELECT count(tcw) AS n FROM t; \
         SELECT avg(tcw) AS a FROM t WHERE time = TIMESTAMP '2002-07-06 12:00:00'",
    );
    let lines = csv_lines("missing chunk v3", &out);
    eprintln!("[missing chunk v3] {lines:?}, decoded fill {expected}");
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert_eq!(lines[1], TCW_COUNT.to_string(), "non-null cells unchanged");
    let a: f64 = lines[3].parse().expect("a number");
    assert!(
        (a - expected).abs() <= 1e-12 * expected.abs(),
        "avg {a} != decoded fill {expected}"
    );
}

/// v2: a missing chunk holds `fill_value`, which is the CF `_FillValue`
/// there: its cells are NULL.
#[test]
fn missing_chunk_reads_fill_value_v2() {
    let Some(s) = Store::copy(V2) else { return };
    std::fs::remove_file(s.chunk_path("tcw", &CHUNK)).expect("delete chunk");
    let out = s.query(
        "SELECT count(tcw) AS n FROM t; \
         SELECT avg(tcw) AS a FROM t WHERE time = TIMESTAMP '2002-07-06 12:00:00'",
    );
    let lines = csv_lines("missing chunk v2", &out);
    eprintln!("[missing chunk v2] {lines:?}");
    assert_eq!(
        lines,
        [
            "n".to_string(),
            (TCW_COUNT - STEP_CELLS).to_string(),
            "a".into(),
            String::new()
        ]
    );
}

#[test]
fn store_path_does_not_exist() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("nowhere.zarr");
    let p = p.to_str().expect("utf-8 path");
    let out = run(&[
        "--format",
        "csv",
        &format!("t={p}"),
        "-c",
        "SELECT count(*) FROM t",
    ]);
    assert_clear_error("store path does not exist", &out, &[p]);
}

#[test]
fn folder_is_not_a_zarr_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    for name in ["plain.zarr", "plain"] {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.join("sub")).expect("mkdir");
        std::fs::write(p.join("README.txt"), b"not a zarr store\n").expect("write");
        std::fs::write(p.join("sub").join("data.bin"), [0u8; 64]).expect("write");
        let p = p.to_str().expect("utf-8 path");
        let out = run(&[
            "--format",
            "csv",
            &format!("t={p}"),
            "-c",
            "SELECT count(*) FROM t",
        ]);
        assert_clear_error(&format!("folder '{name}' is not a store"), &out, &[p]);
    }
}

/// A NetCDF-3 (CDF-1) header, hand-written: one dimension `n` of `len`
/// values with an int coordinate variable `n` and a float variable `x`; no
/// data follows the header.
fn cdf1_header(len: u32) -> Vec<u8> {
    fn name(out: &mut Vec<u8>, s: &str) {
        out.extend((s.len() as u32).to_be_bytes());
        out.extend(s.as_bytes());
        out.resize(out.len().div_ceil(4) * 4, 0);
    }
    let mut h = b"CDF\x01".to_vec();
    h.extend(0u32.to_be_bytes()); // numrecs
    h.extend(0x0Au32.to_be_bytes()); // NC_DIMENSION
    h.extend(1u32.to_be_bytes());
    name(&mut h, "n");
    h.extend(len.to_be_bytes());
    h.extend([0u8; 8]); // no global attributes
    h.extend(0x0Bu32.to_be_bytes()); // NC_VARIABLE
    h.extend(2u32.to_be_bytes());
    // Each variable entry is 36 bytes here; the data begins after both.
    let header_len = h.len() as u32 + 2 * 36;
    for (i, (var, nc_type)) in [("n", 4u32), ("x", 5u32)].into_iter().enumerate() {
        name(&mut h, var);
        h.extend(1u32.to_be_bytes()); // one dimension
        h.extend(0u32.to_be_bytes()); // dimension 0
        h.extend([0u8; 8]); // no attributes
        h.extend(nc_type.to_be_bytes());
        h.extend((len * 4).to_be_bytes()); // vsize
        h.extend((header_len + i as u32 * len * 4).to_be_bytes()); // begin
    }
    assert_eq!(h.len() as u32, header_len, "variable entries are 36 bytes");
    h
}

/// A NetCDF header that declares a coordinate too long to read into memory
/// is refused with the same cap as Zarr's, naming the dataset and variable.
#[test]
fn netcdf_coordinate_longer_than_the_cap_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("long.nc");
    std::fs::write(&path, cdf1_header(1 << 28)).expect("file written");
    let location = path.display().to_string();
    let out = run(&[
        "-c",
        "SELECT count(*) FROM long",
        &format!("long={location}"),
    ]);
    let err = assert_clear_error("netcdf_long_coordinate", &out, &["long.nc", "'n'"]);
    assert!(err.contains("longer than"), "{err}");
}

impl Store {
    /// Adds array `var` on `dims` whose metadata is `tcw`'s with `edit`
    /// applied (and no chunks: it is never read as numbers).
    fn add_array(&self, var: &str, dims: &[&str], shape: &[u64], edit: impl Fn(&mut Value)) {
        let mut m = read_json(&self.meta_path("tcw"));
        m["shape"] = json!(shape);
        match self.version {
            V2 => m["chunks"] = json!(shape),
            V3 => {
                m["chunk_grid"]["configuration"]["chunk_shape"] = json!(shape);
                m["dimension_names"] = json!(dims);
                m["attributes"] = json!({});
            }
        }
        edit(&mut m);
        std::fs::create_dir_all(self.path.join(var)).expect("array folder");
        write_json(&self.meta_path(var), &m);
        let attrs = json!({"_ARRAY_DIMENSIONS": dims});
        if self.version == V2 {
            write_json(&self.path.join(var).join(".zattrs"), &attrs);
        }
        self.edit_consolidated(|c| match self.version {
            V2 => {
                c["metadata"][format!("{var}/.zarray")] = m.clone();
                c["metadata"][format!("{var}/.zattrs")] = attrs.clone();
            }
            V3 => c["consolidated_metadata"]["metadata"][var] = m.clone(),
        });
    }
}

/// A variable of a type gridsql cannot read (complex numbers) does not block
/// the table: the others answer, `grid_variables` says why, and only a query
/// that names it fails, naming it.
fn unsupported_variable(version: Version) {
    let Some(s) = Store::copy(version) else {
        return;
    };
    s.add_array(
        "waves",
        &["time", "latitude", "longitude"],
        &[31, 73, 144],
        |m| {
            match version {
                V2 => m["dtype"] = json!("<c8"),
                V3 => m["data_type"] = json!("complex64"),
            }
            m["fill_value"] = json!(null);
            if version == V3 {
                m["fill_value"] = json!([0.0, 0.0]);
            }
        },
    );
    let case = format!("unsupported variable {version:?}");
    let lines = csv_lines(&case, &s.query("SELECT count(tcw) FROM t"));
    assert_eq!(lines, ["count(t.tcw)", &TCW_COUNT.to_string()], "[{case}]");
    let roles = csv_lines(
        &case,
        &s.query(&format!(
            "SELECT role, reason FROM grid_variables('{}') WHERE name = 'waves'",
            s.location()
        )),
    );
    assert_eq!(roles.len(), 2, "[{case}] {roles:?}");
    // zarrs refuses complex64 in v2 at its fill value, in v3 as a type
    let named = |t: &str| t.contains("complex") || t.contains("<c8");
    assert!(
        roles[1].starts_with("unreadable,") && named(&roles[1]),
        "[{case}] {roles:?}"
    );
    let err = assert_clear_error(
        &case,
        &s.query("SELECT waves FROM t LIMIT 1"),
        &[s.location(), "waves", "cannot be read"],
    );
    assert!(named(&err), "[{case}] {err}");
}

#[test]
fn unsupported_variable_does_not_block_the_table_v2() {
    unsupported_variable(V2);
}

#[test]
fn unsupported_variable_does_not_block_the_table_v3() {
    unsupported_variable(V3);
}

/// A string width that overflows (`|S` of 2^40 bytes, `null_terminated_bytes`
/// of 2^40) is refused before anything is allocated; the table still opens.
fn overflowing_string_width(version: Version) {
    let Some(s) = Store::copy(version) else {
        return;
    };
    s.add_array("label", &["time"], &[31], |m| {
        match version {
            V2 => {
                m["dtype"] = json!("|S1099511627776");
                m["compressor"] = json!(null);
                m["filters"] = json!(null);
            }
            V3 => {
                m["data_type"] =
                    json!({"name": "null_terminated_bytes", "configuration": {"length_bytes": 1u64 << 40}});
                m["codecs"] = json!([{"name": "bytes"}]);
            }
        }
        m["fill_value"] = json!(null);
        if version == V3 {
            m["fill_value"] = json!("");
        }
    });
    let case = format!("overflowing string width {version:?}");
    let lines = csv_lines(&case, &s.query("SELECT count(tcw) FROM t"));
    assert_eq!(lines, ["count(t.tcw)", &TCW_COUNT.to_string()], "[{case}]");
    assert_clear_error(
        &case,
        &s.query("SELECT label FROM t LIMIT 1"),
        &[s.location(), "label", "cannot be read", "wider than"],
    );
}

#[test]
fn overflowing_string_width_v2() {
    overflowing_string_width(V2);
}

#[test]
fn overflowing_string_width_v3() {
    overflowing_string_width(V3);
}
