//! The PostgreSQL-wire server (pgwire via datafusion-postgres).
//!
//! datafusion-postgres answers the simple and extended protocols and
//! provides `pg_catalog` (enough for `psql`'s `\dt` and `\d t` and BI tools'
//! introspection). gridsql wraps it per connection:
//! - each connection gets its own session copy with its own memory pool
//!   (a connection runs one query at a time, so that is the per-query
//!   limit) and its own settings (`SET` stays in the connection);
//! - every statement passes the guard (read-only, no `SET datafusion.*`)
//!   and runs under the query limits (slot, deadline) until its rows are sent;
//! - `DESCRIBE t` answers with units and long names as the shell does;
//! - with credentials, the startup asks for a cleartext password (use TLS
//!   or an SSH tunnel off loopback); without, anyone may connect.

use std::fmt::Debug;
use std::sync::Arc;

use crate::panics;
use async_trait::async_trait;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser;
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::setup_pg_catalog;
use datafusion_postgres::{DfSessionService, Parser};
use futures::Sink;
use pgwire::api::auth::cleartext::CleartextPasswordAuthStartupHandler;
use pgwire::api::auth::noop::NoopStartupHandler;
use pgwire::api::auth::{
    AuthSource, DefaultServerParameterProvider, LoginInfo, Password, StartupHandler,
};
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{FieldInfo, Response};
use pgwire::api::stmt::QueryParser;
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore, PgWireServerHandlers, Type};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use pgwire::types::format::FormatOptions;
use tokio::net::TcpListener;

use super::guard::{self, Kind};
use super::limits::{Admission, Limited};
use super::state::Shared;

/// The statement type datafusion-postgres keeps per prepared statement.
type PgStatement = (String, Option<(sqlparser::ast::Statement, LogicalPlan)>);

/// Registers `pg_catalog` (and its functions) in the shared session, once.
///
/// # Errors
/// When the session has no `datafusion` catalog.
pub(crate) fn setup(ctx: &SessionContext) -> anyhow::Result<()> {
    let catalog = ctx
        .state()
        .config()
        .options()
        .catalog
        .default_catalog
        .clone();
    setup_pg_catalog(ctx, &catalog, EmptyContextProvider)
        .map_err(|e| anyhow::anyhow!("cannot set up pg_catalog: {e}"))
}

/// Accepts connections on `listener` until the process ends; a failing
/// connection is logged and never stops the loop.
pub(crate) async fn serve(
    state: Shared,
    listener: TcpListener,
    tls: Option<pgwire::tokio::TlsAcceptor>,
) {
    loop {
        let (socket, addr) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                log::warn!("postgres: accept failed: {e}");
                continue;
            }
        };
        let state = Arc::clone(&state);
        let tls = tls.clone();
        tokio::spawn(async move {
            let handlers = match Connection::new(state) {
                Ok(h) => h,
                Err(e) => {
                    log::warn!("postgres: cannot set up a session for {addr}: {e}");
                    return;
                }
            };
            if let Err(e) = pgwire::tokio::process_socket(socket, tls, handlers).await {
                log::info!("postgres: connection from {addr} ended: {e}");
            }
        });
    }
}

/// One connection's handlers.
struct Connection {
    service: Arc<GridPgService>,
    startup: Arc<Startup>,
}

impl Connection {
    fn new(state: Shared) -> datafusion::error::Result<Self> {
        let ctx = Arc::new(state.query_context()?);
        super::pg_functions::register_static(&ctx);
        super::pg_functions::register_session(&ctx, "", DEFAULT_DATABASE);
        let inner = Arc::new(DfSessionService::new_with_hooks(
            Arc::clone(&ctx),
            super::pg_savepoints::query_hooks(),
        ));
        let parser = Arc::new(GridParser {
            inner: inner.query_parser(),
            state: Arc::clone(&state),
            ctx: Arc::clone(&ctx),
        });
        let auth = match &state.credentials {
            Some(c) => StartupAuth::Password(Box::new(CleartextPasswordAuthStartupHandler::new(
                PasswordSource {
                    credentials: c.clone(),
                },
                DefaultServerParameterProvider::default(),
            ))),
            None => StartupAuth::Open(OpenStartup),
        };
        let startup = Arc::new(Startup {
            auth,
            ctx: Arc::clone(&ctx),
        });
        Ok(Connection {
            service: Arc::new(GridPgService {
                state,
                ctx,
                inner,
                parser,
            }),
            startup,
        })
    }
}

