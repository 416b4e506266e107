//! The Arrow Flight SQL server.
//!
//! Built on datafusion-flight-sql-server's ticket and prepared-statement
//! handle formats and its catalog calls, and extended where it falls short
//! for a remote, shared server:
//! - handshake: HTTP Basic user/password → bearer token (the library
//!   refuses handshakes); every later call must carry the token (or Basic);
//! - statements go through the guard (read-only, allowed roots) and run
//!   under the query limits (slot, deadline, own memory pool); results are
//!   streamed batch by batch while the plan runs, and a client that cancels
//!   or disconnects drops the stream, which stops the plan and frees its slot;
//! - `DESCRIBE t` answers with units and long names as the shell does;
//! - GetDbSchemas/GetTables answer without a catalog filter (the library
//!   returns nothing then, which empties ADBC's `get_objects`), with table
//!   types spelled `TABLE`/`VIEW` as JDBC and ADBC tools filter on them
//!   (GetTableTypes too), and GetSqlInfo is answered.

use std::pin::Pin;
use std::sync::Arc;

use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::sql::metadata::{SqlInfoData, SqlInfoDataBuilder};
use arrow_flight::sql::server::{FlightSqlService, PeekableFlightDataStream};
use arrow_flight::sql::{
    self, ActionClosePreparedStatementRequest, ActionCreatePreparedStatementRequest,
    ActionCreatePreparedStatementResult, Any, CommandGetCatalogs, CommandGetDbSchemas,
    CommandGetSqlInfo, CommandGetTableTypes, CommandGetTables, CommandPreparedStatementQuery,
    CommandStatementQuery, DoPutPreparedStatementResult, ProstMessageExt, SqlInfo,
};
use arrow_flight::{
    Action, FlightDescriptor, FlightEndpoint, FlightInfo, HandshakeRequest, HandshakeResponse,
    IpcMessage, SchemaAsIpc, Ticket,
};
use base64::Engine as _;
use datafusion::arrow::array::{RecordBatch, StringArray};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaBuilder, SchemaRef};
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::IpcWriteOptions;
use datafusion::common::ParamValues;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;
use datafusion_flight_sql_server::service::FlightSqlService as LibraryService;
use datafusion_flight_sql_server::session::SessionStateProvider;
use datafusion_flight_sql_server::state::{CommandTicket, QueryHandle};
use futures::{Stream, StreamExt, TryStreamExt};
use prost::Message as _;
use prost::bytes::Bytes;
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status, Streaming};

use super::limits::Limited;
use super::state::{Planned, Shared};
use crate::panics;

type DoGetStream = Pin<Box<dyn Stream<Item = Result<arrow_flight::FlightData, Status>> + Send>>;

/// gridsql's Flight SQL service.
pub(crate) struct GridFlightService {
    state: Shared,
    library: LibraryService,
    sql_info: SqlInfoData,
}

/// Hands the library the shared session after checking the caller's token.
struct Provider {
    state: Shared,
}

#[async_trait::async_trait]
impl SessionStateProvider for Provider {
    async fn new_context(
        &self,
        request: &Request<()>,
    ) -> Result<datafusion::execution::context::SessionState, Status> {
        authorize(&self.state, request.metadata())?;
        Ok(self.state.ctx.state())
    }
}

impl GridFlightService {
    /// The service over `state`.
    ///
    /// # Errors
    /// When the SqlInfo table cannot be built.
    pub(crate) fn new(state: Shared) -> anyhow::Result<Self> {
        let library = LibraryService::new_with_provider(Box::new(Provider {
            state: Arc::clone(&state),
        }))
        .with_sql_options(state.sql_options());
        let mut info = SqlInfoDataBuilder::new();
        info.append(SqlInfo::FlightSqlServerName, "gridsql");
        info.append(SqlInfo::FlightSqlServerVersion, env!("CARGO_PKG_VERSION"));
        info.append(SqlInfo::FlightSqlServerArrowVersion, "59");
        info.append(SqlInfo::FlightSqlServerReadOnly, !state.allow_ddl);
        info.append(SqlInfo::FlightSqlServerSql, true);
        info.append(SqlInfo::FlightSqlServerSubstrait, false);
        info.append(SqlInfo::FlightSqlServerTransaction, 0_i32);
        info.append(SqlInfo::FlightSqlServerCancel, true);
        info.append(
            SqlInfo::FlightSqlServerStatementTimeout,
            i32::try_from(state.limits.timeout.as_millis()).unwrap_or(i32::MAX),
        );
        info.append(SqlInfo::SqlIdentifierQuoteChar, "\"");
        info.append(SqlInfo::SqlDdlCatalog, false);
        info.append(SqlInfo::SqlDdlSchema, false);
        info.append(SqlInfo::SqlDdlTable, state.allow_ddl);
        let sql_info = info.build()?;
        Ok(GridFlightService {
            state,
            library,
            sql_info,
        })
    }

