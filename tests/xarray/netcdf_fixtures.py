#!/usr/bin/env python3
"""NetCDF fixtures that ../shared/data lacks, and xarray's answers on them.

    python tests/xarray/netcdf_fixtures.py --data /work/shared/data --out DIR

Writes into DIR:
- groups_julian.nc: NETCDF4 with nested groups (/Grid, /Grid/Daily), a julian calendar, an unlimited time,
  int16 packing with a float32 scale_factor, a _FillValue and HDF5 chunks that cut partial chunks;
- daily/adt_YYYYMMDD.nc: dt_med_allsat_phy_l4_2005T2.nc split by xarray into one file per day, each with its
  own time units ("days since <that day>"), written in reverse order of modification;
- tcw_classic.nc, tcw_cdf5.nc: tcw.nc rewritten as NETCDF3_CLASSIC and NETCDF3_64BIT_DATA (CDF-5);
- mismatch/a.nc, mismatch/b.nc: two files that disagree on a dimension size (gridsql must refuse them);
- storage.nc: NETCDF4 variables stored every way gridsql's Rust chunk decoder handles or hands back to
  libnetcdf: shuffle+deflate+fletcher32 big-endian floats, packed int16 with fletcher32 only,
  partial edge chunks along an unlimited time, chunks never written (fill value), szip (libnetcdf's);
- contiguous.nc: NETCDF4 contiguous (unchunked) big-endian float64 and unsigned bytes;
- answers.json: [{"name", "location", "options", "sql", "rows", "rtol"}], each answer computed by xarray on the
  same files (open_dataset / open_mfdataset), values encoded as reference.py encodes them.
"""

import argparse
import json
import os
import sys

import numpy as np
import xarray as xr

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference import encode_rows  # noqa: E402

ADT = "dt_med_allsat_phy_l4_2005T2.nc"


def label(t):
    """A cftime date as gridsql shows it: the timestamp of the same nominal date (docs/table-model.md), so a
    29 February that the proleptic Gregorian calendar lacks (julian 2100-02-29) shows as 1 March."""
    import datetime as dt
    try:
        d = dt.datetime(t.year, t.month, t.day, t.hour, t.minute, t.second)
    except ValueError:
        d = dt.datetime(t.year, t.month, 28, t.hour, t.minute, t.second) + dt.timedelta(days=1)
    return d.strftime("%Y-%m-%dT%H:%M:%S")


def rows_by_time(da):
    return [[t, v] for t, v in zip(da.time.values, da.values)]


def write_groups_julian(path):
    import netCDF4

    rng = np.random.default_rng(7)
    nt, ny, nx = 40, 9, 12
    with netCDF4.Dataset(path, "w", format="NETCDF4") as nc:
        nc.title = "gridsql fixture: groups and a julian calendar"
        grid = nc.createGroup("Grid")
        daily = grid.createGroup("Daily")
        for g in (grid, daily):
            g.createDimension("time", None)
            g.createDimension("lat", ny)
            g.createDimension("lon", nx)
            t = g.createVariable("time", "f8", ("time",))
            t.units = "days since 2099-12-01"
            t.calendar = "julian"
            t[:] = np.arange(nt) * (1.0 if g is daily else 5.0)  # pentads reach julian 2100-02-29
            lat = g.createVariable("lat", "f4", ("lat",))
            lat.units = "degrees_north"
            lat[:] = np.linspace(-40, 40, ny)
            lon = g.createVariable("lon", "f4", ("lon",))
            lon.units = "degrees_east"
            lon[:] = np.linspace(0, 330, nx)
            v = g.createVariable("temp", "i2", ("time", "lat", "lon"), zlib=True, chunksizes=(7, 4, 5),
                                 fill_value=np.int16(-32767))
            v.scale_factor = np.float32(0.01)
            v.add_offset = np.float32(10.0)
            v.units = "degC"
            v.set_auto_maskandscale(False)
            raw = rng.integers(-2000, 2000, size=(nt, ny, nx)).astype("i2")
            raw[:, 0, :3] = -32767  # a "land" corner
            raw[5, 4, 6] = -32767
            v[:] = raw


