#!/usr/bin/env python3
"""Checks the gridsql wheel in a fresh venv against xarray (tests/python_package.rs).

    python wheel_check.py --data DIR [--server grpc://host:port]

Runs, in this interpreter (a venv holding only the wheel and its extras):
- gridsql.register / gridsql.sql on sst.mnmean.nc: a monthly climatology and a box of the
  time mean, through to_arrow(), to_pandas(), streamed batches and to_xarray(), each compared
  with xarray's own computation on the file (rtol 1e-6, NaN where xarray has NaN);
- gridsql.connect(server) with the same queries, when --server is given;
- the %%sql cell magic in an IPython shell: a table, and --plot (Agg backend) drawing a map.
Prints one JSON line: {"problems": [...], "checked": n}.
"""

import argparse
import json
import os
import sys
import warnings

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

import gridsql  # noqa: E402

CLIMATOLOGY = (
    "SELECT CAST(date_part('month', time) AS BIGINT) AS month, lat, lon, avg(sst) AS sst "
    "FROM sst GROUP BY 1, 2, 3"
)
BOX = (
    "SELECT lat, lon, avg(sst) AS sst FROM sst "
    "WHERE lat BETWEEN -20 AND 20 AND lon BETWEEN 120 AND 280 GROUP BY lat, lon"
)


def expected(data):
    ds = xr.open_dataset(os.path.join(data, "sst.mnmean.nc"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sst = ds.sst.astype("float64")
        clim = sst.groupby("time.month").mean().sortby(["lat", "lon"])
        box = sst.sel(lat=slice(20, -20), lon=slice(120, 280)).mean("time").sortby(["lat", "lon"])
    return {"climatology": clim, "box": box}, ds.sst.attrs.get("units")


def compare(name, got, want, problems):
    """got: an xarray DataArray from gridsql; want: xarray's."""
    got = got.sortby(list(got.dims))
    if tuple(got.dims) != tuple(want.dims):
        problems.append(f"{name}: dims {got.dims} != {want.dims}")
        return
    for d in want.dims:
        if not np.allclose(got[d].values.astype("float64"), want[d].values.astype("float64")):
            problems.append(f"{name}: coordinate {d} differs")
            return
    g, w = got.values.astype("float64"), want.values.astype("float64")
    if g.shape != w.shape:
        problems.append(f"{name}: shape {g.shape} != {w.shape}")
    elif not np.array_equal(np.isnan(g), np.isnan(w)):
        problems.append(f"{name}: NaN cells {int(np.isnan(g).sum())} != {int(np.isnan(w).sum())}")
    elif not np.allclose(g[~np.isnan(g)], w[~np.isnan(w)], rtol=1e-6, atol=0):
        problems.append(f"{name}: values differ by up to {np.nanmax(np.abs(g - w))}")


def check_api(prefix, run, want, units, problems):
    """The Result API of one backend (`run(query)` gives a Result)."""
    # climatology: to_xarray, with the units restored
    ds = run(CLIMATOLOGY).to_xarray(dims=["month", "lat", "lon"])
    compare(f"{prefix} climatology to_xarray", ds.sst, want["climatology"], problems)
    if prefix == "local" and ds.sst.attrs.get("units") != units:
        problems.append(f"{prefix}: units {ds.sst.attrs.get('units')!r} != {units!r}")
    # box: to_arrow, to_pandas and streamed batches give the same rows
    table = run(BOX).to_arrow()
    frame = run(BOX).to_pandas()
    streamed = sum(b.num_rows for b in run(BOX))
    if not (table.num_rows == len(frame) == streamed == want["box"].size):
        problems.append(
            f"{prefix} box rows: arrow {table.num_rows}, pandas {len(frame)}, "
            f"streamed {streamed}, xarray {want['box'].size}"
        )
    got = frame.set_index(["lat", "lon"]).to_xarray().sst
    compare(f"{prefix} box to_pandas", got, want["box"], problems)
    # default dimensions: lat and lon come from the dataset's dimensions
    r = run(BOX)
    if prefix == "local" and r.dims() != ["lat", "lon"]:
        problems.append(f"{prefix}: default dims {r.dims()}")
    compare(f"{prefix} box to_xarray", r.to_xarray(dims=["lat", "lon"]).sst, want["box"], problems)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--server")
    a = ap.parse_args(argv)
    want, units = expected(a.data)
    problems = []
    checked = 0

    gridsql.register("sst", os.path.join(a.data, "sst.mnmean.nc"))
    if gridsql.tables() != ["sst"]:
        problems.append(f"tables {gridsql.tables()}")
    check_api("local", gridsql.sql, want, units, problems)
    checked += 1
    try:
        gridsql.register("nope", os.path.join(a.data, "no-such-file.nc"))
        problems.append("a missing file registered without an error")
    except RuntimeError as e:
        if "no-such-file" not in str(e):
            problems.append(f"the error does not name the file: {e}")

    if a.server:
        server = gridsql.connect(a.server)
        check_api("server", server.sql, want, units, problems)
        if "sst" not in server.tables():
            problems.append(f"server tables {server.tables()}")
        server.close()
        checked += 1

    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "gridsql")
    r = shell.run_cell_magic("sql", "--to kept", BOX)
    if not isinstance(r, gridsql.Result) or "kept" not in shell.user_ns:
        problems.append(f"%%sql gave {type(r)}")
    else:
        compare("%%sql", r.to_xarray(dims=["lat", "lon"]).sst, want["box"], problems)
    artist = shell.run_cell_magic("sql", "--plot", BOX)
    if artist is None or not hasattr(artist, "axes"):
        problems.append(f"%%sql --plot drew {artist!r}")
    checked += 1

    print(json.dumps({"problems": problems, "checked": checked}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
