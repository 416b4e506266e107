//! A real Ballista cluster on loopback: `gridsql scheduler` and two
//! `gridsql executor` processes. Queries sent through it (in-process with
//! `cluster_context`, or by the shell's `--cluster`) must give xarray's
//! answers, read stores from an S3-compatible server, and survive the loss
//! of an executor.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use gridsql_engine::{SessionOptions, cluster_context};

use crate::s3::{BUCKET, Moto, free_port};
use crate::util::{assert_csv_close, data_dir, gridsql_env, output_within};
use crate::xarray_parity::{failure, reference_cases, run_case_in};

/// A scheduler and its executors, each a separate `gridsql` process, killed
/// when dropped. Their logs go to files in `logs`, printed when a test fails
/// to start them.
struct Cluster {
    scheduler: Child,
    executors: Vec<Option<Child>>,
    port: u16,
    logs: tempfile::TempDir,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for e in self.executors.iter_mut().flatten() {
            let _ = e.kill();
            let _ = e.wait();
        }
        let _ = self.scheduler.kill();
        let _ = self.scheduler.wait();
    }
}

fn wait_for_port(port: u16, what: &str, child: &mut Child, logs: &Path) {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "{what} exited ({status}) before listening on {addr}:\n{}",
                logs_text(logs)
            );
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not listen on {addr} within 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn logs_text(dir: &Path) -> String {
    let mut out = String::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            out.push_str(&format!(
                "--- {}\n{}\n",
                e.path().display(),
                tail(&text, 40)
            ));
        }
    }
    out
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The executors' log level at which each task of a COPY to Zarr says what
/// it wrote.
const COPY_LOG: (&str, &str) = ("RUST_LOG", "warn,gridsql_engine::copy_to=info");

impl Cluster {
    /// Starts a scheduler and `n` executors with `envs` (object-store
    /// credentials) and waits until a query runs.
    fn start(n: usize, envs: &[(&str, &str)]) -> Cluster {
        let cluster = Self::start_with(n, 2, envs, &[]);
        cluster.wait_ready();
        cluster
    }

    /// Starts a scheduler with `scheduler_args` and `n` executors of `slots`
    /// task slots each, without waiting for them to register.
    fn start_with(
        n: usize,
        slots: usize,
        envs: &[(&str, &str)],
        scheduler_args: &[&str],
    ) -> Cluster {
        let logs = tempfile::tempdir().expect("log dir");
        let port = free_port();
        let spawn = |args: &[String], log: &str| -> Child {
            let file = std::fs::File::create(logs.path().join(log)).expect("log file");
            Command::new(env!("CARGO_BIN_EXE_gridsql"))
                .args(args)
                .env("RUST_LOG", "warn")
                .envs(envs.iter().copied())
                .stdin(Stdio::null())
                .stdout(file.try_clone().expect("log file"))
                .stderr(file)
                .spawn()
                .expect("start gridsql")
        };
        let mut args: Vec<String> = vec![
            "scheduler".into(),
            "--bind".into(),
            format!("127.0.0.1:{port}"),
            "--executor-timeout".into(),
            "10".into(),
        ];
        args.extend(scheduler_args.iter().map(|a| a.to_string()));
        let mut scheduler = spawn(&args, "scheduler.log");
        wait_for_port(port, "scheduler", &mut scheduler, logs.path());
        let mut executors = Vec::new();
        for i in 0..n {
            let flight = free_port();
            let grpc = free_port();
            let work = logs.path().join(format!("work{i}"));
            std::fs::create_dir_all(&work).expect("work dir");
            let mut child = spawn(
                &[
                    "executor".into(),
                    "--scheduler".into(),
                    format!("127.0.0.1:{port}"),
                    "--bind".into(),
                    format!("127.0.0.1:{flight}"),
                    "--grpc-port".into(),
                    grpc.to_string(),
                    "--concurrency".into(),
                    slots.to_string(),
                    "--work-dir".into(),
                    work.display().to_string(),
                ],
                &format!("executor{i}.log"),
            );
            wait_for_port(flight, "executor", &mut child, logs.path());
            executors.push(Some(child));
        }
        Cluster {
            scheduler,
            executors,
            port,
            logs,
        }
    }

