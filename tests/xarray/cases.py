"""SQL correctness cases for gridsql, each with its reference answer computed by xarray.

Every case is a dict:

    name      unique snake_case name
    dataset   base file name in the data directory ("tcw.nc"); reference.py opens F, F.v2.zarr, F.v3.zarr
    options   gridsql table options (usually {})
    sql       DataFusion SQL over the table `t`; every multi-row result has an ORDER BY
    expected  function ds -> list of rows (each a list of values), computed with xarray on the dataset
              opened with default decoding (xr.open_dataset(path) / engine="zarr")
    rtol      relative tolerance for float comparisons (default 1e-9)

Table model (what the SQL sees): one row per grid cell; each dimension is a column holding its coordinate
values (CF time decoded to a timestamp without time zone), each data variable a column decoded as xarray
decodes it (scale_factor/add_offset applied; _FillValue, missing_value and NaN are NULL).

Conventions that keep SQL and xarray equivalent:
- Reductions are done in float64 in xarray (`f64`), because DataFusion's avg/sum/stddev_pop work in
  float64 even over a Float32 column (sst). min/max stay in the column's type (exact either way).
- Literal coordinate values and range bounds are exactly representable in float32 (e.g. 43.0625, 2.5,
  -5.9375), so `latitude = 43.0625` means the same whether the float32 coordinate column is compared in
  float32 or widened to float64. Range masks in xarray compare the coordinates widened to float64, as
  DataFusion does for a float32 column against a float64 literal.
- cos(lat) weights: the SQL widens latitude first (`cos(radians(CAST(latitude AS DOUBLE)))`), matching
  xarray's `np.cos(np.deg2rad(lat.astype("float64")))`; one case per dataset uses the bare float32
  `cos(radians(latitude))` (DataFusion then computes the weight in float32) with rtol 1e-6.
- avg() over no non-NULL value is NULL; xarray gives NaN, which reference.py writes as null.
- `sum(x)` over only NULLs is NULL in SQL but 0 in xarray: such groups are avoided (or min_count=1 used).
"""

import numpy as np

from helpers import (  # noqa: F401  (shared with cases_udfs.py)
    ADT, ERA, SPACE, SST, SST_SPACE, TCW, case, cases_for, columns, f64, one, table, trange, weighted_mean, weights,
)


# ----------------------------------------------------------------------------------------------------------
# helpers of these cases only (the shared ones are in helpers.py)


def box(da, **ranges):
    """Cells whose coordinates lie in the closed ranges (SQL BETWEEN), compared in float64."""
    index = {}
    for dim, (lo, hi) in ranges.items():
        c = da[dim].astype("float64") if da[dim].dtype.kind == "f" else da[dim]
        index[dim] = ((c >= lo) & (c <= hi)).values
    return da.isel(index)


def isin(da, dim, values):
    """Cells whose coordinate `dim` is in `values` (SQL IN)."""
    return da.isel({dim: np.isin(da[dim].astype("float64").values, values)})


def tbetween(da, first, last):
    """Time steps with first <= time <= last (SQL BETWEEN)."""
    t = da.time
    return da.isel(time=((t >= np.datetime64(first)) & (t <= np.datetime64(last))).values)


def point_stats(da, points, reduce_dim="time"):
    """Rows [lat, lon, mean, count] for (lat, lon) points, sorted by lat then lon."""
    lat_name, lon_name = da.dims[-2], da.dims[-1]
    out = []
    for lat, lon in sorted(points):
        cell = f64(da.sel({lat_name: lat, lon_name: lon}))
        out.append([lat, lon, cell.mean(reduce_dim).item(), int(cell.count(reduce_dim))])
    return out


# ----------------------------------------------------------------------------------------------------------
# dt_med_allsat_phy_l4_2005T2.nc: adt(time, latitude, longitude), 91 days, lat ascending, land = NULL,
# coastal mask varies with time; HDF5/Zarr chunks (20, 64, 344): chunk edges after 2005-04-20 and 38.0 N.

GULF_OF_LION = (43.0625, 6.0625)
IONIAN = (33.9375, 18.0625)
CRETE = (35.0625, 25.0625)  # land: all NULL
PARTIAL = (43.3125, 10.5625)  # coastal cell valid on 49 of 91 days

