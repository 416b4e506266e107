//! `gridsql scheduler` and `gridsql executor`: Ballista's scheduler and
//! executor processes with gridsql's codecs, planning session and functions,
//! so that executors run Zarr and NetCDF scans, grid aggregates and every
//! gridsql function. Executors open datasets themselves from their specs,
//! with object-store credentials from their own environment.

use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow};
use ballista::prelude::SessionConfigExt;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::{create_scheduler, start_grpc_service_with_listener};
use datafusion::prelude::SessionConfig;
use datafusion_proto::protobuf::{LogicalPlanNode, PhysicalPlanNode};
use gridsql_engine::SessionOptions;
use gridsql_engine::cluster::{function_registry, scheduler_session, with_codecs};
use gridsql_engine::codec::{GridLogicalCodec, GridPhysicalCodec};

use crate::executor_watch::{self, LiveSlots};

/// Arguments of `gridsql scheduler`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct SchedulerArgs {
    /// Address of the scheduler's gRPC port (clients use df://HOST:PORT of it).
    #[arg(long, default_value = "127.0.0.1:50050")]
    pub(crate) bind: String,
    /// Host name executors and clients reach this scheduler by (default: the bind host).
    #[arg(long)]
    pub(crate) external_host: Option<String>,
    /// Seconds without a heartbeat after which an executor counts as lost and
    /// its tasks run elsewhere (executors beat every 5 s).
    #[arg(long, default_value_t = 20)]
    pub(crate) executor_timeout: u64,
    /// Plan aggregates over grid scans as in-scan grid aggregates.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub(crate) grid_aggregate: bool,
    /// Seconds a query waits for an executor when none is live before it
    /// fails with an error saying so.
    #[arg(long, default_value_t = 30)]
    pub(crate) wait_for_executors: u64,
    /// Tasks a grid scan is cut into per task slot of the live executors
    /// (at least the client's partitions; 0: the client's partitions): more
    /// tasks spread the work more evenly and lose less with a lost executor,
    /// but each task carries its own partial state.
    #[arg(long, default_value_t = 0)]
    pub(crate) tasks_per_slot: usize,
}

/// Arguments of `gridsql executor`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ExecutorArgs {
    /// The scheduler's HOST:PORT.
    #[arg(long)]
    pub(crate) scheduler: String,
    /// Address of this executor's Arrow Flight port (results and shuffles);
    /// its gRPC port is the next port unless --grpc-port says otherwise.
    #[arg(long, default_value = "127.0.0.1:50051")]
    pub(crate) bind: String,
    /// This executor's gRPC port.
    #[arg(long)]
    pub(crate) grpc_port: Option<u16>,
    /// Host name the scheduler and other executors reach this one by (default: the bind host).
    #[arg(long)]
    pub(crate) external_host: Option<String>,
    /// Tasks run at once (default: number of cores).
    #[arg(long)]
    pub(crate) concurrency: Option<usize>,
    /// Folder for shuffle files (default: a temporary folder).
    #[arg(long)]
    pub(crate) work_dir: Option<String>,
    /// This executor's own I/O budget.
    #[command(flatten)]
    pub(crate) io: crate::args::IoArgs,
}

/// `HOST:PORT` as host and port, checking that it resolves.
fn host_port(s: &str, what: &str) -> anyhow::Result<(String, u16)> {
    let (host, port) = s
        .rsplit_once(':')
        .ok_or_else(|| anyhow!("{what} '{s}' must be HOST:PORT"))?;
    let port: u16 = port
        .parse()
        .with_context(|| format!("{what} '{s}': bad port"))?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    (host.as_str(), port)
        .to_socket_addrs()
        .with_context(|| format!("{what} '{s}' does not resolve"))?;
    Ok((host, port))
}

/// Fails with one line when `port` of `host` cannot be bound (taken, not
/// ours): Ballista's processes log such a failure and keep running without
/// the port, which a cluster only notices as lost tasks. The probe is
/// released at once for the process to bind.
fn check_bindable(host: &str, port: u16, what: &str) -> anyhow::Result<()> {
    std::net::TcpListener::bind((host, port))
        .map(drop)
        .with_context(|| format!("cannot listen on {host}:{port} ({what})"))
}

