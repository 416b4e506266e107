//! `COPY (query) TO STDOUT` and `COPY table TO STDOUT`, in the text, CSV and
//! binary formats: psql's `\copy (...) TO file` sends it, and Polars and
//! connectorx read whole results this way (`FORMAT binary`). It writes
//! nothing on the server, so a read-only server allows it; the query runs
//! under the same guard and limits as any other, and rows are sent as the
//! plan produces them.

use std::sync::Arc;

use arrow_pg::datatypes::arrow_schema_to_pg_fields;
use arrow_pg::encoder::{Encoder as _, encode_value};
use datafusion::arrow::array::RecordBatch;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{
    CopyLegacyCsvOption, CopyLegacyOption, CopyOption, CopySource, CopyTarget, Statement,
};
use datafusion_postgres::arrow_pg;
use futures::{StreamExt, TryStreamExt};
use pgwire::api::portal::Format;
use pgwire::api::results::{CopyCsvOptions, CopyEncoder, CopyResponse, CopyTextOptions, Response};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::copy::CopyData;
use pgwire::types::format::FormatOptions;
use prost::bytes::Bytes;

/// The format of a `COPY ... TO STDOUT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CopyFormat {
    /// Tab-separated, `\N` for NULL.
    Text,
    /// CSV, optionally with a header line.
    Csv {
        /// First line: the column names.
        header: bool,
    },
    /// PostgreSQL's binary `PGCOPY` format.
    Binary,
}

/// A `COPY ... TO STDOUT` to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CopyOut {
    /// The query whose rows are sent.
    pub(crate) sql: String,
    /// Their format.
    pub(crate) format: CopyFormat,
    /// `DELIMITER`, when given.
    delimiter: Option<char>,
    /// `NULL`, when given.
    null: Option<String>,
}

/// The `COPY ... TO STDOUT` a statement is, if it is one; an error for
/// options gridsql does not support.
pub(crate) fn copy_out(stmt: &Statement) -> Option<Result<CopyOut, String>> {
    let Statement::Copy {
        source,
        to: true,
        target: CopyTarget::Stdout,
        options,
        legacy_options,
        ..
    } = stmt
    else {
        return None;
    };
    let sql = match source {
        CopySource::Query(q) => q.to_string(),
        CopySource::Table {
            table_name,
            columns,
        } if columns.is_empty() => format!("SELECT * FROM {table_name}"),
        CopySource::Table {
            table_name,
            columns,
        } => {
            let cols: Vec<String> = columns.iter().map(ToString::to_string).collect();
            format!("SELECT {} FROM {table_name}", cols.join(", "))
        }
    };
    let mut copy = CopyOut {
        sql,
        format: CopyFormat::Text,
        delimiter: None,
        null: None,
    };
    let mut header = false;
    for o in options {
        match o {
            CopyOption::Format(f) => {
                copy.format = match f.value.to_ascii_lowercase().as_str() {
                    "text" => CopyFormat::Text,
                    "csv" => CopyFormat::Csv { header: false },
                    "binary" => CopyFormat::Binary,
                    other => return Some(Err(format!("COPY format '{other}' is not supported"))),
                }
            }
            CopyOption::Header(h) => header = *h,
            CopyOption::Delimiter(d) => copy.delimiter = Some(*d),
            CopyOption::Null(n) => copy.null = Some(n.clone()),
            CopyOption::Encoding(e)
                if e.eq_ignore_ascii_case("utf8") || e.eq_ignore_ascii_case("utf-8") => {}
            other => return Some(Err(format!("COPY option {other} is not supported"))),
        }
    }
    // PostgreSQL's older spelling, `WITH BINARY` / `WITH CSV HEADER`, which
    // connectorx (Polars' default engine) sends
    for o in legacy_options {
        match o {
            CopyLegacyOption::Binary => copy.format = CopyFormat::Binary,
            CopyLegacyOption::Csv(csv) => {
                copy.format = CopyFormat::Csv { header: false };
                for c in csv {
                    match c {
                        CopyLegacyCsvOption::Header => header = true,
                        other => {
                            return Some(Err(format!("COPY option {other} is not supported")));
                        }
                    }
                }
            }
            CopyLegacyOption::Delimiter(d) => copy.delimiter = Some(*d),
            CopyLegacyOption::Null(n) => copy.null = Some(n.clone()),
            other => return Some(Err(format!("COPY option {other} is not supported"))),
        }
    }
    if let CopyFormat::Csv { header: h } = &mut copy.format {
        *h = header;
    }
    Some(Ok(copy))
}

fn pg_error(e: impl std::fmt::Display) -> PgWireError {
    PgWireError::ApiError(e.to_string().into())
}