ADT_CASES = cases_for(
    ADT,
    case("adt_spatial_mean_per_day",
         "SELECT time, avg(adt) FROM t GROUP BY time ORDER BY time",
         lambda ds: table(f64(ds.adt).mean(SPACE))),
    case("adt_count_whole_cube",
         "SELECT count(adt), count(*) FROM t",
         lambda ds: one(int(ds.adt.count()), ds.adt.size)),
    case("adt_count_per_day",
         "SELECT time, count(adt), count(*) FROM t GROUP BY time ORDER BY time",
         lambda ds: columns(ds.adt.count(SPACE), ds.adt.notnull().count(SPACE))),
    case("adt_null_cells",
         "SELECT count(*) FROM t WHERE adt IS NULL",
         lambda ds: one(int(ds.adt.isnull().sum()))),
    case("adt_min_max_sum",
         "SELECT min(adt), max(adt), sum(adt) FROM t",
         lambda ds: one(ds.adt.min().item(), ds.adt.max().item(), f64(ds.adt).sum().item())),
    case("adt_min_max_per_day",
         "SELECT time, min(adt), max(adt) FROM t GROUP BY time ORDER BY time",
         lambda ds: columns(ds.adt.min(SPACE), ds.adt.max(SPACE))),
    case("adt_weighted_mean_per_day",
         """SELECT time, SUM(adt * cos(radians(CAST(latitude AS DOUBLE))))
                 / SUM(CASE WHEN adt IS NOT NULL THEN cos(radians(CAST(latitude AS DOUBLE))) END)
            FROM t GROUP BY time ORDER BY time""",
         lambda ds: table(weighted_mean(ds.adt, weights(ds), SPACE))),
    case("adt_weighted_mean_float32_latitude",
         """SELECT time, SUM(adt * cos(radians(latitude)))
                 / SUM(CASE WHEN adt IS NOT NULL THEN cos(radians(latitude)) END)
            FROM t WHERE time < TIMESTAMP '2005-04-11' GROUP BY time ORDER BY time""",
         lambda ds: table(weighted_mean(trange(ds.adt, "2005-04-01", "2005-04-11"), weights(ds), SPACE)),
         rtol=1e-6),
    case("adt_box_mean_cross_chunks",
         """SELECT avg(adt), count(adt), count(*) FROM t
            WHERE latitude BETWEEN 36 AND 40 AND longitude BETWEEN 10 AND 20""",
         lambda ds: (lambda b: one(f64(b).mean().item(), int(b.count()), b.size))(
             box(ds.adt, latitude=(36, 40), longitude=(10, 20)))),
    case("adt_box_mean_per_day_bounds_on_grid",
         """SELECT time, avg(adt), count(adt) FROM t
            WHERE latitude BETWEEN 38.0625 AND 39.0625 AND longitude BETWEEN 5.0625 AND 9.9375
              AND time BETWEEN TIMESTAMP '2005-04-15' AND TIMESTAMP '2005-04-25'
            GROUP BY time ORDER BY time""",
         lambda ds: (lambda b: columns(f64(b).mean(SPACE), b.count(SPACE)))(
             tbetween(box(ds.adt, latitude=(38.0625, 39.0625), longitude=(5.0625, 9.9375)),
                      "2005-04-15", "2005-04-25"))),
    case("adt_point_time_means",
         """SELECT latitude, longitude, avg(adt), count(adt) FROM t
            WHERE (latitude = 33.9375 AND longitude = 18.0625)
               OR (latitude = 43.0625 AND longitude = 6.0625)
               OR (latitude = 35.0625 AND longitude = 25.0625)
               OR (latitude = 43.3125 AND longitude = 10.5625)
            GROUP BY latitude, longitude ORDER BY latitude, longitude""",
         lambda ds: point_stats(ds.adt, [IONIAN, GULF_OF_LION, CRETE, PARTIAL])),
    case("adt_land_point_mean_is_null",
         "SELECT avg(adt), count(adt), count(*) FROM t WHERE latitude = 35.0625 AND longitude = 25.0625",
         lambda ds: (lambda c: one(f64(c).mean().item(), int(c.count()), c.size))(
             ds.adt.sel(latitude=CRETE[0], longitude=CRETE[1]))),
    case("adt_time_range_may",
         """SELECT avg(adt), count(adt), count(*) FROM t
            WHERE time >= TIMESTAMP '2005-05-01' AND time < TIMESTAMP '2005-06-01'""",
         lambda ds: (lambda m: one(f64(m).mean().item(), int(m.count()), m.size))(
             trange(ds.adt, "2005-05-01", "2005-06-01"))),
    case("adt_time_range_counts_cross_chunk",
         """SELECT count(adt), count(*) FROM t
            WHERE time >= TIMESTAMP '2005-04-18' AND time < TIMESTAMP '2005-04-23'""",
         lambda ds: (lambda m: one(int(m.count()), m.size))(trange(ds.adt, "2005-04-18", "2005-04-23"))),
    case("adt_in_list_longitude",
         """SELECT longitude, avg(adt), count(adt) FROM t
            WHERE longitude IN (-5.9375, 0.0625, 10.0625, 20.0625, 36.9375)
            GROUP BY longitude ORDER BY longitude""",
         lambda ds: (lambda s: columns(f64(s).mean(("time", "latitude")), s.count(("time", "latitude"))))(
             isin(ds.adt, "longitude", [-5.9375, 0.0625, 10.0625, 20.0625, 36.9375]))),
    case("adt_eq_time_zonal_mean",
         """SELECT latitude, avg(adt), count(adt) FROM t WHERE time = TIMESTAMP '2005-05-15'
            GROUP BY latitude ORDER BY latitude""",
         lambda ds: (lambda d: columns(f64(d).mean("longitude"), d.count("longitude")))(
             ds.adt.sel(time="2005-05-15"))),
    case("adt_zonal_mean_all_days",
         "SELECT latitude, avg(adt) FROM t GROUP BY latitude ORDER BY latitude",
         lambda ds: table(f64(ds.adt).mean(("time", "longitude")))),
    case("adt_stddev_var_pop_per_day",
         "SELECT time, stddev_pop(adt), var_pop(adt) FROM t GROUP BY time ORDER BY time",
         lambda ds: columns(f64(ds.adt).std(SPACE), f64(ds.adt).var(SPACE))),
    case("adt_monthly_mean_date_part",
         """SELECT date_part('month', time) AS m, avg(adt), count(adt) FROM t
            GROUP BY date_part('month', time) ORDER BY m""",
         lambda ds: [[int(m), f64(g).mean().item(), int(g.count())] for m, g in ds.adt.groupby("time.month")]),
    case("adt_monthly_mean_date_trunc",
         """SELECT date_trunc('month', time) AS m, avg(adt) FROM t
            GROUP BY date_trunc('month', time) ORDER BY m""",
         lambda ds: [[np.datetime64(str(m)[:7] + "-01T00:00:00"), f64(g).mean().item()]
                     for m, g in ds.adt.groupby(ds.time.dt.strftime("%Y-%m"))]),
    case("adt_positive_share_per_month",
         """SELECT date_part('month', time) AS m, sum(CASE WHEN adt > 0 THEN 1 ELSE 0 END), count(adt) FROM t
            GROUP BY date_part('month', time) ORDER BY m""",
         lambda ds: [[int(m), int((g > 0).sum()), int(g.count())] for m, g in ds.adt.groupby("time.month")]),
    case("adt_raw_cells_gulf_of_lion",
         """SELECT time, latitude, longitude, adt FROM t
            WHERE latitude = 43.0625 AND longitude = 6.0625 ORDER BY time""",
         lambda ds: [[r[0], GULF_OF_LION[0], GULF_OF_LION[1], r[1]]
                     for r in table(ds.adt.sel(latitude=GULF_OF_LION[0], longitude=GULF_OF_LION[1]))]),
    case("adt_raw_cells_partial_coastal",
         """SELECT time, latitude, longitude, adt FROM t
            WHERE latitude = 43.3125 AND longitude = 10.5625 ORDER BY time""",
         lambda ds: [[r[0], PARTIAL[0], PARTIAL[1], r[1]]
                     for r in table(ds.adt.sel(latitude=PARTIAL[0], longitude=PARTIAL[1]))]),
    case("adt_raw_cells_land_first_days",
         """SELECT time, latitude, longitude, adt FROM t
            WHERE latitude = 35.0625 AND longitude = 25.0625 AND time < TIMESTAMP '2005-04-06' ORDER BY time""",
         lambda ds: [[r[0], CRETE[0], CRETE[1], r[1]] for r in
                     table(trange(ds.adt, "2005-04-01", "2005-04-06").sel(latitude=CRETE[0], longitude=CRETE[1]))]),
    case("adt_raw_cells_small_box",
         """SELECT time, latitude, longitude, adt FROM t
            WHERE latitude BETWEEN 43.25 AND 43.375 AND longitude BETWEEN 10.5 AND 10.625
              AND time IN (TIMESTAMP '2005-04-01', TIMESTAMP '2005-06-30')
            ORDER BY time, latitude, longitude""",
         lambda ds: table(box(ds.adt, latitude=(43.25, 43.375), longitude=(10.5, 10.625))
                          .sel(time=["2005-04-01", "2005-06-30"]))),
    case("adt_cell_time_means_coastal_box",
         """SELECT latitude, longitude, avg(adt), count(adt) FROM t
            WHERE latitude BETWEEN 43 AND 43.5 AND longitude BETWEEN 10 AND 10.75
            GROUP BY latitude, longitude ORDER BY latitude, longitude""",
         lambda ds: (lambda b: columns(f64(b).mean("time"), b.count("time")))(
             box(ds.adt, latitude=(43, 43.5), longitude=(10, 10.75)))),
    case("adt_coordinate_summary",
         """SELECT count(DISTINCT time), count(DISTINCT latitude), count(DISTINCT longitude),
                   min(time), max(time), min(latitude), max(latitude), min(longitude), max(longitude) FROM t""",
         lambda ds: one(ds.time.size, ds.latitude.size, ds.longitude.size,
                        ds.time.values.min(), ds.time.values.max(),
                        ds.latitude.values.min(), ds.latitude.values.max(),
                        ds.longitude.values.min(), ds.longitude.values.max())),
)