    /// Runs the shell with `--cluster`, CSV output, in the working
    /// directory `dir`.
    fn shell_in(&self, dir: &Path, datasets: &[&str], sql: &str) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gridsql"));
        cmd.args(self.shell_args(&[], datasets, sql))
            .current_dir(dir)
            .env("RUST_LOG", "error");
        output_within(cmd, Duration::from_secs(120))
    }

    /// The lines of the executors' logs (with [`COPY_LOG`]) that say a task
    /// of a COPY to Zarr wrote chunks.
    fn chunk_writers(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for i in 0..self.executors.len() {
            let log = self.logs.path().join(format!("executor{i}.log"));
            let text = std::fs::read_to_string(log).unwrap_or_default();
            lines.extend(
                text.lines()
                    .filter(|l| l.contains(" wrote ") && !l.contains(" wrote 0 chunks"))
                    .map(str::to_string),
            );
        }
        lines
    }

    fn url(&self) -> String {
        format!("df://127.0.0.1:{}", self.port)
    }

    /// Waits until the executors have registered: a query succeeds.
    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let out = self.shell(&[], "SELECT 1 AS one");
            if out.status.success() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the cluster did not run a query within 60 s: {}\n{}",
                String::from_utf8_lossy(&out.stderr),
                logs_text(self.logs.path())
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Runs the shell with `--cluster`, CSV output.
    fn shell(&self, datasets: &[&str], sql: &str) -> Output {
        self.shell_env(datasets, sql, &[])
    }

    fn shell_env(&self, datasets: &[&str], sql: &str, envs: &[(&str, &str)]) -> Output {
        let args = self.shell_args(&[], datasets, sql);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        gridsql_env(&args, envs)
    }

    /// The shell's arguments that run `sql` on `datasets` through the
    /// cluster, CSV output, with the options `extra` first.
    fn shell_args(&self, extra: &[&str], datasets: &[&str], sql: &str) -> Vec<String> {
        ["--cluster", &self.url()]
            .into_iter()
            .chain(extra.iter().copied())
            .chain(["--format", "csv", "-q"])
            .chain(datasets.iter().copied())
            .chain(["-c", sql])
            .map(str::to_string)
            .collect()
    }

    /// Kills executor `i` (`kill -9`) and reaps it.
    fn kill_executor(&mut self, i: usize) {
        if let Some(mut e) = self.executors[i].take() {
            e.kill().expect("kill executor");
            let _ = e.wait();
        }
    }
}

/// The shell's CSV output without the cluster (same binary, same query).
fn local(datasets: &[&str], sql: &str, envs: &[(&str, &str)]) -> Output {
    let mut args = vec!["--format", "csv", "-q"];
    args.extend_from_slice(datasets);
    args.extend_from_slice(&["-c", sql]);
    gridsql_env(&args, envs)
}

fn stdout_ok(what: &str, out: &Output) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every xarray-checked case on Zarr v2, NetCDF and GRIB, run on the
/// cluster from an in-process client session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_answers_match_xarray() {
    let Some(cases) = reference_cases("v2,nc,grib") else {
        return;
    };
    let cluster = Cluster::start(2, &[]);
    // Four partitions on two executors: tasks get slices of the scans'
    // partitions (connectors/src/partition_tags.rs).
    let opts = SessionOptions {
        target_partitions: 4,
        ..SessionOptions::default()
    };
    let mut failures = Vec::new();
    for case in &cases {
        let ctx = cluster_context(&opts, &cluster.url())
            .await
            .expect("cluster session");
        failures.extend(failure(case, run_case_in(&ctx, case).await));
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases on the cluster differ from xarray:\n{}\nlogs:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n"),
        logs_text(cluster.logs.path())
    );
    eprintln!(
        "{} cases on v2,nc,grib match xarray through the cluster",
        cases.len()
    );
}

