"""The store of tests/cloud.rs, and xarray's answers on it.

    remote_store.py OUT_DIR  ->  writes OUT_DIR/v2.zarr and OUT_DIR/v3.zarr, prints JSON answers

One variable `v` (float32, NaN holes, blosc lz4 + shuffle in v2, zstd in v3) on time x lat x lon =
96 x 40 x 50, in chunks of 2 time steps (48 chunks: a full scan wants many requests at once), with
CF time and consolidated metadata, as xarray writes a store for a bucket. The answers are
xarray's over the v2 store: the global count and mean, the mean per time step, and the mean over a
box of the grid over the first 30 days.
"""

import json
import sys

import numpy as np
import pandas as pd
import xarray as xr


def dataset():
    rng = np.random.default_rng(7)
    time = pd.date_range("2001-01-01", periods=96, freq="D")
    lat = np.linspace(-48.75, 48.75, 40).astype("float32")
    lon = np.linspace(0.0, 357.5, 50).astype("float32")
    v = rng.normal(15.0, 4.0, size=(96, 40, 50)).astype("float32")
    v[:, 5:9, 10:20] = np.nan
    ds = xr.Dataset({"v": (("time", "lat", "lon"), v, {"units": "degC"})},
                    coords={"time": time, "lat": lat, "lon": lon})
    return ds


def main(out):
    import numcodecs
    import zarr

    ds = dataset()
    ds.chunk({"time": 2}).to_zarr(
        f"{out}/v2.zarr", zarr_format=2, consolidated=True, mode="w",
        encoding={"v": {"compressors": [numcodecs.Blosc("lz4", 5, shuffle=1)]}})
    ds.chunk({"time": 2}).to_zarr(
        f"{out}/v3.zarr", zarr_format=3, consolidated=True, mode="w",
        encoding={"v": {"compressors": [zarr.codecs.ZstdCodec(level=3)]}})
    ds = xr.open_zarr(f"{out}/v2.zarr", consolidated=True)
    v = ds["v"].astype("float64")
    per_time = v.mean(("lat", "lon")).values
    box = v.sel(lat=slice(10, 40), lon=slice(100, 200)).isel(time=slice(0, 30))
    out = {
        "count": int(v.count().values),
        "mean": float(v.mean().values),
        "per_time": [float(x) for x in per_time],
        "box_count": int(box.count().values),
        "box_mean": float(box.mean().values),
    }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