# ----------------------------------------------------------------------------------------------------------
# sst.mnmean.nc: sst(time, lat, lon) float32, 128 months, lat DESCENDING 88..-88, lon 0..358,
# land = missing_value -9.97e36 in the NetCDF (NaN in the Zarr copies): NULL either way.


SST_CASES = cases_for(
    SST,
    case("sst_spatial_mean_per_month",
         "SELECT time, avg(sst) FROM t GROUP BY time ORDER BY time",
         lambda ds: table(f64(ds.sst).mean(SST_SPACE))),
    case("sst_count_whole_cube",
         "SELECT count(sst), count(*) FROM t",
         lambda ds: one(int(ds.sst.count()), ds.sst.size)),
    case("sst_count_per_month",
         "SELECT time, count(sst) FROM t GROUP BY time ORDER BY time",
         lambda ds: table(ds.sst.count(SST_SPACE))),
    case("sst_null_cells",
         "SELECT count(*) FROM t WHERE sst IS NULL",
         lambda ds: one(int(ds.sst.isnull().sum()))),
    case("sst_min_max",
         "SELECT min(sst), max(sst) FROM t",
         lambda ds: one(ds.sst.min().item(), ds.sst.max().item())),
    case("sst_min_max_per_lat",
         "SELECT lat, min(sst), max(sst), count(sst) FROM t GROUP BY lat ORDER BY lat",
         lambda ds: columns(ds.sst.min(("time", "lon")), ds.sst.max(("time", "lon")),
                            ds.sst.count(("time", "lon")))),
    case("sst_weighted_mean_per_month",
         """SELECT time, SUM(sst * cos(radians(CAST(lat AS DOUBLE))))
                 / SUM(CASE WHEN sst IS NOT NULL THEN cos(radians(CAST(lat AS DOUBLE))) END)
            FROM t GROUP BY time ORDER BY time""",
         lambda ds: table(weighted_mean(ds.sst, weights(ds, "lat"), SST_SPACE))),
    case("sst_weighted_mean_float32_lat",
         """SELECT time, SUM(sst * cos(radians(lat))) / SUM(CASE WHEN sst IS NOT NULL THEN cos(radians(lat)) END)
            FROM t WHERE time < TIMESTAMP '2011-01-01' GROUP BY time ORDER BY time""",
         lambda ds: table(weighted_mean(trange(ds.sst, "2010-01-01", "2011-01-01"), weights(ds, "lat"), SST_SPACE)),
         rtol=1e-6),
    case("sst_nino34_box_per_month",
         """SELECT time, avg(sst), count(sst) FROM t
            WHERE lat BETWEEN -5 AND 5 AND lon BETWEEN 190 AND 240 GROUP BY time ORDER BY time""",
         lambda ds: (lambda b: columns(f64(b).mean(SST_SPACE), b.count(SST_SPACE)))(
             box(ds.sst, lat=(-5, 5), lon=(190, 240)))),
    case("sst_box_bounds_on_grid",
         """SELECT avg(sst), count(sst), count(*) FROM t
            WHERE lat BETWEEN 20 AND 40 AND lon BETWEEN 120 AND 160""",
         lambda ds: (lambda b: one(f64(b).mean().item(), int(b.count()), b.size))(
             box(ds.sst, lat=(20, 40), lon=(120, 160)))),
    case("sst_point_time_means",
         """SELECT lat, lon, avg(sst), count(sst) FROM t
            WHERE (lat = 0 AND lon = 190) OR (lat = 40 AND lon = 320) OR (lat = 40 AND lon = 260)
            GROUP BY lat, lon ORDER BY lat, lon""",
         lambda ds: point_stats(ds.sst, [(0.0, 190.0), (40.0, 320.0), (40.0, 260.0)])),
    case("sst_time_range_2015",
         """SELECT avg(sst), count(sst), count(*) FROM t
            WHERE time >= TIMESTAMP '2015-01-01' AND time < TIMESTAMP '2016-01-01'""",
         lambda ds: (lambda y: one(f64(y).mean().item(), int(y.count()), y.size))(
             trange(ds.sst, "2015-01-01", "2016-01-01"))),
    case("sst_in_list_lat",
         "SELECT lat, avg(sst), count(sst) FROM t WHERE lat IN (-60, 0, 60) GROUP BY lat ORDER BY lat",
         lambda ds: (lambda s: columns(f64(s).mean(("time", "lon")), s.count(("time", "lon"))))(
             isin(ds.sst, "lat", [-60, 0, 60]))),
    case("sst_raw_meridian_section",
         """SELECT lat, lon, sst FROM t WHERE lon = 0 AND time = TIMESTAMP '2020-08-01' ORDER BY lat""",
         lambda ds: [[r[0], 0.0, r[1]] for r in table(ds.sst.sel(lon=0.0, time="2020-08-01"))]),
    case("sst_raw_cells_nino_point",
         """SELECT time, lat, lon, sst FROM t WHERE lat = 0 AND lon = 190 AND time < TIMESTAMP '2011-01-01'
            ORDER BY time""",
         lambda ds: [[r[0], 0.0, 190.0, r[1]] for r in table(trange(ds.sst, "2010-01-01", "2011-01-01")
                                                                .sel(lat=0.0, lon=190.0))]),
    case("sst_raw_cells_land_point",
         """SELECT time, sst FROM t WHERE lat = 40 AND lon = 260 AND time < TIMESTAMP '2010-04-01'
            ORDER BY time""",
         lambda ds: table(trange(ds.sst, "2010-01-01", "2010-04-01").sel(lat=40.0, lon=260.0))),
    case("sst_stddev_pop_per_month",
         "SELECT time, stddev_pop(sst), var_pop(sst) FROM t GROUP BY time ORDER BY time",
         lambda ds: columns(f64(ds.sst).std(SST_SPACE), f64(ds.sst).var(SST_SPACE))),
    case("sst_climatology_date_part",
         """SELECT date_part('month', time) AS m, avg(sst), count(sst) FROM t
            GROUP BY date_part('month', time) ORDER BY m""",
         lambda ds: [[int(m), f64(g).mean().item(), int(g.count())] for m, g in ds.sst.groupby("time.month")]),
    case("sst_yearly_mean_date_trunc",
         """SELECT date_trunc('year', time) AS y, avg(sst), count(DISTINCT time) FROM t
            GROUP BY date_trunc('year', time) ORDER BY y""",
         lambda ds: [[np.datetime64(f"{int(y)}-01-01T00:00:00"), f64(g).mean().item(), g.time.size]
                     for y, g in ds.sst.groupby("time.year")]),
    case("sst_eq_time_hemispheres",
         """SELECT CASE WHEN lat > 0 THEN 'N' ELSE 'S' END AS h, avg(sst), count(sst) FROM t
            WHERE time = TIMESTAMP '2016-01-01' GROUP BY 1 ORDER BY 1""",
         lambda ds: (lambda d: [["N", f64(d.where(d.lat > 0)).mean().item(), int(d.where(d.lat > 0).count())],
                                ["S", f64(d.where(d.lat <= 0)).mean().item(), int(d.where(d.lat <= 0).count())]])(
             ds.sst.sel(time="2016-01-01"))),
)

