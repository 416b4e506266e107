#!/usr/bin/env python3
"""Load test: N Flight SQL (ADBC) and M PostgreSQL (psycopg) clients, each on its own connection, run
xarray-checked queries in a loop for a fixed time, on loopback only, and report counts and latencies.

    load.py --flight-uri grpc://127.0.0.1:P --dsn "host=127.0.0.1 port=Q ..." --cases cases.json
            --flight-clients 16 --pg-clients 16 --seconds 30 --max-queries-per-client 2000 --out out.json

cases.json: [{"name", "sql", "rows", "rtol"}] (xarray's answers). Each client cycles through the cases
(starting at its own offset) until --seconds have passed or it ran --max-queries-per-client queries; each
answer is compared with xarray's (same rule as tests/util.rs cells_match). Output:
{"queries", "errors": [first 20 messages], "error_count", "mismatches": [...], "mismatch_count",
 "p50_ms", "p95_ms", "p99_ms", "max_ms", "per_protocol": {...}, "seconds"}.
"""

import argparse
import os
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import encode_rows, matches, one_line, read_json, write_json  # noqa: E402

import adbc_driver_flightsql.dbapi as flight_sql  # noqa: E402
import psycopg  # noqa: E402


def percentile(sorted_ms, q):
    if not sorted_ms:
        return None
    i = min(len(sorted_ms) - 1, max(0, int(round(q / 100.0 * len(sorted_ms) + 0.5)) - 1))
    return sorted_ms[i]


def flight_runner(uri):
    conn = flight_sql.connect(uri, autocommit=True)

    def run(sql):
        with conn.cursor() as cur:
            cur.execute(sql)
            t = cur.fetch_arrow_table()
        cols = [c.to_pylist() for c in t.columns]
        return encode_rows(list(zip(*cols)))

    return conn, run


def pg_runner(dsn):
    conn = psycopg.connect(dsn, autocommit=True, connect_timeout=20)

    def run(sql):
        with conn.cursor() as cur:
            cur.execute(sql)
            return encode_rows(cur.fetchall())

    return conn, run


def main(args):
    cases = read_json(args.cases)
    deadline = time.monotonic() + args.seconds
    lock = threading.Lock()
    lat = {"flight": [], "pg": []}
    errors, mismatches = [], []
    counts = {"errors": 0, "mismatches": 0}
    start_barrier = threading.Barrier(args.flight_clients + args.pg_clients)

    def client(kind, index):
        try:
            conn, run = flight_runner(args.flight_uri) if kind == "flight" else pg_runner(args.dsn)
        except Exception as e:  # noqa: BLE001
            with lock:
                counts["errors"] += 1
                errors.append(f"{kind}#{index} connect: {one_line(e)}")
            start_barrier.abort()
            return
        try:
            start_barrier.wait(timeout=60)
        except threading.BrokenBarrierError:
            pass
        n = 0
        while time.monotonic() < deadline and n < args.max_queries_per_client:
            case = cases[(index + n) % len(cases)]
            n += 1
            t0 = time.monotonic()
            try:
                got = run(case["sql"])
            except Exception as e:  # noqa: BLE001
                with lock:
                    counts["errors"] += 1
                    if len(errors) < 20:
                        errors.append(f"{kind}#{index} {case['name']}: {one_line(e)}")
                continue
            ms = (time.monotonic() - t0) * 1000.0
            rtol = case.get("rtol", 1e-9)
            if kind == "pg":
                # PostgreSQL's text format sends a float4 (sst's min/max) as its shortest float32
                # decimal (-1.8), not the float32's exact value: the rule of
                # tests/servers.rs postgres_psql_and_psycopg_match_xarray.
                rtol = max(rtol, 1e-7)
            ok = matches(got, case["rows"], rtol)
            with lock:
                lat[kind].append(ms)
                if not ok:
                    counts["mismatches"] += 1
                    if len(mismatches) < 20:
                        mismatches.append(f"{kind}#{index} {case['name']}: got {got[:3]} want {case['rows'][:3]}")
        try:
            conn.close()
        except Exception:  # noqa: BLE001
            pass

    threads = [threading.Thread(target=client, args=("flight", i)) for i in range(args.flight_clients)]
    threads += [threading.Thread(target=client, args=("pg", i)) for i in range(args.pg_clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=args.seconds + 300)
    elapsed = time.monotonic() - t0

    def summary(ms):
        ms = sorted(ms)
        return {
            "queries": len(ms),
            "p50_ms": percentile(ms, 50),
            "p95_ms": percentile(ms, 95),
            "p99_ms": percentile(ms, 99),
            "max_ms": ms[-1] if ms else None,
        }

    everything = summary(lat["flight"] + lat["pg"])
    write_json(
        {
            **everything,
            "clients": args.flight_clients + args.pg_clients,
            "threads_alive": sum(t.is_alive() for t in threads),
            "error_count": counts["errors"],
            "errors": errors,
            "mismatch_count": counts["mismatches"],
            "mismatches": mismatches,
            "per_protocol": {"flight": summary(lat["flight"]), "pg": summary(lat["pg"])},
            "seconds": elapsed,
        },
        args.out,
    )


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--flight-uri", required=True)
    p.add_argument("--dsn", required=True)
    p.add_argument("--cases", required=True)
    p.add_argument("--flight-clients", type=int, default=16)
    p.add_argument("--pg-clients", type=int, default=16)
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--max-queries-per-client", type=int, default=2000)
    p.add_argument("--out", default="-")
    main(p.parse_args())
