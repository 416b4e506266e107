//! `gridsql serve`: Arrow Flight SQL and PostgreSQL-wire servers over the
//! catalog's datasets, locally or in front of a Ballista cluster.
//!
//! [`args`] turns the command line (and the catalog's `[auth]` and
//! `allow_roots`) into a checked [`args::ServeConfig`]; [`state`] holds what
//! both servers share; [`guard`], [`roots`] and [`limits`] are the safety
//! rules for remote clients; [`flight`] and [`pg`] are the two protocols.

mod args;
mod auth;
mod flight;
mod guard;
mod limits;
mod pg;
mod pg_copy;
mod pg_copy_grid;
mod pg_functions;
mod pg_rewrite;
mod pg_savepoints;
mod roots;
mod state;
mod tls;

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use arrow_flight::flight_service_server::FlightServiceServer;
use gridsql_engine::{SessionOptions, new_context, register_dataset};

pub(crate) use args::ServeArgs;

use self::state::ServeState;

/// Runs the servers until interrupted (Ctrl-C or SIGTERM).
pub(crate) async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    args.io.apply()?;
    let config = args::ServeConfig::from_args(args)?;
    let mut opts = SessionOptions::default();
    if let Some(p) = config.partitions {
        opts.target_partitions = p;
    }
    let ctx = match &config.cluster {
        Some(url) => gridsql_engine::cluster_context(&opts, url)
            .await
            .with_context(|| format!("cannot reach the cluster at {url}"))?,
        None => new_context(&opts)?,
    };
    if let Some((path, catalog)) = &config.catalog {
        catalog.register(&ctx, path).await?;
    }
    for d in &config.datasets {
        register_dataset(&ctx, &d.name, &d.location, None, Default::default())
            .await
            .with_context(|| format!("cannot open '{}' as table {}", d.location, d.name))?;
    }
    roots::install(&ctx, Arc::new(config.roots.clone()));
    if let Some(w) = &config.write_roots {
        roots::install_write(&ctx, w.clone());
    }
    if config.pg.is_some() {
        pg::setup(&ctx)?;
    }
    let state = Arc::new(ServeState {
        ctx,
        limits: config.limits.clone(),
        allow_ddl: config.allow_ddl,
        credentials: config.credentials.clone(),
        tokens: Default::default(),
    });
    let tls = match &config.tls {
        Some((cert, key)) => Some(tls::load(cert, key)?),
        None => None,
    };

    let mut tasks = tokio::task::JoinSet::new();
    if let Some(addr) = config.flight_sql {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} for Flight SQL"))?;
        let local = listener.local_addr()?;
        let service = FlightServiceServer::new(flight::GridFlightService::new(Arc::clone(&state))?)
            .max_decoding_message_size(64 << 20);
        let scheme = if tls.is_some() { "grpc+tls" } else { "grpc" };
        println!("Flight SQL listening on {scheme}://{local}");
        let tls = tls.clone();
        tasks.spawn(async move {
            let router = tonic::transport::Server::builder().add_service(service);
            let result = match tls {
                Some(t) => router.serve_with_incoming(tls::incoming(listener, t)).await,
                None => {
                    let incoming = tonic::transport::server::TcpIncoming::from(listener)
                        .with_nodelay(Some(true));
                    router.serve_with_incoming(incoming).await
                }
            };
            result.map_err(|e| anyhow::anyhow!("Flight SQL server stopped: {e}"))
        });
    }
    if let Some(addr) = config.pg {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} for PostgreSQL"))?;
        println!("PostgreSQL listening on {}", listener.local_addr()?);
        let state = Arc::clone(&state);
        let tls = tls.map(pgwire::tokio::TlsAcceptor::from);
        tasks.spawn(async move {
            pg::serve(state, listener, tls).await;
            Ok(())
        });
    }
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
        Some(done) = tasks.join_next() => {
            done.context("a server task failed")??;
        }
    }
    Ok(ExitCode::SUCCESS)
}