def write_daily(data, out):
    os.makedirs(out, exist_ok=True)
    ds = xr.open_dataset(os.path.join(data, ADT))
    paths = []
    for i in range(ds.sizes["time"]):
        day = ds.isel(time=[i])
        stamp = str(day.time.values[0])[:10]
        enc = {k: {kk: vv for kk, vv in day[k].encoding.items()
                   if kk in ("dtype", "scale_factor", "add_offset", "_FillValue", "zlib", "complevel")}
               for k in day.variables}
        enc["time"] = {"units": f"days since {stamp}", "dtype": "float64", "_FillValue": None}
        for c in ("latitude", "longitude"):
            enc[c]["_FillValue"] = None
        paths.append((os.path.join(out, f"adt_{stamp.replace('-', '')}.nc"), day, enc))
    # Write newest first so that modification order differs from time order.
    for path, day, enc in reversed(paths):
        day.to_netcdf(path, encoding=enc, unlimited_dims=["time"])
    ds.close()


def write_tcw_variants(data, out):
    ds = xr.open_dataset(os.path.join(data, "tcw.nc"), decode_cf=False)
    for fmt, name in (("NETCDF3_CLASSIC", "tcw_classic.nc"), ("NETCDF3_64BIT_DATA", "tcw_cdf5.nc")):
        ds.to_netcdf(os.path.join(out, name), format=fmt, engine="netcdf4")
    ds.close()


def write_mismatch(out):
    d = os.path.join(out, "mismatch")
    os.makedirs(d, exist_ok=True)
    for name, ny, t0 in (("a.nc", 4, 0), ("b.nc", 5, 3)):
        xr.Dataset(
            {"v": (("time", "lat"), np.ones((3, ny), "f4"))},
            coords={"time": np.arange(t0, t0 + 3, dtype="f8"), "lat": np.arange(ny, dtype="f4")},
        ).to_netcdf(os.path.join(d, name))


STORAGE_VARS = ("shuf_be", "packed", "sparse", "szipped")


def write_storage(path):
    import netCDF4

    rng = np.random.default_rng(11)
    nt, ny, nx = 10, 9, 13
    with netCDF4.Dataset(path, "w", format="NETCDF4") as nc:
        nc.createDimension("time", None)
        nc.createDimension("lat", ny)
        nc.createDimension("lon", nx)
        t = nc.createVariable("time", "f8", ("time",))
        t.units = "days since 2000-01-01"
        nc.createVariable("lat", "f4", ("lat",))[:] = np.linspace(-20, 20, ny)
        nc.createVariable("lon", "f4", ("lon",))[:] = np.linspace(100, 160, nx)
        dims = ("time", "lat", "lon")
        # Chunks that cut partial chunks on every dimension, stored big-endian.
        v = nc.createVariable("shuf_be", "f4", dims, zlib=True, complevel=5, shuffle=True, fletcher32=True,
                              endian="big", chunksizes=(4, 4, 5), fill_value=np.float32(-9999.0))
        vals = rng.normal(15, 8, size=(nt, ny, nx)).astype("f4")
        vals[1, 2:5, 3] = -9999.0
        vals[7, 0, :] = np.nan
        v[:] = vals
        # Fletcher32 alone (netCDF4 drops shuffle without compression), packed int16.
        p = nc.createVariable("packed", "i2", dims, shuffle=True, fletcher32=True, chunksizes=(3, 9, 13),
                              fill_value=np.int16(-32767))
        p.scale_factor = np.float32(0.05)
        p.add_offset = np.float32(-3.0)
        p.set_auto_maskandscale(False)
        raw = rng.integers(-3000, 3000, size=(nt, ny, nx)).astype("i2")
        raw[4, :, 6] = -32767
        p[:] = raw
        # Only two chunks written: the others hold the fill value.
        sp = nc.createVariable("sparse", "f8", dims, zlib=True, chunksizes=(2, 5, 5), fill_value=-1.5)
        sp[0:2, 0:5, 0:5] = rng.normal(size=(2, 5, 5))
        sp[6:8, 5:9, 10:13] = rng.normal(size=(2, 4, 3))
        # A filter the Rust decoder leaves to libnetcdf.
        z = nc.createVariable("szipped", "i4", dims, compression="szip", szip_coding="nn",
                              szip_pixels_per_block=8, chunksizes=(5, 9, 13))
        z[:] = rng.integers(-100000, 100000, size=(nt, ny, nx)).astype("i4")
        t[:] = np.arange(nt) * 3.0


