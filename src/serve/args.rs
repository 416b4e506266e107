//! `gridsql serve`'s command line, and its checked form: addresses resolved,
//! auth loaded and required off loopback, limits parsed, roots built.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use gridsql_engine::Catalog;

use super::auth::{Credentials, check_bind};
use super::limits::QueryLimits;
use gridsql_connectors::location::AllowedRoots;

use crate::args::{DatasetArg, parse_size};

/// Default Flight SQL address when neither server is named.
const DEFAULT_FLIGHT_SQL: &str = "127.0.0.1:32010";
/// Default PostgreSQL address when neither server is named.
const DEFAULT_PG: &str = "127.0.0.1:5432";

/// Arguments of `gridsql serve`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ServeArgs {
    /// Datasets to serve besides the catalog's: `PATH_OR_URL` or `NAME=PATH_OR_URL`.
    pub(crate) datasets: Vec<DatasetArg>,
    /// Catalog file (TOML) naming the datasets every client sees as tables
    /// (see docs/catalog.example.toml).
    #[arg(long, value_name = "FILE")]
    pub(crate) catalog: Option<PathBuf>,
    /// Serve Arrow Flight SQL on this address (port 0: any free port).
    /// Without --flight-sql and --pg both servers start, on 127.0.0.1:32010 and 127.0.0.1:5432.
    #[arg(long = "flight-sql", value_name = "HOST:PORT")]
    pub(crate) flight_sql: Option<String>,
    /// Serve the PostgreSQL wire protocol on this address (port 0: any free port).
    #[arg(long, value_name = "HOST:PORT")]
    pub(crate) pg: Option<String>,
    /// Run every query on a Ballista cluster: `df://HOST:PORT` of its scheduler.
    #[arg(long, value_name = "df://HOST:PORT")]
    pub(crate) cluster: Option<String>,
    /// Let clients open datasets under this prefix (a folder or URL prefix;
    /// repeatable) with read_zarr/read_netcdf/grid_variables/grid_attributes.
    #[arg(long = "allow-root", value_name = "PREFIX")]
    pub(crate) allow_roots: Vec<String>,
    /// Let clients write grids (`COPY ... TO ... STORED AS ZARR|NETCDF`, with
    /// --allow-ddl) under this prefix (a folder or URL prefix; repeatable).
    #[arg(long = "allow-write-root", value_name = "PREFIX")]
    pub(crate) allow_write_roots: Vec<String>,
    /// Let clients run DDL and DML (CREATE, DROP, INSERT, COPY, SET datafusion.*).
    #[arg(long)]
    pub(crate) allow_ddl: bool,
    /// The user clients must log in as (with --password-env); required to
    /// bind anything but loopback.
    #[arg(long, requires = "password_env")]
    pub(crate) user: Option<String>,
    /// Environment variable holding the password of --user.
    #[arg(long, value_name = "VAR", requires = "user")]
    pub(crate) password_env: Option<String>,
    /// Memory limit of one query, e.g. 512M or 2G (default: 60% of memory
    /// divided by --max-concurrent-queries, at least 256M).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub(crate) memory_limit: Option<usize>,
    /// Time limit of one query in seconds, waiting for a slot included.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub(crate) query_timeout: u64,
    /// Queries that may run at once; more wait for a slot.
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub(crate) max_concurrent_queries: usize,
    /// Partitions per scan (default: number of cores).
    #[arg(long)]
    pub(crate) partitions: Option<usize>,
    #[command(flatten)]
    pub(crate) io: crate::args::IoArgs,
    /// TLS certificate chain (PEM) for both servers; needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub(crate) tls_cert: Option<PathBuf>,
    /// TLS private key (PEM) for both servers; needs --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,
}

/// The checked configuration.
#[derive(Debug)]
pub(crate) struct ServeConfig {
    pub(crate) datasets: Vec<DatasetArg>,
    pub(crate) catalog: Option<(PathBuf, Catalog)>,
    pub(crate) flight_sql: Option<SocketAddr>,
    pub(crate) pg: Option<SocketAddr>,
    pub(crate) cluster: Option<String>,
    pub(crate) roots: AllowedRoots,
    pub(crate) write_roots: Option<AllowedRoots>,
    pub(crate) allow_ddl: bool,
    pub(crate) credentials: Option<Credentials>,
    pub(crate) limits: QueryLimits,
    pub(crate) partitions: Option<usize>,
    pub(crate) tls: Option<(PathBuf, PathBuf)>,
}