impl PgWireServerHandlers for Connection {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        Arc::clone(&self.service)
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        Arc::clone(&self.service)
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        Arc::clone(&self.startup)
    }
}

/// The database name `current_database()` gives when the client names none.
const DEFAULT_DATABASE: &str = "gridsql";

/// Startup with or without a password; once the client is in, its login and
/// database become the session's `current_user` and `current_database()`.
struct Startup {
    auth: StartupAuth,
    ctx: Arc<SessionContext>,
}

/// How a client gets in.
enum StartupAuth {
    Open(OpenStartup),
    Password(
        Box<CleartextPasswordAuthStartupHandler<PasswordSource, DefaultServerParameterProvider>>,
    ),
}

/// Accepts anyone (the server is bound to loopback).
struct OpenStartup;

impl NoopStartupHandler for OpenStartup {}

#[async_trait]
impl StartupHandler for Startup {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match &self.auth {
            StartupAuth::Open(h) => h.on_startup(client, message).await?,
            StartupAuth::Password(h) => h.on_startup(client, message).await?,
        }
        let meta = client.metadata();
        let user = meta
            .get(pgwire::api::METADATA_USER)
            .cloned()
            .unwrap_or_default();
        let database = meta
            .get(pgwire::api::METADATA_DATABASE)
            .cloned()
            .unwrap_or_else(|| DEFAULT_DATABASE.to_string());
        super::pg_functions::register_session(&self.ctx, &user, &database);
        Ok(())
    }
}

/// The configured user's password, for any other user an error.
#[derive(Debug)]
struct PasswordSource {
    credentials: super::auth::Credentials,
}

#[async_trait]
impl AuthSource for PasswordSource {
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        if login.user() == Some(self.credentials.user.as_str()) {
            return Ok(Password::new(
                None,
                self.credentials.password().as_bytes().to_vec(),
            ));
        }
        Err(user_error(
            "FATAL",
            "28P01",
            format!(
                "password authentication failed for user \"{}\"",
                login.user().unwrap_or("")
            ),
        ))
    }
}

fn user_error(severity: &str, code: &str, message: String) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        severity.to_string(),
        code.to_string(),
        message,
    )))
}

/// A panic caught while planning or running a query (SQLSTATE XX000).
fn internal_error(message: String) -> PgWireError {
    user_error("ERROR", "XX000", message)
}

/// A statement the PostgreSQL dialect cannot parse: refused as DataFusion
/// SQL would be (`CREATE EXTERNAL TABLE ... STORED AS ZARR` is DDL), else the
/// parse error.
fn parse_error(state: &Shared, sql: &str, e: impl std::fmt::Display) -> PgWireError {
    let dialect = datafusion::sql::sqlparser::dialect::GenericDialect {};
    if let Ok(statements) = datafusion::sql::parser::DFParser::parse_sql_with_dialect(sql, &dialect)
    {
        for s in &statements {
            if let Err(m) = guard::check(&guard::classify_df(s), state.allow_ddl) {
                return refused(m);
            }
        }
    }
    user_error("ERROR", "42601", e.to_string())
}

/// A refused statement: SQLSTATE 42501 (insufficient privilege).
fn refused(message: String) -> PgWireError {
    user_error("ERROR", "42501", message)
}

/// A DataFusion error with a one-line message; exhausted memory is 53200
/// (out of memory), everything else 42000/XX000 as pgwire would.
fn df_error(e: datafusion::error::DataFusionError) -> PgWireError {
    let message = crate::report::one_line(&e.to_string().replace("External error: ", ""));
    let code = match e.find_root() {
        datafusion::error::DataFusionError::ResourcesExhausted(_) => "53200",
        datafusion::error::DataFusionError::Plan(_)
        | datafusion::error::DataFusionError::SQL(..) => "42000",
        _ => "XX000",
    };
    user_error("ERROR", code, message)
}

/// The guarded query handler of one connection.
struct GridPgService {
    state: Shared,
    ctx: Arc<SessionContext>,
    inner: Arc<DfSessionService>,
    parser: Arc<GridParser>,
}