def write_contiguous(path):
    import netCDF4

    rng = np.random.default_rng(5)
    nt, ny, nx = 6, 9, 13
    with netCDF4.Dataset(path, "w", format="NETCDF4") as nc:
        for d, n in (("time", nt), ("lat", ny), ("lon", nx)):
            nc.createDimension(d, n)
        t = nc.createVariable("time", "f8", ("time",))
        t.units = "hours since 2001-03-01"
        t[:] = np.arange(nt) * 6.0
        nc.createVariable("lat", "f4", ("lat",))[:] = np.linspace(50, 58, ny)
        nc.createVariable("lon", "f4", ("lon",))[:] = np.linspace(-12, 0, nx)
        c = nc.createVariable("c", "f8", ("time", "lat", "lon"), contiguous=True, endian="big")
        c[:] = rng.normal(280, 10, size=(nt, ny, nx))
        u = nc.createVariable("u", "u1", ("time", "lat", "lon"), contiguous=True, fill_value=np.uint8(255))
        ub = rng.integers(0, 250, size=(nt, ny, nx)).astype("u1")
        ub[2, 3, :] = 255
        u[:] = ub


def storage_answers(out, add):
    """Per variable: totals, per-step means and a box that cuts chunks, as xarray computes them."""
    for name, variables in (("storage.nc", STORAGE_VARS), ("contiguous.nc", ("c", "u"))):
        path = os.path.join(out, name)
        ds = xr.open_dataset(path)
        tag = name.split(".")[0]
        opts = {"variables": ",".join(variables)}
        for v in variables:
            da = ds[v].astype("f8")
            add(f"{tag}_{v}_totals", path, f"SELECT count({v}), count(*), sum({v}), min({v}), max({v}) FROM t",
                [[int(da.count()), int(da.size), float(da.sum()), float(da.min()), float(da.max())]], opts)
            per_step = da.mean(("lat", "lon"))
            add(f"{tag}_{v}_per_step", path, f"SELECT time, avg({v}) FROM t GROUP BY time ORDER BY time",
                rows_by_time(per_step), opts)
            sel = da.isel(time=slice(1, 5), lat=slice(3, 8), lon=slice(4, 11))
            add(f"{tag}_{v}_box", path,
                f"SELECT count({v}), avg({v}), min({v}), max({v}) FROM t WHERE time >= TIMESTAMP '{str(ds.time.values[1])[:19]}' "
                f"AND time <= TIMESTAMP '{str(ds.time.values[4])[:19]}' AND lat BETWEEN {float(ds.lat[3])} AND {float(ds.lat[7])} "
                f"AND lon BETWEEN {float(ds.lon[4])} AND {float(ds.lon[10])}",
                [[int(sel.count()), float(sel.mean()), float(sel.min()), float(sel.max())]], opts)
            nt = ds.sizes["time"]
            cells = da.isel(time=slice(nt - 3, nt), lat=slice(0, 3), lon=slice(9, 13)).to_dataframe().reset_index()
            add(f"{tag}_{v}_cells", path,
                f"SELECT time, lat, lon, {v} FROM t WHERE time >= TIMESTAMP '{str(ds.time.values[nt - 3])[:19]}' "
                f"AND lat <= {float(ds.lat[2])} AND lon >= {float(ds.lon[9])} ORDER BY time, lat, lon",
                [[t, float(la), float(lo), None if np.isnan(x) else float(x)]
                 for t, la, lo, x in zip(cells.time, cells.lat, cells.lon, cells[v])], opts)
        ds.close()


