//! Table functions: datasets queried without `CREATE EXTERNAL TABLE`, and their metadata.
//!
//! | SQL | what |
//! |---|---|
//! | `read_zarr('uri' [, 'option', 'value' ...])` | the table of a Zarr store |
//! | `read_netcdf('uri-or-glob' [, 'option', 'value' ...])` | the table of NetCDF files |
//! | `read_grib('uri' [, 'option', 'value' ...])` | the table of a GRIB file (cfgrib's model) |
//! | `read_icechunk('uri' [, 'branch'\|'tag'\|'snapshot', 'value'] [, 'option', 'value' ...])` | an Icechunk repository at one version |
//! | `icechunk_log('uri' [, 'branch'])` | the snapshots of a branch (default `main`), newest first |
//! | `grid_variables('uri' [, 'format'] [, 'option', 'value' ...])` | one row per variable |
//! | `grid_attributes('uri' [, 'format'] [, 'option', 'value' ...])` | one row per attribute |
//!
//! Options are the table options (`group`, `dims`, `variables`). Arguments must be constant
//! strings (constant expressions such as `'a' || 'b'` are folded before the call).
//!
//! DataFusion calls a table function synchronously while it plans, and opening a dataset is
//! async. The opening runs on a fresh thread with its own current-thread tokio runtime, so it
//! works whatever runtime (multi-thread, current-thread) plans the query, and never blocks
//! a runtime it needs itself.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{DataFusionError, Result, ScalarValue, plan_err};
use datafusion::datasource::MemTable;
use datafusion::logical_expr::Expr;
use gridsql_connectors::blocking::run_async;
use gridsql_connectors::cf::AttrValue;
use gridsql_connectors::inventory::{Inventory, inventory};
use gridsql_connectors::location::Access;
use gridsql_connectors::open::{open_table, options_of};
use gridsql_connectors::{Format, GridTableProvider, TableSpec};

/// Every gridsql table function with its SQL name, ready to register.
pub fn table_functions() -> Vec<(&'static str, Arc<dyn TableFunctionImpl>)> {
    vec![
        ("read_zarr", Arc::new(ReadGrid::new(Format::Zarr))),
        ("read_netcdf", Arc::new(ReadGrid::new(Format::Netcdf))),
        ("read_grib", Arc::new(ReadGrid::new(Format::Grib))),
        ("read_icechunk", Arc::new(ReadGrid::new(Format::Icechunk))),
        ("icechunk_log", Arc::new(IcechunkLog)),
        ("grid_variables", Arc::new(GridVariables)),
        ("grid_attributes", Arc::new(GridAttributes)),
    ]
}

/// The arguments as strings; anything but a constant string is a plan error naming `name`.
fn string_args(name: &str, exprs: &[Expr]) -> Result<Vec<String>> {
    exprs
        .iter()
        .enumerate()
        .map(|(i, e)| match e {
            Expr::Literal(
                ScalarValue::Utf8(Some(s))
                | ScalarValue::LargeUtf8(Some(s))
                | ScalarValue::Utf8View(Some(s)),
                _,
            ) => Ok(s.clone()),
            other => plan_err!(
                "{name}: argument {} must be a string literal, got {other}",
                i + 1
            ),
        })
        .collect()
}

/// Table options of `format` from `'option', 'value'` pairs.
fn options(name: &str, format: Format, pairs: &[String]) -> Result<BTreeMap<String, String>> {
    let known = options_of(format);
    if !pairs.len().is_multiple_of(2) {
        return plan_err!(
            "{name}: options come in 'option', 'value' pairs; '{}' has no value",
            pairs[pairs.len() - 1]
        );
    }
    let mut out = BTreeMap::new();
    for pair in pairs.chunks_exact(2) {
        let key = pair[0].trim().to_ascii_lowercase();
        if !known.contains(&key.as_str()) {
            return plan_err!(
                "{name}: unknown option '{}'; known options are {}",
                pair[0],
                known.join(", ")
            );
        }
        if out.insert(key, pair[1].clone()).is_some() {
            return plan_err!("{name}: option '{}' given twice", pair[0]);
        }
    }
    Ok(out)
}

