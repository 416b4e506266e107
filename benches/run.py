#!/usr/bin/env python3
"""gridsql against xarray + dask on the benchmark store, in one run.

    python benches/run.py [--days 365] [--runs 5] [--queries Q1,Q2,Q3,Q4,Q5] [--suite main|formats|cluster|cloud|refs]

Generates (or reuses) the AVISO-like store of ../shared/anchors/gen.py under bench-data/<days>d/, builds
the gridsql timing binary (`cargo bench --bench grid_queries --no-run`, release profile), then for each
query alternates gridsql and xarray + dask (`bench.py one`, each in a fresh process: one warm-up run, then
--runs timed runs) for --rounds rounds, and prints medians, the xarray/gridsql ratio, peak RSS and the
checksums of both answers (sum and count of the result column, which must agree).

Suites:
  main     Q1-Q5 (bench.py's SQL) on sla_v2.zarr, gridsql vs xr-zarr2, plus the raw read floor R-zarr2
  formats  a full scan (Q1) on the same data as Zarr v2, Zarr v3 and NetCDF-4: gridsql vs xarray on each,
           plus the raw floors R-zarr2, R-zarr3, R-nc
  cloud    Q1-Q5 on sla_v2.zarr served over HTTP on loopback by an emulated link, benches/slow_link.rs
           (--server rust, the default) or benches/slow_http.py (--server python), which waits
           --latency-ms before each response and streams --rate-mbps MB/s per connection (defaults 30 ms,
           100 MB/s: one object-store GET from a cloud VM): gridsql (http:// location) vs xarray + dask
           (zarr-python over fsspec HTTP, benches/xarray_remote.py), alternating; the server counts each
           system's requests, bytes and peak requests in flight. --cloud-formats zarr2,nc adds NetCDF-4.
  cluster  the scaling suite: Q1-Q5 on sla_v2.zarr through Ballista clusters on loopback (release
           `gridsql scheduler` and `gridsql executor` processes) of each size in --executors (default 1,2),
           each executor pinned to its own core (`taskset -c`, core i mod cores) with --slots task slots
           (default 1), all clusters up at once, alternating per query and round with the same queries in
           one local process on all cores, and in one local process on one core (`taskset -c 0
           --partitions 1`: the machine's own 1 -> 2 core scaling of the same query, which bounds what
           two executors on two cores can show); answers collected whole, not printed. --queries may add W5:
           Q5's monthly climatology written by COPY to a Zarr store under bench-data/copy-out/ (on a
           cluster the executors write its chunks side by side, the client its metadata), each system's
           store then read back and its checksum compared with the local one's
  refs     the NetCDF-4 copy (sla.nc) read through kerchunk references (kerchunk.hdf, written once
           beside it as sla.nc.json) vs natively by gridsql, and xarray + dask reading the same references
           through fsspec (benches/xarray_remote.py --format refs); locally, then over the cloud suite's
           HTTP server (references whose URLs point at the served sla.nc), alternating per query and round

Results (one JSON object per line) go to bench-data/results-<suite>-<days>d.jsonl; the table is printed.
"""

import argparse
import json
import os
import platform
import statistics
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
ANCHORS = os.path.abspath(os.environ.get("GRIDSQL_ANCHORS", os.path.join(REPO, "..", "shared", "anchors")))
sys.path.insert(0, ANCHORS)
import bench as anchors  # noqa: E402  (the baseline's queries and runners)

# COPY statements of the cluster suite, by name; {target} is the store each system writes.
WRITES = {
    "W5": ("COPY (SELECT CAST(date_part('month', time) AS BIGINT) AS month, latitude, longitude, "
           "AVG(sla) AS sla FROM t GROUP BY 1, 2, 3) TO '{target}' STORED AS ZARR "
           "OPTIONS ('dims' 'month,latitude,longitude', 'overwrite' 'true')"),
}
# How a written store is read back for its checksum.
READ_BACK = "SELECT AVG(sla) AS m FROM t"

XR_SYSTEM = {"zarr2": "xr-zarr2", "zarr3": "xr-zarr3", "nc": "xr-nc"}
FLOOR = {"zarr2": "R-zarr2", "zarr3": "R-zarr3", "nc": "R-nc"}