impl ServeConfig {
    /// Checks the arguments and reads the catalog.
    ///
    /// # Errors
    /// Bad addresses, an unreadable catalog, a missing password, a
    /// non-loopback bind without auth, bad sizes.
    pub(crate) fn from_args(args: ServeArgs) -> anyhow::Result<Self> {
        let catalog = match &args.catalog {
            Some(p) => Some((p.clone(), Catalog::load(p)?)),
            None => None,
        };
        let credentials = match (&args.user, &args.password_env) {
            (Some(u), Some(v)) => Some(Credentials::from_env(u, v)?),
            _ => match catalog.as_ref().and_then(|(_, c)| c.auth.as_ref()) {
                Some(a) => Some(
                    Credentials::from_env(&a.user, &a.password_env).context("catalog [auth]")?,
                ),
                None => None,
            },
        };
        let (flight, pg) = match (&args.flight_sql, &args.pg) {
            (None, None) => (
                Some(DEFAULT_FLIGHT_SQL.to_string()),
                Some(DEFAULT_PG.to_string()),
            ),
            (f, p) => (f.clone(), p.clone()),
        };
        let flight_sql = flight.map(|a| resolve("--flight-sql", &a)).transpose()?;
        let pg = pg.map(|a| resolve("--pg", &a)).transpose()?;
        if let Some(a) = &flight_sql {
            check_bind("Flight SQL", a, credentials.is_some())?;
        }
        if let Some(a) = &pg {
            check_bind("PostgreSQL", a, credentials.is_some())?;
        }
        if let Some(url) = &args.cluster {
            anyhow::ensure!(
                url.starts_with("df://"),
                "--cluster '{url}': expected df://HOST:PORT of a Ballista scheduler"
            );
        }
        let mut prefixes = args.allow_roots.clone();
        let mut locations: Vec<String> = args.datasets.iter().map(|d| d.location.clone()).collect();
        if let Some((_, c)) = &catalog {
            prefixes.extend(c.allow_roots.iter().cloned());
            locations.extend(c.datasets.iter().map(|d| d.location.clone()));
        }
        let roots = AllowedRoots::new(&prefixes, &locations)?;
        let write_roots = (!args.allow_write_roots.is_empty())
            .then(|| AllowedRoots::new(&args.allow_write_roots, &[]))
            .transpose()?;
        let max_concurrent = args.max_concurrent_queries.max(1);
        let memory_limit = match args.memory_limit {
            Some(m) => m,
            None => (gridsql_engine::SessionOptions::default().memory_limit / max_concurrent)
                .max(256 << 20),
        };
        anyhow::ensure!(
            args.query_timeout > 0,
            "--query-timeout must be at least 1 second"
        );
        let limits = QueryLimits::new(
            max_concurrent,
            Duration::from_secs(args.query_timeout),
            // A cluster's executors run the plans and hold their own pools.
            args.cluster.is_none().then_some(memory_limit),
        );
        let tls = match (args.tls_cert, args.tls_key) {
            (Some(c), Some(k)) => Some((c, k)),
            _ => None,
        };
        Ok(ServeConfig {
            datasets: args.datasets,
            catalog,
            flight_sql,
            pg,
            cluster: args.cluster,
            roots,
            write_roots,
            allow_ddl: args.allow_ddl,
            credentials,
            limits,
            partitions: args.partitions.map(|p| p.max(1)),
            tls,
        })
    }
}

/// `HOST:PORT` to one socket address (the first a host name resolves to).
fn resolve(flag: &str, addr: &str) -> anyhow::Result<SocketAddr> {
    use std::net::ToSocketAddrs;
    let mut addrs = addr
        .to_socket_addrs()
        .with_context(|| format!("{flag} '{addr}': expected HOST:PORT"))?;
    addrs
        .next()
        .with_context(|| format!("{flag} '{addr}': the host has no address"))
}