/// Runs the copy's query and answers its rows as COPY data, batch by batch
/// as the plan produces them.
///
/// # Errors
/// A query that does not plan.
pub(crate) async fn run(
    ctx: &SessionContext,
    copy: CopyOut,
) -> datafusion::error::Result<Response> {
    let df = ctx.sql(&copy.sql).await?;
    let schema = Arc::new(df.schema().as_arrow().clone());
    let binary = copy.format == CopyFormat::Binary;
    let format = if binary {
        Format::UnifiedBinary
    } else {
        Format::UnifiedText
    };
    let fields = Arc::new(
        arrow_schema_to_pg_fields(&schema, &format, Some(Arc::new(FormatOptions::default())))
            .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?,
    );
    let columns = fields.len();
    let header = match &copy.format {
        CopyFormat::Csv { header: true } => {
            let sep = copy.delimiter.unwrap_or(',').to_string();
            let names: Vec<String> = fields.iter().map(|f| csv_quote(f.name())).collect();
            Some(format!("{}\n", names.join(&sep)))
        }
        _ => None,
    };
    // The header line travels with the first row, so the command tag
    // (`COPY n`, counted in messages) counts rows as PostgreSQL does.
    let pending = Arc::new(std::sync::Mutex::new(header));
    let first = Arc::clone(&pending);
    let pg_fields = Arc::clone(&fields);
    let mut enc = match &copy.format {
        CopyFormat::Binary => CopyEncoder::new_binary(Arc::clone(&fields)),
        CopyFormat::Text => CopyEncoder::new_text(
            Arc::clone(&fields),
            CopyTextOptions {
                delimiter: copy.delimiter.unwrap_or('\t').to_string().into(),
                null_string: copy.null.clone().unwrap_or_else(|| "\\N".into()).into(),
            },
        ),
        CopyFormat::Csv { .. } => CopyEncoder::new_csv(
            Arc::clone(&fields),
            CopyCsvOptions {
                delimiter: copy.delimiter.unwrap_or(',').to_string().into(),
                null_string: copy.null.clone().unwrap_or_default().into(),
                ..CopyCsvOptions::default()
            },
        ),
    };
    let batches = df.execute_stream().await?;
    let rows = batches
        .map_err(pg_error)
        .map(move |batch| -> PgWireResult<Vec<PgWireResult<CopyData>>> {
            let batch: RecordBatch = batch?;
            let mut out = Vec::with_capacity(batch.num_rows());
            let arrow_fields = batch.schema_ref().fields();
            // the header, if still unsent, goes with this batch's first row
            let mut header = if batch.num_rows() > 0 {
                first.lock().ok().and_then(|mut h| h.take())
            } else {
                None
            };
            for row in 0..batch.num_rows() {
                for (c, arr) in batch.columns().iter().enumerate() {
                    encode_value(&mut enc, arr, row, &arrow_fields[c], &pg_fields[c])?;
                }
                let data = enc.take_row();
                out.push(Ok(match header.take() {
                    Some(h) => CopyData::new(Bytes::from([h.as_bytes(), &data.data].concat())),
                    None => data,
                }));
            }
            Ok(out)
        })
        .map_ok(futures::stream::iter)
        .try_flatten();
    // no rows: the header alone, at the end
    let rest = futures::stream::once(async move {
        pending
            .lock()
            .ok()
            .and_then(|mut h| h.take())
            .map(|h| Ok(CopyData::new(Bytes::from(h))))
    })
    .filter_map(futures::future::ready);
    let stream = rows.chain(rest);
    Ok(Response::CopyOut(CopyResponse::new(
        i8::from(binary),
        columns,
        stream,
    )))
}

/// A CSV header cell: quoted when it holds a delimiter, quote or newline.
fn csv_quote(name: &str) -> String {
    if name.contains([',', '"', '\n', '\r', '\t']) {
        format!("\"{}\"", name.replace('"', "\"\""))
    } else {
        name.to_string()
    }
}

#[cfg(test)]
mod tests {
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    use super::*;

    fn parse(sql: &str) -> Option<Result<CopyOut, String>> {
        let stmts = Parser::parse_sql(&PostgreSqlDialect {}, sql).expect("parses");
        copy_out(&stmts[0])
    }

    #[test]
    fn copies_to_stdout_are_recognised() {
        let c = parse("COPY (SELECT 1 AS a) TO STDOUT WITH (FORMAT csv, HEADER)")
            .expect("a copy")
            .expect("supported");
        assert_eq!(c.format, CopyFormat::Csv { header: true });
        assert_eq!(c.sql, "SELECT 1 AS a");
        let c = parse("COPY t (a, b) TO STDOUT (FORMAT binary)")
            .expect("a copy")
            .expect("ok");
        assert_eq!(
            (c.sql.as_str(), c.format),
            ("SELECT a, b FROM t", CopyFormat::Binary)
        );
        assert!(parse("COPY t TO '/tmp/x'").is_none());
        assert!(parse("COPY t FROM STDIN").is_none());
        assert!(parse("SELECT 1").is_none());
        assert!(
            parse("COPY t TO STDOUT (FORMAT parquet)")
                .expect("a copy")
                .is_err()
        );
        assert_eq!(csv_quote("a,b"), "\"a,b\"");
    }
}
