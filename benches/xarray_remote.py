#!/usr/bin/env python3
"""xarray + dask on a store served over HTTP: one query, timed as ../shared/anchors/bench.py times it.

    python benches/xarray_remote.py --url http://127.0.0.1:PORT/sla_v2.zarr --format zarr2 --query Q1 [--runs 5]

Opens the store the way a Pangeo user opens one in a bucket (zarr-python over fsspec's HTTP file system,
h5netcdf on an fsspec file for NetCDF-4, or kerchunk references through fsspec's reference file system), with dask's threaded scheduler and chunks as stored, then
runs the baseline's query (anchors `xarray_query`): one warm-up run, then --runs timed runs. Prints
`RESULT {json}` with the same keys as `bench.py one`.
"""

import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ANCHORS = os.path.abspath(os.environ.get("GRIDSQL_ANCHORS", os.path.join(HERE, "..", "..", "shared", "anchors")))
sys.path.insert(0, ANCHORS)
import bench as anchors  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--format", choices=["zarr2", "zarr3", "nc", "refs"], required=True)
    ap.add_argument("--query", required=True)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()

    import dask
    import xarray as xr
    dask.config.set(scheduler="threads")
    t0 = time.perf_counter()
    if a.format == "refs":
        # kerchunk references (a JSON document, local or over HTTP) through fsspec's
        # ReferenceFileSystem, as a Pangeo user opens a virtual dataset
        ds = xr.open_dataset("reference://", engine="zarr", chunks={},
                             backend_kwargs={"consolidated": False, "storage_options": {"fo": a.url}})
    elif a.format == "nc":
        import fsspec
        f = fsspec.open(a.url, "rb").open()
        ds = xr.open_dataset(f, engine="h5netcdf", chunks={})
    else:
        ds = xr.open_zarr(a.url, chunks={}, consolidated=True)
    setup_s = time.perf_counter() - t0
    t = time.perf_counter()
    chk = anchors.xarray_query(ds, a.query)
    warm = time.perf_counter() - t
    times = []
    for _ in range(a.runs):
        t = time.perf_counter()
        chk = anchors.xarray_query(ds, a.query)
        times.append(time.perf_counter() - t)
    out = {"system": f"xr-{a.format}-http", "query": a.query, "setup_s": setup_s, "warmup_s": warm,
           "times": times, "median": statistics.median(times), "min": min(times),
           "peak_rss_mb": anchors.peak_rss_mb(), "checksum": chk}
    print("RESULT " + json.dumps(out))


if __name__ == "__main__":
    main()