impl GridPgService {
    /// A slot for one query, or the "server busy" error.
    async fn admit(&self) -> PgWireResult<Admission> {
        self.state
            .limits
            .admit()
            .await
            .map_err(|m| user_error("ERROR", "53300", m))
    }

    /// A `COPY ... TO STDOUT` (simple or extended protocol), its data sent
    /// under the query's slot and deadline.
    async fn copy_out(
        &self,
        copy: Result<super::pg_copy::CopyOut, String>,
        admission: Admission,
    ) -> PgWireResult<Response> {
        let copy = copy.map_err(|m| user_error("ERROR", "0A000", m))?;
        let r = within(&admission, super::pg_copy::run(&self.ctx, copy), df_error).await?;
        Ok(limit(r, admission))
    }

    /// `DESCRIBE t` as a query response.
    async fn describe(
        &self,
        name: &str,
        format: &Format,
        client_metadata: &std::collections::HashMap<String, String>,
    ) -> Option<Response> {
        let batch = gridsql_engine::describe_table(&self.ctx, name).await.ok()?;
        let df = self.ctx.read_batch(batch).ok()?;
        let options = Arc::new(FormatOptions::from_client_metadata(client_metadata));
        datafusion_postgres::arrow_pg::datatypes::df::encode_dataframe(df, format, Some(options))
            .await
            .ok()
            .map(Response::Query)
    }
}

/// Runs `run` within the query's deadline: a panic is an internal error,
/// DataFusion's errors become what `on_error` makes of them.
async fn within(
    admission: &Admission,
    run: impl std::future::Future<Output = datafusion::error::Result<Response>>,
    on_error: impl Fn(datafusion::error::DataFusionError) -> PgWireError,
) -> PgWireResult<Response> {
    tokio::time::timeout(admission.remaining(), panics::caught(run))
        .await
        .map_err(|_| user_error("ERROR", "57014", admission.timeout_message()))?
        .map_err(internal_error)?
        .map_err(on_error)
}

/// Holds the query's slot and deadline until its rows (or COPY data) are
/// sent.
fn limit(response: Response, admission: Admission) -> Response {
    fn until_sent<S>(rows: S, admission: Admission) -> Limited<S, PgWireError> {
        Limited::new(
            rows,
            admission,
            |m| user_error("ERROR", "57014", m),
            internal_error,
        )
    }
    match response {
        Response::Query(mut q) => {
            let rows = std::mem::replace(&mut q.data_rows, Box::pin(futures::stream::empty()));
            q.data_rows = Box::pin(until_sent(rows, admission));
            Response::Query(q)
        }
        Response::CopyOut(mut c) => {
            let rows = std::mem::replace(&mut c.data_stream, Box::pin(futures::stream::empty()));
            c.data_stream = Box::pin(until_sent(rows, admission));
            Response::CopyOut(c)
        }
        other => other,
    }
}

#[async_trait]
impl SimpleQueryHandler for GridPgService {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let parsed = match super::pg_rewrite::parse(query) {
            Ok(parsed) => parsed,
            Err(_) if super::pg_copy_grid::is_grid_copy(query) => {
                let admission = self.admit().await?;
                let run = super::pg_copy_grid::run(&self.state, &self.ctx, query);
                let r = within(&admission, run, |e| match e {
                    datafusion::error::DataFusionError::Plan(m) if m.contains("--allow-") => {
                        refused(m)
                    }
                    e => df_error(e),
                })
                .await?;
                return Ok(vec![r]);
            }
            Err(e) => return Err(parse_error(&self.state, query, e)),
        };
        let (query, statements) = (parsed.sql.as_str(), parsed.statements);
        let mut kinds = Vec::with_capacity(statements.len());
        for s in &statements {
            let kind = guard::classify(s);
            guard::check(&kind, self.state.allow_ddl).map_err(refused)?;
            kinds.push(kind);
        }
        let admission = self.admit().await?;
        if let [Kind::Describe(name)] = kinds.as_slice()
            && let Some(r) = self
                .describe(name, &Format::UnifiedText, client.metadata())
                .await
        {
            return Ok(vec![limit(r, admission)]);
        }
        if let [s] = statements.as_slice()
            && let Some(copy) = super::pg_copy::copy_out(s)
        {
            return Ok(vec![self.copy_out(copy, admission).await?]);
        }
        let run = <DfSessionService as SimpleQueryHandler>::do_query(&self.inner, client, query);
        let mut responses = tokio::time::timeout(admission.remaining(), panics::caught(run))
            .await
            .map_err(|_| user_error("ERROR", "57014", admission.timeout_message()))?
            .map_err(internal_error)??;
        if let Some(last) = responses.pop() {
            responses.push(limit(last, admission));
        }
        Ok(responses)
    }
}

