"""SQL correctness cases for gridsql's geoscience functions (udfs/: lat_weight, cell_area, haversine_km,
lon_180, lon_360, in_box, season, kelvin_to_celsius, weighted_avg), each with its xarray reference answer.

`CASES` uses exactly the format documented at the top of cases.py (name, dataset, options, sql, expected,
rtol) and the same table model and conventions; reference.py-style runners can concatenate it with
cases.CASES. Shared helpers live in helpers.py, so cases.py can import this module without an import
cycle.

Function semantics the answers rely on (see docs/functions.md):
- lat_weight(lat) = cos(radians(lat)) computed in float64 after widening the (float32) coordinate, i.e.
  xarray's `np.cos(np.deg2rad(lat.astype("float64")))`.
- weighted_avg(x, w) = sum(x*w) / sum(w) over rows where x and w are both non-NULL (and not NaN), in float64:
  xarray's `f64(x).weighted(w).mean(dims)`.
- cell_area(lat, dlat, dlon) = R^2 * radians(|dlon|) * |sin(radians(lat + dlat/2)) - sin(radians(lat - dlat/2))|,
  edges clamped to +-90, R = 6371007.181 m.
- in_box(lat, lon, s, n, w, e): s <= lat <= n and lon in [w, e] after taking every longitude mod 360;
  w > e (after mod 360) means the box crosses the antimeridian / prime meridian. Inclusive.
- season(time): 'DJF', 'MAM', 'JJA', 'SON' (xarray's `time.season`).
- lon_180(lon) in [-180, 180); lon_360(lon) in [0, 360).
"""

import numpy as np

from helpers import ADT, SPACE, SST, SST_SPACE, TCW, ERA, case, cases_for, columns, f64, one, table, trange  # noqa: F401
from helpers import weighted_mean as weighted  # weighted_avg(x, w): xarray's weighted mean, NaN skipped, float64
from helpers import weights as lat_weights  # lat_weight(lat): cos(radians(lat)) of the coordinate in float64

AUTHALIC_R_M = 6371007.181  # cell_area's sphere (WGS84 authalic radius)
MEAN_R_KM = 6371.0088  # haversine_km's sphere (mean Earth radius R1)


# ----------------------------------------------------------------------------------------------------------
# helpers of these cases only (the shared ones are in helpers.py)


def cell_areas(ds, dlat, dlon, lat="latitude"):
    """cell_area(lat, dlat, dlon) in m^2 for every latitude of the dataset (numpy closed form)."""
    c = ds[lat].astype("float64")
    top = np.deg2rad(np.clip(c + dlat / 2, -90.0, 90.0))
    bottom = np.deg2rad(np.clip(c - dlat / 2, -90.0, 90.0))
    return AUTHALIC_R_M ** 2 * np.deg2rad(abs(dlon)) * np.abs(np.sin(top) - np.sin(bottom))


def in_box_mask(ds, lat, lon, south, north, west, east):
    """The explicit xarray mask of in_box(lat, lon, south, north, west, east) (longitudes taken mod 360)."""
    la = ds[lat].astype("float64")
    lo = ds[lon].astype("float64") % 360.0
    w, e = west % 360.0, east % 360.0
    lon_ok = ((lo >= w) & (lo <= e)) if w <= e else ((lo >= w) | (lo <= e))
    return (la >= south) & (la <= north) & lon_ok


def lon_180(lon):
    """lon_180(lon): the coordinate widened to float64, in [-180, 180)."""
    return (lon.astype("float64") + 180.0) % 360.0 - 180.0


def haversine_km(lat1, lon1, lat2, lon2):
    """Great-circle distance on the sphere of radius MEAN_R_KM (numpy, degrees in)."""
    p1, p2 = np.deg2rad(lat1), np.deg2rad(lat2)
    h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.deg2rad(lon2 - lon1) / 2) ** 2
    return 2 * MEAN_R_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def by_season(da, f):
    """Rows [season, *f(group)] for xarray's groupby('time.season'), sorted by season name (SQL ORDER BY)."""
    return sorted([[str(s), *f(g)] for s, g in da.groupby("time.season")], key=lambda r: r[0])


