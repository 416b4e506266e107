//! `gridsql serve` with real clients: the server process on free loopback
//! ports with a catalog over `../shared/data`, queried by the ADBC Flight SQL
//! driver and psycopg (Python scripts in `tests/clients/`) and by `psql`.
//! Every answer is compared with xarray's on the same data
//! (`tests/xarray/reference.py`); refusals are checked for their message and
//! for the server answering the next client afterwards.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::util::{cells_match, data_dir, line_channel, output_within, python, python_ok, repo};

/// The adt dataset, as table `t` (the name xarray's cases use).
const ADT: &str = "dt_med_allsat_phy_l4_2005T2.nc";

/// One xarray reference answer.
#[derive(serde::Deserialize, Debug, Clone)]
struct Case {
    name: String,
    dataset: String,
    sql: String,
    rows: Vec<Vec<Value>>,
    rtol: f64,
    #[serde(default)]
    options: BTreeMap<String, String>,
}

/// xarray's answers for every case of `format` (`v3` or `nc`).
fn reference(data: &Path, py: &Path, format: &str) -> Vec<Case> {
    let out = tempfile::NamedTempFile::new().expect("temp file");
    let mut cmd = Command::new(py);
    cmd.arg(repo().join("tests/xarray/reference.py"))
        .arg("--data")
        .arg(data)
        .arg("--out")
        .arg(out.path())
        .arg("--formats")
        .arg(format);
    let o = output_within(cmd, Duration::from_secs(300));
    assert!(
        o.status.success(),
        "reference.py failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = std::fs::read_to_string(out.path()).expect("reference output");
    serde_json::from_str(&text).expect("reference JSON parses")
}

/// The adt cases (table `t`, no table options) and the sst ones rewritten
/// for table `sst` (the catalog's NetCDF dataset).
fn cases(data: &Path, py: &Path) -> (Vec<Case>, Vec<Case>) {
    let adt: Vec<Case> = reference(data, py, "v3")
        .into_iter()
        .filter(|c| c.dataset == ADT && c.options.is_empty())
        .collect();
    let sst: Vec<Case> = reference(data, py, "nc")
        .into_iter()
        .filter(|c| c.dataset == "sst.mnmean.nc" && c.options.is_empty())
        .map(|mut c| {
            c.sql = on_table(&c.sql, "sst");
            c
        })
        .collect();
    assert!(adt.len() >= 20, "only {} adt cases", adt.len());
    assert!(sst.len() >= 10, "only {} sst cases", sst.len());
    (adt, sst)
}

/// `sql` over table `name` instead of `t`.
fn on_table(sql: &str, name: &str) -> String {
    let replaced = sql.replace(" FROM t ", &format!(" FROM {name} "));
    match replaced.strip_suffix(" FROM t") {
        Some(head) => format!("{head} FROM {name}"),
        None => replaced,
    }
}

/// The case whose two time literals the prepared-statement checks bind as parameters.
const RANGE_CASE: &str = "adt_time_range_counts_cross_chunk";

/// The range case's SQL with its literals replaced by placeholders.
fn with_placeholders(sql: &str, first: &str, second: &str) -> String {
    let out = sql
        .replace("TIMESTAMP '2005-04-18'", first)
        .replace("TIMESTAMP '2005-04-23'", second);
    assert!(out != sql, "the range case changed: {sql}");
    out
}

/// The range case's literals as client parameters.
fn range_params() -> Value {
    json!([{"timestamp": "2005-04-18T00:00:00"}, {"timestamp": "2005-04-23T00:00:00"}])
}

/// A running `gridsql serve`, killed on drop.
pub(crate) struct Server {
    child: Child,
    flight: Option<String>,
    pg: Option<u16>,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts the server with a catalog (`t`: adt Zarr v3, `sst`: NetCDF,
    /// `tcw`: Zarr v2) and `extra` arguments; both protocols on free ports.
    pub(crate) fn start(data: &Path, extra: &[&str], envs: &[(&str, &str)]) -> Server {
        Server::start_with(data, "", extra, envs)
    }

    /// As [`Server::start`], with `top` (TOML keys such as `allow_roots`)
    /// at the head of the catalog.
    fn start_with(data: &Path, top: &str, extra: &[&str], envs: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let catalog = dir.path().join("catalog.toml");
        let text = format!(
            "{top}\n[[dataset]]\nname = \"t\"\nlocation = \"{d}/{ADT}.v3.zarr\"\n\n\
             [[dataset]]\nname = \"sst\"\nlocation = \"{d}/sst.mnmean.nc\"\nformat = \"netcdf\"\n\n\
             [[dataset]]\nname = \"tcw\"\nlocation = \"{d}/tcw.nc.v2.zarr\"\n",
            d = data.display()
        );
        std::fs::write(&catalog, text).expect("catalog written");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gridsql"));
        cmd.arg("serve")
            .arg("--catalog")
            .arg(&catalog)
            .args(["--flight-sql", "127.0.0.1:0", "--pg", "127.0.0.1:0"])
            .args(extra)
            .env("RUST_LOG", "error")
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().expect("gridsql serve starts");
        let rx = line_channel(child.stdout.take().expect("piped stdout"));
        let mut server = Server {
            child,
            flight: None,
            pg: None,
            _dir: dir,
        };
        while server.flight.is_none() || server.pg.is_none() {
            let line = match rx.recv_timeout(Duration::from_secs(120)) {
                Ok(l) => l,
                Err(_) => panic!("gridsql serve did not report its addresses within 120 s"),
            };
            if let Some(uri) = line.strip_prefix("Flight SQL listening on ") {
                server.flight = Some(uri.trim().to_string());
            } else if let Some(addr) = line.strip_prefix("PostgreSQL listening on ") {
                let port = addr.trim().rsplit(':').next().and_then(|p| p.parse().ok());
                server.pg = Some(port.expect("a port in the PostgreSQL address"));
            }
        }
        server
    }

    pub(crate) fn flight_uri(&self) -> &str {
        self.flight.as_deref().expect("Flight SQL address")
    }

    pub(crate) fn pg_port(&self) -> u16 {
        self.pg.expect("PostgreSQL port")
    }

    pub(crate) fn dsn(&self, user: &str, password: Option<&str>) -> String {
        let mut dsn = format!(
            "host=127.0.0.1 port={} user={user} dbname=gridsql",
            self.pg_port()
        );
        if let Some(p) = password {
            dsn.push_str(&format!(" password={p}"));
        }
        dsn
    }

    /// Runs the ADBC client script with `steps`; returns its JSON by step name.
    pub(crate) fn flight(&self, py: &Path, auth: Option<(&str, &str)>, steps: &Value) -> Value {
        let mut args = vec!["--uri".to_string(), self.flight_uri().to_string()];
        if let Some((u, p)) = auth {
            args.extend(["--user".into(), u.into(), "--password".into(), p.into()]);
        }
        client(py, "flight_client.py", &args, steps)
    }

    /// Runs the psycopg client script with `steps`.
    pub(crate) fn postgres(&self, py: &Path, dsn: &str, steps: &Value) -> Value {
        client(py, "pg_client.py", &["--dsn".into(), dsn.into()], steps)
    }

    /// Runs `psql` with `command`; returns (success, stdout, stderr).
    pub(crate) fn psql(
        &self,
        user: &str,
        password: Option<&str>,
        command: &str,
    ) -> (bool, String, String) {
        self.psql_in("gridsql", user, password, command)
    }

    /// Runs `psql` with `command` connected to `database`; returns
    /// (success, stdout, stderr).
    fn psql_in(
        &self,
        database: &str,
        user: &str,
        password: Option<&str>,
        command: &str,
    ) -> (bool, String, String) {
        let mut cmd = Command::new("psql");
        cmd.args(["-X", "-A", "-F", "|", "-v", "ON_ERROR_STOP=1", "-w"])
            .arg(format!(
                "host=127.0.0.1 port={} user={user} dbname={database}",
                self.pg_port()
            ))
            .args(["-c", command]);
        if let Some(p) = password {
            cmd.env("PGPASSWORD", p);
        }
        let o = output_within(cmd, Duration::from_secs(120));
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    }
}

/// Runs a client script from `tests/clients/` with `args` and `steps`.
fn client(py: &Path, script: &str, args: &[String], steps: &Value) -> Value {
    let dir = tempfile::tempdir().expect("temp dir");
    let steps_path = dir.path().join("steps.json");
    let out_path = dir.path().join("out.json");
    std::fs::write(&steps_path, steps.to_string()).expect("steps written");
    let mut cmd = Command::new(py);
    cmd.arg(repo().join("tests/clients").join(script))
        .args(args)
        .arg("--steps")
        .arg(&steps_path)
        .arg("--out")
        .arg(&out_path);
    let o = output_within(cmd, Duration::from_secs(600));
    assert!(
        o.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(&out_path).expect("client output"))
        .expect("client JSON parses")
}

/// Steps running every case as a query.
fn query_steps(cases: &[Case], prefix: &str) -> Vec<Value> {
    cases
        .iter()
        .map(|c| json!({"name": format!("{prefix}{}", c.name), "op": "query", "sql": c.sql}))
        .collect()
}

/// Asserts that step `name` of `out` returned xarray's rows for `case`.
fn assert_rows(out: &Value, name: &str, case: &Case) {
    let got = &out[name];
    let rows = got["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("{name}: no rows: {got}"));
    assert_eq!(
        rows.len(),
        case.rows.len(),
        "{name}: {} rows, xarray has {}: {got}",
        rows.len(),
        case.rows.len()
    );
    for (i, (g, e)) in rows.iter().zip(&case.rows).enumerate() {
        let g = g.as_array().expect("a row");
        assert!(
            g.len() == e.len() && g.iter().zip(e).all(|(a, b)| cells_match(a, b, case.rtol)),
            "{name} row {i}: server {g:?} != xarray {e:?}"
        );
    }
}

/// The error of step `name`, which must have failed.
fn error_of<'a>(out: &'a Value, name: &str) -> &'a str {
    out[name]["error"]
        .as_str()
        .unwrap_or_else(|| panic!("{name} should have failed: {}", out[name]))
}

fn case<'a>(cases: &'a [Case], name: &str) -> &'a Case {
    cases
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no xarray case {name}"))
}