#[async_trait]
impl ExtendedQueryHandler for GridPgService {
    type Statement = PgStatement;
    type QueryParser = GridParser;

    fn query_parser(&self) -> Arc<Self::QueryParser> {
        Arc::clone(&self.parser)
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Self::Statement>,
        max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if let (_, Some((statement, _))) = &portal.statement.statement {
            guard::check(&guard::classify(statement), self.state.allow_ddl).map_err(refused)?;
        }
        let admission = self.admit().await?;
        if let (_, Some((statement, _))) = &portal.statement.statement
            && let Some(copy) = super::pg_copy::copy_out(statement)
        {
            return self.copy_out(copy, admission).await;
        }
        let run = <DfSessionService as ExtendedQueryHandler>::do_query(
            &self.inner,
            client,
            portal,
            max_rows,
        );
        let response = tokio::time::timeout(admission.remaining(), panics::caught(run))
            .await
            .map_err(|_| user_error("ERROR", "57014", admission.timeout_message()))?
            .map_err(internal_error)??;
        Ok(limit(response, admission))
    }
}

/// datafusion-postgres' parser, with the guard's refusals at parse time and
/// `DESCRIBE t` planned as a scan of the description (units, long names),
/// so the extended protocol describes and returns the same columns.
struct GridParser {
    inner: Arc<Parser>,
    state: Shared,
    ctx: Arc<SessionContext>,
}

#[async_trait]
impl QueryParser for GridParser {
    type Statement = PgStatement;

    async fn parse_sql<C>(
        &self,
        client: &C,
        sql: &str,
        types: &[Option<Type>],
    ) -> PgWireResult<Option<Self::Statement>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let parsed = super::pg_rewrite::parse(sql).map_err(|e| parse_error(&self.state, sql, e))?;
        let (sql, statements) = (parsed.sql.as_str(), parsed.statements);
        if let [statement] = statements.as_slice() {
            let kind = guard::classify(statement);
            guard::check(&kind, self.state.allow_ddl).map_err(refused)?;
            if let Kind::Describe(name) = &kind
                && let Ok(batch) = gridsql_engine::describe_table(&self.ctx, name).await
            {
                let plan = self
                    .ctx
                    .read_batch(batch)
                    .map_err(df_error)?
                    .into_unoptimized_plan();
                return Ok(Some((sql.to_string(), Some((statement.clone(), plan)))));
            }
            // COPY ... TO STDOUT (the ADBC driver reads results so): no row
            // description, its rows come as COPY data when it runs
            if super::pg_copy::copy_out(statement).is_some() {
                let plan = LogicalPlan::EmptyRelation(datafusion::logical_expr::EmptyRelation {
                    produce_one_row: false,
                    schema: Arc::new(datafusion::common::DFSchema::empty()),
                });
                return Ok(Some((sql.to_string(), Some((statement.clone(), plan)))));
            }
        }
        panics::caught(self.inner.parse_sql(client, sql, types))
            .await
            .map_err(internal_error)?
    }

    fn get_parameter_types(&self, stmt: &Self::Statement) -> PgWireResult<Vec<Type>> {
        self.inner.get_parameter_types(stmt)
    }

    fn get_result_schema(
        &self,
        stmt: &Self::Statement,
        column_format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        self.inner.get_result_schema(stmt, column_format)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_one_line_with_codes() {
        let e = df_error(datafusion::error::DataFusionError::ResourcesExhausted(
            "Failed to allocate\nmore".into(),
        ));
        let text = e.to_string();
        assert!(!text.contains('\n'), "{text}");
        match e {
            PgWireError::UserError(info) => assert_eq!(info.code, "53200"),
            other => panic!("{other:?}"),
        }
    }
}
