#!/usr/bin/env python3
"""Runs a list of steps against a gridsql Flight SQL server with the ADBC Flight SQL driver, the way a
notebook would, and writes what each step got as JSON (the Rust tests in tests/servers.rs check it).

    flight_client.py --uri grpc://127.0.0.1:PORT [--user U --password P] --steps steps.json --out out.json

Each step is a dict with "name" and "op" (and "conn", a connection name, default "a"):
    query         {"sql", "params"?: [...]}: rows (params bind through a prepared statement)
    open_stream   {"sql"}: starts a query and reads its first batch only; keeps the reader open
    read_rest     {"stream"}: reads the rest of an open stream (rows counted)
    cancel        {"stream"}: cancels an open stream's query and closes it
    sleep         {"seconds"}
    objects       get_objects(depth="all"): catalogs, schemas, tables, their columns and types; the table types
    table_schema  {"table"}: field names, types and metadata of a table
    info          get_info(): driver and server (vendor) name and version
Output: {name: {"rows": [...], "seconds": t} | {"error": "one line"} | ...}; a connection that cannot be
opened is reported by every step using it as {"error": ...}.
"""

import argparse
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import decode_param, encode_rows, one_line, read_json, write_json  # noqa: E402

import adbc_driver_flightsql.dbapi as flight_sql  # noqa: E402


def connect(args):
    kwargs = {}
    if args.user is not None:
        kwargs = {"username": args.user, "password": args.password}
    conn = flight_sql.connect(args.uri, db_kwargs=kwargs, autocommit=True)
    # The connection may be lazy: a trivial call makes authentication failures show here.
    with conn.cursor() as cur:
        cur.execute("SELECT 1")
        cur.fetchall()
    return conn


def table_rows(table):
    cols = [c.to_pylist() for c in table.columns]
    return encode_rows(list(zip(*cols))) if cols else []


def run(args):
    steps = read_json(args.steps)
    conns, streams, out = {}, {}, {}

    def conn_for(step):
        name = step.get("conn", "a")
        if name not in conns:
            try:
                conns[name] = connect(args)
            except Exception as e:  # noqa: BLE001 - reported to the test
                conns[name] = e
        c = conns[name]
        if isinstance(c, Exception):
            raise c
        return c

    for step in steps:
        name, op = step["name"], step["op"]
        start = time.monotonic()
        try:
            if op == "sleep":
                time.sleep(step["seconds"])
                out[name] = {"ok": True}
                continue
            conn = conn_for(step)
            if op == "query":
                with conn.cursor() as cur:
                    params = step.get("params")
                    if params is None:
                        cur.execute(step["sql"])
                    else:
                        cur.execute(step["sql"], parameters=tuple(decode_param(v) for v in params))
                    rows = table_rows(cur.fetch_arrow_table())
                out[name] = {"rows": rows, "seconds": time.monotonic() - start}
            elif op == "open_stream":
                cur = conn.cursor()
                cur.execute(step["sql"])
                reader = cur.fetch_record_batch()
                first = reader.read_next_batch()
                streams[name] = (cur, reader)
                out[name] = {"first_batch_rows": first.num_rows}
            elif op == "read_rest":
                cur, reader = streams.pop(step["stream"])
                n = 0
                try:
                    for batch in reader:
                        n += batch.num_rows
                finally:
                    cur.close()
                out[name] = {"rows_read": n}
            elif op == "cancel":
                cur, reader = streams.pop(step["stream"])
                cur.adbc_cancel()
                try:
                    reader.close()
                except Exception:  # noqa: BLE001 - a cancelled reader may complain
                    pass
                try:
                    cur.close()
                except Exception:  # noqa: BLE001
                    pass
                out[name] = {"ok": True}
            elif op == "objects":
                objects = conn.adbc_get_objects(depth="all").read_all().to_pylist()
                tables, types = {}, {}
                for cat in objects:
                    for schema in cat["catalog_db_schemas"] or []:
                        for t in schema["db_schema_tables"] or []:
                            key = f'{cat["catalog_name"]}.{schema["db_schema_name"]}.{t["table_name"]}'
                            tables[key] = [c["column_name"] for c in (t["table_columns"] or [])]
                            types[key] = t["table_type"]
                out[name] = {"catalogs": [c["catalog_name"] for c in objects], "tables": tables, "types": types,
                             "table_types": conn.adbc_get_table_types()}
            elif op == "table_schema":
                schema = conn.adbc_get_table_schema(step["table"])
                out[name] = {
                    "fields": [
                        {
                            "name": f.name,
                            "type": str(f.type),
                            "metadata": {k.decode(): v.decode() for k, v in (f.metadata or {}).items()},
                        }
                        for f in schema
                    ]
                }
            elif op == "info":
                info = conn.adbc_get_info()
                out[name] = {k: (v if isinstance(v, (str, int, bool)) or v is None else str(v)) for k, v in info.items()}
            else:
                raise ValueError(f"unknown op {op}")
        except Exception as e:  # noqa: BLE001 - every failure is the test's to judge
            out[name] = {"error": one_line(e), "seconds": time.monotonic() - start}
    for c in conns.values():
        if not isinstance(c, Exception):
            try:
                c.close()
            except Exception:  # noqa: BLE001
                pass
    write_json(out, args.out)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--uri", required=True)
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--steps", required=True)
    p.add_argument("--out", default="-")
    run(p.parse_args())
