//! The shell as a user runs it: statements, formats, exit codes, DESCRIBE,
//! piped input, the demo store.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::util::{data_dir, gridsql, gridsql_ok};

fn tcw(data: &std::path::Path) -> String {
    format!("t={}", data.join("tcw.nc.v2.zarr").display())
}

#[test]
fn several_statements_each_print_in_csv() {
    let out = gridsql_ok(&[
        "--format",
        "csv",
        "-c",
        "SELECT 1 AS a; SELECT 'x' AS b, 2 AS c",
    ]);
    assert_eq!(out, "a\n1\nb,c\nx,2\n");
}

#[test]
fn statements_without_rows_print_nothing_in_machine_formats() {
    let out = gridsql_ok(&[
        "--format",
        "ndjson",
        "-c",
        "CREATE VIEW v AS SELECT 1 AS a; SELECT a FROM v",
    ]);
    assert_eq!(out, "{\"a\":1}\n");
    let out = gridsql_ok(&["--format", "json", "-c", "SELECT 1 AS a WHERE false"]);
    assert_eq!(out.trim(), "[]");
}

#[test]
fn malformed_sql_fails_with_one_line() {
    let out = gridsql(&["-c", "SELEC nonsense FROM"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(
        err.contains("SQL error") || err.contains("ParserError"),
        "{err}"
    );
}

#[test]
fn missing_dataset_names_it() {
    let out = gridsql(&["/nonexistent/store.zarr", "-c", "SELECT 1"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/store.zarr"), "{err}");
}

#[test]
fn timestamps_are_iso_in_csv_and_json() {
    let Some(data) = data_dir() else { return };
    let out = gridsql_ok(&[
        "--format",
        "csv",
        &tcw(&data),
        "-c",
        "SELECT min(time) AS t0 FROM t",
    ]);
    assert_eq!(out, "t0\n2002-07-01T12:00:00\n");
    let out = gridsql_ok(&[
        "--format",
        "json",
        &tcw(&data),
        "-c",
        "SELECT min(time) AS t0 FROM t",
    ]);
    assert_eq!(out.trim(), "[{\"t0\":\"2002-07-01T12:00:00\"}]");
}

#[test]
fn describe_shows_units_long_names_and_chunks() {
    let Some(data) = data_dir() else { return };
    let out = gridsql_ok(&["--format", "csv", &tcw(&data), "-c", "DESCRIBE t"]);
    assert!(
        out.starts_with("column_name,data_type,role,units,long_name,dtype,chunks\n"),
        "{out}"
    );
    assert!(
        out.contains("tcw,Float64,variable,kg m**-2,Total column water,int16,1x73x144"),
        "{out}"
    );
    assert!(
        out.contains("time,Timestamp(µs),dimension,hours since 1900-01-01,time,int32,31"),
        "{out}"
    );
}

#[test]
fn positional_dataset_gets_its_file_name() {
    let Some(data) = data_dir() else { return };
    let p = data.join("tcw.nc.v3.zarr");
    let out = gridsql_ok(&[
        "--format",
        "csv",
        p.to_str().expect("utf-8 path"),
        "-c",
        "SELECT count(*) AS n FROM tcw_nc_v3",
    ]);
    assert_eq!(out, "n\n325872\n");
}

#[test]
fn create_external_table_with_options() {
    let Some(data) = data_dir() else { return };
    let sql = format!(
        "CREATE EXTERNAL TABLE e STORED AS ZARR LOCATION '{}' OPTIONS ('variables' 'u'); \
         SELECT count(*) AS n, max(u) AS umax FROM e",
        data.join("eraint_uvz.nc.v2.zarr").display()
    );
    let out = gridsql_ok(&["--format", "csv", "-c", &sql]);
    assert_eq!(out, "n,umax\n694080,78.5\n");
    // an unknown option is a clear error
    let bad = format!(
        "CREATE EXTERNAL TABLE e STORED AS ZARR LOCATION '{}' OPTIONS ('colour' 'red')",
        data.join("eraint_uvz.nc.v2.zarr").display()
    );
    let out = gridsql(&["-c", &bad]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("colour"));
}

#[test]
fn piped_statements_and_commands() {
    let Some(data) = data_dir() else { return };
    let mut child = Command::new(env!("CARGO_BIN_EXE_gridsql"))
        .args(["--format", "csv", &tcw(&data)])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"\\d\nSELECT count(*) AS n\n  FROM t;\n\\q\nSELECT 'not reached';\n")
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "table_name\nt\nn\n325872\n"
    );
}

#[test]
fn demo_store_is_generated_and_queried() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("demo.zarr");
    let p = path.to_str().expect("utf-8 path");
    let out = gridsql_ok(&[
        "demo",
        "--path",
        p,
        "--days",
        "6",
        "--format",
        "csv",
        "-c",
        "SELECT count(*) AS n, count(sla) > 0 AS has_sea, count(sla) < count(*) AS has_land, \
         min(time) AS t0 FROM sla",
    ]);
    assert_eq!(
        out,
        "n,has_sea,has_land,t0\n388800,true,true,1993-01-01T00:00:00\n"
    );
}
