//! Rewrites of the catalog queries BI tools send that DataFusion cannot
//! plan, applied before datafusion-postgres sees a statement. Each rewrite
//! keeps the answer the query has on gridsql's catalog, where tables have
//! no indexes, constraints, defaults, sequences or collations of their own:
//!
//! - `unnest(i.indkey)`, `unnest(i.indclass)`, `unnest(c.conkey)`, ...: the
//!   catalog holds these vectors as text (`1 2`, `{1,2}`), so they are
//!   split into arrays first; `generate_subscripts(v, 1)` becomes the
//!   unnest of `1..=len(v)`, which DataFusion zips with the other unnests
//!   of the projection as PostgreSQL does (SQLAlchemy's `get_pk_constraint`,
//!   `get_indexes`, `get_unique_constraints`).
//! - A correlated scalar subquery over `pg_catalog` inside a `CASE`
//!   (SQLAlchemy's `get_columns` asks for each column's default, identity
//!   and collation that way) is NULL: the `CASE` that guards it is false on
//!   gridsql's catalog, and DataFusion cannot plan it.
//!
//! - `(expr).field`, PostgreSQL's access to a field of a composite value,
//!   is `get_field(expr, 'field')`; `information_schema._pg_expandarray(v)`
//!   (pgjdbc's `getPrimaryKeys`, `getIndexInfo`) is a row of NULLs: the
//!   index keys it expands are never a gridsql table's.
//! - A correlated scalar subquery over `pg_catalog` elsewhere (pgjdbc's
//!   `getTypeInfo` filters types by their class that way) takes the `max` of
//!   its one column: DataFusion plans only aggregated correlated subqueries,
//!   and these look up one row by its oid.
//! - `pg_catalog.pg_settings` also holds the settings JDBC drivers read
//!   (`max_index_keys` for pgjdbc's `getImportedKeys`, ...).
//! - `typinput = 'pg_catalog.array_in'::regproc` (pgjdbc's type cache) and
//!   `typreceive != 0` (the ADBC driver): gridsql's `pg_type` names a type's
//!   functions as text (`-` for none), so they are compared by name.
//! - `information_schema.columns` answers `data_type` with PostgreSQL's
//!   type names (`real`, `timestamp without time zone`), not Arrow's
//!   (`Float32`, `Timestamp(µs)`): Grafana's query builder and JDBC tools
//!   choose their widgets and macros by it.
//!
//! A statement no rewrite touches is passed on as the client wrote it.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    AccessExpr, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, GroupByExpr, Ident, Query,
    SelectItem, SetExpr, Statement, Subscript, TableAlias, TableFactor, Value, Visit, VisitMut,
    Visitor, VisitorMut, visit_expressions_mut,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion_postgres::datafusion_pg_catalog::sql::PostgresCompatibilityParser;

/// Catalog columns that PostgreSQL holds as vectors and gridsql's catalog
/// as text: the column and the separator of its text.
const VECTORS: [(&str, &str); 7] = [
    ("indkey", "' '"),
    ("indclass", "' '"),
    ("indoption", "' '"),
    // pgjdbc's getIndexInfo selects `i.indoption AS I_INDOPTION`
    ("i_indoption", "' '"),
    ("indcollation", "' '"),
    ("conkey", "','"),
    ("confkey", "','"),
];

/// A statement as it goes on to datafusion-postgres: its SQL (the client's
/// when no rewrite applies) and its parse, rewritten.
pub(crate) struct Parsed {
    /// The SQL to pass on.
    pub(crate) sql: String,
    /// Its statements, as datafusion-postgres' parser reads them.
    pub(crate) statements: Vec<Statement>,
}