    /// A per-query context after checking the caller.
    fn context(&self, metadata: &MetadataMap) -> Result<SessionContext, Status> {
        authorize(&self.state, metadata)?;
        self.state.query_context().map_err(df_status)
    }

    /// Plans `sql` (guarded) in `ctx`; a panic while planning is the query's error.
    async fn plan(&self, ctx: &SessionContext, sql: &str) -> Result<Planned, Status> {
        panics::caught(self.state.plan(ctx, sql))
            .await
            .map_err(Status::internal)?
            .map_err(df_status)
    }

    /// FlightInfo for a statement whose ticket is `command`.
    fn flight_info(
        schema: &Schema,
        command: sql::Command,
        descriptor: FlightDescriptor,
    ) -> Result<Response<FlightInfo>, Status> {
        let ticket = CommandTicket::new(command)
            .try_encode()
            .map_err(flight_status)?;
        let info = FlightInfo::new()
            .with_endpoint(FlightEndpoint::new().with_ticket(Ticket { ticket }))
            .with_descriptor(descriptor)
            .try_with_schema(schema)
            .map_err(|e| Status::internal(e.to_string()))?;
        Ok(Response::new(info))
    }

    /// Runs a planned statement under the limits and streams its batches.
    async fn execute(
        &self,
        ctx: &SessionContext,
        planned: Planned,
        params: Option<ParamValues>,
    ) -> Result<DoGetStream, Status> {
        let admission = self
            .state
            .limits
            .admit()
            .await
            .map_err(Status::resource_exhausted)?;
        let (schema, stream) = match planned {
            Planned::Describe(batch) => {
                let schema = batch.schema();
                let s = futures::stream::once(async move { Ok::<_, FlightError>(batch) }).boxed();
                (schema, s)
            }
            Planned::Plan(plan) => {
                let plan = match params {
                    Some(p) => plan.with_param_values(p).map_err(df_status)?,
                    None => plan,
                };
                let schema = wire_schema(&plan);
                let run = async { gridsql_engine::copy_to::execute(ctx, plan).await };
                let stream = tokio::time::timeout(admission.remaining(), panics::caught(run))
                    .await
                    .map_err(|_| Status::deadline_exceeded(admission.timeout_message()))?
                    .map_err(Status::internal)?
                    .map_err(df_status)?;
                let s = stream
                    .map_err(|e| FlightError::ExternalError(Box::new(e)))
                    .boxed();
                (schema, s)
            }
        };
        let encoded = FlightDataEncoderBuilder::new()
            .with_schema(schema)
            .build(stream)
            .map_err(flight_status);
        Ok(Box::pin(Limited::new(
            encoded,
            admission,
            Status::deadline_exceeded,
            Status::internal,
        )))
    }
}

/// Checks the caller's `authorization` header: a bearer token from the
/// handshake, or Basic user/password. Anyone passes without credentials.
fn authorize(state: &Shared, metadata: &MetadataMap) -> Result<(), Status> {
    let Some(creds) = &state.credentials else {
        return Ok(());
    };
    let header = metadata
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if let Some(token) = header.strip_prefix("Bearer ") {
        if state.tokens.valid(token.trim()) {
            return Ok(());
        }
        return Err(Status::unauthenticated(
            "invalid or expired bearer token: log in again (handshake with user and password)",
        ));
    }
    if let Some((user, password)) = basic(header)
        && creds.matches(&user, &password)
    {
        return Ok(());
    }
    Err(Status::unauthenticated(
        "authentication failed: wrong user name or password",
    ))
}

/// User and password of an HTTP Basic header.
fn basic(header: &str) -> Option<(String, String)> {
    let encoded = header.strip_prefix("Basic ")?;
    // Go's Flight client (ADBC) sends unpadded base64.
    let encoded = encoded.trim();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(encoded))
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