def answers(data, out):
    cases = []

    def add(name, location, sql, rows, options=None, rtol=1e-9):
        cases.append({"name": name, "location": location, "options": options or {}, "sql": sql,
                      "rows": encode_rows(rows), "rtol": rtol})

    # groups + julian calendar
    g = os.path.join(out, "groups_julian.nc")
    for group in ("Grid", "Grid/Daily"):
        ds = xr.open_dataset(g, group=group, use_cftime=True)
        tag = group.replace("/", "_").lower()
        temp = ds.temp.astype("f8")
        first = temp.isel(time=slice(0, 3)).mean(("lat", "lon"))
        add(f"{tag}_mean_first_steps", g,
            "SELECT CAST(time AS VARCHAR) AS t, avg(temp) FROM t GROUP BY time ORDER BY time LIMIT 3",
            [[label(t), v] for t, v in zip(first.time.values, first.values)],
            {"group": group})
        # every step's date: after julian 2100-02-29 julian and gregorian day counts differ by one
        add(f"{tag}_julian_dates", g,
            "SELECT CAST(time AS VARCHAR) AS day, count(temp) FROM t GROUP BY time ORDER BY time",
            [[label(t), int(c)] for t, c in zip(ds.time.values, ds.temp.count(("lat", "lon")).values)],
            {"group": group})
        add(f"{tag}_count_and_sum", g, "SELECT count(temp), count(*), sum(temp) FROM t",
            [[int(ds.temp.count()), int(ds.temp.size), float(temp.sum())]], {"group": group})
        sel = temp.isel(time=slice(5, 12), lat=slice(2, 7), lon=slice(3, 9))
        add(f"{tag}_box_cutting_chunks", g,
            "SELECT avg(temp), min(temp), max(temp) FROM t WHERE lat BETWEEN {} AND {} AND lon BETWEEN {} AND {} "
            "AND time >= TIMESTAMP '{}' AND time <= TIMESTAMP '{}'".format(
                float(ds.lat[2]), float(ds.lat[6]), float(ds.lon[3]), float(ds.lon[8]),
                # julian dates show as the timestamp of the same nominal date (docs/table-model.md)
                label(ds.time.values[5]), label(ds.time.values[11])),
            [[float(sel.mean()), float(sel.min()), float(sel.max())]], {"group": group})
        ds.close()

    # NetCDF-3 classic and CDF-5 copies of tcw
    ref = xr.open_dataset(os.path.join(data, "tcw.nc"))
    per_step = ref.tcw.astype("f8").isel(time=slice(0, 4)).mean(("latitude", "longitude"))
    for name in ("tcw_classic.nc", "tcw_cdf5.nc"):
        p = os.path.join(out, name)
        add(f"{name}_mean_per_step", p,
            "SELECT time, avg(tcw) FROM t GROUP BY time ORDER BY time LIMIT 4", rows_by_time(per_step))
        add(f"{name}_count", p, "SELECT count(tcw), min(tcw), max(tcw) FROM t",
            [[int(ref.tcw.count()), float(ref.tcw.min()), float(ref.tcw.max())]])
    ref.close()

    # one file per day, as a glob and as a directory, against the single file
    single = xr.open_dataset(os.path.join(data, ADT))
    daily = os.path.join(out, "daily")
    mf = xr.open_mfdataset(os.path.join(daily, "*.nc"), combine="by_coords")
    assert (mf.time.values == single.time.values).all()
    adt = single.adt.astype("f8")
    for loc_name, loc in (("glob", os.path.join(daily, "adt_2005*.nc")), ("dir", daily)):
        add(f"daily_{loc_name}_mean_per_day", loc,
            "SELECT time, avg(adt) FROM t GROUP BY time ORDER BY time",
            rows_by_time(adt.mean(("latitude", "longitude"))))
        add(f"daily_{loc_name}_count", loc, "SELECT count(adt), count(*) FROM t",
            [[int(mf.adt.count()), int(mf.adt.size)]])
    may = adt.sel(time=slice("2005-05-01", "2005-05-31"))
    add("daily_time_filter_month", os.path.join(daily, "*.nc"),
        "SELECT count(*), avg(adt) FROM t WHERE time >= TIMESTAMP '2005-05-01' AND time < TIMESTAMP '2005-06-01'",
        [[int(may.size), float(may.mean())]])
    cell = adt.sel(latitude=43.0625, longitude=6.0625)
    add("daily_cell_time_mean", os.path.join(daily, "*.nc"),
        "SELECT avg(adt), stddev_pop(adt) FROM t WHERE latitude = 43.0625 AND longitude = 6.0625",
        [[float(cell.mean()), float(cell.std())]])
    mf.close()
    single.close()
    storage_answers(out, add)
    with open(os.path.join(out, "answers.json"), "w") as f:
        json.dump(cases, f, indent=1)
    return cases


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    write_groups_julian(os.path.join(args.out, "groups_julian.nc"))
    write_daily(args.data, os.path.join(args.out, "daily"))
    write_tcw_variants(args.data, args.out)
    write_mismatch(args.out)
    write_storage(os.path.join(args.out, "storage.nc"))
    write_contiguous(os.path.join(args.out, "contiguous.nc"))
    cases = answers(args.data, args.out)
    print(f"netcdf_fixtures.py: wrote {len(cases)} answers to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
