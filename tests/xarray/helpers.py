"""Helpers shared by the SQL correctness cases (cases.py, cases_udfs.py): dataset names and the small
functions that turn xarray results into the rows a SQL query returns. Small on purpose: each case should
read as the obvious xarray twin of its SQL."""

import numpy as np

ADT = "dt_med_allsat_phy_l4_2005T2.nc"
SST = "sst.mnmean.nc"
ERA = "eraint_uvz.nc"
TCW = "tcw.nc"

SPACE = ("latitude", "longitude")
SST_SPACE = ("lat", "lon")


def f64(da):
    """The variable in float64 (what DataFusion's avg/sum/stddev_pop compute in)."""
    return da.astype("float64")


def table(da):
    """Rows [coord_1, ..., coord_n, value] of a DataArray, sorted ascending by each dim in order.

    Matches `GROUP BY d1, ..., dn ORDER BY d1, ..., dn` over the same dims. A 0-d array gives [[value]].
    """
    da = da.sortby(list(da.dims)) if da.dims else da
    coords = [da[d].values for d in da.dims]
    vals = da.values
    return [[c[i] for c, i in zip(coords, idx)] + [vals[idx]] for idx in np.ndindex(vals.shape)]


def columns(*das):
    """Rows [coords..., v1, v2, ...] for several DataArrays of the same dims (sorted like `table`)."""
    tables = [table(da) for da in das]
    ndim = das[0].ndim
    return [rows[0][:ndim] + [r[ndim] for r in rows] for rows in zip(*tables)]


def one(*values):
    """A single-row result."""
    return [list(values)]


def weights(ds, lat="latitude"):
    """cos(latitude) weights in float64."""
    return np.cos(np.deg2rad(ds[lat].astype("float64")))


def trange(da, start, stop):
    """Time steps with start <= time < stop (stop exclusive)."""
    t = da.time
    return da.isel(time=((t >= np.datetime64(start)) & (t < np.datetime64(stop))).values)


def weighted_mean(da, w, dims):
    """SUM(x*w) / SUM(CASE WHEN x IS NOT NULL THEN w END), as xarray's weighted mean."""
    return f64(da).weighted(w).mean(dims)


def cases_for(dataset, *items):
    return [{"dataset": dataset, "options": {}, **item} for item in items]


def case(name, sql, expected, rtol=1e-9, options=None):
    return dict(name=name, sql=" ".join(sql.split()), expected=expected, rtol=rtol,
                **({"options": options} if options is not None else {}))