/// Queries through the shell's `--cluster` equal the same shell without it,
/// on Zarr v3 and a NetCDF-4 file, including gridsql's functions.
#[test]
fn shell_on_cluster_equals_local() {
    let Some(data) = data_dir() else {
        return;
    };
    let cluster = Cluster::start(2, &[]);
    let sst = format!("t={}", data.join("sst.mnmean.nc.v3.zarr").display());
    let queries = [
        "SELECT count(*), count(sst), avg(sst), min(sst), max(sst) FROM t",
        "SELECT date_part('month', time) AS m, avg(sst) FROM t GROUP BY 1 ORDER BY 1",
        "SELECT season(time) AS s, sum(sst * lat_weight(lat)) / sum(CASE WHEN sst IS NOT NULL THEN lat_weight(lat) END) AS w FROM t GROUP BY 1 ORDER BY 1",
        "SELECT lat, avg(sst) FROM t WHERE in_box(lat, lon, -10, 10, 170, -170) GROUP BY lat ORDER BY lat",
        "SELECT weighted_avg(sst, cell_area(lat, 2.0, 2.0)) FROM t WHERE time >= '2000-01-01'",
        "SELECT time, lat, lon, sst FROM t WHERE lat > 80 ORDER BY time, lat, lon LIMIT 20",
    ];
    for sql in queries {
        let got = stdout_ok(sql, &cluster.shell(&[&sst], sql));
        let want = stdout_ok(sql, &local(&[&sst], sql, &[]));
        assert!(got.lines().count() > 1, "{sql}: no rows");
        assert_csv_close(sql, &got, &want);
    }
}

/// A store read from an S3-compatible server by the executors, with
/// credentials from their own environment.
#[test]
fn cluster_reads_from_s3() {
    let Some(data) = data_dir() else {
        return;
    };
    let Some(moto) = Moto::start() else {
        return;
    };
    let tcw = data.join("tcw.nc.v2.zarr");
    moto.upload(&[(&tcw, "tcw.zarr")]);
    let envs = moto.envs();
    let cluster = Cluster::start(2, &envs);
    let remote = format!("t=s3://{BUCKET}/tcw.zarr");
    let local_ds = format!("t={}", tcw.display());
    for sql in [
        "SELECT count(*), avg(tcw), min(tcw), max(tcw) FROM t",
        "SELECT time, avg(tcw) FROM t GROUP BY time ORDER BY time",
    ] {
        let got = stdout_ok(sql, &cluster.shell_env(&[&remote], sql, &envs));
        let want = stdout_ok(sql, &local(&[&local_ds], sql, &[]));
        assert!(got.lines().count() > 1, "{sql}: no rows");
        assert_csv_close(&format!("S3 through the cluster: {sql}"), &got, &want);
    }
    // a COPY from S3 to S3, its chunks written by the executors and its
    // coordinates and metadata by the client; read back from S3, it equals
    // the same COPY written locally
    let copy = |target: &str| {
        format!(
            "COPY (SELECT time, latitude, longitude, tcw FROM t WHERE latitude > 0) \
             TO '{target}' STORED AS ZARR OPTIONS ('chunks' '4,37,144')"
        )
    };
    let here = tempfile::tempdir().expect("temp dir");
    let local_copy = here.path().join("north.zarr");
    let remote_copy = format!("s3://{BUCKET}/north.zarr");
    stdout_ok(
        "COPY to S3 on the cluster",
        &cluster.shell_env(&[&remote], &copy(&remote_copy), &envs),
    );
    stdout_ok(
        "COPY locally",
        &local(&[&local_ds], &copy(&local_copy.display().to_string()), &[]),
    );
    let read =
        "SELECT time, count(tcw), avg(tcw), max(latitude) FROM w GROUP BY time ORDER BY time";
    let got = stdout_ok(read, &local(&[&format!("w={remote_copy}")], read, &envs));
    let want = stdout_ok(
        read,
        &local(&[&format!("w={}", local_copy.display())], read, &[]),
    );
    assert!(want.lines().count() > 10, "{want}");
    assert_csv_close("the cluster's COPY to S3 read back", &got, &want);
}