/// Parses `sql` as datafusion-postgres does and applies the rewrites.
///
/// # Errors
/// datafusion-postgres' parse error.
pub(crate) fn parse(sql: &str) -> Result<Parsed, ParserError> {
    // `'x'::regproc` is seen as the client wrote it: datafusion-postgres'
    // rules turn it into a lookup. A statement that PostgreSQL's plain
    // grammar does not read is passed on as written.
    let Ok(mut raw) = Parser::parse_sql(&PostgreSqlDialect {}, sql) else {
        let statements = PostgresCompatibilityParser::new().parse(sql)?;
        return Ok(Parsed {
            sql: sql.to_string(),
            statements,
        });
    };
    let sql = if rewrite_all(&mut raw, false, proc_by_name) {
        to_sql(&raw)
    } else {
        sql.to_string()
    };
    // the rest on what datafusion-postgres makes of it (its substitutions of
    // whole psql queries come first)
    let mut statements = PostgresCompatibilityParser::new().parse(&sql)?;
    let changed = rewrite_all(&mut statements, true, |e| {
        vector_call(e)
            .or_else(|| case_without_subqueries(e))
            .or_else(|| missing_column(e))
            .or_else(|| field_access(e))
            .or_else(|| aggregated_lookup(e))
    });
    Ok(Parsed {
        sql: if changed { to_sql(&statements) } else { sql },
        statements,
    })
}

/// Applies `rule` to every expression of `statements` (and, with `tables`,
/// replaces the catalog tables: once only, as a replacement reads the table
/// it replaces); whether anything changed.
fn rewrite_all(
    statements: &mut [Statement],
    tables: bool,
    rule: impl Fn(&Expr) -> Option<Expr>,
) -> bool {
    let mut changed = false;
    for s in statements {
        if tables {
            let mut replaced = ReplaceTables(false);
            let _ = s.visit(&mut replaced);
            changed |= replaced.0;
        }
        changed |= rewrite_statement(s, &rule);
    }
    changed
}

