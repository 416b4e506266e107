#!/usr/bin/env python3
"""Runs a list of steps against a gridsql PostgreSQL-wire server with psycopg 3 and writes what each got.

    pg_client.py --dsn "host=127.0.0.1 port=PORT user=U [password=P] dbname=gridsql" --steps s.json --out o.json

Steps: {"name", "op": "query", "sql", "params"?: [...]} (params: psycopg's %s placeholders, sent with the
extended protocol; without params the simple protocol is used, as psql does), or {"op": "columns", "sql"}
(the result's column names only), {"op": "copy_binary", "sql", "types"} (the
query's rows through COPY ... TO STDOUT in PostgreSQL's binary format, decoded as `types`), or
{"op": "sqlalchemy", "sql"} (pandas `read_sql` through a SQLAlchemy
engine, which on connect parses `version()` and probes types as Superset and Polars do), or
{"op": "inspect", "table", "netcdf"} (SQLAlchemy's inspector, as Superset and pandas reflect a table:
schemas, tables, columns with their types, keys, indexes; with the dimensions and variables xarray
finds in the NetCDF file the table reads, for the test to compare), or {"op": "adbc", "uri", "sql",
"table"} (the ADBC PostgreSQL driver, as Arrow-native tools connect: the query's rows, which the driver
reads with COPY ... TO STDOUT (FORMAT binary), the catalogs of get_objects and the table's schema), or
{"op": "polars", "uri", "sql", "engine"} (polars.read_database_uri with engine connectorx, which
reads with COPY ... TO STDOUT WITH BINARY, or adbc). Output: {name: {"rows": [...]} | {"columns": [...]} | {"error": "..."}}.
A connection failure is reported as {"connect_error": "..."}.
"""

import argparse
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import decode_param, encode_rows, one_line, read_json, write_json  # noqa: E402

import psycopg  # noqa: E402


def sqlalchemy_rows(dsn, sql):
    """pandas.read_sql through SQLAlchemy's psycopg dialect, as rows of Python values."""
    import pandas as pd
    import sqlalchemy as sa

    engine = sa.create_engine("postgresql+psycopg://", creator=lambda: psycopg.connect(dsn, connect_timeout=20))
    try:
        frame = pd.read_sql(sa.text(sql), engine)
    finally:
        engine.dispose()
    return encode_rows(frame.astype(object).itertuples(index=False, name=None))


def inspect(dsn, table, netcdf):
    """What SQLAlchemy's inspector reflects of `table`, and what xarray sees in `netcdf`."""
    import sqlalchemy as sa
    import xarray as xr

    engine = sa.create_engine("postgresql+psycopg://", creator=lambda: psycopg.connect(dsn, connect_timeout=20))
    try:
        insp = sa.inspect(engine)
        got = {
            "schemas": insp.get_schema_names(),
            "tables": sorted(insp.get_table_names()),
            "columns": [[c["name"], str(c["type"]), c["nullable"]] for c in insp.get_columns(table)],
            "pk": insp.get_pk_constraint(table)["constrained_columns"],
            "fks": insp.get_foreign_keys(table),
            "indexes": insp.get_indexes(table),
            "unique": insp.get_unique_constraints(table),
            "has_table": insp.has_table(table),
        }
    finally:
        engine.dispose()
    with xr.open_dataset(netcdf) as ds:
        # a table's columns: the dimensions of its variables, then the variables
        var = [v for v in ds.data_vars if ds[v].ndim == len(ds.dims)]
        got["xarray"] = {
            "columns": list(ds[var[0]].dims) + var,
            "dtypes": {n: str(ds[n].dtype) for n in list(ds[var[0]].dims) + var},
        }
    return got


def adbc(uri, sql, table):
    """The ADBC PostgreSQL driver: a query's rows, the catalogs it lists, a table's column types."""
    import adbc_driver_postgresql.dbapi as adbc_pg

    with adbc_pg.connect(uri) as conn:
        with conn.cursor() as cur:
            cur.execute(sql)
            rows = [tuple(r.values()) for r in cur.fetch_arrow_table().to_pylist()]
        objects = conn.adbc_get_objects(depth="catalogs").read_all().to_pylist()
        schema = conn.adbc_get_table_schema(table)
    return {
        "rows": encode_rows(rows),
        "catalogs": [o["catalog_name"] for o in objects],
        "schema": [[f.name, str(f.type)] for f in schema],
    }


def polars_rows(uri, sql, engine):
    """polars.read_database_uri's rows."""
    import polars as pl

    frame = pl.read_database_uri(sql, uri, engine=engine)
    return encode_rows(frame.rows())


def run(args):
    steps = read_json(args.steps)
    out = {}
    try:
        conn = psycopg.connect(args.dsn, autocommit=True, connect_timeout=20)
    except Exception as e:  # noqa: BLE001 - reported to the test
        write_json({"connect_error": one_line(e)}, args.out)
        return
    for step in steps:
        name = step["name"]
        start = time.monotonic()
        try:
            if step["op"] == "copy_binary":
                # COPY ... TO STDOUT (FORMAT BINARY), as Polars/connectorx read results
                with conn.cursor() as cur:
                    with cur.copy(f'COPY ({step["sql"]}) TO STDOUT (FORMAT BINARY)') as copy:
                        copy.set_types(step["types"])
                        rows = list(copy.rows())
                out[name] = {"rows": encode_rows(rows), "seconds": time.monotonic() - start}
                continue
            if step["op"] == "polars":
                out[name] = {"rows": polars_rows(step["uri"], step["sql"], step["engine"])}
                continue
            if step["op"] == "adbc":
                out[name] = adbc(step["uri"], step["sql"], step["table"])
                continue
            if step["op"] == "inspect":
                out[name] = {"inspect": inspect(args.dsn, step["table"], step["netcdf"])}
                continue
            if step["op"] == "sqlalchemy":
                out[name] = {"rows": sqlalchemy_rows(args.dsn, step["sql"]), "seconds": time.monotonic() - start}
                continue
            params = step.get("params")
            with conn.cursor() as cur:
                if params is None:
                    # simple protocol, as psql
                    cur.execute(step["sql"])
                else:
                    cur.execute(step["sql"], tuple(decode_param(v) for v in params))
                if step["op"] == "columns":
                    out[name] = {"columns": [d.name for d in cur.description]}
                else:
                    out[name] = {"rows": encode_rows(cur.fetchall()), "seconds": time.monotonic() - start}
        except Exception as e:  # noqa: BLE001 - every failure is the test's to judge
            out[name] = {"error": one_line(e), "seconds": time.monotonic() - start}
            if conn.closed:
                conn = psycopg.connect(args.dsn, autocommit=True, connect_timeout=20)
    conn.close()
    write_json(out, args.out)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--dsn", required=True)
    p.add_argument("--steps", required=True)
    p.add_argument("--out", default="-")
    run(p.parse_args())
