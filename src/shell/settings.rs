//! The settings of the gridsql process that the shell changes with `SET`:
//! `SET gridsql.io_concurrency = N` (requests in flight to remote stores,
//! the `--io-concurrency` of a running shell). The I/O budget belongs to the
//! process, and the shell is one session, so its `SET` is the process's;
//! the servers refuse it to remote clients (their operator sets it).

use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{Expr, Set, Statement, Value};
use gridsql_connectors::io::budget;

/// The name of the setting.
const IO_CONCURRENCY: &str = "gridsql.io_concurrency";

/// Applies `stmt` when it sets a gridsql setting: `Some(Ok(()))` when
/// applied, `Some(Err)` for a bad value or an unknown `gridsql.` name,
/// `None` for any other statement.
pub(crate) fn apply(stmt: &DfStatement) -> Option<anyhow::Result<()>> {
    let DfStatement::Statement(s) = stmt else {
        return None;
    };
    let Statement::Set(Set::SingleAssignment {
        variable, values, ..
    }) = s.as_ref()
    else {
        return None;
    };
    let name = variable.to_string().to_ascii_lowercase();
    if !name.starts_with("gridsql.") {
        return None;
    }
    if name != IO_CONCURRENCY {
        return Some(Err(anyhow::anyhow!(
            "unknown setting '{name}'; gridsql's settings: {IO_CONCURRENCY}"
        )));
    }
    let n = match values.as_slice() {
        [Expr::Value(v)] => match &v.value {
            Value::Number(n, _) => n.parse::<usize>().ok(),
            Value::SingleQuotedString(s) => s.trim().parse::<usize>().ok(),
            _ => None,
        },
        _ => None,
    }
    .filter(|n| (1..=65536).contains(n));
    Some(match n {
        Some(n) => {
            let mut s = budget::settings();
            s.requests = n;
            budget::configure(s);
            Ok(())
        }
        None => Err(anyhow::anyhow!(
            "{IO_CONCURRENCY} takes a whole number of requests from 1 to 65536, e.g. SET {IO_CONCURRENCY} = 16"
        )),
    })
}