/// An executor killed while a query runs: the query completes on the other
/// executor or fails with a clear error, and the next query is answered.
#[test]
fn losing_an_executor_mid_query() {
    let Some(data) = data_dir() else {
        return;
    };
    let mut cluster = Cluster::start(2, &[]);
    let SlowJoin {
        table: sst,
        want,
        query,
    } = SlowJoin::start(&cluster, &data);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        !query.is_finished(),
        "the query ended before the executor was killed; the test needs a slower query"
    );
    cluster.kill_executor(0);
    let out = query.join().expect("query thread");
    if out.status.success() {
        assert_csv_close(
            "the query that survived the lost executor",
            &String::from_utf8_lossy(&out.stdout),
            &want,
        );
        eprintln!("the query completed on the remaining executor");
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.lines().count() <= 3 && err.contains("gridsql:"),
            "the failure is not a clear one-line error: {err}"
        );
        eprintln!("the query failed cleanly: {}", err.trim());
    }
    // The scheduler still serves: the next query runs on the other executor.
    let next = "SELECT count(*), avg(sst) FROM t WHERE time < '1990-01-01'";
    let got = stdout_ok("next query", &cluster.shell(&[&sst], next));
    let want = stdout_ok("local next query", &local(&[&sst], next, &[]));
    assert_csv_close("the next query", &got, &want);
}