# ----------------------------------------------------------------------------------------------------------
# eraint_uvz.nc: z, u, v(month, level, latitude, longitude), no time; month int (1, 7), level int
# (200, 500, 850); latitude DESCENDING 90..-90, longitude -180..179.25. Negative scale_factor, nothing masked;
# raw 0 occurs in v (781 cells, = add_offset -1.46875): in the v3 copy 0 is also the Zarr fill_value.

ERA_CASES = cases_for(
    ERA,
    case("eraint_z500_mean_per_month",
         "SELECT month, avg(z) FROM t WHERE level = 500 GROUP BY month ORDER BY month",
         lambda ds: table(ds.z.sel(level=500).mean(SPACE))),
    case("eraint_means_per_month_level",
         "SELECT month, level, avg(z), avg(u), avg(v) FROM t GROUP BY month, level ORDER BY month, level",
         lambda ds: columns(ds.z.mean(SPACE), ds.u.mean(SPACE), ds.v.mean(SPACE)),
         rtol=1e-7),  # global-mean v is ~1e-3 of mean |v| (condition ~640): order of summation shows at ~1e-8
    case("eraint_counts",
         "SELECT count(z), count(u), count(v), count(*) FROM t",
         lambda ds: one(int(ds.z.count()), int(ds.u.count()), int(ds.v.count()), ds.z.size)),
    case("eraint_min_max",
         "SELECT min(z), max(z), min(u), max(u), min(v), max(v) FROM t",
         lambda ds: one(*[getattr(ds[v], f)().item() for v in ("z", "u", "v") for f in ("min", "max")])),
    case("eraint_u200_point_means",
         """SELECT latitude, longitude, avg(u), count(u) FROM t
            WHERE level = 200 AND ((latitude = 45 AND longitude = 0) OR (latitude = 40.5 AND longitude = 139.5))
            GROUP BY latitude, longitude ORDER BY latitude, longitude""",
         lambda ds: point_stats(ds.u.sel(level=200), [(45.0, 0.0), (40.5, 139.5)], reduce_dim="month")),
    case("eraint_weighted_z_per_month_level",
         """SELECT month, level, SUM(z * cos(radians(CAST(latitude AS DOUBLE))))
                 / SUM(CASE WHEN z IS NOT NULL THEN cos(radians(CAST(latitude AS DOUBLE))) END)
            FROM t GROUP BY month, level ORDER BY month, level""",
         lambda ds: table(weighted_mean(ds.z, weights(ds), SPACE))),
    case("eraint_weighted_u_float32_latitude",
         """SELECT month, level, SUM(u * cos(radians(latitude))) / SUM(CASE WHEN u IS NOT NULL THEN cos(radians(latitude)) END)
            FROM t GROUP BY month, level ORDER BY month, level""",
         lambda ds: table(weighted_mean(ds.u, weights(ds), SPACE)),
         rtol=1e-6),
    case("eraint_europe_box_850",
         """SELECT month, avg(u), avg(v), count(*) FROM t
            WHERE level = 850 AND latitude BETWEEN 35 AND 70 AND longitude BETWEEN -10 AND 40
            GROUP BY month ORDER BY month""",
         lambda ds: (lambda b: columns(b.u.mean(SPACE), b.v.mean(SPACE), b.u.notnull().sum(SPACE)))(
             box(ds.sel(level=850), latitude=(35, 70), longitude=(-10, 40)))),
    case("eraint_box_bounds_on_grid",
         """SELECT avg(z), min(z), max(z), count(*) FROM t
            WHERE latitude BETWEEN -30.75 AND -20.25 AND longitude BETWEEN 150 AND 179.25""",
         lambda ds: (lambda b: one(b.mean().item(), b.min().item(), b.max().item(), b.size))(
             box(ds.z, latitude=(-30.75, -20.25), longitude=(150, 179.25)))),
    case("eraint_in_list_level",
         "SELECT level, avg(u), max(u) FROM t WHERE level IN (200, 850) GROUP BY level ORDER BY level",
         lambda ds: (lambda s: columns(s.mean(("month",) + SPACE), s.max(("month",) + SPACE)))(
             ds.u.sel(level=[200, 850]))),
    case("eraint_eq_month_stddev_z",
         "SELECT level, stddev_pop(z) FROM t WHERE month = 7 GROUP BY level ORDER BY level",
         lambda ds: table(ds.z.sel(month=7).std(SPACE))),
    case("eraint_stddev_var_pop_per_month_level",
         """SELECT month, level, stddev_pop(u), var_pop(v) FROM t
            GROUP BY month, level ORDER BY month, level""",
         lambda ds: columns(ds.u.std(SPACE), ds.v.var(SPACE))),
    case("eraint_raw_cells_45n_0e",
         """SELECT month, level, latitude, longitude, u, v, z FROM t
            WHERE latitude = 45 AND longitude = 0 ORDER BY month, level""",
         lambda ds: [r[:2] + [45.0, 0.0] + r[2:] for r in
                     columns(*(ds[v].sel(latitude=45.0, longitude=0.0) for v in ("u", "v", "z")))]),
    case("eraint_raw_zero_v_cells",
         "SELECT count(*), count(v) FROM t WHERE v = -1.46875",
         lambda ds: (lambda m: one(int(m.sum()), int(m.sum())))(ds.v == -1.46875)),
    case("eraint_zonal_mean_u200_january",
         """SELECT latitude, avg(u) FROM t WHERE level = 200 AND month = 1
            GROUP BY latitude ORDER BY latitude""",
         lambda ds: table(ds.u.sel(level=200, month=1).mean("longitude")),
         rtol=1e-7),  # pole rows average to ~1e-5 of |u| (condition ~5e4): order of summation shows at ~1e-9
    case("eraint_mean_wind_speed_per_level",
         "SELECT level, avg(sqrt(u * u + v * v)) FROM t GROUP BY level ORDER BY level",
         lambda ds: table(np.sqrt(ds.u ** 2 + ds.v ** 2).mean(("month",) + SPACE))),
    case("eraint_easterly_cells_per_month_level",
         """SELECT month, level, sum(CASE WHEN u < 0 THEN 1 ELSE 0 END) FROM t
            GROUP BY month, level ORDER BY month, level""",
         lambda ds: table((ds.u < 0).sum(SPACE))),
)

