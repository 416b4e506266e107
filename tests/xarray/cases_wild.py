"""SQL correctness cases on the batch-2 files of ../shared/data (issue 21): string dimension coordinates,
char-array and vlen-string labels (auxiliary coordinates), 2-D curvilinear latitude/longitude, 0-d strings,
nested groups. Same conventions as cases.py.

Strings: xarray keeps what is stored (NetCDF char arrays decode to blank-padded bytes, `'UK Met Office  '`);
gridsql shows the same text, so the SQL trims where the reference strips. Bytes are decoded here.
"""

import numpy as np

from helpers import case, cases_for, f64

FC = "small_FC_167_mon_19601101.nc"
AHCCD = "ahccd_1950-2013.nc"
QSIM = "q_sim.nc"
ROTPOLE = "small_rotPole_precipitation.nc"
S6A = "S6A_P4_2__HR_RED__NR_014_191_20210403T004056_20210403T005056_F00.nc"
TEMPO = "TEMPO_NO2_L2_V03_20240601T212254Z_S012G03_subsetted.nc4"


def text(values):
    """Labels as Python strings (bytes decoded, as gridsql shows them)."""
    return [v.decode() if isinstance(v, bytes) else str(v) for v in np.asarray(values).tolist()]


def by_label(da, labels, dim):
    """Rows [label, mean, count] of `da` grouped by a label along `dim`, sorted by label."""
    labels = np.array(labels)
    out = []
    for name in sorted(set(labels)):
        part = f64(da.isel({dim: np.where(labels == name)[0]}))
        out.append([name, part.mean().item(), int(part.count())])
    return out


FC_CASES = cases_for(
    FC,
    case("wild_fc_members_per_institution",
         "SELECT trim(institution) AS i, count(DISTINCT ensemble) FROM t GROUP BY i ORDER BY i",
         lambda ds: [[k, int(n)] for k, n in
                     zip(*np.unique([s.strip() for s in text(ds.institution.values)], return_counts=True))]),
    case("wild_fc_tas_per_institution",
         "SELECT trim(institution) AS i, avg(tas), count(tas) FROM t GROUP BY i ORDER BY i",
         lambda ds: by_label(ds.tas, [s.strip() for s in text(ds.institution.values)], "ensemble")),
    case("wild_fc_labels_at_a_point",
         """SELECT ensemble, experiment_id, institution, realization, tas FROM t
            WHERE time = 0 AND latitude = 50 AND longitude = 0 ORDER BY ensemble""",
         lambda ds: [[i, e, n, int(r), float(v)] for i, (e, n, r, v) in enumerate(zip(
             text(ds.experiment_id.values), text(ds.institution.values), ds.realization.values,
             ds.tas.isel(time=0).sel(latitude=50.0, longitude=0.0).values))]),
    case("wild_fc_label_filter",
         """SELECT experiment_id, avg(tas), count(tas) FROM t
            WHERE trim(institution) = 'UK Met Office' AND experiment_id IN ('2026', '2502')
            GROUP BY experiment_id ORDER BY experiment_id""",
         lambda ds: (lambda inst, exp: [
             [e, f64(ds.tas.isel(ensemble=[i for i in range(len(exp)) if exp[i] == e and inst[i] == "UK Met Office"]))
              .mean().item(),
              int(ds.tas.isel(ensemble=[i for i in range(len(exp)) if exp[i] == e and inst[i] == "UK Met Office"])
                  .count())]
             for e in ("2026", "2502")])([s.strip() for s in text(ds.institution.values)],
                                        text(ds.experiment_id.values))),
    case("wild_fc_time_labels",
         "SELECT time, reftime, leadtime, count(tas) FROM t GROUP BY time, reftime, leadtime ORDER BY time",
         lambda ds: [[i, r, int(l), int(ds.tas.isel(time=i).count())]
                     for i, (r, l) in enumerate(zip(ds.reftime.values, ds.leadtime.values))]),
)

