//! PostgreSQL functions that clients call on connect and introspection and
//! that datafusion-postgres does not give as PostgreSQL does:
//! - `version()` reads `PostgreSQL 16.6 (gridsql x.y) …`: SQLAlchemy (and so
//!   Superset, pandas `read_sql`, Polars) parse the server version out of it;
//! - `current_database()` and `current_user` (`session_user`) are the
//!   connection's database and login, not fixed names;
//! - `to_regtype` (psycopg's type lookup, which SQLAlchemy runs on connect)
//!   and `pg_size_pretty` (psql `\dt+`) answer as PostgreSQL does;
//! - `pg_function_is_visible` (psql `\df`) is true;
//! - `pg_get_serial_sequence` (SQLAlchemy), `pg_get_function_result` and
//!   `pg_get_function_arguments` (pgjdbc `getFunctions`, psql `\df`),
//!   `pg_table_size`, `pg_indexes_size` and `obj_description` (psql `\dt+`)
//!   answer NULL: gridsql has no sequences, no SQL functions in `pg_proc`, no
//!   table files on the server and no comments, and NULL is what PostgreSQL
//!   answers for a column without a sequence.

use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, Int32Array, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use arrow::datatypes::Int64Type;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility, create_udf,
};
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;

/// The PostgreSQL release whose behaviour the server follows.
pub(crate) const PG_VERSION: &str = "16.6";

/// `version()`'s text.
pub(crate) fn version_text() -> String {
    format!(
        "PostgreSQL {PG_VERSION} (gridsql {}) on {}-{}, 64-bit",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH,
        std::env::consts::OS
    )
}

/// A function of no arguments that returns `value`.
fn constant(name: &str, value: String, volatility: Volatility) -> ScalarUDF {
    create_udf(
        name,
        vec![],
        DataType::Utf8,
        volatility,
        Arc::new(move |_: &[ColumnarValue]| {
            Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(
                value.clone(),
            ))))
        }),
    )
}

/// A function of `arity` arguments of any type that answers `value` for
/// every row (clients pass OIDs as INT or BIGINT, names as text).
#[derive(Debug, PartialEq, Eq, Hash)]
struct Answer {
    name: &'static str,
    signature: Signature,
    value: ScalarValue,
}

impl Answer {
    fn udf(name: &'static str, arity: usize, value: ScalarValue) -> ScalarUDF {
        ScalarUDF::new_from_impl(Answer {
            name,
            signature: if arity == 0 {
                Signature::nullary(Volatility::Stable)
            } else {
                Signature::any(arity, Volatility::Stable)
            },
            value,
        })
    }
}

impl ScalarUDFImpl for Answer {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(self.value.data_type())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.args.iter().find_map(|v| match v {
            ColumnarValue::Array(x) => Some(x.len()),
            ColumnarValue::Scalar(_) => None,
        });
        Ok(match rows {
            Some(n) => ColumnarValue::Array(self.value.to_array_of_size(n)?),
            None => ColumnarValue::Scalar(self.value.clone()),
        })
    }
}

/// PostgreSQL's `pg_size_pretty(bigint)`: bytes below 10 kB, then kB, MB,
/// GB, TB, PB, each rounded half away from zero (PostgreSQL 15 and later).
pub(crate) fn size_pretty(bytes: i64) -> String {
    const LIMIT: i64 = 10 * 1024;
    const LIMIT2: i64 = LIMIT * 2 - 1;
    if bytes.abs() < LIMIT {
        return format!("{bytes} bytes");
    }
    let half_rounded = |x: i64| (x + if x < 0 { -1 } else { 1 }) / 2;
    // one extra bit kept for rounding
    let mut size = bytes >> 9;
    for unit in ["kB", "MB", "GB", "TB"] {
        if size.abs() < LIMIT2 {
            return format!("{} {unit}", half_rounded(size));
        }
        size >>= 10;
    }
    format!("{} PB", half_rounded(size))
}

/// A function of one argument of type `input`, computed by `f` on the
/// argument as an array; a constant argument gives a constant.
fn unary(
    name: &str,
    input: DataType,
    output: DataType,
    volatility: Volatility,
    f: fn(&ArrayRef) -> ArrayRef,
) -> ScalarUDF {
    let cast_to = input.clone();
    create_udf(
        name,
        vec![input],
        output,
        volatility,
        Arc::new(move |a: &[ColumnarValue]| -> Result<ColumnarValue> {
            let arrays = ColumnarValue::values_to_arrays(a)?;
            let out = f(&cast(&arrays[0], &cast_to)?);
            Ok(if a.iter().all(|v| matches!(v, ColumnarValue::Scalar(_))) {
                ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?)
            } else {
                ColumnarValue::Array(out)
            })
        }),
    )
}