/// A connector error as a DataFusion error that names the call.
fn call_error(name: &str, location: &str, e: impl Into<DataFusionError>) -> DataFusionError {
    e.into().context(format!("{name}('{location}')"))
}

/// `read_zarr` / `read_netcdf` / `read_grib`: the table of a dataset, as `CREATE EXTERNAL TABLE` would open it.
#[derive(Debug)]
pub struct ReadGrid {
    format: Format,
    name: &'static str,
}

impl ReadGrid {
    /// The table function of one format.
    pub fn new(format: Format) -> Self {
        let name = match format {
            Format::Zarr => "read_zarr",
            Format::Netcdf => "read_netcdf",
            Format::Grib => "read_grib",
            Format::Icechunk => "read_icechunk",
        };
        ReadGrid { format, name }
    }

    /// The spec the arguments describe.
    fn spec(&self, exprs: &[Expr]) -> Result<TableSpec> {
        let name = self.name;
        let args = string_args(name, exprs)?;
        let Some((location, rest)) = args.split_first() else {
            return plan_err!("{name} takes a location and optional 'option', 'value' pairs");
        };
        Ok(TableSpec {
            format: self.format,
            location: location.clone(),
            options: options(name, self.format, rest)?,
        })
    }
}

impl TableFunctionImpl for ReadGrid {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let spec = self.spec(args.exprs())?;
        let access = Access::of(args.session());
        let opened = run_async(self.name, open_table(&spec, &access))?
            .map_err(|e| call_error(self.name, &spec.location, e))?;
        Ok(Arc::new(GridTableProvider::from_opened(opened)))
    }
}

/// The spec of `grid_variables` / `grid_attributes` arguments: a location, an optional format
/// (when the number of further arguments is odd), then option pairs. A format is detected
/// only once the location is canonical and allowed, so detection reads nothing a session may
/// not open.
fn metadata_spec(name: &str, exprs: &[Expr], access: &Access) -> Result<TableSpec> {
    let args = string_args(name, exprs)?;
    let Some((location, mut rest)) = args.split_first() else {
        return plan_err!(
            "{name} takes a location, an optional format ('zarr', 'netcdf' or 'grib') and \
             optional 'option', 'value' pairs"
        );
    };
    let format = if !rest.len().is_multiple_of(2) {
        let f = match Format::parse(&rest[0]) {
            Ok(f) => f,
            Err(e) => return plan_err!("{name}: {e}"),
        };
        rest = &rest[1..];
        f
    } else {
        let canonical = access
            .locate(location)
            .map_err(|e| call_error(name, location, e))?;
        match Format::detect(&canonical) {
            Some(f) => f,
            None => {
                return plan_err!(
                    "{name}: cannot tell the format of '{location}': name it *.zarr, *.nc or \
                     *.grib, or pass 'zarr', 'netcdf' or 'grib' as the second argument"
                );
            }
        }
    };
    Ok(TableSpec {
        format,
        location: location.clone(),
        options: options(name, format, rest)?,
    })
}

/// Reads the inventory of the dataset the arguments name.
fn read_inventory(name: &str, args: &TableFunctionArgs) -> Result<Inventory> {
    let access = Access::of(args.session());
    let spec = metadata_spec(name, args.exprs(), &access)?;
    run_async(name, inventory(&spec, &access))?.map_err(|e| call_error(name, &spec.location, e))
}

/// One in-memory table of string and float columns.
fn mem_table(fields: Vec<Field>, columns: Vec<ArrayRef>) -> Result<Arc<dyn TableProvider>> {
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns)?;
    Ok(Arc::new(MemTable::try_new(schema, vec![vec![batch]])?))
}

/// `grid_variables(...)`: one row per variable of the dataset, coordinates included.
#[derive(Debug)]
pub struct GridVariables;

