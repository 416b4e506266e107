//! A valid store whose one variable has 300 million cells along a dimension
//! without a coordinate variable (an unstructured mesh, a raw record): the
//! index is computed where it is needed, never held whole, so `LIMIT`, a
//! filter near the end and a count answer, in the shell and over both
//! servers, as xarray does. The store is written by the test: metadata and
//! its last chunk only (the rest reads as the fill value).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::servers::Server;
use crate::util::{cells_match, data_dir, gridsql_env, output_within, python, repo};

const CELLS: u64 = 300_000_000;
const CHUNK: u64 = 1_000_000;

/// Writes the store: group and array metadata (Zarr v3, float32, no
/// compression, fill NaN) and the last chunk, whose cell `i` holds `i / 4`.
fn write_store(at: &Path) {
    std::fs::create_dir_all(at.join("x/c")).expect("folders");
    let group = json!({"zarr_format": 3, "node_type": "group", "attributes": {}});
    std::fs::write(at.join("zarr.json"), group.to_string()).expect("group metadata");
    let array = json!({
        "zarr_format": 3, "node_type": "array", "shape": [CELLS], "data_type": "float32",
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [CHUNK]}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": "NaN",
        "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
        "attributes": {}, "dimension_names": ["n"]
    });
    std::fs::write(at.join("x/zarr.json"), array.to_string()).expect("array metadata");
    let bytes: Vec<u8> = (0..CHUNK)
        .flat_map(|i| (i as f32 / 4.0).to_le_bytes())
        .collect();
    std::fs::write(at.join(format!("x/c/{}", CELLS / CHUNK - 1)), bytes).expect("last chunk");
}

/// The queries, by the names of xarray's answers.
fn queries(table: &str) -> Vec<(&'static str, String)> {
    vec![
        ("limit", format!("SELECT n, x FROM {table} LIMIT 2")),
        (
            "head",
            format!("SELECT n, x FROM {table} WHERE n < 2 ORDER BY n"),
        ),
        (
            "near_end",
            format!(
                "SELECT n, x FROM {table} WHERE n >= {} ORDER BY n",
                CELLS - 3
            ),
        ),
        ("count", format!("SELECT count(*) FROM {table}")),
        (
            "last_chunk",
            format!(
                "SELECT count(x), sum(x) FROM {table} WHERE n >= {}",
                CELLS - CHUNK
            ),
        ),
    ]
}

/// xarray's answers; with `at`, its rows at those positions.
fn expected(py: &Path, store: &Path, at: Option<&[i64]>) -> Value {
    let mut cmd = Command::new(py);
    cmd.arg(repo().join("tests/xarray/long_index.py"))
        .arg(store);
    if let Some(at) = at {
        let list: Vec<String> = at.iter().map(i64::to_string).collect();
        cmd.arg("--at").arg(list.join(","));
    }
    let o = output_within(cmd, Duration::from_secs(300));
    assert!(
        o.status.success(),
        "long_index.py failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("xarray's answers")
}

fn assert_rows(what: &str, got: &Value, want: &Value) {
    let (Some(got), Some(want)) = (got.as_array(), want.as_array()) else {
        panic!("{what}: {got} vs xarray {want}");
    };
    assert_eq!(got.len(), want.len(), "{what}: {got:?} vs xarray {want:?}");
    for (g, w) in got.iter().zip(want) {
        let (Some(g), Some(w)) = (g.as_array(), w.as_array()) else {
            panic!("{what}: rows {g} {w}");
        };
        assert!(
            g.len() == w.len() && g.iter().zip(w).all(|(a, b)| cells_match(a, b, 1e-6)),
            "{what}: {g:?} vs xarray {w:?}"
        );
    }
}

/// CSV output of the shell as JSON rows (numbers, or null for empty cells).
fn csv_rows(text: &str) -> Value {
    Value::Array(
        text.lines()
            .skip(1)
            .map(|l| {
                Value::Array(
                    l.split(',')
                        .map(|c| match c.trim() {
                            "" => Value::Null,
                            c => c
                                .parse::<f64>()
                                .map(|f| json!(f))
                                .unwrap_or_else(|_| json!(c)),
                        })
                        .collect(),
                )
            })
            .collect(),
    )
}

#[test]
fn long_index_dimension_answers_in_the_shell_and_both_servers() {
    // The data folder is not needed, but the servers' catalog names it.
    let (Some(data), Some(py)) = (data_dir(), python()) else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("long.zarr");
    write_store(&store);
    let want = expected(&py, &store, None);
    // A LIMIT without ORDER BY may return any rows: two distinct rows of the
    // table, each as xarray has it at its position.
    let check_limit = |what: &str, got: &Value| {
        let rows = got.as_array().unwrap_or_else(|| panic!("{what}: {got}"));
        let at: Vec<i64> = rows
            .iter()
            .map(|r| r[0].as_f64().unwrap_or_else(|| panic!("{what}: {r}")) as i64)
            .collect();
        assert!(at.len() == 2 && at[0] != at[1], "{what}: {got}");
        assert_rows(what, got, &expected(&py, &store, Some(&at)));
    };
    let location = format!("long={}", store.display());
    for (name, sql) in queries("long") {
        let o = gridsql_env(&["--format", "csv", "-c", &sql, &location], &[]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "shell {name}: {sql}: {err}");
        let got = csv_rows(&String::from_utf8_lossy(&o.stdout));
        if name == "limit" {
            check_limit("shell limit", &got);
        } else {
            assert_rows(&format!("shell {name}"), &got, &want[name]);
        }
    }
    let root = dir.path().display().to_string();
    let server = Server::start(&data, &["--allow-root", &root], &[]);
    let table = format!("read_zarr('{}')", store.display());
    let steps = Value::Array(
        queries(&table)
            .into_iter()
            .map(|(name, sql)| json!({"name": name, "op": "query", "sql": sql}))
            .collect(),
    );
    for (protocol, out) in [
        ("flight", server.flight(&py, None, &steps)),
        (
            "postgres",
            server.postgres(&py, &server.dsn("gridsql", None), &steps),
        ),
    ] {
        for (name, _) in queries(&table) {
            let what = format!("{protocol} {name}");
            if name == "limit" {
                check_limit(&what, &out[name]["rows"]);
            } else {
                assert_rows(&what, &out[name]["rows"], &want[name]);
            }
        }
    }
}