fn to_sql(statements: &[Statement]) -> String {
    statements
        .iter()
        .map(Statement::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

fn rewrite_statement(s: &mut Statement, rule: &impl Fn(&Expr) -> Option<Expr>) -> bool {
    let mut changed = false;
    let _ = visit_expressions_mut(s, |e| {
        if let Some(new) = rule(e) {
            *e = new;
            changed = true;
        }
        ControlFlow::<()>::Continue(())
    });
    changed
}

/// Catalog columns PostgreSQL has and gridsql's catalog lacks, NULL on
/// every row of gridsql's: `pg_class.reloptions` (a table's storage
/// options, a text array), named with any qualifier (psql's `c.`).
const MISSING_COLUMNS: [(&str, &str); 1] = [("reloptions", "CAST(NULL AS TEXT[])")];

/// NULL for a column of [`MISSING_COLUMNS`], and for `ARRAY(subquery)`
/// over `pg_catalog` (psql's `\d+` gathers the storage options of a
/// table's TOAST table that way; DataFusion has no array subqueries).
fn missing_column(e: &Expr) -> Option<Expr> {
    match e {
        Expr::CompoundIdentifier(parts) => {
            let [_, .., column] = parts.as_slice() else {
                return None;
            };
            let (_, null) = MISSING_COLUMNS
                .iter()
                .find(|(c, _)| column.value.eq_ignore_ascii_case(c))?;
            parse_expr(null)
        }
        Expr::Function(f) => {
            let name = f.name.0.last()?.as_ident()?.value.to_ascii_lowercase();
            match &f.args {
                FunctionArguments::Subquery(q) if name == "array" && reads_only_catalog(q) => {
                    parse_expr("CAST(NULL AS TEXT[])")
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// `get_field(expr, 'f')` for `(expr).f`; a row of NULLs for
/// `_pg_expandarray(v)`.
fn field_access(e: &Expr) -> Option<Expr> {
    match e {
        Expr::CompoundFieldAccess { root, access_chain } => {
            // `i.indoption[k]`: the column, then one subscript
            if let [dots @ .., AccessExpr::Subscript(Subscript::Index { index })] =
                access_chain.as_slice()
            {
                let mut parts = match root.as_ref() {
                    Expr::Identifier(i) => vec![i.clone()],
                    Expr::CompoundIdentifier(p) => p.clone(),
                    _ => return None,
                };
                for d in dots {
                    let AccessExpr::Dot(Expr::Identifier(i)) = d else {
                        return None;
                    };
                    parts.push(i.clone());
                }
                let array = vector_array(&Expr::CompoundIdentifier(parts))?;
                // int2vector subscripts count from 0, arrays from 1
                return parse_expr(&format!("array_element({array}, ({index}) + 1)"));
            }
            let mut out = root.to_string();
            for a in access_chain {
                match a {
                    AccessExpr::Dot(Expr::Identifier(f)) => {
                        out = format!("get_field({out}, '{}')", f.value.replace('\'', "''"));
                    }
                    _ => return None,
                }
            }
            parse_expr(&out)
        }
        Expr::Function(f) => {
            let name = f.name.0.last()?.as_ident()?.value.to_ascii_lowercase();
            (name == "_pg_expandarray")
                .then(|| {
                    parse_expr("named_struct('x', CAST(NULL AS BIGINT), 'n', CAST(NULL AS BIGINT))")
                })
                .flatten()
        }
        _ => None,
    }
}

/// The `pg_type` columns that name a function (a `regproc` in PostgreSQL,
/// text in gridsql's catalog).
const PROC_COLUMNS: [&str; 4] = ["typinput", "typoutput", "typreceive", "typsend"];

/// `col = 'name'` for `col = '[pg_catalog.]name'::regproc` on a
/// [`PROC_COLUMNS`] column (either side), and `col != '-'` for `col != 0`
/// (the ADBC PostgreSQL driver lists types with a binary input so).
fn proc_by_name(e: &Expr) -> Option<Expr> {
    let Expr::BinaryOp { left, op, right } = e else {
        return None;
    };
    let name_of = |x: &Expr| -> Option<String> {
        // the oid 0 (no function) is written `-`, as PostgreSQL prints it
        if let Expr::Value(v) = x
            && matches!(&v.value, Value::Number(n, _) if n == "0")
        {
            return Some("-".to_string());
        }
        let Expr::Cast {
            expr, data_type, ..
        } = x
        else {
            return None;
        };
        if !data_type
            .to_string()
            .to_ascii_lowercase()
            .ends_with("regproc")
        {
            return None;
        }
        let Expr::Value(v) = expr.as_ref() else {
            return None;
        };
        let Value::SingleQuotedString(name) = &v.value else {
            return None;
        };
        Some(name.trim_start_matches("pg_catalog.").to_string())
    };
    let is_proc_column = |x: &Expr| column_name(x).is_some_and(|c| PROC_COLUMNS.contains(&c));
    let (column, name) = if is_proc_column(left) {
        (left, name_of(right)?)
    } else if is_proc_column(right) {
        (right, name_of(left)?)
    } else {
        return None;
    };
    Some(Expr::BinaryOp {
        left: column.clone(),
        op: op.clone(),
        right: Box::new(Expr::Value(Value::SingleQuotedString(name).into())),
    })
}

/// A correlated scalar subquery over `pg_catalog` with one plain column,
/// that column's `max`.
fn aggregated_lookup(e: &Expr) -> Option<Expr> {
    let Expr::Subquery(q) = e else { return None };
    if !is_correlated_catalog_query(q) {
        return None;
    }
    let SetExpr::Select(select) = q.body.as_ref() else {
        return None;
    };
    let [SelectItem::UnnamedExpr(column) | SelectItem::ExprWithAlias { expr: column, .. }] =
        select.projection.as_slice()
    else {
        return None;
    };
    let plain = matches!(select.group_by, GroupByExpr::Expressions(ref g, _) if g.is_empty())
        && !matches!(column, Expr::Function(_));
    if !plain {
        return None;
    }
    let mut q = q.clone();
    if let SetExpr::Select(select) = q.body.as_mut() {
        select.projection = vec![SelectItem::UnnamedExpr(parse_expr(&format!(
            "max({column})"
        ))?)];
    }
    Some(Expr::Subquery(q))
}

/// The last part of a (compound) identifier.
fn column_name(e: &Expr) -> Option<&str> {
    match e {
        Expr::Identifier(i) => Some(i.value.as_str()),
        Expr::CompoundIdentifier(parts) => parts.last().map(|i| i.value.as_str()),
        _ => None,
    }
}

fn parse_expr(sql: &str) -> Option<Expr> {
    Parser::new(&PostgreSqlDialect {})
        .try_with_sql(sql)
        .ok()?
        .parse_expr()
        .ok()
}

/// A catalog vector column held as text, as an array expression.
fn vector_array(column: &Expr) -> Option<String> {
    let name = column_name(column)?;
    let (_, sep) = VECTORS.iter().find(|(c, _)| c.eq_ignore_ascii_case(name))?;
    Some(format!(
        "CAST(string_to_array(btrim({column}, '{{}}'), {sep}) AS BIGINT[])"
    ))
}

/// `unnest(v)` / `generate_subscripts(v, 1)` of a catalog vector held as
/// text, as array expressions DataFusion plans.
fn vector_call(e: &Expr) -> Option<Expr> {
    let Expr::Function(f) = e else { return None };
    let name = f.name.0.last()?.as_ident()?.value.to_ascii_lowercase();
    let FunctionArguments::List(list) = &f.args else {
        return None;
    };
    let Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(arg))) = list.args.first() else {
        return None;
    };
    let array = vector_array(arg)?;
    match name.as_str() {
        "unnest" => parse_expr(&format!("unnest({array})")),
        "generate_subscripts" => {
            // the dimension argument stays (a client's bound parameter)
            let dim = match list.args.get(1) {
                Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(d))) => d.to_string(),
                _ => "1".to_string(),
            };
            parse_expr(&format!(
                "unnest(range(1, CAST(array_length({array}, {dim}) AS BIGINT) + 1))"
            ))
        }
        _ => None,
    }
}

/// A `CASE` whose branches or conditions hold a correlated scalar subquery
/// over `pg_catalog`, with each such subquery NULL.
fn case_without_subqueries(e: &Expr) -> Option<Expr> {
    let Expr::Case { .. } = e else { return None };
    let mut new = e.clone();
    let Expr::Case {
        conditions,
        else_result,
        ..
    } = &mut new
    else {
        return None;
    };
    let mut changed = false;
    let mut null_out = |x: &mut Expr| {
        let _ = visit_expressions_mut(x, |inner| {
            if let Expr::Subquery(q) = inner
                && is_correlated_catalog_query(q)
            {
                *inner = null_keeping_parameters(q);
                changed = true;
            }
            ControlFlow::<()>::Continue(())
        });
    };
    for w in conditions.iter_mut() {
        null_out(&mut w.condition);
        null_out(&mut w.result);
    }
    if let Some(x) = else_result.as_deref_mut() {
        null_out(x);
    }
    changed.then_some(new)
}

/// NULL, still naming the parameters `q` holds (`$2::VARCHAR IS NULL`):
/// the client binds every parameter it sent, and each must keep its type.
fn null_keeping_parameters(q: &Query) -> Expr {
    struct Parameters(Vec<String>);
    impl Visitor for Parameters {
        type Break = ();
        fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
            let is_parameter =
                |e: &Expr| matches!(e, Expr::Value(v) if matches!(v.value, Value::Placeholder(_)));
            match e {
                Expr::Cast { expr, .. } if is_parameter(expr) => self.0.push(e.to_string()),
                e if is_parameter(e) && !self.0.iter().any(|p| p.starts_with(&e.to_string())) => {
                    self.0.push(e.to_string())
                }
                _ => {}
            }
            ControlFlow::Continue(())
        }
    }
    let mut found = Parameters(Vec::new());
    let _ = q.visit(&mut found);
    if found.0.is_empty() {
        return Expr::Value(Value::Null.into());
    }
    let all_null: Vec<String> = found.0.iter().map(|p| format!("{p} IS NULL")).collect();
    parse_expr(&format!(
        "CASE WHEN {} THEN NULL END",
        all_null.join(" AND ")
    ))
    .unwrap_or(Expr::Value(Value::Null.into()))
}

/// Whether `q` reads only `pg_catalog` tables (and functions).
fn reads_only_catalog(q: &Query) -> bool {
    catalog_tables(q).is_some()
}

/// Whether `q` reads only `pg_catalog` tables and refers to a table it
/// does not read (a column of the outer query).
fn is_correlated_catalog_query(q: &Query) -> bool {
    let Some(names) = catalog_tables(q) else {
        return false;
    };
    if names.is_empty() {
        return false;
    }
    struct Outer<'a>(&'a [String], bool);
    impl Visitor for Outer<'_> {
        type Break = ();
        fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
            if let Expr::CompoundIdentifier(parts) = e
                && parts.len() >= 2
                && !self
                    .0
                    .contains(&parts[parts.len() - 2].value.to_ascii_lowercase())
            {
                self.1 = true;
            }
            ControlFlow::Continue(())
        }
    }
    let mut outer = Outer(&names, false);
    let _ = q.visit(&mut outer);
    outer.1
}