impl TableFunctionImpl for GridVariables {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let inv = read_inventory("grid_variables", &args)?;
        // Groups below the one opened are listed as rows too (role `group`),
        // so a user finds the `group` option's paths.
        let mut vars = inv.dataset.variables.clone();
        vars.extend(inv.groups.iter().map(|g| group_row(g)));
        let vars = &vars;
        let strings = |f: &dyn Fn(&gridsql_connectors::grid::GridVariable) -> Option<String>| {
            Arc::new(vars.iter().map(f).collect::<StringArray>()) as ArrayRef
        };
        let floats = |f: &dyn Fn(&gridsql_connectors::grid::GridVariable) -> Option<f64>| {
            Arc::new(vars.iter().map(f).collect::<Float64Array>()) as ArrayRef
        };
        let text = |n: &str| Field::new(n, DataType::Utf8, true);
        let float = |n: &str| Field::new(n, DataType::Float64, true);
        mem_table(
            vec![
                Field::new("name", DataType::Utf8, false),
                Field::new("dims", DataType::Utf8, false),
                Field::new("dtype", DataType::Utf8, false),
                text("units"),
                text("long_name"),
                Field::new("chunks", DataType::Utf8, false),
                float("fill_value"),
                float("scale_factor"),
                float("add_offset"),
                Field::new("role", DataType::Utf8, false),
                text("reason"),
            ],
            vec![
                strings(&|v| Some(v.name.clone())),
                strings(&|v| Some(v.dims.join(","))),
                strings(&|v| Some(v.dtype_name())),
                strings(&|v| v.attr_str("units").map(str::to_string)),
                strings(&|v| v.attr_str("long_name").map(str::to_string)),
                strings(&|v| {
                    Some(
                        v.chunks
                            .iter()
                            .map(u64::to_string)
                            .collect::<Vec<_>>()
                            .join("x"),
                    )
                }),
                floats(&|v| v.attrs.get("_FillValue").and_then(AttrValue::as_f64)),
                floats(&|v| v.decoding.cf.scale),
                floats(&|v| v.decoding.cf.offset),
                strings(&|v| {
                    Some(if v.attrs.contains_key(GROUP_MARK) {
                        "group".to_string()
                    } else {
                        inv.role(&v.name).to_string()
                    })
                }),
                strings(&|v| v.unreadable().filter(|r| !r.is_empty()).map(str::to_string)),
            ],
        )
    }
}

/// Marks the rows of [`GridVariables`] that are groups, not variables.
const GROUP_MARK: &str = "gridsql.group";

/// A `grid_variables` row for a group.
fn group_row(path: &str) -> gridsql_connectors::grid::GridVariable {
    use gridsql_connectors::cf::{AttrValue, Attributes, CfDecoding, RawType};
    let attrs: Attributes = [
        (GROUP_MARK.to_string(), AttrValue::Str(String::new())),
        (
            gridsql_connectors::grid::model::meta::STORED_TYPE.to_string(),
            AttrValue::Str("group".into()),
        ),
    ]
    .into_iter()
    .collect();
    gridsql_connectors::grid::GridVariable {
        name: path.to_string(),
        dims: vec![],
        shape: vec![],
        chunks: vec![],
        decoding: gridsql_connectors::grid::VariableDecoding {
            cf: CfDecoding::from_attrs(RawType::U8, &Attributes::new(), None),
            time: None,
        },
        attrs,
        kind: gridsql_connectors::grid::VarKind::Unreadable(String::new()),
    }
}

/// `grid_attributes(...)`: one row per attribute, global ones (variable NULL) first.
#[derive(Debug)]
pub struct GridAttributes;

impl TableFunctionImpl for GridAttributes {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let inv = read_inventory("grid_attributes", &args)?;
        let mut variable: Vec<Option<String>> = Vec::new();
        let mut name: Vec<String> = Vec::new();
        let mut value: Vec<Option<String>> = Vec::new();
        for (k, v) in &inv.dataset.global_attrs {
            variable.push(None);
            name.push(k.clone());
            value.push(attr_text(v));
        }
        for var in &inv.dataset.variables {
            for (k, v) in &var.attrs {
                variable.push(Some(var.name.clone()));
                name.push(k.clone());
                value.push(attr_text(v));
            }
        }
        mem_table(
            vec![
                Field::new("variable", DataType::Utf8, true),
                Field::new("name", DataType::Utf8, false),
                Field::new("value", DataType::Utf8, true),
            ],
            vec![
                Arc::new(StringArray::from(variable)),
                Arc::new(StringArray::from(name)),
                Arc::new(StringArray::from(value)),
            ],
        )
    }
}

