//! `DESCRIBE t` for grid tables: each column's role, type, units, long name,
//! stored type and chunking, from the schema's field metadata.

use std::sync::Arc;

use arrow::array::{RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::error::Result;
use datafusion::prelude::SessionContext;
use gridsql_connectors::grid::model::meta;

/// One row per column of table `name`.
///
/// # Errors
/// Unknown table.
pub async fn describe_table(ctx: &SessionContext, name: &str) -> Result<RecordBatch> {
    let table = ctx.table_provider(name).await?;
    let schema = table.schema();
    let cols = [
        "column_name",
        "data_type",
        "role",
        "units",
        "long_name",
        "dtype",
        "chunks",
    ];
    let mut values: Vec<Vec<Option<String>>> = vec![Vec::new(); cols.len()];
    for f in schema.fields() {
        let md = f.metadata();
        let get = |k: &str| md.get(k).cloned();
        values[0].push(Some(f.name().clone()));
        values[1].push(Some(f.data_type().to_string()));
        values[2].push(get(meta::ROLE));
        values[3].push(get(meta::UNITS));
        values[4].push(get(meta::LONG_NAME));
        values[5].push(get(meta::DTYPE));
        values[6].push(get(meta::CHUNKS));
    }
    let out_schema = Arc::new(Schema::new(
        cols.iter()
            .map(|c| Field::new(*c, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ));
    let arrays = values
        .into_iter()
        .map(|v| Arc::new(StringArray::from(v)) as _)
        .collect();
    Ok(RecordBatch::try_new(out_schema, arrays)?)
}