/// An executor killed while the join's stage runs, after the other executor
/// has finished some of that stage's tasks. Ballista rolls the stage back and
/// runs all its tasks again: the outputs of the tasks that had finished must
/// not be read twice (the answer came out too large), and the tasks cancelled
/// on the surviving executor must give their slot back (with one slot the job
/// never ended), and the new attempt's output must not be overwritten by a
/// cancelled task of the earlier one (a partition read as empty). All three
/// are fixed in `vendor/ballista-scheduler` (see vendor/README.md). The executors log their tasks, so the kill lands in
/// that window, not at a guessed time.
#[test]
fn losing_an_executor_while_the_join_runs_counts_each_row_once() {
    let Some(data) = data_dir() else {
        return;
    };
    // 8 tasks per stage on 2 single-slot executors: the join's stage has
    // finished tasks on one executor while the other runs one of its own.
    let mut cluster = Cluster::start_with(
        2,
        1,
        &[("RUST_LOG", "warn,ballista_executor::executor_server=info")],
        &["--tasks-per-slot", "4"],
    );
    cluster.wait_ready();
    let SlowJoin { want, query, .. } = SlowJoin::start(&cluster, &data);
    let logs = [0, 1].map(|i| cluster.logs.path().join(format!("executor{i}.log")));
    let victim = loop {
        let tasks = logs
            .each_ref()
            .map(|log| JoinTasks::read(&std::fs::read_to_string(log).unwrap_or_default()));
        if let Some(v) = (0..2).find(|&v| tasks[v].running() && tasks[1 - v].finished > 0) {
            break v;
        }
        assert!(
            !query.is_finished(),
            "the query ended before one executor finished a task of the join's \
             stage while the other ran one; executor logs:\n{}",
            logs_text(cluster.logs.path())
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    cluster.kill_executor(victim);
    let out = query.join().expect("query thread");
    let got = stdout_ok("the query that lost an executor in its join", &out);
    assert_csv_close("the query that lost an executor in its join", &got, &want);
}

/// A self-join of sst.mnmean.nc.v2.zarr that runs for seconds on a
/// cluster: time to kill an executor while it runs.
struct SlowJoin {
    /// The shell's table argument.
    table: String,
    /// The local answer (CSV).
    want: String,
    /// The shell running the join on the cluster.
    query: std::thread::JoinHandle<Output>,
}

impl SlowJoin {
    fn start(cluster: &Cluster, data: &Path) -> SlowJoin {
        let table = format!("t={}", data.join("sst.mnmean.nc.v2.zarr").display());
        let sql = "SELECT count(*), sum(a.sst * b.sst) FROM t a JOIN t b \
                   ON a.lat = b.lat AND a.lon = b.lon AND a.time < b.time \
                   WHERE a.lat BETWEEN -30 AND 30 AND b.lat BETWEEN -30 AND 30";
        let want = stdout_ok("local slow query", &local(&[&table], sql, &[]));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gridsql"));
        cmd.args(cluster.shell_args(&[], &[&table], sql))
            .env("RUST_LOG", "error");
        let query = std::thread::spawn(move || output_within(cmd, Duration::from_secs(240)));
        SlowJoin { table, want, query }
    }
}

/// Tasks of the join's stage (stage 3: stages 1 and 2 read the two sides)
/// that an executor's log shows started and finished.
struct JoinTasks {
    started: usize,
    finished: usize,
}

impl JoinTasks {
    fn read(log: &str) -> JoinTasks {
        // Ballista's executor logs "Execute task  : [TID job/stage.attempt/…]"
        // and "Finished task : [TID job/stage.attempt/…] in …".
        let count = |what: &str| {
            log.lines()
                .filter(|l| l.contains(what))
                .filter(|l| {
                    l.split("[TID ")
                        .nth(1)
                        .and_then(|tid| tid.split('/').nth(1))
                        .is_some_and(|stage| stage.starts_with("3."))
                })
                .count()
        };
        JoinTasks {
            started: count("Execute task"),
            finished: count("Finished task"),
        }
    }

    fn running(&self) -> bool {
        self.started > self.finished
    }
}

/// A scheduler or an executor whose port is taken exits non-zero at once
/// with one line naming the address, instead of running without the port.
#[test]
fn processes_whose_port_is_taken_exit_with_one_line() {
    let taken = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("a port");
    let port = taken.local_addr().expect("address").port();
    let bind = format!("127.0.0.1:{port}");
    for (what, args) in [
        ("scheduler", vec!["scheduler", "--bind", bind.as_str()]),
        (
            "executor",
            vec![
                "executor",
                "--scheduler",
                "127.0.0.1:1",
                "--bind",
                bind.as_str(),
            ],
        ),
    ] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gridsql"));
        cmd.args(&args).env("RUST_LOG", "error");
        let out = output_within(cmd, Duration::from_secs(60));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "{what} started on a taken port: {err}"
        );
        assert_eq!(err.trim_end().lines().count(), 1, "{what}: {err}");
        assert!(
            err.contains(&bind) && err.contains("cannot listen"),
            "{what}: {err}"
        );
    }
}

/// A query sent to a scheduler that has no executor fails once the
/// scheduler's --wait-for-executors has passed, instead of waiting forever,
/// and the scheduler's log says why; the scheduler keeps serving.
#[test]
fn a_query_without_executors_fails_within_the_wait() {
    let mut cluster = Cluster::start_with(0, 2, &[], &["--wait-for-executors", "3"]);
    let url = cluster.url();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gridsql"));
    cmd.args([
        "--cluster",
        &url,
        "--format",
        "csv",
        "-q",
        "-c",
        "SELECT 1 AS one",
    ])
    .env("RUST_LOG", "error");
    let started = Instant::now();
    let out = output_within(cmd, Duration::from_secs(60));
    let took = started.elapsed();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a query ran without executors: {err}"
    );
    let logs = logs_text(cluster.logs.path());
    assert!(
        err.contains("gridsql:") && err.contains("Cancelled"),
        "unexpected error: {err}\n{logs}"
    );
    assert!(
        logs.contains("no executor has been connected to the scheduler for 3 s"),
        "the scheduler's log does not say why: {logs}"
    );
    assert!(took < Duration::from_secs(20), "failed only after {took:?}");
    assert!(
        matches!(cluster.scheduler.try_wait(), Ok(None)),
        "the scheduler exited after failing the query"
    );
}