/// A number as text: the shortest decimal that reads back as the stored value (float32 values
/// as float32), in exponent form for very large or small magnitudes (`-9.96921e36`, `1e-7`).
fn float_text(value: f64, f32: bool) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    let a = value.abs();
    let plain = a == 0.0 || a.is_infinite() || (1e-5..1e16).contains(&a);
    match (f32, plain) {
        (true, true) => format!("{}", value as f32),
        (true, false) => format!("{:e}", value as f32),
        (false, true) => format!("{value}"),
        (false, false) => format!("{value:e}"),
    }
}

/// An attribute value as text: strings as they are, numbers formatted, lists as `[1, 2]`
/// (strings in lists quoted); NULL for a null or uninterpreted value.
pub fn attr_text(v: &AttrValue) -> Option<String> {
    fn item(v: &AttrValue) -> String {
        match v {
            AttrValue::Str(s) => format!("{s:?}"),
            AttrValue::Null => "null".into(),
            other => attr_text(other).unwrap_or_default(),
        }
    }
    Some(match v {
        AttrValue::Str(s) => s.clone(),
        AttrValue::Int(i) => i.to_string(),
        AttrValue::Float { value, f32 } => float_text(*value, *f32),
        AttrValue::Bool(b) => b.to_string(),
        AttrValue::List(l) => format!("[{}]", l.iter().map(item).collect::<Vec<_>>().join(", ")),
        AttrValue::Null => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{ctx, rows};

    fn data() -> Option<std::path::PathBuf> {
        let p = std::env::var_os("GRIDSQL_DATA").map_or_else(
            || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"),
            std::path::PathBuf::from,
        );
        if p.join("MANIFEST.md").exists() {
            Some(p)
        } else {
            eprintln!("SKIPPED: shared data missing at {}", p.display());
            None
        }
    }

    fn err(sql: &str) -> String {
        match rows(&ctx(), sql) {
            Ok(r) => panic!("{sql} should fail, gave {r:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn attribute_text() {
        let f = |value, f32| AttrValue::Float { value, f32 };
        assert_eq!(attr_text(&AttrValue::Str("m".into())).as_deref(), Some("m"));
        assert_eq!(
            attr_text(&AttrValue::Int(-32767)).as_deref(),
            Some("-32767")
        );
        assert_eq!(
            attr_text(&f(f64::from(1e-4f32), true)).as_deref(),
            Some("0.0001")
        );
        assert_eq!(attr_text(&f(0.1, false)).as_deref(), Some("0.1"));
        assert_eq!(
            attr_text(&f(-9.969209968386869e36, false)).as_deref(),
            Some("-9.969209968386869e36")
        );
        assert_eq!(
            attr_text(&f(f64::from(-9.96921e36f32), true)).as_deref(),
            Some("-9.96921e36")
        );
        assert_eq!(attr_text(&f(f64::NAN, true)).as_deref(), Some("NaN"));
        assert_eq!(
            attr_text(&AttrValue::List(vec![
                f(f64::from(-1.8f32), true),
                f(45.0, true)
            ]))
            .as_deref(),
            Some("[-1.8, 45]")
        );
        assert_eq!(
            attr_text(&AttrValue::List(vec![
                AttrValue::Int(1),
                AttrValue::Str("a".into())
            ]))
            .as_deref(),
            Some("[1, \"a\"]")
        );
        assert_eq!(attr_text(&AttrValue::Null), None);
    }

    #[test]
    fn bad_arguments_are_plan_errors_naming_the_function() {
        let e = err("SELECT * FROM read_zarr()");
        assert!(e.contains("read_zarr takes a location"), "{e}");
        let e = err("SELECT * FROM read_zarr(1)");
        assert!(
            e.contains("read_zarr: argument 1 must be a string literal"),
            "{e}"
        );
        let e = err("SELECT * FROM read_netcdf('x.nc', 'group')");
        assert!(e.contains("read_netcdf: options come in"), "{e}");
        let e = err("SELECT * FROM read_netcdf('x.nc', 'colour', 'red')");
        assert!(e.contains("read_netcdf: unknown option 'colour'"), "{e}");
        let e = err("SELECT * FROM read_zarr('x.zarr', 'dims', 'a', 'dims', 'b')");
        assert!(e.contains("given twice"), "{e}");
        let e = err("SELECT * FROM grid_variables('x.unknown')");
        assert!(e.contains("grid_variables: cannot tell the format"), "{e}");
        let e = err("SELECT * FROM grid_attributes('x', 'hdf4')");
        assert!(e.contains("grid_attributes: unknown format 'hdf4'"), "{e}");
        let e = err("SELECT * FROM read_zarr('/nonexistent/store.zarr')");
        assert!(e.contains("read_zarr('/nonexistent/store.zarr')"), "{e}");
        let e = err("SELECT * FROM read_netcdf('/nonexistent/*.nc')");
        assert!(e.contains("read_netcdf('/nonexistent/*.nc')"), "{e}");
    }

    /// The open works under a multi-thread runtime (`rows`), a current-thread runtime, and
    /// when a query plans two table functions.
    #[test]
    fn opens_under_any_runtime() {
        let Some(dir) = data() else { return };
        let zarr = dir.join("sst.mnmean.nc.v3.zarr");
        let sql = format!("SELECT count(sst) FROM read_zarr('{}')", zarr.display());
        let want = vec![vec![ScalarValue::Int64(Some(1_406_464))]];
        assert_eq!(rows(&ctx(), &sql).expect(&sql), want);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let ctx = ctx();
        let got = rt.block_on(async { ctx.sql(&sql).await?.collect().await });
        let got = got.expect(&sql);
        assert_eq!(
            ScalarValue::try_from_array(got[0].column(0), 0).expect("value"),
            ScalarValue::Int64(Some(1_406_464))
        );
        let nc = dir.join("sst.mnmean.nc");
        let sql = format!(
            "SELECT count(*) FROM read_zarr('{}') z JOIN read_netcdf('{}') n \
             ON z.time = n.time AND z.lat = n.lat AND z.lon = n.lon WHERE z.sst = n.sst",
            zarr.display(),
            nc.display()
        );
        let got = rt.block_on(async { ctx.sql(&sql).await?.collect().await });
        let got = got.expect(&sql);
        assert_eq!(
            ScalarValue::try_from_array(got[0].column(0), 0).expect("value"),
            ScalarValue::Int64(Some(1_406_464))
        );
    }
}

/// `icechunk_log('repo' [, 'branch'])`: the snapshots of a branch, newest
/// first, so that a user can pick one for `OPTIONS ('snapshot' '...')`.
#[derive(Debug)]
pub struct IcechunkLog;

impl TableFunctionImpl for IcechunkLog {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let name = "icechunk_log";
        let strings = string_args(name, args.exprs())?;
        let (location, branch) = match strings.as_slice() {
            [l] => (l, None),
            [l, b] => (l, Some(b.as_str())),
            _ => return plan_err!("{name} takes a repository location and an optional branch"),
        };
        let access = Access::of(args.session());
        let canonical = access
            .locate(location)
            .map_err(|e| call_error(name, location, e))?;
        let log = run_async(
            name,
            gridsql_connectors::icechunk::snapshot_log(&access, &canonical, branch),
        )?
        .map_err(|e| call_error(name, location, e))?;
        let utc: Arc<str> = Arc::from("UTC");
        let fields = vec![
            Field::new("snapshot_id", DataType::Utf8, false),
            Field::new(
                "committed_at",
                DataType::Timestamp(TimeUnit::Microsecond, Some(Arc::clone(&utc))),
                false,
            ),
            Field::new("message", DataType::Utf8, false),
            Field::new("parent_id", DataType::Utf8, true),
        ];
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(
                log.iter().map(|s| s.id.as_str()),
            )),
            Arc::new(
                TimestampMicrosecondArray::from_iter_values(
                    log.iter().map(|s| s.committed_at.timestamp_micros()),
                )
                .with_timezone(utc),
            ),
            Arc::new(StringArray::from_iter_values(
                log.iter().map(|s| s.message.as_str()),
            )),
            Arc::new(StringArray::from_iter(
                log.iter().map(|s| s.parent.as_deref()),
            )),
        ];
        mem_table(fields, columns)
    }
}
