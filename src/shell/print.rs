//! Rendering results: an aligned table, CSV (one header per result set),
//! a JSON array per result set, or one JSON object per line. Machine formats
//! print only rows; timestamps are ISO 8601.

use std::io::Write;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::util::pretty::pretty_format_batches;

use crate::shell::OutputFormat;

/// Most rows the interactive table view shows.
const MAX_TABLE_ROWS: usize = 100;

/// Prints one result set.
pub(crate) struct Printer {
    format: OutputFormat,
    interactive: bool,
    schema: Option<SchemaRef>,
    rows: usize,
    table: Vec<RecordBatch>,
    shown: usize,
    first_json: bool,
}

impl Printer {
    pub(crate) fn new(format: OutputFormat, interactive: bool) -> Self {
        Printer {
            format,
            interactive,
            schema: None,
            rows: 0,
            table: vec![],
            shown: 0,
            first_json: true,
        }
    }

    /// Starts a result set with `schema`.
    pub(crate) fn begin(&mut self, schema: SchemaRef) {
        self.schema = Some(schema);
    }

    fn has_columns(&self) -> bool {
        self.schema.as_ref().is_some_and(|s| !s.fields().is_empty())
    }

    /// Prints (or buffers, for the table view) one batch.
    pub(crate) fn batch(&mut self, batch: &RecordBatch) -> anyhow::Result<()> {
        if batch.num_columns() == 0 {
            return Ok(());
        }
        self.rows += batch.num_rows();
        let mut out = std::io::stdout().lock();
        match self.format {
            OutputFormat::Table => {
                let room = if self.interactive {
                    MAX_TABLE_ROWS.saturating_sub(self.shown)
                } else {
                    usize::MAX
                };
                let n = batch.num_rows().min(room);
                if n > 0 {
                    self.table.push(batch.slice(0, n));
                    self.shown += n;
                }
            }
            OutputFormat::Csv => {
                let header = self.rows == batch.num_rows();
                let mut w = arrow::csv::WriterBuilder::new()
                    .with_header(header)
                    .build(&mut out);
                w.write(batch)?;
            }
            OutputFormat::Json => {
                if batch.num_rows() == 0 {
                    return Ok(());
                }
                let mut buf = Vec::new();
                {
                    let mut w = arrow::json::WriterBuilder::new()
                        .with_explicit_nulls(true)
                        .build::<_, arrow::json::writer::JsonArray>(&mut buf);
                    w.write(batch)?;
                    w.finish()?;
                }
                // splice arrays of consecutive batches into one array
                let text = String::from_utf8_lossy(&buf);
                let inner = text.trim().trim_start_matches('[').trim_end_matches(']');
                if self.first_json {
                    write!(out, "[{inner}")?;
                    self.first_json = false;
                } else {
                    write!(out, ",{inner}")?;
                }
            }
            OutputFormat::Ndjson => {
                let mut w = arrow::json::WriterBuilder::new()
                    .with_explicit_nulls(true)
                    .build::<_, arrow::json::writer::LineDelimited>(&mut out);
                w.write(batch)?;
                w.finish()?;
            }
        }
        Ok(())
    }

    /// Ends the result set; returns the row count for statements that have columns.
    pub(crate) fn finish(self) -> anyhow::Result<Option<usize>> {
        let mut out = std::io::stdout().lock();
        if !self.has_columns() {
            return Ok(None);
        }
        match self.format {
            OutputFormat::Table => {
                if self.table.is_empty() {
                    if let Some(s) = &self.schema {
                        writeln!(
                            out,
                            "{}",
                            pretty_format_batches(&[RecordBatch::new_empty(Arc::clone(s))])?
                        )?;
                    }
                } else {
                    writeln!(out, "{}", pretty_format_batches(&self.table)?)?;
                }
                if self.shown < self.rows {
                    writeln!(out, "({} rows shown of {})", self.shown, self.rows)?;
                }
            }
            OutputFormat::Csv => {
                if self.rows == 0
                    && let Some(s) = &self.schema
                {
                    let names: Vec<&str> = s.fields().iter().map(|f| f.name().as_str()).collect();
                    writeln!(out, "{}", names.join(","))?;
                }
            }
            OutputFormat::Json => {
                if self.first_json {
                    writeln!(out, "[]")?;
                } else {
                    writeln!(out, "]")?;
                }
            }
            OutputFormat::Ndjson => {}
        }
        out.flush()?;
        Ok(Some(self.rows))
    }
}