# ----------------------------------------------------------------------------------------------------------
# dt_med_allsat_phy_l4_2005T2.nc: adt(time, latitude, longitude), daily 2005-04-01..06-30, 1/8 degree,
# latitude ascending float32, land = NULL (coast varies with time).

ADT_CASES = cases_for(
    ADT,
    case("udf_adt_weighted_avg_lat_weight_first_days",
         """SELECT time, weighted_avg(adt, lat_weight(latitude)) FROM t
            WHERE time < TIMESTAMP '2005-04-06' GROUP BY time ORDER BY time""",
         lambda ds: table(weighted(trange(ds.adt, "2005-04-01", "2005-04-06"), lat_weights(ds), SPACE))),
    case("udf_adt_weighted_avg_lat_weight_whole_cube",
         "SELECT weighted_avg(adt, lat_weight(latitude)) FROM t",
         lambda ds: one(weighted(ds.adt, lat_weights(ds), ("time",) + SPACE).item())),
    case("udf_adt_weighted_avg_equals_sum_formula",
         """SELECT time, weighted_avg(adt, lat_weight(latitude)),
                   SUM(adt * cos(radians(CAST(latitude AS DOUBLE))))
                 / SUM(CASE WHEN adt IS NOT NULL THEN cos(radians(CAST(latitude AS DOUBLE))) END)
            FROM t WHERE time >= TIMESTAMP '2005-06-28' GROUP BY time ORDER BY time""",
         lambda ds: (lambda m: columns(m, m))(
             weighted(trange(ds.adt, "2005-06-28", "2005-07-01"), lat_weights(ds), SPACE))),
    # April and May are MAM, June is JJA.
    case("udf_adt_season_means",
         """SELECT season(time) AS s, avg(adt), count(adt), count(DISTINCT time) FROM t
            GROUP BY season(time) ORDER BY s""",
         lambda ds: by_season(ds.adt, lambda g: [f64(g).mean().item(), int(g.count()), g.time.size])),
    case("udf_adt_season_weighted_means",
         """SELECT season(time) AS s, weighted_avg(adt, lat_weight(latitude)) FROM t
            GROUP BY season(time) ORDER BY s""",
         lambda ds: by_season(ds.adt, lambda g: [weighted(g, lat_weights(ds), ("time",) + SPACE).item()])),
    case("udf_adt_ocean_area_per_day",
         """SELECT time, sum(CASE WHEN adt IS NOT NULL THEN cell_area(latitude, 0.125, 0.125) END),
                   sum(cell_area(latitude, 0.125, 0.125))
            FROM t WHERE time < TIMESTAMP '2005-04-04' GROUP BY time ORDER BY time""",
         lambda ds: (lambda a, d: columns((a * d.notnull()).sum(SPACE), a.broadcast_like(d).sum(SPACE)))(
             cell_areas(ds, 0.125, 0.125), trange(ds.adt, "2005-04-01", "2005-04-04"))),
    case("udf_adt_cell_area_weighted_mean_first_days",
         """SELECT time, weighted_avg(adt, cell_area(latitude, 0.125, 0.125)) FROM t
            WHERE time < TIMESTAMP '2005-04-04' GROUP BY time ORDER BY time""",
         lambda ds: table(weighted(trange(ds.adt, "2005-04-01", "2005-04-04"), cell_areas(ds, 0.125, 0.125), SPACE))),
    case("udf_adt_box_in_box_matches_between",
         """SELECT count(adt), avg(adt) FROM t
            WHERE in_box(latitude, longitude, 36, 40, 10, 20) AND time = TIMESTAMP '2005-05-01'""",
         lambda ds: (lambda d: one(int(d.count()), f64(d).mean().item()))(
             ds.adt.sel(time="2005-05-01").where(in_box_mask(ds, "latitude", "longitude", 36, 40, 10, 20)))),
    case("udf_adt_haversine_within_100km_gulf_of_lion",
         """SELECT count(*), count(adt), avg(adt) FROM t
            WHERE time = TIMESTAMP '2005-04-01' AND haversine_km(latitude, longitude, 43.0625, 6.0625) <= 100""",
         lambda ds: (lambda d, near: one(int(near.sum()), int(d.where(near).count()), f64(d.where(near)).mean().item()))(
             ds.adt.sel(time="2005-04-01"),
             haversine_km(ds.latitude.astype("float64"), ds.longitude.astype("float64"), 43.0625, 6.0625) <= 100)),
)