/// The names and aliases of the tables `q` reads, when all are
/// `pg_catalog`'s (a table function such as `pg_catalog.unnest(...)` too).
fn catalog_tables(q: &Query) -> Option<Vec<String>> {
    let SetExpr::Select(select) = q.body.as_ref() else {
        return None;
    };
    let mut names = Vec::new();
    let mut all_catalog = true;
    for t in &select.from {
        for factor in std::iter::once(&t.relation).chain(t.joins.iter().map(|j| &j.relation)) {
            let TableFactor::Table {
                name, alias, args, ..
            } = factor
            else {
                return None;
            };
            let parts: Vec<String> = name
                .0
                .iter()
                .filter_map(|p| p.as_ident().map(|i| i.value.to_ascii_lowercase()))
                .collect();
            let table = parts.last().cloned().unwrap_or_default();
            // a table function (`unnest(...)`) reads no table
            all_catalog &= args.is_some()
                || parts.first().map(String::as_str) == Some("pg_catalog")
                || (parts.len() == 1 && table.starts_with("pg_"));
            names.push(table);
            if let Some(a) = alias {
                names.push(a.name.value.to_ascii_lowercase());
            }
        }
    }
    all_catalog.then_some(names)
}

/// `information_schema.columns` with PostgreSQL's type names in
/// `data_type` (DataFusion writes Arrow's), column for column.
const COLUMNS_WITH_PG_TYPES: &str = "SELECT table_catalog, table_schema, table_name, column_name, \
    ordinal_position, column_default, is_nullable, \
    CASE \
      WHEN data_type = 'Float32' OR data_type = 'Float16' THEN 'real' \
      WHEN data_type = 'Float64' THEN 'double precision' \
      WHEN data_type IN ('Int8', 'Int16', 'UInt8') THEN 'smallint' \
      WHEN data_type IN ('Int32', 'UInt16') THEN 'integer' \
      WHEN data_type IN ('Int64', 'UInt32', 'UInt64') THEN 'bigint' \
      WHEN data_type = 'Boolean' THEN 'boolean' \
      WHEN data_type IN ('Utf8', 'LargeUtf8', 'Utf8View') THEN 'text' \
      WHEN data_type IN ('Date32', 'Date64') THEN 'date' \
      WHEN data_type LIKE 'Timestamp(%,%' THEN 'timestamp with time zone' \
      WHEN data_type LIKE 'Timestamp(%' THEN 'timestamp without time zone' \
      WHEN data_type LIKE 'Decimal%' THEN 'numeric' \
      WHEN data_type LIKE 'Interval%' THEN 'interval' \
      WHEN data_type LIKE '%List(%' THEN 'ARRAY' \
      WHEN data_type LIKE '%Binary%' THEN 'bytea' \
      ELSE 'text' END AS data_type, \
    character_maximum_length, character_octet_length, numeric_precision, \
    numeric_precision_radix, numeric_scale, datetime_precision, interval_type \
    FROM information_schema.columns";