AHCCD_CASES = cases_for(
    AHCCD,
    case("wild_ahccd_per_location",
         """SELECT location, lat, lon, avg(tasmax), count(tasmax), avg(pr) FROM t
            GROUP BY location, lat, lon ORDER BY location""",
         lambda ds: sorted([[loc, float(ds.lat[i]), float(ds.lon[i]), f64(ds.tasmax[i]).mean().item(),
                             int(ds.tasmax[i].count()), f64(ds.pr[i]).mean().item()]
                            for i, loc in enumerate(text(ds.location.values))])),
    case("wild_ahccd_label_equals",
         "SELECT avg(pr), count(pr) FROM t WHERE location = 'Amos'",
         lambda ds: [[f64(ds.pr.sel(location="Amos")).mean().item(), int(ds.pr.sel(location="Amos").count())]]),
    case("wild_ahccd_label_in_and_range",
         """SELECT location, max(tasmax) FROM t WHERE location IN ('Amos', 'Vancouver') OR location > 'K'
            GROUP BY location ORDER BY location""",
         lambda ds: sorted([[loc, float(ds.tasmax.sel(location=loc).max())]
                            for loc in text(ds.location.values)
                            if loc in ("Amos", "Vancouver") or loc > "K"])),
)

QSIM_CASES = cases_for(
    QSIM,
    case("wild_qsim_basin_label",
         "SELECT basin_name, avg(q_sim), count(q_sim), count(q_obs), count(q_in) FROM t GROUP BY basin_name",
         lambda ds: [[text(ds.basin_name.values)[0], f64(ds.q_sim).mean().item(), int(ds.q_sim.count()),
                      int(ds.q_obs.count()), int(ds.q_in.count())]]),
)


def rot_box(ds):
    lat, lon = ds.lat.astype("float64"), ds.lon.astype("float64")
    return ds.pr.where((lat >= 50) & (lat <= 55) & (lon >= 0) & (lon <= 10))


ROTPOLE_CASES = cases_for(
    ROTPOLE,
    case("wild_rotpole_box_on_2d_coordinates",
         """SELECT time, avg(pr), count(pr) FROM t WHERE lat BETWEEN 50 AND 55 AND lon BETWEEN 0 AND 10
            GROUP BY time ORDER BY time""",
         lambda ds: [[t, f64(b).mean().item(), int(b.count())]
                     for t, b in zip(ds.time.values, rot_box(ds).transpose("time", ...))],
         rtol=1e-6),
    case("wild_rotpole_extent_of_2d_coordinates",
         "SELECT min(lat), max(lat), min(lon), max(lon), count(*) FROM t",
         lambda ds: [[float(ds.lat.min()), float(ds.lat.max()), float(ds.lon.min()), float(ds.lon.max()),
                      int(ds.pr.size)]]),
)

GROUP_CASES = cases_for(
    S6A,
    case("wild_s6a_nested_group",
         "SELECT count(ssha), avg(ssha), min(swh_ocean), max(swh_ocean), count(range_ocean) FROM t",
         lambda ds: [[int(ds.ssha.count()), f64(ds.ssha).mean().item(), float(ds.swh_ocean.min()),
                      float(ds.swh_ocean.max()), int(ds.range_ocean.count())]],
         options={"group": "data_01/ku"}),
) + cases_for(
    TEMPO,
    case("wild_tempo_group",
         "SELECT count(vertical_column_stratosphere), avg(vertical_column_stratosphere) FROM t",
         lambda ds: [[int(ds.vertical_column_stratosphere.count()),
                      f64(ds.vertical_column_stratosphere).mean().item()]],
         options={"group": "product"}),
)

A1B = "A1B-99999a-river-sep-2070-2099.nc"

# NetCDF-3 classic: per-region samples and the per-percentile CDF (a second grid, by 'dims').
A1B_CASES = cases_for(
    A1B,
    case("wild_a1b_per_region",
         """SELECT georegion, avg(temp_dmax_tmean_abs), count(temp_dmax_tmean_abs), max(temp_dmax_tmean_abs)
            FROM t GROUP BY georegion ORDER BY georegion""",
         lambda ds: [[i, f64(ds.temp_dmax_tmean_abs.isel(georegion=i)).mean().item(),
                      int(ds.temp_dmax_tmean_abs.isel(georegion=i).count()),
                      f64(ds.temp_dmax_tmean_abs.isel(georegion=i)).max().item()]
                     for i in range(ds.sizes["georegion"])]),
    case("wild_a1b_sample_window",
         "SELECT avg(temp_dmax_tmean_abs), count(*) FROM t WHERE sample BETWEEN 100 AND 199 AND georegion < 5",
         lambda ds: (lambda w: [[f64(w).mean().item(), int(w.size)]])(
             ds.temp_dmax_tmean_abs.isel(georegion=slice(0, 5)).where(
                 (ds.sample >= 100) & (ds.sample <= 199), drop=True))),
    case("wild_a1b_cdf_per_percentile",
         """SELECT percentile, avg(cdf_temp_dmax_tmean_abs), min(cdf_temp_dmax_tmean_abs) FROM t
            GROUP BY percentile ORDER BY percentile""",
         lambda ds: [[float(p), f64(ds.cdf_temp_dmax_tmean_abs.sel(percentile=p)).mean().item(),
                      f64(ds.cdf_temp_dmax_tmean_abs.sel(percentile=p)).min().item()]
                     for p in ds.percentile.values],
         options={"dims": "time,georegion,percentile"}),
)