/// The schema clients are told: the plan's, as the Flight encoder will
/// send it (dictionaries hydrated), so FlightInfo and DoGet agree.
fn wire_schema(plan: &LogicalPlan) -> SchemaRef {
    let schema = Arc::new(plan.schema().as_arrow().clone());
    FlightDataEncoderBuilder::new()
        .with_schema(Arc::clone(&schema))
        .build(futures::stream::iter([]))
        .known_schema()
        .unwrap_or(schema)
}

/// The parameters a plan takes (`$1`, `$2`, ...), as a schema, in order.
fn parameter_schema(plan: &LogicalPlan) -> Result<Schema, Status> {
    let mut params: Vec<(String, _)> = plan
        .get_parameter_types()
        .map_err(df_status)?
        .into_iter()
        .collect();
    params.sort_by_key(|(name, _)| {
        name.trim_start_matches('$')
            .parse::<usize>()
            .unwrap_or(usize::MAX)
    });
    let mut builder = SchemaBuilder::new();
    for (name, dt) in params {
        let dt = dt.ok_or_else(|| {
            Status::invalid_argument(format!("cannot tell the type of parameter {name}"))
        })?;
        builder.push(Field::new(name, dt, true));
    }
    Ok(builder.finish())
}

/// The bound parameters of a prepared statement handle (one row of Arrow IPC).
fn param_values(bytes: Option<&[u8]>) -> Result<Option<ParamValues>, Status> {
    let Some(bytes) = bytes else {
        return Ok(None);
    };
    let reader = StreamReader::try_new(bytes, None)
        .map_err(|e| Status::invalid_argument(format!("bad parameters: {e}")))?;
    let schema = reader.schema();
    let batches = reader
        .collect::<Result<Vec<RecordBatch>, _>>()
        .map_err(|e| Status::invalid_argument(format!("bad parameters: {e}")))?;
    let batch = concat_batches(&schema, batches.iter())
        .map_err(|e| Status::invalid_argument(format!("bad parameters: {e}")))?;
    if batch.num_rows() != 1 {
        return Err(Status::invalid_argument(format!(
            "bind one row of parameters, got {}",
            batch.num_rows()
        )));
    }
    let values = batch
        .columns()
        .iter()
        .map(|c| ScalarValue::try_from_array(c, 0))
        .collect::<Result<Vec<_>, _>>()
        .map_err(df_status)?;
    Ok(Some(ParamValues::from(values)))
}

/// The schema as Flight SQL's IPC bytes.
fn ipc_schema(schema: &Schema) -> Result<Bytes, Status> {
    let message: Result<IpcMessage, _> =
        SchemaAsIpc::new(schema, &IpcWriteOptions::default()).try_into();
    message
        .map(|IpcMessage(b)| b)
        .map_err(|e| Status::internal(e.to_string()))
}

/// A DataFusion error as a gRPC status with a one-line message: bad SQL or a
/// refusal is the client's fault, exhausted memory a resource error.
pub(crate) fn df_status(e: DataFusionError) -> Status {
    let message = crate::report::one_line(&e.to_string().replace("External error: ", ""));
    match e.find_root() {
        DataFusionError::ResourcesExhausted(_) => Status::resource_exhausted(message),
        DataFusionError::Plan(_)
        | DataFusionError::SQL(..)
        | DataFusionError::Configuration(_)
        | DataFusionError::SchemaError(..)
        | DataFusionError::NotImplemented(_) => Status::invalid_argument(message),
        _ => Status::internal(message),
    }
}

fn flight_status(e: FlightError) -> Status {
    match e {
        FlightError::Tonic(s) => *s,
        FlightError::ExternalError(inner) => match inner.downcast::<DataFusionError>() {
            Ok(df) => df_status(*df),
            Err(other) => Status::internal(crate::report::one_line(&other.to_string())),
        },
        FlightError::Arrow(a) => df_status(DataFusionError::ArrowError(Box::new(a), None)),
        other => Status::internal(crate::report::one_line(&other.to_string())),
    }
}

#[tonic::async_trait]
impl FlightSqlService for GridFlightService {
    type FlightService = GridFlightService;