fn prerequisites() -> Option<(PathBuf, PathBuf)> {
    let data = data_dir()?;
    let py = python()?;
    Some((data, py))
}

#[test]
fn flight_sql_adbc_queries_prepared_statements_and_metadata_match_xarray() {
    let Some((data, py)) = prerequisites() else {
        return;
    };
    let (adt, sst) = cases(&data, &py);
    let server = Server::start(&data, &[], &[]);
    let range = case(&adt, RANGE_CASE);
    let mut steps = query_steps(&adt, "");
    steps.extend(query_steps(&sst, ""));
    steps.extend([
        // A prepared statement with parameters: a case's literals bound as $1, $2.
        json!({"name": "prepared", "op": "query", "sql": with_placeholders(&range.sql, "$1", "$2"),
               "params": range_params()}),
        json!({"name": "describe", "op": "query", "sql": "DESCRIBE t"}),
        json!({"name": "objects", "op": "objects"}),
        json!({"name": "schema", "op": "table_schema", "table": "t"}),
        json!({"name": "info", "op": "info"}),
    ]);
    let out = server.flight(&py, None, &Value::Array(steps));
    for c in adt.iter().chain(&sst) {
        assert_rows(&out, &c.name, c);
    }
    assert_rows(&out, "prepared", range);
    // DESCRIBE answers with units and long names, as the shell does.
    let describe = out["describe"]["rows"].as_array().expect("describe rows");
    let adt_row = describe
        .iter()
        .find(|r| r[0] == "adt")
        .expect("adt in DESCRIBE t");
    assert_eq!(adt_row[3], "m", "units of adt: {adt_row:?}");
    // get_objects lists the catalog's tables with their columns.
    let tables = &out["objects"]["tables"];
    let t_cols: Vec<&str> = tables["gridsql.public.t"]
        .as_array()
        .unwrap_or_else(|| panic!("table t in get_objects: {}", out["objects"]))
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(t_cols, ["time", "latitude", "longitude", "adt"]);
    assert!(tables.get("gridsql.public.sst").is_some());
    assert!(tables.get("gridsql.public.tcw").is_some());
    // in the spellings JDBC and ADBC tools filter on
    assert_eq!(out["objects"]["types"]["gridsql.public.t"], "TABLE");
    let types = out["objects"]["table_types"]
        .as_array()
        .expect("table types");
    assert!(
        types.iter().any(|t| t == "TABLE") && types.iter().any(|t| t == "VIEW"),
        "{types:?}"
    );
    // GetTables with the schema carries the fields' CF metadata.
    let fields = out["schema"]["fields"].as_array().expect("schema fields");
    let adt_field = fields
        .iter()
        .find(|f| f["name"] == "adt")
        .expect("adt field");
    assert_eq!(adt_field["metadata"]["units"], "m", "{adt_field}");
    // GetSqlInfo names the server.
    assert_eq!(out["info"]["vendor_name"], "gridsql", "{}", out["info"]);
}

#[test]
fn flight_sql_and_postgres_require_credentials_when_configured() {
    let Some((data, py)) = prerequisites() else {
        return;
    };
    let (adt, _) = cases(&data, &py);
    let count = case(&adt, "adt_count_whole_cube");
    let server = Server::start(
        &data,
        &[
            "--user",
            "analyst",
            "--password-env",
            "GRIDSQL_TEST_PASSWORD",
        ],
        &[("GRIDSQL_TEST_PASSWORD", "s3cret-pw")],
    );
    let steps = json!([{"name": "count", "op": "query", "sql": count.sql}]);
    // Right credentials: handshake → bearer token → the query answers as xarray.
    let ok = server.flight(&py, Some(("analyst", "s3cret-pw")), &steps);
    assert_rows(&ok, "count", count);
    // Wrong password, wrong user, none: refused with a clear error.
    for (who, auth) in [
        ("wrong password", Some(("analyst", "wrong"))),
        ("wrong user", Some(("mallory", "s3cret-pw"))),
        ("no credentials", None),
    ] {
        let bad = server.flight(&py, auth, &steps);
        let e = error_of(&bad, "count");
        assert!(
            e.to_lowercase().contains("unauthenticated") || e.contains("authentication failed"),
            "{who}: {e}"
        );
    }
    // PostgreSQL: password checked at startup.
    let good = server.postgres(&py, &server.dsn("analyst", Some("s3cret-pw")), &steps);
    assert_rows(&good, "count", count);
    let bad = server.postgres(&py, &server.dsn("analyst", Some("nope")), &steps);
    let e = bad["connect_error"]
        .as_str()
        .unwrap_or_else(|| panic!("{bad}"));
    assert!(
        e.to_lowercase().contains("password authentication failed"),
        "{e}"
    );
    let (ok, _, err) = server.psql("analyst", Some("nope"), "SELECT 1");
    assert!(
        !ok && err
            .to_lowercase()
            .contains("password authentication failed"),
        "{err}"
    );
    // The server still answers after the refusals.
    let again = server.flight(&py, Some(("analyst", "s3cret-pw")), &steps);
    assert_rows(&again, "count", count);
}

