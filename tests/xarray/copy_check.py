#!/usr/bin/env python3
"""Check a grid gridsql wrote with COPY against xarray's own computation (tests/copy_to.rs).

    python tests/xarray/copy_check.py --data DIR --kind climatology|box|anomaly|whole|stations --path OUT --format zarr|netcdf

Opens OUT with xarray (`open_zarr` / `open_dataset`), computes the same result with xarray from
sst.mnmean.nc (stations: the monthly mean of tasmax per station of ahccd_1950-2013.nc, on the
string dimension `location`), and prints one JSON line: {"problems": [...], "count": n, "mean": m} where problems
lists every difference in values (rtol 1e-6, NaN where xarray has NaN), coordinates, dtypes and the
attributes that must travel; count and mean_abs (the mean of absolute values: an anomaly's plain mean
is zero up to rounding) are xarray's over the written variable, for the read-back check in SQL.
"""

import argparse
import json
import os
import sys
import warnings

import numpy as np
import xarray as xr

BOX = dict(lat=slice(20, -20), lon=slice(120, 280))


def ds_units(data, kind):
    """The units of the source variable."""
    if kind == "stations":
        return xr.open_dataset(os.path.join(data, "ahccd_1950-2013.nc")).tasmax.attrs.get("units")
    return xr.open_dataset(os.path.join(data, "sst.mnmean.nc")).sst.attrs.get("units")


def expected(data, kind):
    if kind == "stations":
        tas = xr.open_dataset(os.path.join(data, "ahccd_1950-2013.nc")).tasmax
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clim = tas.astype("float64").groupby("time.month").mean()
        # the source's labels (Vancouver, Kugluktuk, Amos) descend, and gridsql keeps that order
        return "tasmax", clim
    ds = xr.open_dataset(os.path.join(data, "sst.mnmean.nc"))
    sst = ds.sst
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # SQL's avg(sst) sums in float64 (DataFusion casts the float32 column first): so here
        clim = sst.astype("float64").groupby("time.month").mean()
        if kind == "climatology":
            return "sst", clim
        if kind == "box":
            return "sst", sst.sel(**BOX)
        if kind == "whole":
            return "sst", sst
        anomaly = (sst.astype("float64").groupby("time.month") - clim).drop_vars("month")
        return "anomaly", anomaly.sel(**BOX)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--kind", required=True, choices=["climatology", "box", "anomaly", "whole", "stations"])
    ap.add_argument("--path", required=True)
    ap.add_argument("--format", required=True, choices=["zarr", "netcdf"])
    a = ap.parse_args(argv)

    name, want = expected(a.data, a.kind)
    if a.format == "zarr":
        got_ds = xr.open_zarr(a.path)
    else:
        got_ds = xr.open_dataset(a.path)
    problems = []
    if name not in got_ds:
        print(json.dumps({"problems": [f"no variable {name} in {list(got_ds.data_vars)}"]}))
        return 0
    got = got_ds[name].load()
    if got.dims != want.dims:
        problems.append(f"dims {got.dims} != {want.dims}")
    if got.dtype != want.dtype:
        problems.append(f"dtype {got.dtype} != {want.dtype}")
    for d in want.dims:
        g, w = got[d].values, want[d].values
        if w.dtype.kind in "OUS":
            # labels: numpy's string dtypes differ by reader (object, <U9, StringDType)
            if [str(x) for x in g] != [str(x) for x in w]:
                problems.append(f"coordinate {d}: {list(g)} != {list(w)}")
            continue
        if g.shape != w.shape or not np.array_equal(g, w):
            problems.append(f"coordinate {d}: {g[:4]}.. ({g.dtype}, {g.shape}) != {w[:4]}.. ({w.dtype}, {w.shape})")
        elif g.dtype != w.dtype:
            problems.append(f"coordinate {d}: dtype {g.dtype} != {w.dtype}")
    if not problems:
        g, w = got.values.astype("float64"), want.values.astype("float64")
        if not np.array_equal(np.isnan(g), np.isnan(w)):
            problems.append(f"NaN cells differ: {int(np.isnan(g).sum())} vs {int(np.isnan(w).sum())}")
        elif not np.allclose(g[~np.isnan(g)], w[~np.isnan(w)], rtol=1e-6, atol=0):
            problems.append(f"values differ: max |diff| {np.nanmax(np.abs(g - w))}")
    # attributes that travel: units of a column that keeps them, of the coordinates, Conventions
    # sst's units travel: passed through (box), averaged (climatology), a difference (anomaly)
    if got.attrs.get("units") != ds_units(a.data, a.kind):
        problems.append(f"units {got.attrs.get('units')!r} != {ds_units(a.data, a.kind)!r}")
    for c in [c for c in ("lat", "lon") if c in want.dims]:
        if got[c].attrs.get("units") != want[c].attrs.get("units"):
            problems.append(f"{c} units {got[c].attrs.get('units')!r} != {want[c].attrs.get('units')!r}")
    if not str(got_ds.attrs.get("Conventions", "")).startswith("CF-"):
        problems.append(f"Conventions {got_ds.attrs.get('Conventions')!r}")
    values = want.values.astype("float64")
    print(json.dumps({"problems": problems, "count": int(np.count_nonzero(~np.isnan(values))),
                      "mean_abs": float(np.nanmean(np.abs(values)))}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