CASES = FC_CASES + AHCCD_CASES + QSIM_CASES + ROTPOLE_CASES + GROUP_CASES + A1B_CASES

# GRIB files as cfgrib decodes them, through the NetCDF conversion xarray + cfgrib wrote (and its Zarr copies):
# cfgrib's hypercube (number, time, isobaricInhPa, latitude, longitude), valid_time(time) an auxiliary
# coordinate; a polar-stereographic grid with 2-D float64 latitude/longitude in 0..360.
ERA5 = "era5-levels-members.grib.nc"
CMC = "CMC_glb_TMP_ISBL_1015_ps30km_2013052000_P006.grib2.nc"
UKMO = "forecast_monthly_ukmo.grib.nc"
GG = "regular_gg_ml_g2.grib.nc"


def hours(step):
    """Forecast steps in hours (a timedelta from cfgrib, float hours from the NetCDF conversion)."""
    step = np.asarray(step)
    return (step / np.timedelta64(1, "h")).tolist() if step.dtype.kind == "m" else step.tolist()


def cmc_box(ds, west, east):
    lat, lon = ds.latitude, ds.longitude
    return ds.t.where((lat >= 45) & (lat <= 55) & (lon >= west) & (lon <= east))


GRIB_NC_CASES = cases_for(
    ERA5,
    case("wild_era5_t850_ensemble_mean_per_time",
         'SELECT time, avg(t) FROM t WHERE "isobaricInhPa" = 850 GROUP BY time ORDER BY time',
         lambda ds: [[tt, v] for tt, v in zip(
             ds.time.values,
             f64(ds.t.sel(isobaricInhPa=850)).mean(("number", "latitude", "longitude")).values.tolist())]),
    case("wild_era5_spread_at_a_point",
         '''SELECT time, stddev_pop(t) FROM t WHERE "isobaricInhPa" = 500 AND latitude = 45 AND longitude = 9
            GROUP BY time ORDER BY time''',
         lambda ds: [[tt, v] for tt, v in zip(
             ds.time.values,
             f64(ds.t.sel(isobaricInhPa=500, latitude=45.0, longitude=9.0)).std("number").values.tolist())]),
    case("wild_era5_valid_time_label",
         "SELECT time, valid_time, count(z) FROM t GROUP BY time, valid_time ORDER BY time",
         lambda ds: [[tt, vt, int(ds.z.sel(time=tt).count())]
                     for tt, vt in zip(ds.time.values, ds.valid_time.values)]),
) + cases_for(
    CMC,
    case("wild_cmc_box_on_2d_coordinates",
         """SELECT count(t), avg(t), min(t) FROM t
            WHERE latitude BETWEEN 45 AND 55 AND longitude BETWEEN 280 AND 300""",
         lambda ds: (lambda b: [[int(b.count()), f64(b).mean().item(), float(b.min())]])(cmc_box(ds, 280, 300)),
         # From the GRIB file, the grib crate scales JPEG 2000 values in float32 where ecCodes uses
         # double: a value may differ by one float32 ulp (6e-8 relative).
         rtol=1e-7),
    case("wild_cmc_box_in_the_wrong_longitude_convention_is_empty",
         "SELECT count(t) FROM t WHERE latitude BETWEEN 45 AND 55 AND longitude BETWEEN -80 AND -60",
         lambda ds: [[int(cmc_box(ds, -80, -60).count())]]),
)