/// A listener on `addr` whose connections send small messages at once.
///
/// Ballista's scheduler serves gRPC through axum, which leaves Nagle's
/// algorithm on. A job's small messages (a task's status, the client's job
/// update) then waited for the peer's delayed acknowledgement: every query
/// on a cluster took at least 40 ms more than its tasks (a `count(*)` of one
/// chunk: 44 ms, its task 0.3 ms). Linux hands TCP_NODELAY on from the
/// listening socket to the connections it accepts.
fn listen_without_nagle(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.set_nodelay(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// The configuration every cluster process starts from: Ballista's, with
/// gridsql's codecs.
fn base_config() -> SessionConfig {
    with_codecs(SessionConfig::new_with_ballista().with_information_schema(true))
}

/// Runs a scheduler until interrupted.
pub(crate) async fn run_scheduler(args: SchedulerArgs) -> anyhow::Result<ExitCode> {
    let (host, port) = host_port(&args.bind, "--bind")?;
    let addr: SocketAddr = (host.as_str(), port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| anyhow!("--bind '{}' does not resolve", args.bind))?;
    // Bound before anything starts, so that a port in use is a one-line error.
    let listener = listen_without_nagle(addr)
        .with_context(|| format!("cannot listen on {host}:{port} (--bind)"))?;
    let opts = SessionOptions {
        grid_aggregate: args.grid_aggregate,
        distributed: true,
        ..SessionOptions::default()
    };
    let slots = Arc::new(LiveSlots::default());
    let tasks_per_slot = args.tasks_per_slot;
    let live = Arc::clone(&slots);
    let mut config = SchedulerConfig {
        bind_host: host.clone(),
        bind_port: port,
        external_host: args.external_host.clone().unwrap_or(host),
        executor_timeout_seconds: args.executor_timeout.max(6),
        expire_dead_executor_interval_seconds: 2,
        no_executors_grace_period_seconds: args.executor_timeout.max(6),
        override_logical_codec: Some(Arc::new(GridLogicalCodec::default())),
        override_physical_codec: Some(Arc::new(GridPhysicalCodec::default())),
        ..SchedulerConfig::default()
    };
    config = config
        .with_override_config_producer(Arc::new(base_config))
        .with_override_session_builder(Arc::new(move |c| {
            // Tasks cut for the cluster, not for the client's cores.
            let cut = live.get().saturating_mul(tasks_per_slot);
            let c = if cut > c.target_partitions() {
                c.with_target_partitions(cut)
            } else {
                c
            };
            scheduler_session(&opts, c)
        }));
    config
        .validate()
        .map_err(|e| anyhow!("scheduler configuration: {e}"))?;
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(|e| anyhow!("cannot start the scheduler: {e}"))?;
    let config = Arc::new(config);
    let scheduler =
        create_scheduler::<LogicalPlanNode, PhysicalPlanNode>(cluster, Arc::clone(&config))
            .await
            .map_err(|e| anyhow!("cannot start the scheduler: {e}"))?;
    executor_watch::spawn(
        scheduler.clone(),
        slots,
        Duration::from_secs(config.executor_timeout_seconds),
        Duration::from_secs(args.wait_for_executors),
    );
    eprintln!("gridsql scheduler listening on {addr}");
    start_grpc_service_with_listener(listener, scheduler)
        .await
        .map_err(|e| anyhow!("scheduler on {addr}: {e}"))?;
    Ok(ExitCode::SUCCESS)
}

/// Runs an executor until interrupted.
pub(crate) async fn run_executor(args: ExecutorArgs) -> anyhow::Result<ExitCode> {
    args.io.apply()?;
    let (scheduler_host, scheduler_port) = host_port(&args.scheduler, "--scheduler")?;
    let (host, port) = host_port(&args.bind, "--bind")?;
    let grpc_port = match args.grpc_port {
        Some(p) => p,
        None => port
            .checked_add(1)
            .ok_or_else(|| anyhow!("--bind port {port} leaves no port for gRPC"))?,
    };
    check_bindable(&host, port, "the Flight port, --bind")?;
    check_bindable(&host, grpc_port, "the gRPC port, --grpc-port")?;
    let vcores = args
        .concurrency
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
        .max(1);
    let config = ExecutorProcessConfig {
        bind_host: host.clone(),
        external_host: Some(args.external_host.clone().unwrap_or(host)),
        port,
        grpc_port,
        scheduler_host,
        scheduler_port,
        scheduler_connect_timeout_seconds: 30,
        vcores,
        work_dir: args.work_dir.clone(),
        executor_heartbeat_interval_seconds: 5,
        override_config_producer: Some(Arc::new(base_config)),
        override_logical_codec: Some(Arc::new(GridLogicalCodec::default())),
        override_physical_codec: Some(Arc::new(GridPhysicalCodec::default())),
        override_function_registry: Some(Arc::new(function_registry())),
        ..ExecutorProcessConfig::default()
    };
    eprintln!(
        "gridsql executor on {}:{port} (gRPC {grpc_port}), scheduler {}, {vcores} task slots",
        config.bind_host, args.scheduler
    );
    start_executor_process(Arc::new(config))
        .await
        .map_err(|e| anyhow!("executor: {e}"))?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scheduler's connections inherit TCP_NODELAY from its listener
    /// (what `listen_without_nagle` relies on; axum sets nothing on them).
    #[tokio::test]
    async fn the_schedulers_connections_send_without_delay() {
        let listener =
            listen_without_nagle(SocketAddr::from(([127, 0, 0, 1], 0))).expect("a listener");
        let addr = listener.local_addr().expect("its address");
        let client = tokio::net::TcpStream::connect(addr);
        let (accepted, client) = tokio::join!(listener.accept(), client);
        let (server_side, _) = accepted.expect("a connection");
        assert!(server_side.nodelay().expect("TCP_NODELAY readable"));
        drop(client);
    }
}