def sh(cmd, env=None):
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{out.stderr[-4000:]}")
    return out


def result_of(out):
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    sys.exit(f"no RESULT line in:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")


def build_release(cargo_args, target):
    """Builds `target` in the release profile with `cargo_args`; returns the executable."""
    out = subprocess.run(["cargo", *cargo_args, "--message-format=json"],
                         cwd=REPO, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"cargo {' '.join(cargo_args)} failed:\n{out.stderr[-4000:]}")
    for line in out.stdout.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg["target"]["name"] == target \
                and msg.get("executable"):
            return msg["executable"]
    sys.exit(f"cannot find the {target} executable")


def build_gridsql():
    """The timing binary, benches/grid_queries.rs."""
    return build_release(["bench", "--bench", "grid_queries", "--no-run"], "grid_queries")


def build_gridsql_binary():
    """The gridsql binary (scheduler and executors of the cluster suite)."""
    return build_release(["build", "--release", "--bin", "gridsql"], "gridsql")


def gridsql_one(exe, location, sql, runs, cluster=None, one_core=False):
    cmd = [exe, "--location", location, "--sql", sql, "--runs", str(runs)]
    if cluster:
        cmd += ["--cluster", cluster]
    if one_core:
        cmd = ["taskset", "-c", "0"] + cmd + ["--partitions", "1"]
    return result_of(sh(cmd))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what):
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"{what} did not listen on {port}")


