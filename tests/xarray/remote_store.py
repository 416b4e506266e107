"""The stores of tests/cloud.rs, and xarray's answers on them.

    remote_store.py OUT_DIR  ->  writes the stores below into OUT_DIR, prints JSON answers

- v2.zarr, v3.zarr: one variable `v` (float32, NaN holes, blosc lz4 + shuffle in v2, zstd in v3) on
  time x lat x lon = 96 x 40 x 50, in chunks of 2 time steps (48 chunks: a full scan wants many
  requests at once), with CF time and consolidated metadata, as xarray writes a store for a bucket;
- v2_other.zarr: v2.zarr's twin with other values (another seed), for a test that rewrites v2.zarr's
  chunks with these;
- nc3/part_0.nc .. part_3.nc: the same dataset split along time into 4 files of 24 days, NetCDF-3
  64-bit offset with an unlimited time, each with its own time units (xarray's default,
  "days since <the file's first day>");
- nc4parts/part_0.nc .. part_3.nc: the same split as NetCDF-4, `v` in HDF5 chunks of 6 x 40 x 50
  with deflate, time a fixed dimension;
- nc/v4.nc: one NetCDF-4 file of about 9 MB, `v` (float32, a NaN hole) on 360 days x 80 lat x
  100 lon in HDF5 chunks of 30 x 20 x 25 with shuffle + deflate level 1, so a box reads a few
  chunks of many.

The answers (all reductions in float64) are xarray's, each over the files it names:
- top level, over v2.zarr: the global count and mean, the mean per time step (`per_time`) and the
  count and mean over a box of the grid (lat 10..40, lon 100..200) over the first 30 days
  (`box_count`, `box_mean`);
- `nc3`, `nc4parts` (open_mfdataset of the collection): `count`, `mean`, `per_time`;
- `v4` (open_dataset): `count`, `mean`, `box_count`, `box_mean` (the same box);
- `other`, over v2_other.zarr: `box_count`, `box_mean`.
"""

import glob
import json
import os
import sys

import numpy as np
import pandas as pd
import xarray as xr


def grid_dataset(seed, days, lat_edge, nlat, lon_end, nlon, hole):
    """Random float32 `v` (mean 15, sd 4) on daily time x lat x lon from 2001-01-01, NaN on `hole`."""
    rng = np.random.default_rng(seed)
    time = pd.date_range("2001-01-01", periods=days, freq="D")
    lat = np.linspace(-lat_edge, lat_edge, nlat).astype("float32")
    lon = np.linspace(0.0, lon_end, nlon).astype("float32")
    v = rng.normal(15.0, 4.0, size=(days, nlat, nlon)).astype("float32")
    v[hole] = np.nan
    return xr.Dataset({"v": (("time", "lat", "lon"), v, {"units": "degC"})},
                      coords={"time": time, "lat": lat, "lon": lon})


def dataset(seed=7):
    return grid_dataset(seed, 96, 48.75, 40, 357.5, 50, np.s_[:, 5:9, 10:20])


def v4_dataset():
    """The one-file NetCDF-4 dataset: 360 days x 80 x 100, about 11.5 MB of float32 before deflate.
    Its hole cuts through the box of the answers and through chunk bounds."""
    return grid_dataset(11, 360, 49.5, 80, 356.4, 100, np.s_[5:40, 50:56, 30:45])


def write_parts(ds, folder, parts, **kwargs):
    """`ds` split along time into `parts` files folder/part_<i>.nc; their paths."""
    os.makedirs(folder, exist_ok=True)
    step = ds.sizes["time"] // parts
    paths = []
    for i in range(parts):
        path = os.path.join(folder, f"part_{i}.nc")
        ds.isel(time=slice(i * step, (i + 1) * step)).to_netcdf(path, engine="netcdf4", **kwargs)
        paths.append(path)
    return paths


def totals(v):
    """count, mean and the mean per time step of a float64 DataArray."""
    return {
        "count": int(v.count().values),
        "mean": float(v.mean().values),
        "per_time": [float(x) for x in v.mean(("lat", "lon")).values],
    }


def box(v):
    """The box of the answers: lat 10..40, lon 100..200, the first 30 time steps."""
    return v.sel(lat=slice(10, 40), lon=slice(100, 200)).isel(time=slice(0, 30))


def main(out):
    import numcodecs
    import zarr

    ds = dataset()
    for name, data in (("v2", ds), ("v2_other", dataset(seed=8))):
        data.chunk({"time": 2}).to_zarr(
            f"{out}/{name}.zarr", zarr_format=2, consolidated=True, mode="w",
            encoding={"v": {"compressors": [numcodecs.Blosc("lz4", 5, shuffle=1)]}})
    ds.chunk({"time": 2}).to_zarr(
        f"{out}/v3.zarr", zarr_format=3, consolidated=True, mode="w",
        encoding={"v": {"compressors": [zarr.codecs.ZstdCodec(level=3)]}})
    write_parts(ds, f"{out}/nc3", 4, format="NETCDF3_64BIT", unlimited_dims=["time"])
    write_parts(ds, f"{out}/nc4parts", 4, format="NETCDF4",
                encoding={"v": {"zlib": True, "complevel": 4, "chunksizes": (6, 40, 50)}})
    os.makedirs(f"{out}/nc", exist_ok=True)
    v4_dataset().to_netcdf(
        f"{out}/nc/v4.nc", engine="netcdf4", format="NETCDF4",
        encoding={"v": {"zlib": True, "complevel": 1, "shuffle": True, "chunksizes": (30, 20, 25)}})

    zs = xr.open_zarr(f"{out}/v2.zarr", consolidated=True)
    v = zs["v"].astype("float64")
    b = box(v)
    answers = {
        **totals(v),
        "box_count": int(b.count().values),
        "box_mean": float(b.mean().values),
    }
    for name in ("nc3", "nc4parts"):
        files = sorted(glob.glob(f"{out}/{name}/part_*.nc"))
        with xr.open_mfdataset(files, combine="by_coords", engine="netcdf4") as mf:
            answers[name] = totals(mf["v"].astype("float64").load())
    with xr.open_dataset(f"{out}/nc/v4.nc", engine="netcdf4") as nc:
        v = nc["v"].astype("float64").load()
        b = box(v)
        answers["v4"] = {
            "count": int(v.count().values),
            "mean": float(v.mean().values),
            "box_count": int(b.count().values),
            "box_mean": float(b.mean().values),
        }
    with xr.open_zarr(f"{out}/v2_other.zarr", consolidated=True) as other:
        b = box(other["v"].astype("float64"))
        answers["other"] = {"box_count": int(b.count().values), "box_mean": float(b.mean().values)}
    json.dump(answers, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
