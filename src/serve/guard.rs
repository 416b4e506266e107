//! What a remote client may run: queries, `EXPLAIN`, `SHOW`, `DESCRIBE`,
//! transaction no-ops, `COPY ... TO STDOUT` and harmless `SET`s; DDL, DML, `COPY` and `SET` of
//! engine settings (`datafusion.*`, which could lift the memory limit) only
//! when the operator allows DDL.
//!
//! The check runs on the parsed statement before planning, so a refused
//! statement neither plans nor touches a dataset. The session's
//! `SQLOptions` repeat the DDL/DML part as a second line of defence.

use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{CopyTarget, DescribeAlias, Statement};

/// What a statement is, as far as the guard cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Reads only (queries, EXPLAIN, SHOW, transactions).
    Read,
    /// `DESCRIBE t`: answered with units and long names.
    Describe(String),
    /// `SET ...`, with the statement text.
    Set(String),
    /// Changes the catalog or data; the text names what.
    Write(String),
}

/// The kind of a DataFusion-parsed statement.
pub(crate) fn classify_df(stmt: &DfStatement) -> Kind {
    match stmt {
        DfStatement::Statement(s) => classify(s),
        DfStatement::CreateExternalTable(c) => {
            Kind::Write(format!("CREATE EXTERNAL TABLE {}", c.name))
        }
        DfStatement::CopyTo(_) => Kind::Write("COPY".into()),
        DfStatement::Explain(e) => match classify_df(&e.statement) {
            Kind::Read | Kind::Describe(_) => Kind::Read,
            other => other,
        },
        DfStatement::Reset(_) => Kind::Set("RESET".into()),
    }
}

/// The kind of a sqlparser statement.
pub(crate) fn classify(stmt: &Statement) -> Kind {
    match stmt {
        Statement::Query(_)
        | Statement::ShowTables { .. }
        | Statement::ShowColumns { .. }
        | Statement::ShowVariable { .. }
        | Statement::ShowVariables { .. }
        | Statement::ShowFunctions { .. }
        | Statement::StartTransaction { .. }
        | Statement::Commit { .. }
        | Statement::Rollback { .. }
        | Statement::Savepoint { .. }
        | Statement::ReleaseSavepoint { .. }
        | Statement::Declare { .. }
        | Statement::Fetch { .. }
        | Statement::Close { .. }
        | Statement::Discard { .. }
        | Statement::Deallocate { .. } => Kind::Read,
        Statement::ExplainTable {
            describe_alias: DescribeAlias::Describe | DescribeAlias::Desc,
            table_name,
            ..
        } => Kind::Describe(table_name.to_string()),
        Statement::ExplainTable { .. } => Kind::Read,
        Statement::Explain { statement, .. } => match classify(statement) {
            Kind::Read | Kind::Describe(_) => Kind::Read,
            other => other,
        },
        // writes nothing on the server: rows go to the client
        Statement::Copy {
            to: true,
            target: CopyTarget::Stdout,
            ..
        } => Kind::Read,
        Statement::Set(_) => Kind::Set(stmt.to_string()),
        other => Kind::Write(first_words(&other.to_string())),
    }
}

/// Refuses what a remote client may not run.
///
/// # Errors
/// A one-line reason naming the statement and the operator flag.
pub(crate) fn check(kind: &Kind, allow_ddl: bool) -> Result<(), String> {
    match kind {
        Kind::Read | Kind::Describe(_) => Ok(()),
        // the I/O budget belongs to the server process, set by its operator
        Kind::Set(text) if text.to_ascii_lowercase().contains("gridsql.") => Err(format!(
            "'{text}' is refused: gridsql's settings belong to the server process (its \
             operator sets them, e.g. --io-concurrency)"
        )),
        Kind::Set(text) if allow_ddl || !text.to_ascii_lowercase().contains("datafusion.") => {
            Ok(())
        }
        Kind::Set(text) => Err(format!(
            "'{text}' is refused: this server does not let clients change engine settings \
             (the operator can allow it with --allow-ddl)"
        )),
        Kind::Write(_) if allow_ddl => Ok(()),
        Kind::Write(what) => Err(format!(
            "{what}: this server is read-only; DDL and DML are refused (the operator can \
             allow them with --allow-ddl)"
        )),
    }
}

/// The first words of a statement (its verb and object), for messages.
fn first_words(sql: &str) -> String {
    sql.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use datafusion::sql::parser::DFParser;
    use datafusion::sql::sqlparser::dialect::GenericDialect;

    use super::*;

    fn kind(sql: &str) -> Kind {
        let mut stmts = DFParser::parse_sql_with_dialect(sql, &GenericDialect {}).unwrap();
        classify_df(&stmts.pop_front().unwrap())
    }

    #[test]
    fn kinds() {
        assert_eq!(kind("SELECT 1"), Kind::Read);
        assert_eq!(kind("EXPLAIN SELECT 1"), Kind::Read);
        assert_eq!(kind("SHOW TABLES"), Kind::Read);
        assert_eq!(kind("DESCRIBE adt"), Kind::Describe("adt".into()));
        assert_eq!(kind("SAVEPOINT a"), Kind::Read);
        assert_eq!(kind("RELEASE SAVEPOINT a"), Kind::Read);
        assert!(matches!(kind("CREATE TABLE x AS SELECT 1"), Kind::Write(_)));
        assert!(matches!(kind("DROP TABLE adt"), Kind::Write(_)));
        assert!(matches!(kind("INSERT INTO adt VALUES (1)"), Kind::Write(_)));
        assert!(matches!(
            kind("CREATE EXTERNAL TABLE x STORED AS ZARR LOCATION '/x.zarr'"),
            Kind::Write(_)
        ));
        assert!(matches!(kind("COPY adt TO '/tmp/x.csv'"), Kind::Write(_)));
        // as the PostgreSQL server parses it
        let pg = datafusion::sql::sqlparser::parser::Parser::parse_sql(
            &datafusion::sql::sqlparser::dialect::PostgreSqlDialect {},
            "COPY (SELECT 1) TO STDOUT (FORMAT csv)",
        )
        .unwrap();
        assert_eq!(classify(&pg[0]), Kind::Read);
        assert!(matches!(
            kind("EXPLAIN CREATE TABLE x AS SELECT 1"),
            Kind::Write(_)
        ));
    }

    #[test]
    fn checks() {
        assert!(check(&Kind::Read, false).is_ok());
        let e = check(&kind("DROP TABLE adt"), false).unwrap_err();
        assert!(e.contains("read-only") && e.contains("--allow-ddl"), "{e}");
        assert!(check(&kind("DROP TABLE adt"), true).is_ok());
        assert!(check(&kind("SET extra_float_digits = 3"), false).is_ok());
        assert!(check(&kind("SET datafusion.runtime.memory_limit = '100G'"), false).is_err());
        assert!(check(&kind("SET gridsql.io_concurrency = 1000"), true).is_err());
    }
}