# ----------------------------------------------------------------------------------------------------------
# sst.mnmean.nc: sst(time, lat, lon) float32 degC, monthly 2010-01..2020-08, 2 degree, lat DESCENDING 88..-88,
# lon 0..358 (float32), land = NULL.

SST_CASES = cases_for(
    SST,
    case("udf_sst_weighted_avg_lat_weight_first_months",
         """SELECT time, weighted_avg(sst, lat_weight(lat)) FROM t
            WHERE time < TIMESTAMP '2010-07-01' GROUP BY time ORDER BY time""",
         lambda ds: table(weighted(trange(ds.sst, "2010-01-01", "2010-07-01"), lat_weights(ds, "lat"), SST_SPACE))),
    case("udf_sst_weighted_avg_lat_weight_per_month",
         "SELECT time, weighted_avg(sst, lat_weight(lat)) FROM t GROUP BY time ORDER BY time",
         lambda ds: table(weighted(ds.sst, lat_weights(ds, "lat"), SST_SPACE))),
    case("udf_sst_season_means",
         """SELECT season(time) AS s, avg(sst), count(sst), count(DISTINCT time) FROM t
            GROUP BY season(time) ORDER BY s""",
         lambda ds: by_season(ds.sst, lambda g: [f64(g).mean().item(), int(g.count()), g.time.size])),
    case("udf_sst_season_weighted_means",
         """SELECT season(time) AS s, weighted_avg(sst, lat_weight(lat)) FROM t
            GROUP BY season(time) ORDER BY s""",
         lambda ds: by_season(ds.sst, lambda g: [weighted(g, lat_weights(ds, "lat"), ("time",) + SST_SPACE).item()])),
    case("udf_sst_season_per_cell_nino34",
         """SELECT lat, lon, season(time) AS s, avg(sst) FROM t
            WHERE lat BETWEEN -4 AND 4 AND lon BETWEEN 190 AND 194
            GROUP BY lat, lon, season(time) ORDER BY lat, lon, s""",
         lambda ds: sorted([float(la), float(lo), str(s), f64(g.sel(lat=la, lon=lo)).mean().item()]
                           for s, g in ds.sst.sel(lat=slice(4, -4), lon=slice(190, 194)).groupby("time.season")
                           for la in g.lat.values for lo in g.lon.values)),
    # 170..-170 wraps across 180: lon 170, 172, ..., 190 (11 columns) x lat -10..10 (11 rows).
    case("udf_sst_in_box_across_antimeridian",
         "SELECT count(*), count(sst), avg(sst) FROM t WHERE in_box(lat, lon, -10, 10, 170, -170)",
         lambda ds: (lambda m: one(int(m.sum()) * ds.time.size, int(ds.sst.where(m).count()),
                                   f64(ds.sst.where(m)).mean().item()))(
             in_box_mask(ds, "lat", "lon", -10, 10, 170, -170))),
    case("udf_sst_in_box_across_antimeridian_per_month",
         """SELECT time, count(sst), avg(sst) FROM t
            WHERE in_box(lat, lon, -10, 10, 170, -170) AND time < TIMESTAMP '2011-01-01'
            GROUP BY time ORDER BY time""",
         lambda ds: (lambda d: columns(d.count(SST_SPACE), f64(d).mean(SST_SPACE)))(
             trange(ds.sst, "2010-01-01", "2011-01-01").where(in_box_mask(ds, "lat", "lon", -10, 10, 170, -170)))),
    # -20..20 wraps across 0: lon 340..358 and 0..20.
    case("udf_sst_in_box_across_prime_meridian",
         "SELECT count(sst), avg(sst), min(lon_180(lon)), max(lon_180(lon)) FROM t WHERE in_box(lat, lon, 30, 60, -20, 20)",
         lambda ds: (lambda m: (lambda d, lons: one(int(d.count()), f64(d).mean().item(),
                                                    float(lons.min()), float(lons.max())))(
             ds.sst.where(m), lon_180(ds.lon).where(m.any("lat"))))(
             in_box_mask(ds, "lat", "lon", 30, 60, -20, 20))),
    case("udf_sst_lon_180_min_max",
         "SELECT min(lon_180(lon)), max(lon_180(lon)), count(DISTINCT lon_180(lon)) FROM t",
         lambda ds: (lambda l180: one(float(l180.min()), float(l180.max()), int(np.unique(l180).size)))(
             lon_180(ds.lon).values)),
    case("udf_sst_lon_180_zonal_band",
         """SELECT lon_180(lon) AS l, avg(sst), count(sst) FROM t
            WHERE lat = 0 AND lon_180(lon) BETWEEN -10 AND 10 GROUP BY lon_180(lon) ORDER BY l""",
         lambda ds: sorted([float(l), f64(c).mean().item(), int(c.count())]
                           for l, c in ((l, ds.sst.sel(lat=0.0).isel(lon=i))
                                        for i, l in enumerate(lon_180(ds.lon).values) if -10 <= l <= 10))),
    case("udf_sst_cell_area_grid_and_ocean",
         """SELECT sum(cell_area(lat, 2, 2)), sum(CASE WHEN sst IS NOT NULL THEN cell_area(lat, 2, 2) END)
            FROM t WHERE time = TIMESTAMP '2010-01-01'""",
         lambda ds: (lambda a, d: one(float((a * ds.lon.size).sum()), float((a * d.notnull()).sum())))(
             cell_areas(ds, 2, 2, "lat"), ds.sst.sel(time="2010-01-01"))),
    case("udf_sst_cell_area_weighted_mean_first_months",
         """SELECT time, weighted_avg(sst, cell_area(lat, 2, 2)) FROM t
            WHERE time < TIMESTAMP '2010-04-01' GROUP BY time ORDER BY time""",
         lambda ds: table(weighted(trange(ds.sst, "2010-01-01", "2010-04-01"), cell_areas(ds, 2, 2, "lat"), SST_SPACE))),
    case("udf_sst_haversine_within_1000km_nino_point",
         """SELECT count(*), count(sst), avg(sst) FROM t
            WHERE time = TIMESTAMP '2015-12-01' AND haversine_km(lat, lon, 0, 190) <= 1000""",
         lambda ds: (lambda d, near: one(int(near.sum()), int(d.where(near).count()), f64(d.where(near)).mean().item()))(
             ds.sst.sel(time="2015-12-01"),
             haversine_km(ds.lat.astype("float64"), ds.lon.astype("float64"), 0.0, 190.0) <= 1000)),
    # The anomaly window of docs/functions.md, area-weighted per year (yearly sums of anomalies are
    # conditioned at most ~16, so the default rtol holds).
    case("udf_sst_weighted_anomaly_per_year",
         """SELECT date_part('year', time) AS y, weighted_avg(anom, lat_weight(lat)) FROM (
                SELECT time, lat, sst - avg(sst) OVER (PARTITION BY lat, lon, date_part('month', time)) AS anom FROM t
            ) GROUP BY date_part('year', time) ORDER BY y""",
         lambda ds: (lambda anom: [[int(y), weighted(g, lat_weights(ds, "lat"), ("time",) + SST_SPACE).item()]
                                   for y, g in anom.groupby("time.year")])(
             f64(ds.sst).groupby("time.month") - f64(ds.sst).groupby("time.month").mean("time"))),
    # No dataset holds a temperature in kelvin: round trip degC -> K -> degC through kelvin_to_celsius.
    case("udf_sst_kelvin_to_celsius_round_trip",
         "SELECT avg(kelvin_to_celsius(sst + 273.15)), min(kelvin_to_celsius(sst + 273.15)) FROM t",
         lambda ds: one((f64(ds.sst) + 273.15 - 273.15).mean().item(), float((f64(ds.sst) + 273.15 - 273.15).min()))),
)