#[test]
fn serve_refuses_non_loopback_binds_without_auth() {
    let o = crate::util::gridsql_env(&["serve", "--pg", "0.0.0.0:0"], &[]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("0.0.0.0:0") && err.contains("without authentication"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "one-line error: {err}");
    let o = crate::util::gridsql_env(
        &[
            "serve",
            "--user",
            "a",
            "--password-env",
            "GRIDSQL_UNSET_VAR_FOR_TEST",
        ],
        &[],
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("GRIDSQL_UNSET_VAR_FOR_TEST"), "{err}");
}

#[test]
fn postgres_psql_and_psycopg_match_xarray() {
    let Some((data, py)) = prerequisites() else {
        return;
    };
    let (adt, sst) = cases(&data, &py);
    let server = Server::start(&data, &[], &[]);
    // psql: a query (its unaligned output parsed), \dt and \d t.
    let count = case(&adt, "adt_count_whole_cube");
    let (ok, out, err) = server.psql("gridsql", None, &count.sql);
    assert!(ok, "psql failed: {err}");
    let lines: Vec<&str> = out.lines().collect();
    // header, one row, "(1 row)"
    assert_eq!(lines.len(), 3, "{out}");
    let got: Vec<Value> = lines[1]
        .split('|')
        .map(|v| v.parse::<f64>().map_or(Value::Null, |f| json!(f)))
        .collect();
    assert_eq!(got.len(), count.rows[0].len(), "{out}");
    for (g, e) in got.iter().zip(&count.rows[0]) {
        assert!(cells_match(g, e, count.rtol), "psql {g} != xarray {e}");
    }
    let (ok, out, err) = server.psql("gridsql", None, "\\dt");
    assert!(ok, "\\dt failed: {err}");
    for t in ["t", "sst", "tcw"] {
        assert!(
            out.lines().any(|l| l.split('|').nth(1) == Some(t)),
            "\\dt lacks {t}: {out}"
        );
    }
    let (ok, out, err) = server.psql("gridsql", None, "\\d t");
    assert!(ok, "\\d t failed: {err}");
    for col in ["time", "latitude", "longitude", "adt"] {
        assert!(
            out.lines().any(|l| l.split('|').next() == Some(col)),
            "\\d t lacks column {col}: {out}"
        );
    }
    let (ok, out, err) = server.psql("gridsql", None, "DESCRIBE t");
    assert!(ok, "DESCRIBE failed: {err}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("adt|") && l.contains("|m|")),
        "DESCRIBE t lacks adt's units: {out}"
    );
    // psycopg: every adt case (simple protocol) and the sst cases over NetCDF.
    let mut steps = query_steps(&adt, "");
    steps.extend(query_steps(&sst, ""));
    // the extended protocol with parameters: a case's literals bound as parameters
    let range = case(&adt, RANGE_CASE);
    steps.push(json!({"name": "param_range", "op": "query",
                      "sql": with_placeholders(&range.sql, "%s", "%s"), "params": range_params()}));
    steps.push(json!({"name": "describe_extended", "op": "columns", "sql": "DESCRIBE t"}));
    // pandas read_sql through SQLAlchemy (Superset's and Polars' way in):
    // the dialect parses version() and probes types when it connects
    let through_sqlalchemy: Vec<&Case> = adt.iter().take(6).collect();
    for c in &through_sqlalchemy {
        steps.push(
            json!({"name": format!("sqlalchemy_{}", c.name), "op": "sqlalchemy", "sql": c.sql}),
        );
    }
    let out = server.postgres(&py, &server.dsn("gridsql", None), &Value::Array(steps));
    for c in &through_sqlalchemy {
        assert_rows(&out, &format!("sqlalchemy_{}", c.name), c);
    }
    for c in adt.iter().chain(&sst) {
        // PostgreSQL's text format sends a float4 (sst's min/max) as its shortest
        // float32 decimal (-1.8), not the float32's exact value (-1.7999999523):
        // float32 resolution, not a wrong answer.
        let mut c = c.clone();
        c.rtol = c.rtol.max(1e-7);
        assert_rows(&out, &c.name, &c);
    }
    assert_rows(&out, "param_range", range);
    let cols = out["describe_extended"]["columns"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", out["describe_extended"]));
    assert!(cols.iter().any(|c| c == "units"), "{cols:?}");
}

/// What SQL tools ask on connect and introspection, answered as
/// PostgreSQL does: the version SQLAlchemy parses, the session's own user and
/// database, and the functions behind psql's `\dt+` and `\df`.
#[test]
fn postgres_answers_what_clients_ask_on_connect() {
    let Some((data, _)) = prerequisites() else {
        return;
    };
    let server = Server::start(&data, &[], &[]);
    let psql = |command: &str| {
        let (ok, out, err) = server.psql_in("climate", "analyst", None, command);
        assert!(ok, "{command}: {err}");
        out
    };
    // the row of a one-row result (after psql's header line)
    let row = |command: &str| psql(command).lines().nth(1).unwrap_or_default().to_string();
    let out = row("SELECT version(), current_user, current_database()");
    let fields: Vec<&str> = out.split('|').collect();
    // SQLAlchemy's pattern: `PostgreSQL (\d+)\.?(\d+)?`
    assert!(fields[0].starts_with("PostgreSQL 16.6 (gridsql "), "{out}");
    assert_eq!(fields[1..], ["analyst", "climate"], "{out}");
    assert_eq!(
        row("SELECT pg_size_pretty(123456789), pg_size_pretty(2048), pg_function_is_visible(1)"),
        "118 MB|2048 bytes|t"
    );
    assert_eq!(
        row("SELECT pg_get_serial_sequence('t', 'adt') IS NULL"),
        "t"
    );
    // psycopg's type lookup, which SQLAlchemy runs when it connects
    assert_eq!(
        row("SELECT to_regtype('hstore') IS NULL, to_regtype('int4')"),
        "t|23"
    );
    let tables = psql("\\dt+");
    assert!(
        tables.lines().any(|l| l.split('|').nth(1) == Some("t")),
        "{tables}"
    );
    psql("\\df");
}

/// What BI tools reflect of a table: SQLAlchemy's inspector (Superset,
/// pandas), psql's `\d+` and `\l`, Grafana's `information_schema.columns`
/// with PostgreSQL's type names, SQLAlchemy's `LIKE ... ESCAPE '/'`. The
/// columns and their types are those of the dimensions and variable xarray
/// finds in sst.mnmean.nc.
#[test]
fn postgres_catalog_answers_what_bi_tools_reflect() {
    let Some((data, py)) = prerequisites() else {
        return;
    };
    let server = Server::start(&data, &[], &[]);
    let steps = json!([{
        "name": "inspect", "op": "inspect", "table": "sst",
        "netcdf": data.join("sst.mnmean.nc").display().to_string(),
    }]);
    let out = server.postgres(&py, &server.dsn("gridsql", None), &steps);
    let got = &out["inspect"]["inspect"];
    assert!(got.is_object(), "{out}");
    let xr = &got["xarray"];
    let names: Vec<&str> = got["columns"]
        .as_array()
        .map(|c| c.iter().filter_map(|c| c[0].as_str()).collect())
        .unwrap_or_default();
    let want: Vec<&str> = xr["columns"]
        .as_array()
        .map(|c| c.iter().filter_map(|c| c.as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, want, "{got}");
    // each column's SQL type is the one of xarray's dtype
    for c in got["columns"].as_array().into_iter().flatten() {
        let name = c[0].as_str().unwrap_or_default();
        let sql_type = c[1].as_str().unwrap_or_default();
        let want = match xr["dtypes"][name].as_str().unwrap_or_default() {
            "float32" => "REAL",
            "float64" => "DOUBLE PRECISION",
            t if t.starts_with("datetime64") => "TIMESTAMP",
            other => panic!("{name}: a dtype the test does not map: {other}"),
        };
        assert_eq!(sql_type, want, "{name}: {got}");
    }
    assert_eq!(got["schemas"], json!(["public"]), "{got}");
    assert_eq!(got["tables"], json!(["sst", "t", "tcw"]), "{got}");
    assert_eq!(got["has_table"], json!(true));
    for empty in ["pk", "fks", "indexes", "unique"] {
        assert_eq!(got[empty], json!([]), "{empty}: {got}");
    }
    let psql = |command: &str| {
        let (ok, out, err) = server.psql("gridsql", None, command);
        assert!(ok, "{command}: {err}");
        out
    };
    let described = psql("\\d+ sst");
    for (column, pg_type) in [
        ("time", "timestamp without time zone"),
        ("lat", "real"),
        ("sst", "real"),
    ] {
        assert!(
            described
                .lines()
                .any(|l| l.starts_with(&format!("{column}|{pg_type}|"))),
            "{column}: {described}"
        );
    }
    let databases = psql("\\l");
    assert!(
        databases.lines().any(|l| l.starts_with("gridsql|")),
        "{databases}"
    );
    assert!(!databases.contains("datafusion"), "{databases}");
    let types = psql(
        "SELECT column_name, data_type FROM information_schema.columns \
         WHERE table_name = 'sst' ORDER BY ordinal_position",
    );
    assert_eq!(
        types.lines().skip(1).take(4).collect::<Vec<_>>(),
        [
            "time|timestamp without time zone",
            "lat|real",
            "lon|real",
            "sst|real"
        ],
        "{types}"
    );
    let like =
        psql("SELECT 'pg_toast' LIKE 'pg/_%' ESCAPE '/' AS a, 'pgx' LIKE 'pg/_%' ESCAPE '/' AS b");
    assert_eq!(like.lines().nth(1), Some("t|f"), "{like}");
}

/// What xarray sees of sst.mnmean.nc's `sst`: the table's columns (its
/// dimensions, then it), their dtypes, its count and its mean (float64).
fn xarray_sst(py: &Path, data: &Path) -> Value {
    let script = "import sys, json, xarray as xr\n\
             ds = xr.open_dataset(sys.argv[1])\n\
             v = ds.sst\n\
             print(json.dumps({'columns': list(v.dims) + ['sst'], \
                'dtypes': [str(ds[n].dtype) for n in list(v.dims) + ['sst']], \
                'count': int(v.count()), 'mean': float(v.astype('float64').mean())}))";
    let file = data.join("sst.mnmean.nc");
    let out = python_ok(
        py,
        [OsStr::new("-c"), OsStr::new(script), file.as_os_str()],
        "xarray",
    );
    serde_json::from_str(&out).expect("JSON")
}

/// Grafana's PostgreSQL data source: its query builder lists a table's
/// columns from `information_schema.columns` (with parameters, the extended
/// protocol) and offers time columns by their PostgreSQL type; a panel's
/// query arrives with the macros expanded by Grafana (`$__timeFilter(time)`
/// as `time BETWEEN '...Z' AND '...Z'`, `$__timeGroupAlias(time, 1d)` as
/// seconds since the epoch). The series equals xarray's.
#[test]
fn postgres_grafana_builder_and_macro_queries_match_xarray() {
    let Some((data, py)) = prerequisites() else {
        return;
    };
    let server = Server::start(&data, &[], &[]);
    let steps = json!([
        {"name": "columns", "op": "query",
         "sql": "SELECT column_name, data_type FROM information_schema.columns \
                 WHERE table_schema = %s AND table_name = %s ORDER BY column_name",
         "params": ["public", "sst"]},
        {"name": "series", "op": "query",
         "sql": "SELECT floor(extract(epoch from time)/86400)*86400 AS \"time\", avg(sst) AS sst \
                 FROM sst WHERE time BETWEEN '2010-01-01T00:00:00Z' AND '2010-12-31T23:59:59Z' \
                 GROUP BY 1 ORDER BY 1"},
    ]);
    let out = server.postgres(&py, &server.dsn("gridsql", None), &steps);
    assert_eq!(
        out["columns"]["rows"],
        json!([
            ["lat", "real"],
            ["lon", "real"],
            ["sst", "real"],
            ["time", "timestamp without time zone"]
        ]),
        "{out}"
    );
    let script = "import sys, json, xarray as xr\n\
             v = xr.open_dataset(sys.argv[1]).sst.sel(time=slice('2010-01-01', '2010-12-31'))\n\
             m = v.astype('float64').mean(dim=['lat', 'lon'])\n\
             print(json.dumps([[int(t.astype('datetime64[s]').astype('int64')), float(x)] \
                for t, x in zip(m.time.values, m.values)]))";
    let file = data.join("sst.mnmean.nc");
    let xr = python_ok(
        &py,
        [OsStr::new("-c"), OsStr::new(script), file.as_os_str()],
        "xarray",
    );
    let want: Value = serde_json::from_str(&xr).expect("JSON");
    let got = out["series"]["rows"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let want = want.as_array().cloned().unwrap_or_default();
    assert_eq!(got.len(), want.len(), "{out}");
    assert_eq!(got.len(), 12, "a year of months");
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g[0].as_f64(), w[0].as_f64(), "time {g} vs {w}");
        assert!(cells_match(&g[1], &w[1], 1e-9), "mean {g} vs xarray {w}");
    }
}

/// Polars' `read_database_uri` with its two engines: connectorx (its
/// default, which reads with `COPY (query) TO STDOUT WITH BINARY`) and ADBC.
/// The zonal mean of sst equals xarray's.
#[test]
fn postgres_polars_connectorx_and_adbc_match_xarray() {
    let Some((data, py)) = prerequisites() else {
        return;
    };
    let server = Server::start(&data, &[], &[]);
    let uri = format!(
        "postgresql://gridsql@127.0.0.1:{}/gridsql",
        server.pg_port()
    );
    let sql = "SELECT lat, avg(sst) AS sst FROM sst GROUP BY lat ORDER BY lat";
    let steps = json!([
        {"name": "connectorx", "op": "polars", "uri": uri, "sql": sql, "engine": "connectorx"},
        {"name": "adbc", "op": "polars", "uri": uri, "sql": sql, "engine": "adbc"},
    ]);
    let out = server.postgres(&py, &server.dsn("gridsql", None), &steps);
    let script = "import sys, json, math, xarray as xr\n\
             m = xr.open_dataset(sys.argv[1]).sst.astype('float64').mean(['time', 'lon']).sortby('lat')\n\
             print(json.dumps([[float(y), None if math.isnan(x) else float(x)] \
                for y, x in zip(m.lat.values, m.values)]))";
    let file = data.join("sst.mnmean.nc");
    let xr = python_ok(
        &py,
        [OsStr::new("-c"), OsStr::new(script), file.as_os_str()],
        "xarray",
    );
    let want: Value = serde_json::from_str(&xr).expect("JSON");
    let want = want.as_array().cloned().unwrap_or_default();
    assert_eq!(want.len(), 89, "xarray's latitudes");
    for engine in ["connectorx", "adbc"] {
        let got = out[engine]["rows"].as_array().cloned().unwrap_or_default();
        assert_eq!(got.len(), want.len(), "{engine}: {}", out[engine]);
        for (g, w) in got.iter().zip(&want) {
            assert!(
                cells_match(&g[0], &w[0], 1e-6) && cells_match(&g[1], &w[1], 1e-9),
                "{engine}: {g} vs xarray {w}"
            );
        }
    }
}

/// The ADBC PostgreSQL driver (Arrow-native tools): it connects (its type
/// query compares `typreceive` with 0), reads a query through `COPY ... TO
/// STDOUT (FORMAT binary)` in the extended protocol with xarray's count
/// and mean, lists the `gridsql` catalog, and gives the table's schema with
/// xarray's dtypes.
#[test]
fn postgres_adbc_driver_matches_xarray() {
    let Some((data, py)) = prerequisites() else {
        return;
    };
    let server = Server::start(&data, &[], &[]);
    let uri = format!(
        "postgresql://gridsql@127.0.0.1:{}/gridsql",
        server.pg_port()
    );
    let steps = json!([{
        "name": "adbc", "op": "adbc", "uri": uri, "table": "sst",
        "sql": "SELECT count(sst) AS n, avg(sst) AS m FROM sst",
    }]);
    let out = server.postgres(&py, &server.dsn("gridsql", None), &steps);
    let got = &out["adbc"];
    assert!(got["rows"].is_array(), "{out}");
    let want = xarray_sst(&py, &data);
    assert_eq!(got["rows"][0][0].as_u64(), want["count"].as_u64(), "{got}");
    let mean = got["rows"][0][1].as_f64().unwrap_or(f64::NAN);
    let want_mean = want["mean"].as_f64().unwrap_or(f64::NAN);
    assert!(
        (mean - want_mean).abs() <= 1e-9 * want_mean.abs(),
        "mean {mean} vs xarray {want_mean}"
    );
    // the databases of pg_database: gridsql's catalog, and `postgres` as on
    // every PostgreSQL server
    let catalogs = got["catalogs"].to_string();
    assert!(
        catalogs.contains("\"gridsql\"") && !catalogs.contains("datafusion"),
        "{got}"
    );
    let names: Vec<&str> = got["schema"]
        .as_array()
        .map(|s| s.iter().filter_map(|f| f[0].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(json!(names), want["columns"], "{got}");
    for (f, dtype) in got["schema"]
        .as_array()
        .into_iter()
        .flatten()
        .zip(want["dtypes"].as_array().into_iter().flatten())
    {
        let arrow = match dtype.as_str().unwrap_or_default() {
            "float32" => "float",
            "float64" => "double",
            t if t.starts_with("datetime64") => "timestamp[us]",
            other => panic!("a dtype the test does not map: {other}"),
        };
        assert_eq!(f[1].as_str(), Some(arrow), "{f}");
    }
}

/// pgjdbc, the driver of DBeaver, Metabase, Tableau and DataGrip (the
/// Debian package's jar, driven by `tests/clients/JdbcClient.java`): every
/// DatabaseMetaData call their navigators make answers, the table's columns
/// are xarray's dimensions and variable with their JDBC types, and a query
/// equals xarray's count and mean.
#[test]
fn postgres_pgjdbc_metadata_and_query_match_xarray() {
    let Some((data, py)) = prerequisites() else {
        return;
    };
    let jar = Path::new("/usr/share/java/postgresql.jar");
    let java = Command::new("java").arg("-version").output();
    if !jar.exists() || java.is_err() {
        crate::util::missing("pgjdbc (libpostgresql-jdbc-java) and a Java runtime");
        return;
    }
    let server = Server::start(&data, &[], &[]);
    let mut cmd = Command::new("java");
    cmd.arg("-cp")
        .arg(jar)
        .arg(crate::util::repo().join("tests/clients/JdbcClient.java"))
        .arg(format!(
            "jdbc:postgresql://127.0.0.1:{}/gridsql",
            server.pg_port()
        ))
        .args(["gridsql", "sst", "SELECT count(sst), avg(sst) FROM sst"]);
    let o = output_within(cmd, Duration::from_secs(180));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got: Value = serde_json::from_slice(&o.stdout).expect("JdbcClient prints JSON");
    for call in [
        "schemas",
        "tables",
        "columns",
        "primary_keys",
        "index_info",
        "imported_keys",
        "exported_keys",
        "type_info",
        "functions",
        "query",
    ] {
        assert!(got[call]["rows"].is_array(), "{call}: {}", got[call]);
    }
    for empty in [
        "primary_keys",
        "index_info",
        "imported_keys",
        "exported_keys",
    ] {
        assert_eq!(got[empty]["rows"], json!([]), "{empty}");
    }
    let types: Vec<&str> = got["type_info"]["rows"]
        .as_array()
        .map(|r| r.iter().filter_map(|r| r[0].as_str()).collect())
        .unwrap_or_default();
    for t in ["float4", "float8", "int8", "text", "timestamp"] {
        assert!(types.contains(&t), "type_info lacks {t}: {types:?}");
    }
    let tables = &got["tables"]["rows"];
    assert!(
        tables
            .as_array()
            .is_some_and(|t| t.iter().any(|r| r == &json!(["sst", "TABLE"]))),
        "{tables}"
    );
    let want = xarray_sst(&py, &data);
    let columns = got["columns"]["rows"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let names: Vec<&str> = columns.iter().filter_map(|c| c[0].as_str()).collect();
    assert_eq!(json!(names), want["columns"], "{columns:?}");
    for (c, dtype) in columns
        .iter()
        .zip(want["dtypes"].as_array().into_iter().flatten())
    {
        // java.sql.Types: REAL 7, DOUBLE 8, TIMESTAMP 93
        let jdbc = match dtype.as_str().unwrap_or_default() {
            "float32" => ("float4", "7"),
            "float64" => ("float8", "8"),
            t if t.starts_with("datetime64") => ("timestamp", "93"),
            other => panic!("a dtype the test does not map: {other}"),
        };
        assert_eq!(
            (c[1].as_str(), c[2].as_str()),
            (Some(jdbc.0), Some(jdbc.1)),
            "{c}"
        );
    }
    let row = &got["query"]["rows"][0];
    let count: u64 = row[0].as_str().and_then(|s| s.parse().ok()).unwrap_or(0);
    let mean: f64 = row[1]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(f64::NAN);
    assert_eq!(Some(count), want["count"].as_u64(), "{row}");
    let want_mean = want["mean"].as_f64().unwrap_or(f64::NAN);
    assert!(
        (mean - want_mean).abs() <= 1e-9 * want_mean.abs(),
        "mean {mean} vs xarray {want_mean}"
    );
}

/// `COPY (query) TO STDOUT` on a read-only server: psql's `\\copy` to a CSV
/// file and the binary format Polars and connectorx read, both equal to
/// xarray's answers.
#[test]
fn postgres_copy_to_stdout_matches_xarray() {
    let Some((data, py)) = prerequisites() else {
        return;
    };
    let (adt, _) = cases(&data, &py);
    let server = Server::start(&data, &[], &[]);
    let per_day = case(&adt, "adt_count_per_day");
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("per_day.csv");
    let copy = format!(
        "\\copy ({}) TO '{}' WITH (FORMAT csv, HEADER)",
        per_day.sql,
        file.display()
    );
    let (ok, out, err) = server.psql("gridsql", None, &copy);
    assert!(ok, "\\copy failed: {err}");
    assert!(
        out.contains(&format!("COPY {}", per_day.rows.len())),
        "{out}"
    );
    let text = std::fs::read_to_string(&file).expect("the copied file");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("time,count(t.adt),count(*)"), "{text}");
    let got: Vec<Vec<Value>> = lines
        .map(|l| {
            l.split(',')
                .map(|v| match v.parse::<f64>() {
                    Ok(f) => json!(f),
                    // PostgreSQL's text timestamp, as the reference writes it
                    Err(_) => json!(v.replace(' ', "T").trim_end_matches(".000000")),
                })
                .collect()
        })
        .collect();
    assert_eq!(got.len(), per_day.rows.len(), "{text}");
    for (g, e) in got.iter().zip(&per_day.rows) {
        for (a, b) in g.iter().zip(e) {
            assert!(cells_match(a, b, per_day.rtol), "COPY {a} != xarray {b}");
        }
    }
    let mean = case(&adt, "adt_spatial_mean_per_day");
    let steps = json!([{"name": "binary", "op": "copy_binary", "sql": mean.sql,
                        "types": ["timestamp", "float8"]}]);
    let out = server.postgres(&py, &server.dsn("gridsql", None), &steps);
    assert_rows(&out, "binary", mean);
}

#[test]
fn remote_clients_are_refused_outside_roots_ddl_and_engine_settings() {
    let Some((data, py)) = prerequisites() else {
        return;
    };
    let (adt, _) = cases(&data, &py);
    let count = case(&adt, "adt_count_whole_cube");
    let inside = format!("{}/{ADT}.v2.zarr", data.display());
    let server = Server::start(
        &data,
        &["--allow-root", &format!("{}/", data.display())],
        &[],
    );
    let dotdot = format!(
        "SELECT * FROM read_netcdf('{}/../../../etc/passwd')",
        data.display()
    );
    let ddl = format!("CREATE EXTERNAL TABLE x STORED AS ZARR LOCATION '{inside}'");
    let refusals = [
        (
            "passwd",
            "SELECT * FROM read_zarr('/etc/passwd')",
            "outside the server's allowed roots",
        ),
        (
            "passwd_nc",
            "SELECT * FROM read_netcdf('/etc/passwd')",
            "outside the server's allowed roots",
        ),
        (
            "attrs",
            "SELECT * FROM grid_attributes('/etc/hostname', 'netcdf')",
            "outside the server's allowed roots",
        ),
        (
            "bucket",
            "SELECT * FROM read_zarr('s3://someone-elses-bucket/x.zarr')",
            "outside the server's allowed roots",
        ),
        (
            "dotdot",
            dotdot.as_str(),
            "outside the server's allowed roots",
        ),
        ("ddl", ddl.as_str(), "read-only"),
        ("ctas", "CREATE TABLE x AS SELECT 1", "read-only"),
        ("drop", "DROP TABLE t", "read-only"),
        ("insert", "INSERT INTO t VALUES (1)", "read-only"),
        (
            "set",
            "SET datafusion.runtime.memory_limit = '100G'",
            "engine settings",
        ),
    ];
    let mut steps: Vec<Value> = refusals
        .iter()
        .map(|(name, sql, _)| json!({"name": name, "op": "query", "sql": sql}))
        .collect();
    // inside the roots: allowed, and the answer is xarray's (same store as v3)
    steps.push(json!({"name": "inside", "op": "query",
                      "sql": count.sql.replace(" FROM t", &format!(" FROM read_zarr('{inside}')"))}));
    steps.push(json!({"name": "after", "op": "query", "sql": count.sql}));
    let steps = Value::Array(steps);
    for (protocol, out) in [
        ("flight", server.flight(&py, None, &steps)),
        (
            "postgres",
            server.postgres(&py, &server.dsn("gridsql", None), &steps),
        ),
    ] {
        for (name, _, expected) in &refusals {
            let e = error_of(&out, name);
            assert!(e.contains(expected), "{protocol} {name}: {e}");
        }
        assert_rows(&out, "inside", count);
        assert_rows(&out, "after", count);
    }
    // psql too, and the table is still there afterwards
    let (ok, _, err) = server.psql("gridsql", None, "DROP TABLE t");
    assert!(!ok && err.contains("read-only"), "{err}");
    let (ok, out, err) = server.psql("gridsql", None, "\\dt");
    assert!(ok && out.contains("|t|"), "{out} {err}");
}

/// Copies a folder tree (a Zarr store) or a file.
fn copy_tree(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).expect("folder");
        for e in std::fs::read_dir(from).expect("readable folder") {
            let e = e.expect("entry");
            copy_tree(&e.path(), &to.join(e.file_name()));
        }
    } else {
        std::fs::copy(from, to).expect("file copied");
    }
}

/// Every spelling of a location outside the allowed root that the issue
/// names (dot segments, percent-encoded dots and separators in any case and
/// mix, double encoding, backslashes, `file://localhost/`, single-slash
/// `file:` URLs, symlinks and globs leading out, HTTP URLs to loopback
/// ports), through every location-taking entry point, over both protocols:
/// each refused with one clear error, the allowed datasets still answering
/// as xarray does, the server alive. The root comes from the catalog file.
#[test]
fn allowed_roots_hold_under_every_spelling() {
    let Some((data, py)) = prerequisites() else {
        return;
    };
    let (adt, _) = cases(&data, &py);
    let count = case(&adt, "adt_count_whole_cube");
    let tmp = tempfile::tempdir().expect("temp dir");
    let r = std::fs::canonicalize(tmp.path()).expect("real temp path");
    let (public, private) = (r.join("public"), r.join("private"));
    for dir in [&public, &private] {
        copy_tree(&data.join(format!("{ADT}.v2.zarr")), &dir.join("adt.zarr"));
        copy_tree(&data.join(ADT), &dir.join("adt.nc"));
    }
    std::fs::create_dir_all(public.join("dir")).expect("folder");
    std::fs::create_dir_all(public.join("evil")).expect("folder");
    let link = |to: &Path, at: &Path| std::os::unix::fs::symlink(to, at).expect("symlink");
    link(&private, &public.join("link"));
    link(&private.join("adt.zarr"), &public.join("adt-link.zarr"));
    link(&private.join("adt.nc"), &public.join("evil/secret.nc"));
    // A store inside the root whose data array is a link leading out.
    copy_tree(
        &data.join(format!("{ADT}.v2.zarr")),
        &public.join("inner.zarr"),
    );
    std::fs::remove_dir_all(public.join("inner.zarr/adt")).expect("array removed");
    link(
        &private.join("adt.zarr/adt"),
        &public.join("inner.zarr/adt"),
    );
    let p = public.display().to_string();
    let r = r.display().to_string();
    let server = Server::start_with(
        &data,
        &format!("allow_roots = [\"{p}\"]"),
        &["--allow-ddl"],
        &[],
    );
    let flight_port = server
        .flight_uri()
        .rsplit(':')
        .next()
        .unwrap_or("1")
        .to_string();
    let pg_port = server.pg_port();
    // Spellings of private/adt.zarr (and, with .nc, of private/adt.nc).
    let zarr_spellings: Vec<String> = vec![
        format!("{r}/private/adt.zarr"),
        format!("{p}/../private/adt.zarr"),
        format!("{p}/./dir/../../private/adt.zarr"),
        format!("{p}/nothing/../../private/adt.zarr"),
        format!("file://{p}/%2e%2e/private/adt.zarr"),
        format!("file://{p}/%2E%2E/private/adt.zarr"),
        format!("file://{p}/.%2E/private/adt.zarr"),
        format!("file://{p}/%2e./private/adt.zarr"),
        format!("file://{p}/dir/%2e%2E/%2E%2e/private/adt.zarr"),
        format!("file://{p}/..%2fprivate/adt.zarr"),
        format!("file://{p}/..%2Fprivate%2Fadt.zarr"),
        format!("file://{p}/..%5cprivate/adt.zarr"),
        format!("file://{p}/%2e%2e%5Cprivate/adt.zarr"),
        format!("file://{p}/%252e%252e/private/adt.zarr"),
        format!("file://{p}/%25252e%25252e/private/adt.zarr"),
        format!("{p}/%2e%2e/private/adt.zarr"),
        format!("{p}/..\\private\\adt.zarr"),
        format!("file://{p}\\..\\private/adt.zarr"),
        format!("file://localhost{p}/../private/adt.zarr"),
        format!("file://localhost{r}/private/adt.zarr"),
        format!("file:{r}/private/adt.zarr"),
        format!("file:{p}/../private/adt.zarr"),
        format!("FILE://{r}/private/adt.zarr"),
        format!("file:///{p}/../private/adt.zarr"),
        format!("{p}/link/adt.zarr"),
        format!("{p}/adt-link.zarr"),
        format!("file://{p}/link/adt.zarr"),
        format!("http://127.0.0.1:{pg_port}/adt.zarr"),
        format!("http://localhost:{flight_port}/private/adt.zarr"),
        "s3://someone-elses-bucket/adt.zarr".to_string(),
    ];
    let mut steps: Vec<(String, String)> = Vec::new();
    for (i, z) in zarr_spellings.iter().enumerate() {
        let nc = z.replace("adt.zarr", "adt.nc");
        steps.push((
            format!("read_zarr_{i}"),
            format!("SELECT count(*) FROM read_zarr('{z}')"),
        ));
        steps.push((
            format!("read_netcdf_{i}"),
            format!("SELECT count(*) FROM read_netcdf('{nc}')"),
        ));
        steps.push((
            format!("variables_{i}"),
            format!("SELECT count(*) FROM grid_variables('{z}')"),
        ));
        steps.push((
            format!("attributes_{i}"),
            format!("SELECT count(*) FROM grid_attributes('{nc}', 'netcdf')"),
        ));
        steps.push((
            format!("ddl_zarr_{i}"),
            format!("CREATE EXTERNAL TABLE x_zarr_{i} STORED AS ZARR LOCATION '{z}'"),
        ));
        steps.push((
            format!("ddl_netcdf_{i}"),
            format!("CREATE EXTERNAL TABLE x_nc_{i} STORED AS NETCDF LOCATION '{nc}'"),
        ));
    }
    // Globs and folders whose matches lead out.
    for (i, g) in [
        format!("{r}/private/*.nc"),
        format!("{p}/../private/*.nc"),
        format!("{p}/*/../../private/*.nc"),
        format!("{p}/link/*.nc"),
        format!("{p}/evil/*.nc"),
        format!("{p}/evil"),
        format!("{p}/e*/*.nc"),
        format!("file://{p}/%2e%2e/private/*.nc"),
    ]
    .iter()
    .enumerate()
    {
        steps.push((
            format!("glob_{i}"),
            format!("SELECT count(*) FROM read_netcdf('{g}')"),
        ));
        steps.push((
            format!("glob_ddl_{i}"),
            format!("CREATE EXTERNAL TABLE g_{i} STORED AS NETCDF LOCATION '{g}'"),
        ));
    }
    steps.push((
        "inner_link".into(),
        format!("SELECT count(*) FROM read_zarr('{p}/inner.zarr')"),
    ));
    let refused: Vec<String> = steps.iter().map(|(n, _)| n.clone()).collect();
    // Inside the root, in spellings that resolve there: allowed and equal to xarray.
    let inside = [
        format!("read_zarr('{p}/adt.zarr')"),
        format!("read_zarr('file://{p}/dir/%2e%2E/adt.zarr')"),
        format!("read_zarr('file://localhost{p}/./adt.zarr')"),
        format!("read_netcdf('{p}/adt.nc')"),
        format!("read_netcdf('{p}/*.nc')"),
    ];
    for (i, f) in inside.iter().enumerate() {
        steps.push((
            format!("inside_{i}"),
            count.sql.replace(" FROM t", &format!(" FROM {f}")),
        ));
    }
    steps.push(("after".into(), count.sql.clone()));
    let steps_json = Value::Array(
        steps
            .iter()
            .map(|(name, sql)| json!({"name": name, "op": "query", "sql": sql}))
            .collect(),
    );
    for (protocol, out) in [
        ("flight", server.flight(&py, None, &steps_json)),
        (
            "postgres",
            server.postgres(&py, &server.dsn("gridsql", None), &steps_json),
        ),
    ] {
        for name in &refused {
            let sql = &steps.iter().find(|(n, _)| n == name).expect("a step").1;
            let e = out[name]["error"].as_str().unwrap_or_else(|| {
                panic!("{protocol} {name}: {sql} was not refused: {}", out[name])
            });
            // The PostgreSQL server's parser has no CREATE EXTERNAL TABLE.
            if protocol == "postgres" && sql.starts_with("CREATE EXTERNAL TABLE") {
                assert!(e.contains("parser error"), "{protocol} {name}: {sql}: {e}");
                continue;
            }
            assert!(
                e.contains("outside the server's allowed roots") || e.contains("invalid location"),
                "{protocol} {name}: {sql}: unclear refusal: {e}"
            );
            assert!(!e.contains('\n'), "{protocol} {name}: not one line: {e}");
            assert!(!e.contains("panicked"), "{protocol} {name}: {e}");
        }
        for i in 0..inside.len() {
            assert_rows(&out, &format!("inside_{i}"), count);
        }
        assert_rows(&out, "after", count);
    }
    // psql too, and the server still answers afterwards.
    let (ok, _, err) = server.psql(
        "gridsql",
        None,
        &format!("SELECT count(*) FROM read_zarr('file://{p}/%2e%2e/private/adt.zarr')"),
    );
    assert!(
        !ok && err.contains("outside the server's allowed roots"),
        "{err}"
    );
    let (ok, out, err) = server.psql("gridsql", None, "\\dt");
    assert!(ok && out.contains("|t|"), "{out} {err}");
}

#[test]
fn query_limits_memory_timeout_busy_and_cancel() {
    let Some((data, py)) = prerequisites() else {
        return;
    };
    let (adt, _) = cases(&data, &py);
    let count = case(&adt, "adt_count_whole_cube");
    let server = Server::start(
        &data,
        &[
            "--memory-limit",
            "16M",
            "--query-timeout",
            "6",
            "--max-concurrent-queries",
            "1",
        ],
        &[],
    );
    let big = "SELECT time, latitude, longitude, adt FROM t";
    let steps = json!([
        // over the memory limit: a clear error, then the next query answers
        {"name": "memory", "op": "query", "sql": "SELECT array_agg(adt) FROM t"},
        {"name": "after_memory", "op": "query", "sql": count.sql},
        // a client that cancels frees its slot at once (the only slot here)
        {"name": "open1", "op": "open_stream", "sql": big},
        {"name": "cancel1", "op": "cancel", "stream": "open1"},
        {"name": "after_cancel", "op": "query", "sql": count.sql, "conn": "b"},
        // while one query holds the only slot, another waits, then is told the server is busy
        {"name": "open2", "op": "open_stream", "sql": big},
        {"name": "busy", "op": "query", "sql": count.sql, "conn": "b"},
        // the holder passed its time limit meanwhile: its stream ends with the timeout error
        {"name": "rest2", "op": "read_rest", "stream": "open2"},
        {"name": "after_timeout", "op": "query", "sql": count.sql, "conn": "b"},
    ]);
    let out = server.flight(&py, None, &steps);
    let e = error_of(&out, "memory");
    assert!(e.contains("Resources exhausted"), "memory: {e}");
    assert_rows(&out, "after_memory", count);
    assert!(
        out["open1"]["first_batch_rows"].as_u64().unwrap_or(0) > 0,
        "{out}"
    );
    assert_rows(&out, "after_cancel", count);
    let after_cancel = out["after_cancel"]["seconds"].as_f64().expect("seconds");
    assert!(
        after_cancel < 5.0,
        "the cancelled query still held the slot: {after_cancel}s"
    );
    // The holder stalls after its first batch; the watchdog takes its slot
    // back at its deadline, a moment before the waiter's own deadline (both
    // 6 s, the waiter started later): the waiter is refused as busy, or gets
    // the slot with almost no time left and is stopped at its limit. Never
    // an answer after waiting on a stalled client, never a hang. (The busy
    // message itself: `serve::limits` unit test `slots_and_deadline`.)
    let e = error_of(&out, "busy");
    assert!(
        e.contains("server busy") || e.contains("time limit"),
        "busy: {e}"
    );
    let e = error_of(&out, "rest2");
    assert!(e.contains("time limit"), "timeout: {e}");
    assert_rows(&out, "after_timeout", count);
    // PostgreSQL: the same memory refusal, and the connection goes on.
    let steps = json!([
        {"name": "memory", "op": "query", "sql": "SELECT array_agg(adt) FROM t"},
        {"name": "after_memory", "op": "query", "sql": count.sql},
    ]);
    let out = server.postgres(&py, &server.dsn("gridsql", None), &steps);
    let e = error_of(&out, "memory");
    assert!(e.contains("Resources exhausted"), "memory: {e}");
    assert_rows(&out, "after_memory", count);
}

#[test]
fn load_32_clients_for_30_seconds_all_answers_match_xarray() {
    let Some((data, py)) = prerequisites() else {
        return;
    };
    let (adt, sst) = cases(&data, &py);
    let server = Server::start(&data, &["--max-concurrent-queries", "8"], &[]);
    // A mix of in-scan aggregates, filters, raw cells and NetCDF queries.
    let picked: Vec<&Case> = adt
        .iter()
        .chain(&sst)
        .filter(|c| c.rows.len() <= 400)
        .collect();
    assert!(picked.len() >= 20, "{}", picked.len());
    let cases_json: Vec<Value> = picked
        .iter()
        .map(|c| json!({"name": c.name, "sql": c.sql, "rows": c.rows, "rtol": c.rtol}))
        .collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let cases_path = dir.path().join("cases.json");
    let out_path = dir.path().join("out.json");
    std::fs::write(&cases_path, Value::Array(cases_json).to_string()).expect("cases written");
    let mut cmd = Command::new(&py);
    cmd.arg(repo().join("tests/clients/load.py"))
        .args(["--flight-uri", server.flight_uri()])
        .args(["--dsn", &server.dsn("gridsql", None)])
        .arg("--cases")
        .arg(&cases_path)
        .args([
            "--flight-clients",
            "16",
            "--pg-clients",
            "16",
            "--seconds",
            "30",
        ])
        .args(["--max-queries-per-client", "2000"])
        .arg("--out")
        .arg(&out_path);
    let o = output_within(cmd, Duration::from_secs(600));
    assert!(
        o.status.success(),
        "load.py: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out: Value = serde_json::from_str(&std::fs::read_to_string(&out_path).expect("output"))
        .expect("load JSON");
    println!(
        "servers load test: {} clients, {} queries in {:.1}s, latency p50 {:.1} ms, p95 {:.1} ms, \
         p99 {:.1} ms, max {:.1} ms; flight {}, pg {}",
        out["clients"],
        out["queries"],
        out["seconds"].as_f64().unwrap_or(0.0),
        out["p50_ms"].as_f64().unwrap_or(f64::NAN),
        out["p95_ms"].as_f64().unwrap_or(f64::NAN),
        out["p99_ms"].as_f64().unwrap_or(f64::NAN),
        out["max_ms"].as_f64().unwrap_or(f64::NAN),
        out["per_protocol"]["flight"],
        out["per_protocol"]["pg"],
    );
    assert_eq!(out["error_count"], 0, "errors: {}", out["errors"]);
    assert_eq!(
        out["mismatch_count"], 0,
        "wrong answers: {}",
        out["mismatches"]
    );
    assert_eq!(out["threads_alive"], 0, "clients still running");
    assert!(
        out["per_protocol"]["flight"]["queries"]
            .as_u64()
            .unwrap_or(0)
            >= 16,
        "{out}"
    );
    assert!(
        out["per_protocol"]["pg"]["queries"].as_u64().unwrap_or(0) >= 16,
        "{out}"
    );
}

/// kerchunk references and an Icechunk repository through both protocols of
/// a server with allowed roots: inside the roots they answer as the native
/// store; a document inside the roots that references a file outside them
/// is refused.
#[test]
fn virtual_and_versioned_datasets_through_the_servers() {
    let Some((_, py)) = prerequisites() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let Some((data, refs)) = crate::references::virtual_fixtures(dir.path()) else {
        return;
    };
    let tcw = refs.find("json-hdf5", "tcw.nc");
    let repo_dir = dir.path().join("repo").display().to_string();
    // a document under the roots that points at a file that is not
    let other = tempfile::tempdir().expect("temp dir");
    let secret = other.path().join("secret.bin");
    std::fs::write(&secret, [7u8; 64]).expect("write");
    let leak = dir.path().join("leak.json");
    std::fs::write(
        &leak,
        serde_json::json!({"version": 1, "refs": {
            ".zgroup": "{\"zarr_format\":2}",
            "v/.zarray": "{\"shape\":[16],\"chunks\":[16],\"dtype\":\"<f4\",\"fill_value\":null,\"order\":\"C\",\"filters\":null,\"compressor\":null,\"zarr_format\":2}",
            "v/.zattrs": "{\"_ARRAY_DIMENSIONS\":[\"x\"]}",
            "v/0": [secret.display().to_string(), 0, 64]}})
        .to_string(),
    )
    .expect("write");
    let server = Server::start(
        &data,
        &[
            "--allow-root",
            &format!("{}/", data.display()),
            "--allow-root",
            &format!("{}/", dir.path().display()),
        ],
        &[],
    );
    let through_refs =
        format!("SELECT count(tcw) AS n, avg(tcw) AS m, max(tcw) AS x FROM read_zarr('{tcw}')");
    let native = "SELECT count(tcw) AS n, avg(tcw) AS m, max(tcw) AS x FROM tcw";
    let at_tag =
        format!("SELECT count(DISTINCT time) AS n FROM read_icechunk('{repo_dir}', 'tag', 'v1')");
    let log = format!("SELECT count(*) AS n FROM icechunk_log('{repo_dir}')");
    let leaked = format!("SELECT sum(v) FROM read_zarr('{}')", leak.display());
    // PostgreSQL
    let (ok, refs_out, err) = server.psql("gridsql", None, &through_refs);
    assert!(ok, "{err}");
    let (ok, native_out, err) = server.psql("gridsql", None, native);
    assert!(ok, "{err}");
    crate::util::assert_csv_close(
        "references vs the native store through PostgreSQL",
        &refs_out.replace('|', ","),
        &native_out.replace('|', ","),
    );
    let (ok, out, err) = server.psql("gridsql", None, &at_tag);
    assert!(ok && out.lines().nth(1) == Some("24"), "{out}{err}");
    let (ok, out, err) = server.psql("gridsql", None, &log);
    assert!(ok && out.lines().nth(1) == Some("3"), "{out}{err}");
    let (ok, _, err) = server.psql("gridsql", None, &leaked);
    assert!(
        !ok && err.contains("outside the server's allowed roots"),
        "{err}"
    );
    // Flight SQL
    let steps = json!([
        {"name": "refs", "op": "query", "sql": through_refs},
        {"name": "native", "op": "query", "sql": native},
        {"name": "tag", "op": "query", "sql": at_tag},
        {"name": "leak", "op": "query", "sql": leaked},
    ]);
    let out = server.flight(&py, None, &steps);
    let (refs_row, native_row) = (&out["refs"]["rows"][0], &out["native"]["rows"][0]);
    assert_eq!(refs_row[0], native_row[0], "{out}");
    for i in 1..3 {
        assert!(
            cells_match(&refs_row[i], &native_row[i], 1e-9),
            "column {i}: {out}"
        );
    }
    assert_eq!(out["tag"]["rows"], json!([[24]]), "{out}");
    let refused = out["leak"]["error"].as_str().unwrap_or_default();
    assert!(
        refused.contains("outside the server's allowed roots"),
        "{out}"
    );
}

/// COPY to a grid through Flight SQL and psql (the PostgreSQL server reads
/// the `STORED AS` its parser refuses as DataFusion SQL): refused on a
/// read-only server and on one without write roots, written under
/// `--allow-write-root` and nowhere else.
#[test]
fn copy_to_a_grid_needs_ddl_and_a_write_root() {
    let Some((data, py)) = prerequisites() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let writable = dir.path().join("out");
    std::fs::create_dir_all(&writable).expect("folder");
    let copy = |target: &std::path::Path| {
        format!(
            "COPY (SELECT CAST(date_part('month', time) AS BIGINT) AS month, lat, lon, avg(sst) AS sst \
             FROM sst GROUP BY 1, 2, 3) TO '{}' STORED AS ZARR OPTIONS ('dims' 'month,lat,lon')",
            target.display()
        )
    };
    let inside = writable.join("clim.zarr");
    let outside = dir.path().join("clim.zarr");
    let steps = json!([
        {"name": "inside", "op": "query", "sql": copy(&inside)},
        {"name": "outside", "op": "query", "sql": copy(&outside)},
    ]);
    let error_of =
        |out: &Value, step: &str| out[step]["error"].as_str().unwrap_or_default().to_string();
    let read_only = Server::start(&data, &[], &[]);
    let out = read_only.flight(&py, None, &steps);
    assert!(error_of(&out, "inside").contains("read-only"), "{out}");
    // psql: PostgreSQL's grammar has no STORED AS; the server reads the
    // statement as DataFusion SQL and refuses it the same way
    let (ok, _, err) = read_only.psql("gridsql", None, &copy(&inside));
    assert!(!ok && err.contains("read-only"), "psql: {err}");
    drop(read_only);
    let no_write_root = Server::start(&data, &["--allow-ddl"], &[]);
    let out = no_write_root.flight(&py, None, &steps);
    assert!(
        error_of(&out, "inside").contains("--allow-write-root"),
        "{out}"
    );
    drop(no_write_root);
    let root = format!("{}/", writable.display());
    let server = Server::start(&data, &["--allow-ddl", "--allow-write-root", &root], &[]);
    let out = server.flight(&py, None, &steps);
    assert!(out["inside"]["error"].is_null(), "{out}");
    assert!(error_of(&out, "outside").contains("outside"), "{out}");
    assert!(!outside.exists(), "nothing written outside the write root");
    // psql writes one too, and is told how many rows went into it
    let by_psql = writable.join("clim_psql.nc");
    let psql_copy = copy(&by_psql).replace("STORED AS ZARR", "STORED AS NETCDF");
    let (ok, stdout, err) = server.psql("gridsql", None, &psql_copy);
    assert!(ok && stdout.contains("COPY 192240"), "psql: {stdout} {err}");
    let (ok, _, err) = server.psql("gridsql", None, &copy(&dir.path().join("psql.zarr")));
    assert!(!ok && err.contains("outside"), "psql outside: {err}");
    for target in [inside.display().to_string(), by_psql.display().to_string()] {
        let back = crate::util::gridsql_ok(&[
            "--format",
            "csv",
            &format!("w={target}"),
            "-c",
            "SELECT count(*), count(sst) FROM w",
        ]);
        assert_eq!(
            back.lines().nth(1),
            Some("192240,131856"),
            "{target}: {back}"
        );
    }
}