def start_cluster(binary, executors, slots=1, pin=True, tasks_per_slot=0):
    """A scheduler and `executors` executors on loopback, executor i pinned to core i mod cores
    (`taskset -c`) with `slots` task slots; the scheduler cuts scans into `tasks_per_slot` tasks per
    live slot (0: the client's partitions); returns (url, processes)."""
    port = free_port()
    procs = [subprocess.Popen([binary, "scheduler", "--bind", f"127.0.0.1:{port}",
                               "--tasks-per-slot", str(tasks_per_slot)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    wait_port(port, procs[0], "scheduler")
    for i in range(executors):
        flight, grpc = free_port(), free_port()
        cmd = [binary, "executor", "--scheduler", f"127.0.0.1:{port}",
               "--bind", f"127.0.0.1:{flight}", "--grpc-port", str(grpc), "--concurrency", str(slots)]
        if pin:
            cmd = ["taskset", "-c", str(i % os.cpu_count())] + cmd
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(p)
        wait_port(flight, p, "executor")
    time.sleep(6)  # executors register with their first heartbeat
    return f"df://127.0.0.1:{port}", procs


def peak_rss_mb(proc):
    """A live process's peak resident memory (VmHWM), in MiB."""
    try:
        with open(f"/proc/{proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def stop(procs):
    for p in procs:
        p.kill()
        p.wait()


def copy_target(root, query, system):
    """The store a COPY of the cluster suite writes for one system."""
    return os.path.join(root, "copy-out", f"{query}-{system}.zarr")


def cluster_suite(a, exe, p, name, root):
    """The scaling suite: the local run and clusters of each size in --executors, all up at once,
    alternating per query and round."""
    binary = build_gridsql_binary()
    queries = a.queries.split(",")
    sizes = [int(n) for n in a.executors.split(",")]
    systems = ["local", "local-1core"] + [f"cluster-{n}" for n in sizes]
    times = {(q, s): [] for q in queries for s in systems}
    sums = {}
    clusters = {}
    out_path = os.path.join(root, f"results-cluster-{name}.jsonl")
    try:
        for n in sizes:
            clusters[n] = start_cluster(binary, n, slots=a.slots, pin=not a.no_pin,
                                        tasks_per_slot=a.tasks_per_slot)
        with open(out_path, "a") as log:
            for _ in range(a.rounds):
                for q in queries:
                    for s in systems:
                        url = None if s.startswith("local") else clusters[int(s.split("-")[1])][0]
                        if q in WRITES:
                            sql = WRITES[q].format(target=copy_target(root, q, s))
                        else:
                            sql = anchors.SQL[q]
                        r = gridsql_one(exe, p["zarr2"], sql, a.runs, cluster=url,
                                        one_core=s == "local-1core")
                        log.write(json.dumps(dict(r, query=q, system=s, slots=a.slots,
                                                  tasks_per_slot=a.tasks_per_slot)) + "\n")
                        times[(q, s)] += r["times"]
                        sums[(q, s)] = r["checksum"]
        rss = {n: [peak_rss_mb(x) for x in procs[1:]] for n, (_, procs) in clusters.items()}
    finally:
        for _, procs in clusters.values():
            stop(procs)
    # a written store's checksum is that of the store read back (its rows count is the COPY's)
    for q in queries:
        if q in WRITES:
            for s in systems:
                sums[(q, s)] = gridsql_one(exe, copy_target(root, q, s), READ_BACK, 1)["checksum"]
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}")
    print(f"data: {a.days} days x 720 x 1440 ({p['zarr2']}); scheduler and executors on loopback, "
          f"{'each executor pinned to its own core' if not a.no_pin else 'unpinned'}, "
          f"{a.slots} task slot(s) each, --tasks-per-slot {a.tasks_per_slot}")
    print(f"runs: {a.rounds} rounds x {a.runs} timed runs (query alone, answer collected, not printed), "
          "medians\n")
    head = " | ".join(f"{n} exec s" for n in sizes)
    ratios = " | ".join(f"{n} exec / local" for n in sizes)
    print(f"| query | local s | local 1 core s | local 1 -> 2 cores | {head} | {ratios} "
          f"| speed-up {sizes[0]}->{sizes[-1]} | checksums equal |")
    print("|---" * (6 + 2 * len(sizes)) + "|")
    for q in queries:
        lo = med[(q, "local")]
        one = med[(q, "local-1core")]
        cols = " | ".join(f"{med[(q, f'cluster-{n}')]:.3f}" for n in sizes)
        rat = " | ".join(f"{med[(q, f'cluster-{n}')] / lo:.2f}" for n in sizes)
        up = med[(q, f"cluster-{sizes[0]}")] / med[(q, f"cluster-{sizes[-1]}")]
        ref = sums[(q, "local")]
        same = all(sums[(q, s)][1] == ref[1] and abs(sums[(q, s)][0] - ref[0]) <= 1e-9 * max(1.0, abs(ref[0]))
                   for s in systems)
        print(f"| {q} | {lo:.3f} | {one:.3f} | {one / lo:.2f}x | {cols} | {rat} | {up:.2f}x "
              f"| {'yes' if same else 'NO'} |")
    print("\nexecutor peak RSS (MiB): " + "; ".join(
        f"{n} exec: " + ", ".join(f"{x:.0f}" for x in v) for n, v in rss.items()))
    print(f"results appended to {out_path}")


def build_slow_link():
    """The emulated link in Rust, benches/slow_link.rs."""
    return build_release(["bench", "--bench", "slow_link", "--no-run"], "slow_link")


def start_link(root, latency_ms, rate_mbps, server="rust"):
    """The emulated link serving `root`: benches/slow_link.rs (`server` "rust") or benches/slow_http.py
    ("python"), the same requests, latency and rate; returns (base URL, process)."""
    cmd = [build_slow_link()] if server == "rust" else [sys.executable, os.path.join(HERE, "slow_http.py")]
    proc = subprocess.Popen([*cmd, root, "--latency-ms", str(latency_ms), "--rate-mbps", str(rate_mbps)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    if not line.startswith("PORT "):
        proc.kill()
        sys.exit(f"the {server} link server did not start: {line!r}")
    return f"http://127.0.0.1:{int(line.split()[1])}", proc


def http_stats(base, reset=False):
    import urllib.request
    with urllib.request.urlopen(f"{base}/{'__reset' if reset else '__stats'}", timeout=10) as r:
        return json.loads(r.read())


def cloud_suite(a, exe, name, root):
    """gridsql and xarray + dask over the emulated link (see the module docs)."""
    base, server = start_link(os.path.join(root, name), a.latency_ms, a.rate_mbps, a.server)
    files = {"zarr2": "sla_v2.zarr", "zarr3": "sla_v3.zarr", "nc": "sla.nc"}
    plan = [(q, f) for f in a.cloud_formats.split(",") for q in a.queries.split(",")]
    rows = []
    out_path = os.path.join(root, f"results-cloud-{name}.jsonl")
    env = dict(os.environ, NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    try:
        with open(out_path, "a") as log:
            for q, fmt in plan:
                url = f"{base}/{files[fmt]}"
                per = {"gridsql": [], "xarray": []}
                for _ in range(a.rounds):
                    for system in ("gridsql", "xarray"):
                        http_stats(base, reset=True)
                        if system == "gridsql":
                            # A fresh cache: each process walks the NetCDF header by range
                            # itself (a whole copy, the fallback, would show as bytes).
                            with tempfile.TemporaryDirectory() as cache:
                                r = result_of(sh([exe, "--location", url, "--sql", anchors.SQL[q],
                                                  "--runs", str(a.runs)],
                                                 env=dict(env, GRIDSQL_CACHE_DIR=cache)))
                        else:
                            r = result_of(sh([sys.executable, os.path.join(HERE, "xarray_remote.py"),
                                              "--url", url, "--format", fmt, "--query", q,
                                              "--runs", str(a.runs)], env=env))
                        st = http_stats(base)
                        # warm-up and timed runs; opening the store is in the first
                        r["http"] = dict(st, queries=a.runs + 1)
                        log.write(json.dumps(dict(r, query=q, format=fmt, system=system,
                                                  latency_ms=a.latency_ms, rate_mbps=a.rate_mbps,
                                                  server=a.server)) + "\n")
                        per[system].append(r)
                med = {k: statistics.median([t for r in v for t in r["times"]]) for k, v in per.items()}
                rows.append((q, fmt, med, per))
    finally:
        server.kill()
        server.wait()
    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}")
    print(f"data: {a.days} days x 720 x 1440, served by {'benches/slow_link.rs' if a.server == 'rust' else 'benches/slow_http.py'} at {a.latency_ms:g} ms per "
          f"request and {a.rate_mbps:g} MB/s per connection")
    print(f"runs: {a.rounds} rounds x {a.runs} timed runs per system and query (each process opens the store, "
          "warms up once, then times the query alone), medians over all\n")
    print("| query | format | gridsql s | xarray+dask s | speed-up | gridsql requests/query | xarray requests/query "
          "| gridsql MB/query | xarray MB/query | gridsql peak in flight | xarray peak in flight "
          "| gridsql peak MiB | xarray peak MiB | checksums (gridsql; xarray) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for q, fmt, med, per in rows:
        def per_query(system, key):
            return statistics.median([r["http"][key] / r["http"]["queries"] for r in per[system]])

        def peak(system, key):
            return max(r["http"][key] if key in r["http"] else r[key] for r in per[system])
        g, x = per["gridsql"][-1], per["xarray"][-1]
        print(f"| {q} | {fmt} | {med['gridsql']:.3f} | {med['xarray']:.3f} | {med['xarray'] / med['gridsql']:.2f}x "
              f"| {per_query('gridsql', 'requests'):.0f} | {per_query('xarray', 'requests'):.0f} "
              f"| {per_query('gridsql', 'bytes') / 1e6:.0f} | {per_query('xarray', 'bytes') / 1e6:.0f} "
              f"| {peak('gridsql', 'peak_in_flight')} | {peak('xarray', 'peak_in_flight')} "
              f"| {peak('gridsql', 'peak_rss_mb'):.0f} | {peak('xarray', 'peak_rss_mb'):.0f} "
              f"| {g['checksum'][0]:.6g}, {g['checksum'][1]}; {x['checksum'][0]:.6g}, {x['checksum'][1]} |")
    print(f"results appended to {out_path}")


def write_refs(nc, out, url):
    """kerchunk references of the NetCDF-4 file `nc` whose chunks are read from `url`."""
    from kerchunk.hdf import SingleHdf5ToZarr
    refs = SingleHdf5ToZarr(nc, url=url, inline_threshold=100).translate()
    with open(out, "w") as f:
        json.dump(refs, f)


def refs_suite(a, exe, name, root):
    """References vs native vs xarray, locally and over the emulated link (see the module docs)."""
    data = os.path.join(root, name)
    nc = os.path.join(data, "sla.nc")
    local_refs = os.path.join(data, "sla.nc.json")
    if not os.path.exists(local_refs):
        write_refs(nc, local_refs, nc)
    base, server = start_link(data, a.latency_ms, a.rate_mbps, a.server)
    write_refs(nc, os.path.join(data, "sla.nc.http.json"), f"{base}/sla.nc")
    env = dict(os.environ, NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    where = {"local": (nc, local_refs), "http": (f"{base}/sla.nc", f"{base}/sla.nc.http.json")}
    rows = []
    out_path = os.path.join(root, f"results-refs-{name}.jsonl")
    try:
        with open(out_path, "a") as log:
            for place, (native, refs) in where.items():
                for q in a.queries.split(","):
                    per = {"gridsql-native": [], "gridsql-refs": [], "xarray-refs": []}
                    for _ in range(a.rounds):
                        for system in per:
                            with tempfile.TemporaryDirectory() as cache:
                                run_env = dict(env, GRIDSQL_CACHE_DIR=cache)
                                if system == "xarray-refs":
                                    cmd = [sys.executable, os.path.join(HERE, "xarray_remote.py"), "--url", refs,
                                           "--format", "refs", "--query", q, "--runs", str(a.runs)]
                                else:
                                    location = native if system == "gridsql-native" else refs
                                    cmd = [exe, "--location", location, "--sql", anchors.SQL[q],
                                           "--runs", str(a.runs)]
                                r = result_of(sh(cmd, env=run_env))
                            log.write(json.dumps(dict(r, query=q, where=place, system=system)) + "\n")
                            per[system].append(r)
                    rows.append((q, place, per))
    finally:
        server.kill()
        server.wait()
    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}")
    print(f"data: {a.days} days x 720 x 1440 as NetCDF-4 ({nc}); http: {'benches/slow_link.rs' if a.server == 'rust' else 'benches/slow_http.py'} at "
          f"{a.latency_ms:g} ms per request and {a.rate_mbps:g} MB/s per connection")
    print(f"runs: {a.rounds} rounds x {a.runs} timed runs per system and query (each process opens the dataset, "
          "warms up once, then times the query alone), medians over all\n")
    print("| query | where | gridsql native s | gridsql refs s | xarray refs s | refs / native "
          "| xarray / gridsql (refs) | peak MiB native / refs / xarray | checksums (refs; xarray) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for q, place, per in rows:
        med = {k: statistics.median([t for r in v for t in r["times"]]) for k, v in per.items()}
        rss = {k: max(r["peak_rss_mb"] for r in v) for k, v in per.items()}
        g, x = per["gridsql-refs"][-1], per["xarray-refs"][-1]
        print(f"| {q} | {place} | {med['gridsql-native']:.3f} | {med['gridsql-refs']:.3f} "
              f"| {med['xarray-refs']:.3f} | {med['gridsql-refs'] / med['gridsql-native']:.2f} "
              f"| {med['xarray-refs'] / med['gridsql-refs']:.2f}x "
              f"| {rss['gridsql-native']:.0f} / {rss['gridsql-refs']:.0f} / {rss['xarray-refs']:.0f} "
              f"| {g['checksum'][0]:.6g}, {g['checksum'][1]}; {x['checksum'][0]:.6g}, {x['checksum'][1]} |")
    print(f"results appended to {out_path}")


def xarray_one(system, query, data, runs, env):
    return result_of(sh([sys.executable, os.path.join(ANCHORS, "bench.py"), "one", "--system", system,
                         "--query", query, "--data", data, "--runs", str(runs)], env=env))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2, help="alternations of gridsql and xarray per query")
    ap.add_argument("--queries", default="Q1,Q2,Q3,Q4,Q5")
    ap.add_argument("--suite", default="main", choices=["main", "formats", "cluster", "cloud", "refs"])
    ap.add_argument("--latency-ms", type=float, default=30.0, help="cloud suite: wait before each response")
    ap.add_argument("--rate-mbps", type=float, default=100.0, help="cloud suite: MB/s per connection")
    ap.add_argument("--server", default="rust", choices=["rust", "python"],
                    help="cloud and refs suites: the link emulator, benches/slow_link.rs or benches/slow_http.py")
    ap.add_argument("--cloud-formats", default="zarr2", help="cloud suite: zarr2, zarr3, nc (comma-separated)")
    ap.add_argument("--executors", default="1,2", help="cluster suite: cluster sizes (comma-separated)")
    ap.add_argument("--slots", type=int, default=1, help="cluster suite: task slots per executor")
    ap.add_argument("--tasks-per-slot", type=int, default=0,
                    help="cluster suite: the scheduler's --tasks-per-slot (0: tasks follow the client's partitions)")
    ap.add_argument("--no-pin", action="store_true", help="cluster suite: do not pin executors to cores")
    a = ap.parse_args()

    root = os.path.join(REPO, "bench-data")
    name = f"{a.days}d"
    env = dict(os.environ, BENCH_DATA=root, BENCH_OUT=os.path.join(root, "anchors-out"))
    p = {
        "zarr2": os.path.join(root, name, "sla_v2.zarr"),
        "zarr3": os.path.join(root, name, "sla_v3.zarr"),
        "nc": os.path.join(root, name, "sla.nc"),
    }
    if not all(os.path.exists(x) for x in p.values()):
        print(f"generating the {a.days}-day store under {root}/{name} (gen.py)...", file=sys.stderr)
        sh([sys.executable, os.path.join(ANCHORS, "gen.py"), "--days", str(a.days), "--name", name,
            "--out", os.path.join(root, name)], env=env)
    exe = build_gridsql()
    if a.suite == "cluster":
        cluster_suite(a, exe, p, name, root)
        return
    if a.suite == "cloud":
        cloud_suite(a, exe, name, root)
        return
    if a.suite == "refs":
        refs_suite(a, exe, name, root)
        return

    if a.suite == "main":
        plan = [(q, "zarr2") for q in a.queries.split(",")]
    else:
        plan = [("Q1", f) for f in ("zarr2", "zarr3", "nc")]
    rows = []
    out_path = os.path.join(root, f"results-{a.suite}-{name}.jsonl")
    with open(out_path, "a") as log:
        for q, fmt in plan:
            g_times, x_times, g_rss, x_rss = [], [], [], []
            for _ in range(a.rounds):
                g = gridsql_one(exe, p[fmt], anchors.SQL[q], a.runs)
                x = xarray_one(XR_SYSTEM[fmt], q, name, a.runs, env)
                for r, sysname in ((g, "gridsql"), (x, XR_SYSTEM[fmt])):
                    log.write(json.dumps(dict(r, query=q, format=fmt, system=sysname)) + "\n")
                g_times += g["times"]
                x_times += x["times"]
                g_rss.append(g["peak_rss_mb"])
                x_rss.append(x["peak_rss_mb"])
            gm, xm = statistics.median(g_times), statistics.median(x_times)
            rows.append((q, fmt, gm, xm, xm / gm, max(g_rss), max(x_rss), g["checksum"], x["checksum"]))
        floors = {}
        for fmt in dict.fromkeys(f for _, f in plan):
            r = xarray_one("raw", FLOOR[fmt], name, a.runs, env)
            log.write(json.dumps(dict(r, query=FLOOR[fmt], format=fmt, system="raw")) + "\n")
            floors[fmt] = r["median"]

    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}")
    print(f"data: {a.days} days x 720 x 1440 ({p['zarr2']})")
    print(f"runs: {a.rounds} rounds x {a.runs} timed runs per system and query, medians over all\n")
    print("| query | format | gridsql s | xarray+dask s | speed-up | gridsql / floor | gridsql peak MiB "
          "| xarray peak MiB | checksums (gridsql; xarray) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for q, fmt, gm, xm, ratio, grss, xrss, gc, xc in rows:
        print(f"| {q} | {fmt} | {gm:.3f} | {xm:.3f} | {ratio:.2f}x | {gm / floors[fmt]:.2f} | {grss:.0f} "
              f"| {xrss:.0f} | {gc[0]:.6g}, {gc[1]}; {xc[0]:.6g}, {xc[1]} |")
    print("\nraw read-and-decompress floor (bench.py raw): " +
          ", ".join(f"{FLOOR[f]} {s:.3f} s" for f, s in floors.items()))
    print(f"results appended to {out_path}")


if __name__ == "__main__":
    main()