GRIB_NC_CASES += cases_for(
    ERA5,
    case("wild_era5_cells_and_dimensions",
         'SELECT count(*), count(DISTINCT number), count(DISTINCT time), count(DISTINCT "isobaricInhPa"), count(z) FROM t',
         lambda ds: [[int(ds.z.size), ds.sizes["number"], ds.sizes["time"], ds.sizes["isobaricInhPa"],
                      int(ds.z.count())]]),
    case("wild_era5_z500_per_member",
         'SELECT number, avg(z), min(z), max(z) FROM t WHERE "isobaricInhPa" = 500 GROUP BY number ORDER BY number',
         lambda ds: (lambda z: [[int(n), a, float(lo), float(hi)] for n, a, lo, hi in zip(
             ds.number.values, f64(z).mean(("time", "latitude", "longitude")).values.tolist(),
             z.min(("time", "latitude", "longitude")).values, z.max(("time", "latitude", "longitude")).values)])(
             ds.z.sel(isobaricInhPa=500))),
    case("wild_era5_levels_descending",
         'SELECT "isobaricInhPa", avg(t) FROM t GROUP BY "isobaricInhPa" ORDER BY "isobaricInhPa" DESC',
         lambda ds: [[float(p), v] for p, v in zip(
             ds.isobaricInhPa.values, f64(ds.t).mean(("number", "time", "latitude", "longitude")).values.tolist())]),
) + cases_for(
    UKMO,
    case("wild_ukmo_sparse_hypercube",
         "SELECT count(*), count(t2m), avg(t2m) FROM t",
         lambda ds: [[int(ds.t2m.size), int(ds.t2m.count()), f64(ds.t2m).mean().item()]]),
    case("wild_ukmo_mean_per_start_date",
         "SELECT time, avg(t2m), count(t2m) FROM t GROUP BY time ORDER BY time",
         lambda ds: [[tt, v, int(n)] for tt, v, n in zip(
             ds.time.values, f64(ds.t2m).mean(("number", "step", "latitude", "longitude")).values.tolist(),
             ds.t2m.count(("number", "step", "latitude", "longitude")).values)]),
    case("wild_ukmo_steps_with_data",
         "SELECT step, count(t2m) FROM t GROUP BY step HAVING count(t2m) > 0 ORDER BY step",
         lambda ds: [[h, int(n)] for h, n in zip(hours(ds.step.values),
                                                 ds.t2m.count(("number", "time", "latitude", "longitude")).values)
                     if n > 0]),
    case("wild_ukmo_valid_time_2d",
         "SELECT time, step, valid_time FROM t WHERE number = 0 AND latitude = 45 AND longitude = 10 "
         "ORDER BY time, step LIMIT 5",
         lambda ds: [[tt, h, vt] for (tt, row), vrow in zip(
             [(ds.time.values[i], hours(ds.step.values)) for i in range(ds.sizes["time"])], ds.valid_time.values)
             for h, vt in zip(row, vrow)][:5]),
) + cases_for(
    GG,
    case("wild_gg_per_level",
         "SELECT hybrid, count(t), min(t), max(t), avg(t) FROM t GROUP BY hybrid ORDER BY hybrid",
         lambda ds: [[float(h), int(ds.t.sel(hybrid=h).count()), float(ds.t.sel(hybrid=h).min()),
                      float(ds.t.sel(hybrid=h).max()), f64(ds.t.sel(hybrid=h)).mean().item()]
                     for h in ds.hybrid.values]),
    case("wild_gg_first_gaussian_latitude",
         "SELECT latitude, hybrid, t FROM t WHERE latitude = (SELECT max(latitude) FROM t) AND longitude = 0 "
         "ORDER BY hybrid",
         lambda ds: [[float(ds.latitude[0]), float(h), float(v)] for h, v in zip(
             ds.hybrid.values, ds.t.sel(latitude=float(ds.latitude[0]), longitude=0.0).values)]),
    case("wild_gg_weighted_mean",
         "SELECT hybrid, sum(t * cos(radians(latitude))) / sum(cos(radians(latitude))) FROM t "
         "GROUP BY hybrid ORDER BY hybrid",
         lambda ds: [[float(h), v] for h, v in zip(
             ds.hybrid.values,
             f64(ds.t).weighted(np.cos(np.deg2rad(ds.latitude))).mean(("latitude", "longitude")).values.tolist())],
         rtol=1e-7),
)

CASES = CASES + GRIB_NC_CASES