/// `pg_catalog.pg_settings` with the settings JDBC drivers read.
const SETTINGS_FOR_DRIVERS: &str = "SELECT * FROM pg_catalog.pg_settings UNION ALL \
    SELECT name, setting, CAST(NULL AS TEXT) AS unit, CAST(NULL AS TEXT) AS category, \
    CAST(NULL AS TEXT) AS short_desc, CAST(NULL AS TEXT) AS extra_desc, 'internal' AS context, \
    vartype, 'default' AS source, CAST(NULL AS TEXT) AS min_val, CAST(NULL AS TEXT) AS max_val, \
    CAST(NULL AS TEXT) AS enumvals, CAST(NULL AS TEXT) AS bool_val, setting AS reset_val, \
    CAST(NULL AS TEXT) AS sourcefile, CAST(NULL AS INT) AS sourceline, false AS pending_restart \
    FROM (VALUES ('max_index_keys', '32', 'integer'), ('max_identifier_length', '63', 'integer'), \
    ('server_version', '16.6', 'string'), ('server_version_num', '160006', 'integer'), \
    ('server_encoding', 'UTF8', 'string'), ('client_encoding', 'UTF8', 'string'), \
    ('integer_datetimes', 'on', 'bool'), ('TimeZone', 'UTC', 'string')) AS s(name, setting, vartype)";