fn pg_size_pretty() -> ScalarUDF {
    unary(
        "pg_size_pretty",
        DataType::Int64,
        DataType::Utf8,
        Volatility::Immutable,
        |sizes| {
            let out: StringArray = sizes
                .as_primitive::<Int64Type>()
                .iter()
                .map(|v| v.map(size_pretty))
                .collect();
            Arc::new(out)
        },
    )
}

/// The OIDs of the built-in types clients look up by name.
const TYPE_OIDS: &[(&str, i32)] = &[
    ("bool", 16),
    ("boolean", 16),
    ("bytea", 17),
    ("int8", 20),
    ("bigint", 20),
    ("int2", 21),
    ("smallint", 21),
    ("int4", 23),
    ("integer", 23),
    ("text", 25),
    ("oid", 26),
    ("json", 114),
    ("float4", 700),
    ("real", 700),
    ("float8", 701),
    ("double precision", 701),
    ("varchar", 1043),
    ("character varying", 1043),
    ("date", 1082),
    ("time", 1083),
    ("timestamp", 1114),
    ("timestamp without time zone", 1114),
    ("timestamptz", 1184),
    ("timestamp with time zone", 1184),
    ("interval", 1186),
    ("numeric", 1700),
    ("uuid", 2950),
    ("jsonb", 3802),
];

/// `to_regtype(text)`: the OID of a type by name, NULL for a type the
/// server does not have (psycopg and SQLAlchemy probe `hstore` this way).
fn to_regtype() -> ScalarUDF {
    unary(
        "to_regtype",
        DataType::Utf8,
        DataType::Int32,
        Volatility::Stable,
        |names| {
            let oids: Int32Array = names
                .as_string::<i32>()
                .iter()
                .map(|n| {
                    let n = n?
                        .trim()
                        .trim_start_matches("pg_catalog.")
                        .to_ascii_lowercase();
                    TYPE_OIDS.iter().find(|(t, _)| *t == n).map(|(_, o)| *o)
                })
                .collect();
            Arc::new(oids)
        },
    )
}

/// Registers the functions that are the same for every connection.
pub(crate) fn register_static(ctx: &SessionContext) {
    ctx.register_udf(constant("version", version_text(), Volatility::Immutable));
    ctx.register_udf(pg_size_pretty());
    ctx.register_udf(to_regtype());
    let text = ScalarValue::Utf8(None);
    let size = ScalarValue::Int64(None);
    for udf in [
        Answer::udf(
            "pg_function_is_visible",
            1,
            ScalarValue::Boolean(Some(true)),
        ),
        Answer::udf("pg_get_serial_sequence", 2, text.clone()),
        Answer::udf("pg_get_function_result", 1, text.clone()),
        Answer::udf("pg_get_function_arguments", 1, text.clone()),
        Answer::udf("pg_get_function_identity_arguments", 1, text.clone()),
        // comments on tables and columns (psql `\dt+`, `\d+`; pgjdbc remarks)
        Answer::udf("obj_description", 2, text.clone()),
        Answer::udf("col_description", 2, text.clone()),
        Answer::udf("shobj_description", 2, text.clone()),
        // gridsql's tables have no indexes (SQLAlchemy's get_indexes)
        Answer::udf("pg_get_indexdef", 3, text),
        // no session has a temporary schema (the ADBC driver's get_objects)
        Answer::udf("pg_my_temp_schema", 0, ScalarValue::UInt32(Some(0))),
        // a grid table has no pages on a server disk: sizes are unknown
        Answer::udf("pg_table_size", 1, size.clone()),
        Answer::udf("pg_indexes_size", 1, size),
    ] {
        ctx.register_udf(udf);
    }
}

/// Registers the connection's own `current_database()` and `session_user`
/// (what `current_user` becomes in datafusion-postgres' parser).
pub(crate) fn register_session(ctx: &SessionContext, user: &str, database: &str) {
    ctx.register_udf(constant(
        "current_database",
        database.to_string(),
        Volatility::Stable,
    ));
    ctx.register_udf(constant(
        "session_user",
        user.to_string(),
        Volatility::Stable,
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_print_as_postgresql_prints_them() {
        // PostgreSQL's algorithm (src/backend/utils/adt/dbsize.c) by hand
        assert_eq!(size_pretty(0), "0 bytes");
        assert_eq!(size_pretty(10_239), "10239 bytes");
        assert_eq!(size_pretty(10_240), "10 kB");
        assert_eq!(size_pretty(123_456_789), "118 MB");
        assert_eq!(size_pretty(-10_240), "-10 kB");
        assert_eq!(size_pretty(1 << 40), "1024 GB");
        assert!(version_text().starts_with("PostgreSQL 16.6 (gridsql "));
    }
}