/// The binary rejects a malformed cluster address with a clear error.
#[test]
fn bad_cluster_url_is_a_clear_error() {
    let out = gridsql_env(&["--cluster", "http://nowhere:1", "-c", "SELECT 1"], &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("df://HOST:PORT"), "unclear error: {err}");
}

/// kerchunk references (one file, and a multi-file collection) and an
/// Icechunk repository at a tag and at its branch, read by the executors:
/// the same answers as the shell without the cluster.
#[test]
fn virtual_and_versioned_datasets_on_the_cluster() {
    let dir = tempfile::tempdir().expect("temp dir");
    let Some((_, refs)) = crate::references::virtual_fixtures(dir.path()) else {
        return;
    };
    let cluster = Cluster::start(2, &[]);
    let find = |kind: &str, f: &str| refs.find(kind, f);
    let repo = dir.path().join("repo").display().to_string();
    let runs: Vec<(String, String)> = vec![
        (
            format!("t={}", find("json-hdf5", "tcw.nc")),
            "SELECT time, avg(tcw), count(tcw) FROM t GROUP BY time ORDER BY time".into(),
        ),
        (
            format!("t={}", find("multi-file", "dt_med_allsat_phy_l4_2005T2.nc")),
            "SELECT time, avg(adt) FROM t GROUP BY time ORDER BY time".into(),
        ),
        (
            format!("t={repo}"),
            "SELECT time, avg(sst), count(sst) FROM t GROUP BY time ORDER BY time".into(),
        ),
        (
            String::new(),
            format!(
                "CREATE EXTERNAL TABLE v STORED AS ICECHUNK LOCATION '{repo}' OPTIONS ('tag' 'v1'); \
                 SELECT time, avg(sst) FROM v GROUP BY time ORDER BY time"
            ),
        ),
    ];
    for (dataset, sql) in &runs {
        let datasets: Vec<&str> = [dataset.as_str()]
            .into_iter()
            .filter(|d| !d.is_empty())
            .collect();
        let got = stdout_ok(sql, &cluster.shell(&datasets, sql));
        let want = stdout_ok(sql, &local(&datasets, sql, &[]));
        assert!(got.lines().count() > 10, "{sql}: too few rows\n{got}");
        assert_csv_close(&format!("{dataset}: {sql}"), &got, &want);
    }
}