# ----------------------------------------------------------------------------------------------------------
# eraint_uvz.nc: z, u, v(month, level, latitude, longitude), no time; latitude DESCENDING 90..-90,
# longitude -180..179.25 (0.75 degree); nothing masked.

ERA_CASES = cases_for(
    ERA,
    case("udf_eraint_weighted_avg_z_per_month_level",
         "SELECT month, level, weighted_avg(z, lat_weight(latitude)) FROM t GROUP BY month, level ORDER BY month, level",
         lambda ds: table(weighted(ds.z, lat_weights(ds), SPACE))),
    # 170..-170 on a -180..180 grid: longitudes 170..179.25 and -180..-170 (27 columns) x 27 rows.
    case("udf_eraint_in_box_across_antimeridian",
         """SELECT level, count(*), avg(u), avg(z) FROM t
            WHERE in_box(latitude, longitude, -10, 10, 170, -170) GROUP BY level ORDER BY level""",
         lambda ds: (lambda m: columns(ds.u.where(m).count(("month",) + SPACE), ds.u.where(m).mean(("month",) + SPACE),
                                       ds.z.where(m).mean(("month",) + SPACE)))(
             in_box_mask(ds, "latitude", "longitude", -10, 10, 170, -170))),
    case("udf_eraint_lon_360_min_max",
         "SELECT min(lon_360(longitude)), max(lon_360(longitude)), count(DISTINCT lon_360(longitude)) FROM t",
         lambda ds: (lambda l360: one(float(l360.min()), float(l360.max()), int(np.unique(l360).size)))(
             ds.longitude.values.astype("float64") % 360.0)),
    case("udf_eraint_haversine_max_distance_from_pole",
         "SELECT max(haversine_km(latitude, longitude, 90, 0)), min(haversine_km(latitude, longitude, 90, 0)) FROM t",
         lambda ds: (lambda d: one(float(d.max()), float(d.min())))(
             haversine_km(ds.latitude.astype("float64"), ds.longitude.astype("float64"), 90.0, 0.0))),
)

