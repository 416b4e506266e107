#!/usr/bin/env python3
"""Compute xarray reference answers for gridsql's SQL correctness cases (tests/xarray/cases.py).

    python tests/xarray/reference.py --data /work/shared/data --out /tmp/reference.json [--formats v2,v3,nc]
                                     [--only SUBSTRING]

For every case and every format, opens the store with xarray's default decoding
(`xr.open_dataset(F)` for nc, `xr.open_dataset(F.v2.zarr | F.v3.zarr, engine="zarr")`, and for grib the GRIB
original X.grib of a cfgrib conversion X.grib.nc with `engine="cfgrib"`), evaluates the case's
`expected(ds)` and writes a JSON list of objects:

    {"name", "dataset", "format", "path", "options", "sql", "rows", "rtol"}

Values in rows: floats as JSON numbers (NaN -> null), ints as numbers, datetimes as ISO strings
`YYYY-MM-DDTHH:MM:SS[.ffffff]` (fraction only when non-zero), strings as strings, bools as booleans,
None/NaT -> null.

A missing store is skipped with a note on stderr. Any exception inside a case is reported with the case's
name; the script then exits 1 and leaves no output file (an old one is removed).
"""

import argparse
import datetime as dt
import json
import math
import os
import sys
import traceback
import warnings

import numpy as np
import xarray as xr

sys.dont_write_bytecode = True  # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cases import CASES  # noqa: E402

FORMATS = {
    "nc": ("{}", {}),
    "v2": ("{}.v2.zarr", {"engine": "zarr"}),
    "v3": ("{}.v3.zarr", {"engine": "zarr"}),
    # The GRIB original of a cfgrib conversion `X.grib.nc`, read by cfgrib (no index file written).
    "grib": ("{}", {"engine": "cfgrib", "backend_kwargs": {"indexpath": ""}}),
}
GRIB_EXTENSIONS = (".grib", ".grib1", ".grib2", ".grb", ".grb2")


def grib_original(dataset):
    """`X.grib` for a cfgrib conversion `X.grib.nc`, else None (the case has no GRIB form)."""
    base = dataset[: -len(".nc")] if dataset.endswith(".nc") else None
    return base if base and base.lower().endswith(GRIB_EXTENSIONS) else None


def encode(value):
    """One result value as a JSON-ready Python value."""
    if value is None:
        return None
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return None if math.isnan(f) else f
    if isinstance(value, str):
        return value
    if isinstance(value, (np.datetime64, dt.datetime)) or type(value).__name__ == "Timestamp":
        t = np.datetime64(value, "us")
        if np.isnat(t):
            return None
        s = np.datetime_as_string(t, unit="us")
        return s[: -len(".000000")] if s.endswith(".000000") else s
    raise TypeError(f"cannot encode {type(value).__name__} value {value!r}")


def encode_rows(rows):
    if not isinstance(rows, list):
        raise TypeError(f"expected() must return a list of rows, got {type(rows).__name__}")
    out = []
    for row in rows:
        if not isinstance(row, (list, tuple)):
            raise TypeError(f"each row must be a list, got {type(row).__name__}")
        out.append([encode(v) for v in row])
    if len({len(r) for r in out}) > 1:
        raise ValueError("rows have different lengths")
    return out


def open_store(path, kwargs):
    with warnings.catch_warnings():
        # eraint_uvz.nc: the int16 variables carry a NaN _FillValue; xarray drops it (documented in MANIFEST).
        warnings.filterwarnings("ignore", message=".*non-conforming '_FillValue'.*")
        ds = xr.open_dataset(path, **kwargs)
        ds.load()
    return ds


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="directory holding F, F.v2.zarr, F.v3.zarr")
    ap.add_argument("--out", required=True, help="JSON file to write")
    ap.add_argument("--formats", default="v2,v3,nc", help="comma-separated subset of v2,v3,nc (default all)")
    ap.add_argument("--only", default=None, help="run only cases whose name contains this substring")
    args = ap.parse_args(argv)

    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        ap.error(f"unknown format(s): {', '.join(unknown)} (known: {', '.join(FORMATS)})")

    cases = [c for c in CASES if args.only is None or args.only in c["name"]]
    # A case's `group` option opens that group (xarray's `group=`), as gridsql does.
    datasets = list(dict.fromkeys((c["dataset"], c.get("options", {}).get("group")) for c in cases))
    data_dir = os.path.abspath(args.data)

    results, failures, skipped = [], [], []
    for dataset, group in datasets:
        for fmt in formats:
            pattern, kwargs = FORMATS[fmt]
            if fmt == "grib":
                if grib_original(dataset) is None:
                    continue
                dataset_file = grib_original(dataset)
            else:
                dataset_file = dataset
            if group is not None:
                kwargs = {**kwargs, "group": group}
            path = os.path.join(data_dir, pattern.format(dataset_file))
            if not os.path.exists(path):
                print(f"reference.py: skipping {fmt} of {dataset}: {path} not found", file=sys.stderr)
                skipped.append(path)
                continue
            try:
                ds = open_store(path, kwargs)
            except Exception:
                failures.append(f"(open) {path}")
                print(f"reference.py: cannot open {path}:\n{traceback.format_exc()}", file=sys.stderr)
                continue
            for c in (c for c in cases
                      if c["dataset"] == dataset and c.get("options", {}).get("group") == group):
                try:
                    rows = encode_rows(c["expected"](ds))
                except Exception:
                    failures.append(f"{c['name']} [{fmt}]")
                    print(f"reference.py: case {c['name']} failed on {path}:\n{traceback.format_exc()}",
                          file=sys.stderr)
                    continue
                results.append({
                    "name": c["name"],
                    "dataset": dataset,
                    "format": fmt,
                    "path": path,
                    "options": c.get("options", {}),
                    "sql": c["sql"],
                    "rows": rows,
                    "rtol": c.get("rtol", 1e-9),
                })
            ds.close()

    if failures:
        if os.path.exists(args.out):
            os.remove(args.out)  # never leave a stale answer file behind a failed run
        print(f"reference.py: {len(failures)} failure(s): {', '.join(failures)}; {args.out} not written",
              file=sys.stderr)
        return 1
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1, allow_nan=False)
        f.write("\n")
    print(f"reference.py: wrote {len(results)} answers for {len(cases)} cases "
          f"({len(skipped)} missing store(s) skipped) to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