/// COPY to a grid with the query on the cluster: to Zarr, the executors
/// write the chunks side by side (more than one task writes chunks) and
/// the client the metadata; to NetCDF, the sink travels to one executor.
/// Read back, each store equals the one the same COPY writes without the
/// cluster (a box, and monthly climatologies whose partial states are
/// merged on the cluster). A COPY that fails on the executors leaves no
/// store that looks complete.
#[test]
fn copy_to_a_grid_on_the_cluster() {
    let Some(data) = data_dir() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let cluster = Cluster::start(2, &[COPY_LOG]);
    let table = format!("t={}", data.join("sst.mnmean.nc").display());
    // `COPY (query) TO target STORED AS stored OPTIONS (options)` on the
    // cluster and locally; `read` of both stores, equal; the local answer
    let same_as_local = |name: &str, query: &str, stored: &str, options: &str, read: &str| {
        let copy = |target: &Path| {
            format!(
                "COPY ({query}) TO '{}' STORED AS {stored} OPTIONS ({options})",
                target.display()
            )
        };
        let ext = if stored == "NETCDF" { "nc" } else { "zarr" };
        let remote = dir.path().join(format!("{name}-cluster.{ext}"));
        let here = dir.path().join(format!("{name}-local.{ext}"));
        stdout_ok(name, &cluster.shell(&[&table], &copy(&remote)));
        stdout_ok(name, &local(&[&table], &copy(&here), &[]));
        let read_from = |store: &Path| {
            stdout_ok(
                read,
                &local(&[&format!("w={}", store.display())], read, &[]),
            )
        };
        let (got, want) = (read_from(&remote), read_from(&here));
        assert_csv_close(&format!("{name} read back"), &got, &want);
        want
    };
    let climatology = "SELECT CAST(date_part('month', time) AS BIGINT) AS month, lat, lon, avg(sst) AS sst \
                       FROM t GROUP BY 1, 2, 3";
    let want = same_as_local(
        "box",
        "SELECT time, lat, lon, sst FROM t WHERE lat BETWEEN -20 AND 20 AND lon BETWEEN 120 AND 280",
        "ZARR",
        "'zarr_format' '2'",
        "SELECT count(*), count(sst), avg(sst), min(time), max(lat) FROM w",
    );
    assert_eq!(want.lines().count(), 2, "{want}");
    // a relative target is the client's: the executors (elsewhere) write
    // into the store the client created, Zarr and NetCDF alike
    let box_query = "SELECT time, lat, lon, sst FROM t WHERE lat BETWEEN -20 AND 20 AND lon BETWEEN 120 AND 280";
    for (name, stored) in [("relative.zarr", "ZARR"), ("relative.nc", "NETCDF")] {
        let sql = format!("COPY ({box_query}) TO '{name}' STORED AS {stored}");
        stdout_ok(&sql, &cluster.shell_in(dir.path(), &[&table], &sql));
        let read = "SELECT count(*), count(sst), avg(sst), min(time), max(lat) FROM w";
        let got = stdout_ok(
            read,
            &local(
                &[&format!("w={}", dir.path().join(name).display())],
                read,
                &[],
            ),
        );
        assert_csv_close(&format!("{name} read back"), &got, &want);
    }
    let tasks = cluster.chunk_writers();
    assert!(
        tasks.len() >= 2,
        "fewer than two tasks wrote chunks:\n{}",
        tasks.join("\n")
    );
    // a climatology to Zarr v3 in chunks of two months
    let want = same_as_local(
        "climatology",
        climatology,
        "ZARR",
        "'dims' 'month,lat,lon', 'chunks' '2,45,90'",
        "SELECT month, count(sst), avg(sst), min(lat), max(lon) FROM w GROUP BY month ORDER BY month",
    );
    assert_eq!(want.lines().count(), 13, "{want}");
    // to NetCDF: one task writes the file (partial states merged on the cluster)
    let want = same_as_local(
        "netcdf",
        climatology,
        "NETCDF",
        "'dims' 'month,lat,lon'",
        "SELECT count(*), count(sst), avg(sst), min(month), max(lat) FROM w",
    );
    assert!(want.contains("192240,131856"), "{want}");
    // the four xarray-checked COPY results of tests/copy_to.rs (a string
    // dimension, a join among them), written to Zarr v3 and v2 by the
    // executors, equal xarray's own computation
    if let Some(py) = crate::util::python() {
        let mut problems = Vec::new();
        for (i, (kind, source, sql, _, dims)) in crate::copy_to::RESULTS.into_iter().enumerate() {
            let format = if i % 2 == 0 { "3" } else { "2" };
            let out = dir.path().join(format!("{kind}.v{format}.zarr"));
            let dims = dims.map(|d| format!(", 'dims' '{d}'")).unwrap_or_default();
            let sql = format!(
                "COPY ({sql}) TO '{}' STORED AS ZARR OPTIONS ('zarr_format' '{format}'{dims})",
                out.display()
            );
            let source = format!("t={}", data.join(source).display());
            stdout_ok(&sql, &cluster.shell(&[&source], &sql));
            let c = crate::copy_to::check(&py, &data, kind, &out, "zarr");
            problems.extend(
                c.problems
                    .iter()
                    .map(|p| format!("{kind} (v{format}): {p}")),
            );
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
    // two rows for a cell: the executors fail, no metadata is written
    let failed = dir.path().join("failed.zarr");
    let out = cluster.shell(
        &[&table],
        &format!(
            "COPY (SELECT lat, lon, sst FROM t) TO '{}' STORED AS ZARR OPTIONS ('dims' 'lat,lon')",
            failed.display()
        ),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a COPY with two rows a cell succeeded"
    );
    assert!(err.contains("two rows for the cell"), "{err}");
    assert!(
        !failed.join("zarr.json").exists(),
        "a failed COPY left root metadata"
    );
}

/// A server in front of the cluster takes a COPY to Zarr from psql under its
/// write root (the executors write the chunks, the server the coordinates
/// and metadata) and refuses one outside it; read back, the store equals
/// the one the same COPY writes locally.
#[test]
fn a_server_on_the_cluster_copies_under_its_write_root() {
    let Some(data) = data_dir() else {
        return;
    };
    let cluster = Cluster::start(2, &[COPY_LOG]);
    let dir = tempfile::tempdir().expect("temp dir");
    let writable = dir.path().join("out");
    std::fs::create_dir_all(&writable).expect("folder");
    let root = format!("{}/", writable.display());
    let url = cluster.url();
    let server = crate::servers::Server::start(
        &data,
        &[
            "--cluster",
            &url,
            "--allow-ddl",
            "--allow-write-root",
            &root,
        ],
        &[],
    );
    let copy = |table: &str, target: &Path| {
        format!(
            "COPY (SELECT time, lat, lon, sst FROM {table} WHERE lat BETWEEN -20 AND 20) \
             TO '{}' STORED AS ZARR",
            target.display()
        )
    };
    let inside = writable.join("box.zarr");
    let (ok, stdout, err) = server.psql("gridsql", None, &copy("sst", &inside));
    assert!(ok && stdout.contains("COPY "), "psql: {stdout} {err}");
    assert!(
        !cluster.chunk_writers().is_empty(),
        "no executor wrote chunks"
    );
    let outside = dir.path().join("box.zarr");
    let (ok, _, err) = server.psql("gridsql", None, &copy("sst", &outside));
    assert!(!ok && err.contains("outside"), "psql outside: {err}");
    assert!(!outside.exists(), "nothing written outside the write root");
    let table = format!("sst={}", data.join("sst.mnmean.nc").display());
    let here = dir.path().join("local.zarr");
    stdout_ok("COPY locally", &local(&[&table], &copy("sst", &here), &[]));
    let read = "SELECT count(*), count(sst), avg(sst), min(time), max(lat) FROM w";
    let read_from = |store: &Path| {
        stdout_ok(
            read,
            &local(&[&format!("w={}", store.display())], read, &[]),
        )
    };
    assert_csv_close(
        "the server's cluster COPY read back",
        &read_from(&inside),
        &read_from(&here),
    );
}

/// Aggregates grouped by dimensions the scan is not split along (dense
/// partial states from every task, merged once) count every value, whatever
/// the number of scan partitions, also under an outer aggregate. (The
/// merge's coalescing was dropped from such plans, and each cluster task
/// merged only its share: 1/p of the values with p partitions.)
#[test]
fn grouped_aggregates_merge_every_tasks_states() {
    let Some(data) = data_dir() else {
        return;
    };
    let cluster = Cluster::start(2, &[]);
    let table = format!("t={}", data.join("sst.mnmean.nc.v3.zarr").display());
    let sql = "SELECT count(*), sum(n), sum(s) FROM \
               (SELECT lat, lon, count(sst) AS n, sum(sst) AS s FROM t GROUP BY lat, lon)";
    let want = stdout_ok(sql, &local(&[&table], sql, &[]));
    assert!(want.contains("1406464"), "{want}");
    for partitions in ["1", "2", "4"] {
        let args = cluster.shell_args(&["--partitions", partitions], &[&table], sql);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let got = stdout_ok(sql, &gridsql_env(&args, &[]));
        assert_csv_close(&format!("{partitions} partitions"), &got, &want);
    }
}
