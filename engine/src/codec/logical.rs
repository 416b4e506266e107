//! The logical codec: grid table providers from the client to the scheduler.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use ballista_core::serde::BallistaLogicalExtensionCodec;
use datafusion::catalog::TableProvider;
use datafusion::common::GetExt;
use datafusion::common::TableReference;
use datafusion::datasource::file_format::FileFormatFactory;

/// The prefix of an encoded grid format (`COPY ... STORED AS ZARR`).
const GRID_FORMAT: &str = "gridsql-grid-format:";
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{AggregateUDF, Extension, LogicalPlan, ScalarUDF, WindowUDF};
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use gridsql_connectors::GridTableProvider;
use gridsql_connectors::table_cache::open_cached;

use super::wire::{self, TableNode};

/// Ballista's logical codec plus gridsql's table providers.
#[derive(Debug, Default)]
pub struct GridLogicalCodec {
    inner: BallistaLogicalExtensionCodec,
}

/// A relative local path made absolute against this process's working
/// directory, since the scheduler and executors run elsewhere; URLs and
/// absolute paths unchanged.
fn absolute_local(location: &str) -> String {
    if location.contains("://") || std::path::Path::new(location).is_absolute() {
        return location.to_string();
    }
    std::path::absolute(location)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| location.to_string())
}

impl LogicalExtensionCodec for GridLogicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> Result<Extension> {
        self.inner.try_decode(buf, inputs, ctx)
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        let Some(node) = wire::decode::<TableNode>(buf) else {
            return self
                .inner
                .try_decode_table_provider(buf, table_ref, schema, ctx);
        };
        let node = node?;
        let table = open_cached(&node.spec, &ctx.runtime_env())
            .map_err(|e| e.context(format!("table {table_ref} ('{}')", node.spec.location)))?;
        if table.schema.fields() != schema.fields() {
            return Err(DataFusionError::Plan(format!(
                "table {table_ref} ('{}') has changed since the query was planned: its columns differ",
                node.spec.location
            )));
        }
        Ok(Arc::new(GridTableProvider::new(table)))
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        match node.downcast_ref::<GridTableProvider>() {
            Some(p) => {
                let mut spec = p.spec().clone();
                spec.location = absolute_local(&spec.location);
                wire::encode(&TableNode { spec }, buf)
            }
            None => self.inner.try_encode_table_provider(table_ref, node, buf),
        }
    }

    /// The grid formats of `COPY ... STORED AS ZARR | NETCDF` travel by
    /// name (their options travel in the COPY itself); Ballista's codecs
    /// would take them for one of theirs.
    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> Result<Arc<dyn FileFormatFactory>> {
        let Some(rest) = buf.strip_prefix(GRID_FORMAT.as_bytes()) else {
            return self.inner.try_decode_file_format(buf, ctx);
        };
        let (name, options): (String, HashMap<String, String>) = serde_json::from_slice(rest)
            .map_err(|e| DataFusionError::Internal(format!("grid format on the wire: {e}")))?;
        crate::copy_to::GridFormatFactory::named(&name, options)
            .ok_or_else(|| DataFusionError::Internal(format!("no grid format '{name}'")))
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn FileFormatFactory>,
    ) -> Result<()> {
        let any: &dyn std::any::Any = node.as_ref();
        match any.downcast_ref::<crate::copy_to::GridFormatFactory>() {
            Some(ours) => {
                buf.extend_from_slice(GRID_FORMAT.as_bytes());
                serde_json::to_writer(&mut *buf, &(ours.get_ext(), ours.options()))
                    .map_err(|e| DataFusionError::Internal(e.to_string()))
            }
            None => self.inner.try_encode_file_format(buf, node),
        }
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        self.inner.try_decode_udf(name, buf)
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode_udf(node, buf)
    }

    fn try_decode_udaf(&self, name: &str, buf: &[u8]) -> Result<Arc<AggregateUDF>> {
        self.inner.try_decode_udaf(name, buf)
    }

    fn try_encode_udaf(&self, node: &AggregateUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode_udaf(node, buf)
    }

    fn try_decode_udwf(&self, name: &str, buf: &[u8]) -> Result<Arc<WindowUDF>> {
        self.inner.try_decode_udwf(name, buf)
    }

    fn try_encode_udwf(&self, node: &WindowUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode_udwf(node, buf)
    }
}