    async fn do_handshake(
        &self,
        request: Request<Streaming<HandshakeRequest>>,
    ) -> Result<
        Response<Pin<Box<dyn Stream<Item = Result<HandshakeResponse, Status>> + Send>>>,
        Status,
    > {
        let header = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        if let Some(creds) = &self.state.credentials {
            let ok = basic(&header).is_some_and(|(u, p)| creds.matches(&u, &p));
            if !ok {
                return Err(Status::unauthenticated(
                    "authentication failed: wrong user name or password",
                ));
            }
        }
        let token = self
            .state
            .tokens
            .issue()
            .map_err(|e| Status::internal(format!("cannot make a token: {e}")))?;
        let reply = HandshakeResponse {
            protocol_version: 0,
            payload: token.clone().into_bytes().into(),
        };
        let stream: Pin<Box<dyn Stream<Item = Result<HandshakeResponse, Status>> + Send>> =
            Box::pin(futures::stream::iter([Ok(reply)]));
        let mut response = Response::new(stream);
        let value = format!("Bearer {token}")
            .parse()
            .map_err(|_| Status::internal("cannot encode the token"))?;
        response.metadata_mut().insert("authorization", value);
        Ok(response)
    }

    async fn get_flight_info_statement(
        &self,
        query: CommandStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let ctx = self.context(request.metadata())?;
        let schema = match self.plan(&ctx, &query.query).await? {
            Planned::Describe(b) => b.schema(),
            Planned::Plan(p) => wire_schema(&p),
        };
        Self::flight_info(
            &schema,
            sql::Command::CommandStatementQuery(query),
            request.into_inner(),
        )
    }

    async fn get_flight_info_prepared_statement(
        &self,
        cmd: CommandPreparedStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let ctx = self.context(request.metadata())?;
        let handle = QueryHandle::try_decode(cmd.prepared_statement_handle.clone())
            .map_err(flight_status)?;
        let schema = match self.plan(&ctx, handle.query()).await? {
            Planned::Describe(b) => b.schema(),
            Planned::Plan(p) => wire_schema(&p),
        };
        Self::flight_info(
            &schema,
            sql::Command::CommandPreparedStatementQuery(cmd),
            request.into_inner(),
        )
    }

    async fn do_get_fallback(
        &self,
        request: Request<Ticket>,
        _message: Any,
    ) -> Result<Response<DoGetStream>, Status> {
        let ctx = self.context(request.metadata())?;
        let ticket =
            CommandTicket::try_decode(request.into_inner().ticket).map_err(flight_status)?;
        let (sql, params) = match ticket.command {
            sql::Command::CommandStatementQuery(q) => (q.query, None),
            sql::Command::CommandPreparedStatementQuery(p) => {
                let handle =
                    QueryHandle::try_decode(p.prepared_statement_handle).map_err(flight_status)?;
                let params = param_values(handle.parameters())?;
                (handle.query().to_string(), params)
            }
            other => {
                return Err(Status::unimplemented(format!(
                    "unsupported ticket: {other:?}"
                )));
            }
        };
        let planned = self.plan(&ctx, &sql).await?;
        let stream = self.execute(&ctx, planned, params).await?;
        Ok(Response::new(stream))
    }

    async fn do_action_create_prepared_statement(
        &self,
        query: ActionCreatePreparedStatementRequest,
        request: Request<Action>,
    ) -> Result<ActionCreatePreparedStatementResult, Status> {
        let ctx = self.context(request.metadata())?;
        let (dataset_schema, parameter_schema) = match self.plan(&ctx, &query.query).await? {
            Planned::Describe(b) => (b.schema().as_ref().clone(), Schema::empty()),
            Planned::Plan(p) => (wire_schema(&p).as_ref().clone(), parameter_schema(&p)?),
        };
        Ok(ActionCreatePreparedStatementResult {
            prepared_statement_handle: QueryHandle::new(query.query, None).into(),
            dataset_schema: ipc_schema(&dataset_schema)?,
            parameter_schema: ipc_schema(&parameter_schema)?,
        })
    }

    async fn do_put_prepared_statement_query(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<DoPutPreparedStatementResult, Status> {
        self.library
            .do_put_prepared_statement_query(query, request)
            .await
    }

    async fn do_action_close_prepared_statement(
        &self,
        query: ActionClosePreparedStatementRequest,
        request: Request<Action>,
    ) -> Result<(), Status> {
        self.library
            .do_action_close_prepared_statement(query, request)
            .await
    }

    async fn get_flight_info_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.library.get_flight_info_catalogs(query, request).await
    }