/// Catalog tables answered by a query of gridsql's: schema, table, query.
const REPLACED_TABLES: [(&str, &str, &str); 2] = [
    ("information_schema", "columns", COLUMNS_WITH_PG_TYPES),
    ("pg_catalog", "pg_settings", SETTINGS_FOR_DRIVERS),
];

/// Replaces the tables of [`REPLACED_TABLES`] by their queries (after its
/// children are visited, so a replacement is not visited again).
struct ReplaceTables(bool);

impl VisitorMut for ReplaceTables {
    type Break = ();

    fn post_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        let TableFactor::Table { name, alias, .. } = factor else {
            return ControlFlow::Continue(());
        };
        let parts: Vec<String> = name
            .0
            .iter()
            .filter_map(|p| p.as_ident().map(|i| i.value.to_ascii_lowercase()))
            .collect();
        // `pg_settings` alone is `pg_catalog`'s, as in PostgreSQL
        let (schema, table) = match parts.as_slice() {
            [.., schema, table] => (schema.as_str(), table.as_str()),
            [table] => ("pg_catalog", table.as_str()),
            [] => return ControlFlow::Continue(()),
        };
        let Some((replacement, default_alias)) = REPLACED_TABLES
            .iter()
            .find(|(s, t, ..)| schema == *s && table == *t)
            .map(|(_, t, sql)| (*sql, *t))
        else {
            return ControlFlow::Continue(());
        };
        let Ok(subquery) = Parser::new(&PostgreSqlDialect {})
            .try_with_sql(replacement)
            .and_then(|mut p| p.parse_query())
        else {
            return ControlFlow::Continue(());
        };
        let alias = alias.clone().unwrap_or(TableAlias {
            explicit: true,
            name: Ident::new(default_alias),
            columns: vec![],
            at: None,
        });
        *factor = TableFactor::Derived {
            lateral: false,
            subquery,
            alias: Some(alias),
            sample: None,
        };
        self.0 = true;
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rewritten SQL, `None` when no rewrite applies.
    fn rewrite(sql: &str) -> Option<String> {
        let p = parse(sql).ok()?;
        (p.sql != sql).then_some(p.sql)
    }

    #[test]
    fn information_schema_columns_has_postgres_type_names() {
        let out = rewrite(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 't'",
        )
        .expect("rewritten");
        assert!(out.contains("'double precision'"), "{out}");
        assert!(out.contains("AS columns"), "{out}");
    }

    #[test]
    fn catalog_vectors_become_arrays() {
        let sql = "SELECT unnest(pg_catalog.pg_index.indkey) AS attnum, \
                   generate_subscripts(pg_catalog.pg_index.indkey, 1) AS ord FROM pg_catalog.pg_index";
        let out = rewrite(sql).expect("rewritten");
        assert!(out.contains("string_to_array"), "{out}");
        assert!(!out.contains("generate_subscripts"), "{out}");
    }

    #[test]
    fn correlated_catalog_subqueries_in_case_are_null() {
        let sql = "SELECT a.attname, CASE WHEN a.atthasdef THEN (SELECT pg_get_expr(d.adbin, d.adrelid) \
                   FROM pg_catalog.pg_attrdef d WHERE d.adrelid = a.attrelid) ELSE NULL END AS def \
                   FROM pg_catalog.pg_attribute a";
        let out = rewrite(sql).expect("rewritten");
        assert!(!out.contains("pg_attrdef"), "{out}");
        // an uncorrelated subquery, or one over user tables, stays
        for kept in [
            "SELECT CASE WHEN true THEN (SELECT count(*) FROM pg_catalog.pg_class) END",
            "SELECT CASE WHEN true THEN (SELECT max(x) FROM t WHERE t.y = s.y) END FROM s",
            "SELECT avg(sla) FROM t",
        ] {
            assert_eq!(rewrite(kept), None, "{kept}");
        }
    }
}