# ----------------------------------------------------------------------------------------------------------
# tcw.nc: tcw(time, latitude, longitude), 31 daily steps at 12 UTC, latitude DESCENDING 90..-90,
# longitude 0..357.5; scale_factor AND add_offset; nothing missing; raw 0 (= add_offset) in 9 cells,
# which is also the v3 copy's Zarr fill_value.

TCW_CASES = cases_for(
    TCW,
    case("tcw_spatial_mean_per_step",
         "SELECT time, avg(tcw) FROM t GROUP BY time ORDER BY time",
         lambda ds: table(ds.tcw.mean(SPACE))),
    case("tcw_weighted_mean_per_step",
         """SELECT time, SUM(tcw * cos(radians(CAST(latitude AS DOUBLE))))
                 / SUM(CASE WHEN tcw IS NOT NULL THEN cos(radians(CAST(latitude AS DOUBLE))) END)
            FROM t GROUP BY time ORDER BY time""",
         lambda ds: table(weighted_mean(ds.tcw, weights(ds), SPACE))),
    case("tcw_weighted_mean_float32_latitude",
         """SELECT time, SUM(tcw * cos(radians(latitude))) / SUM(CASE WHEN tcw IS NOT NULL THEN cos(radians(latitude)) END)
            FROM t GROUP BY time ORDER BY time""",
         lambda ds: table(weighted_mean(ds.tcw, weights(ds), SPACE)),
         rtol=1e-6),
    case("tcw_count_whole_cube",
         "SELECT count(tcw), count(*) FROM t",
         lambda ds: one(int(ds.tcw.count()), ds.tcw.size)),
    case("tcw_count_per_step",
         "SELECT time, count(tcw), count(*) FROM t GROUP BY time ORDER BY time",
         lambda ds: columns(ds.tcw.count(SPACE), ds.tcw.notnull().count(SPACE))),
    case("tcw_min_max",
         "SELECT min(tcw), max(tcw) FROM t",
         lambda ds: one(ds.tcw.min().item(), ds.tcw.max().item())),
    case("tcw_point_time_means",
         """SELECT latitude, longitude, avg(tcw), count(tcw) FROM t
            WHERE (latitude = 0 AND longitude = 0) OR (latitude = 50 AND longitude = 2.5)
            GROUP BY latitude, longitude ORDER BY latitude, longitude""",
         lambda ds: point_stats(ds.tcw, [(0.0, 0.0), (50.0, 2.5)])),
    case("tcw_time_range_mean",
         """SELECT avg(tcw), count(tcw), min(time), max(time) FROM t
            WHERE time >= TIMESTAMP '2002-07-10' AND time < TIMESTAMP '2002-07-20'""",
         lambda ds: (lambda m: one(m.mean().item(), int(m.count()), m.time.values.min(), m.time.values.max()))(
             trange(ds.tcw, "2002-07-10", "2002-07-20"))),
    case("tcw_time_range_between_noon",
         """SELECT time, count(*) FROM t
            WHERE time BETWEEN TIMESTAMP '2002-07-05 12:00:00' AND TIMESTAMP '2002-07-08 11:59:59'
            GROUP BY time ORDER BY time""",
         lambda ds: table(tbetween(ds.tcw, "2002-07-05T12:00:00", "2002-07-08T11:59:59").notnull().sum(SPACE))),
    case("tcw_eq_time_zonal_mean",
         """SELECT latitude, avg(tcw) FROM t WHERE time = TIMESTAMP '2002-07-15 12:00:00'
            GROUP BY latitude ORDER BY latitude""",
         lambda ds: table(ds.tcw.sel(time="2002-07-15T12:00:00").mean("longitude"))),
    case("tcw_in_list_longitude",
         """SELECT longitude, avg(tcw) FROM t WHERE longitude IN (0, 90, 180, 270)
            GROUP BY longitude ORDER BY longitude""",
         lambda ds: table(isin(ds.tcw, "longitude", [0, 90, 180, 270]).mean(("time", "latitude")))),
    case("tcw_tropical_box_per_step",
         """SELECT time, avg(tcw), count(tcw) FROM t
            WHERE latitude BETWEEN -20 AND 20 AND longitude BETWEEN 100 AND 160
            GROUP BY time ORDER BY time""",
         lambda ds: (lambda b: columns(b.mean(SPACE), b.count(SPACE)))(
             box(ds.tcw, latitude=(-20, 20), longitude=(100, 160)))),
    case("tcw_stddev_var_pop_per_step",
         "SELECT time, stddev_pop(tcw), var_pop(tcw) FROM t GROUP BY time ORDER BY time",
         lambda ds: columns(ds.tcw.std(SPACE), ds.tcw.var(SPACE))),
    case("tcw_monthly_mean_date_trunc",
         """SELECT date_trunc('month', time) AS m, avg(tcw), count(tcw) FROM t
            GROUP BY date_trunc('month', time) ORDER BY m""",
         lambda ds: one(np.datetime64("2002-07-01T00:00:00"), ds.tcw.mean().item(), int(ds.tcw.count()))),
    case("tcw_daily_date_part",
         """SELECT date_part('day', time) AS d, date_part('hour', time) AS h, avg(tcw) FROM t
            WHERE date_part('day', time) IN (1, 15, 31) GROUP BY 1, 2 ORDER BY 1, 2""",
         lambda ds: [[int(d), int(h), ds.tcw.sel(time=tt).mean().item()]
                     for tt, d, h in zip(ds.time.values, ds.time.dt.day.values, ds.time.dt.hour.values)
                     if d in (1, 15, 31)]),
    case("tcw_weekly_date_trunc",
         """SELECT date_trunc('week', time) AS w, avg(tcw), count(DISTINCT time) FROM t
            GROUP BY date_trunc('week', time) ORDER BY w""",
         lambda ds: (lambda monday: [[w, g.mean().item(), g.time.size] for w, g in ds.tcw.groupby(monday)])(
             (ds.time.dt.floor("D") - np.timedelta64(1, "D") * ds.time.dt.dayofweek).rename("week"))),
    case("tcw_raw_cells_50n",
         """SELECT time, latitude, longitude, tcw FROM t
            WHERE latitude = 50 AND longitude = 2.5 AND time < TIMESTAMP '2002-07-08' ORDER BY time""",
         lambda ds: [[r[0], 50.0, 2.5, r[1]] for r in
                     table(trange(ds.tcw, "2002-07-01", "2002-07-08").sel(latitude=50.0, longitude=2.5))]),
    case("tcw_raw_zero_cells",
         "SELECT time, latitude, longitude, tcw FROM t WHERE tcw = 44.3250482744756 ORDER BY time, latitude, longitude",
         lambda ds: [r for r in table(ds.tcw) if r[-1] == 44.3250482744756]),
)

from cases_udfs import CASES as UDF_CASES  # noqa: E402  (geoscience functions, issue 4)
from cases_wild import CASES as WILD_CASES  # noqa: E402  (strings, labels, 2-D coordinates, groups: issue 21)

CASES = ADT_CASES + SST_CASES + ERA_CASES + TCW_CASES + UDF_CASES + WILD_CASES

_names = [c["name"] for c in CASES]
assert len(_names) == len(set(_names)), "duplicate case names"