    async fn get_flight_info_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.library.get_flight_info_schemas(query, request).await
    }

    async fn get_flight_info_tables(
        &self,
        query: CommandGetTables,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.library.get_flight_info_tables(query, request).await
    }

    async fn get_flight_info_table_types(
        &self,
        query: CommandGetTableTypes,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.library
            .get_flight_info_table_types(query, request)
            .await
    }

    async fn get_flight_info_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        authorize(&self.state, request.metadata())?;
        let schema = query.clone().into_builder(&self.sql_info).schema();
        let ticket = Ticket {
            ticket: query.as_any().encode_to_vec().into(),
        };
        let info = FlightInfo::new()
            .with_endpoint(FlightEndpoint::new().with_ticket(ticket))
            .with_descriptor(request.into_inner())
            .try_with_schema(&schema)
            .map_err(|e| Status::internal(e.to_string()))?;
        Ok(Response::new(info))
    }

    async fn do_get_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.library.do_get_catalogs(query, request).await
    }

    async fn do_get_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        authorize(&self.state, request.metadata())?;
        let wanted = query.catalog.clone();
        let mut builder = query.into_builder();
        let ctx = &self.state.ctx;
        for catalog_name in ctx.catalog_names() {
            if wanted.as_ref().is_some_and(|w| w != &catalog_name) {
                continue;
            }
            if let Some(catalog) = ctx.catalog(&catalog_name) {
                for schema_name in catalog.schema_names() {
                    builder.append(&catalog_name, schema_name);
                }
            }
        }
        let schema = builder.schema();
        let batch = builder.build();
        Ok(Response::new(one_batch(schema, batch)))
    }

    async fn do_get_tables(
        &self,
        query: CommandGetTables,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        authorize(&self.state, request.metadata())?;
        let wanted = query.catalog.clone();
        let mut builder = query.into_builder();
        let ctx = &self.state.ctx;
        for catalog_name in ctx.catalog_names() {
            if wanted.as_ref().is_some_and(|w| w != &catalog_name) {
                continue;
            }
            let Some(catalog) = ctx.catalog(&catalog_name) else {
                continue;
            };
            for schema_name in catalog.schema_names() {
                let Some(schema) = catalog.schema(&schema_name) else {
                    continue;
                };
                for table_name in schema.table_names() {
                    if let Some(table) = schema.table(&table_name).await.map_err(df_status)? {
                        builder
                            .append(
                                &catalog_name,
                                &schema_name,
                                &table_name,
                                jdbc_table_type(table.table_type()),
                                &table.schema(),
                            )
                            .map_err(|e| Status::internal(e.to_string()))?;
                    }
                }
            }
        }
        let schema = builder.schema();
        let batch = builder.build();
        Ok(Response::new(one_batch(schema, batch)))
    }

    async fn do_get_table_types(
        &self,
        _query: CommandGetTableTypes,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        authorize(&self.state, request.metadata())?;
        let schema = Arc::new(Schema::new(vec![Field::new(
            "table_type",
            DataType::Utf8,
            false,
        )]));
        let types = StringArray::from(TABLE_TYPES.to_vec());
        let batch = RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(types)])
            .map_err(FlightError::from);
        Ok(Response::new(one_batch(schema, batch)))
    }

    async fn do_get_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        authorize(&self.state, request.metadata())?;
        let builder = query.into_builder(&self.sql_info);
        let schema = builder.schema();
        let batch = builder.build();
        Ok(Response::new(one_batch(schema, batch)))
    }

    async fn register_sql_info(&self, _id: i32, _result: &SqlInfo) {}
}

/// The table types of GetTables and GetTableTypes, spelled as JDBC and
/// ADBC tools filter on them (`TABLE`, `VIEW`), not as DataFusion names
/// them (`BASE TABLE`).
const TABLE_TYPES: [&str; 3] = ["TABLE", "VIEW", "LOCAL TEMPORARY"];

fn jdbc_table_type(t: datafusion::datasource::TableType) -> &'static str {
    match t {
        datafusion::datasource::TableType::Base => TABLE_TYPES[0],
        datafusion::datasource::TableType::View => TABLE_TYPES[1],
        datafusion::datasource::TableType::Temporary => TABLE_TYPES[2],
    }
}

/// One metadata batch as a Flight stream.
fn one_batch(schema: SchemaRef, batch: Result<RecordBatch, FlightError>) -> DoGetStream {
    Box::pin(
        FlightDataEncoderBuilder::new()
            .with_schema(schema)
            .build(futures::stream::once(async move { batch }))
            .map_err(flight_status),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_header() {
        let h = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("ann:pa:ss")
        );
        assert_eq!(basic(&h), Some(("ann".into(), "pa:ss".into())));
        assert_eq!(basic("Basic !!"), None);
        assert_eq!(basic("Bearer x"), None);
    }
}