# ----------------------------------------------------------------------------------------------------------
# tcw.nc: tcw(time, latitude, longitude) kg m-2, daily July 2002 at 12 UTC, 2.5 degree, latitude DESCENDING
# 90..-90 (the +-90 rows are half cells: cell_area clamps them), longitude 0..357.5; nothing missing.

TCW_CASES = cases_for(
    TCW,
    case("udf_tcw_weighted_avg_lat_weight_per_step",
         "SELECT time, weighted_avg(tcw, lat_weight(latitude)) FROM t GROUP BY time ORDER BY time",
         lambda ds: table(weighted(ds.tcw, lat_weights(ds), SPACE))),
    # The 2.5 degree cells centred on 90..-90 tile the sphere: the sum is 4 pi R^2.
    case("udf_tcw_cell_area_global_sum",
         "SELECT sum(cell_area(latitude, 2.5, 2.5)), count(*) FROM t WHERE time = TIMESTAMP '2002-07-01 12:00:00'",
         lambda ds: one(float((cell_areas(ds, 2.5, 2.5) * ds.longitude.size).sum()), ds.latitude.size * ds.longitude.size)),
    case("udf_tcw_total_water_mass_per_step",
         """SELECT time, sum(tcw * cell_area(latitude, 2.5, 2.5)) FROM t
            WHERE time < TIMESTAMP '2002-07-04' GROUP BY time ORDER BY time""",
         lambda ds: table((f64(trange(ds.tcw, "2002-07-01", "2002-07-04")) * cell_areas(ds, 2.5, 2.5)).sum(SPACE))),
    case("udf_tcw_cell_area_weighted_mean_per_step",
         "SELECT time, weighted_avg(tcw, cell_area(latitude, 2.5, 2.5)) FROM t GROUP BY time ORDER BY time",
         lambda ds: table(weighted(ds.tcw, cell_areas(ds, 2.5, 2.5), SPACE))),
    case("udf_tcw_season_is_jja",
         "SELECT season(time) AS s, count(DISTINCT time), avg(tcw) FROM t GROUP BY season(time) ORDER BY s",
         lambda ds: by_season(ds.tcw, lambda g: [g.time.size, f64(g).mean().item()])),
)

CASES = ADT_CASES + SST_CASES + ERA_CASES + TCW_CASES

_names = [c["name"] for c in CASES]
assert len(_names) == len(set(_names)), "duplicate case names"
