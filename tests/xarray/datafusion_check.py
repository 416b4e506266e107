#!/usr/bin/env python3
"""Cross-check the cases themselves: run each case's SQL with DataFusion-python over an in-memory Arrow
table built from the xarray-decoded dataset, and compare with reference.py's answers.

This does not test gridsql. It tests that each case's SQL and its xarray `expected` say the same thing,
under the table model gridsql implements (one row per cell; dims as coordinate columns, float32 stays
float32; time as timestamp without time zone; decoded variables with NaN/fill as NULL).

    pip install 'datafusion==55.*'      # optional; not in tests/requirements.txt
    python tests/xarray/datafusion_check.py --data /work/shared/data --ref /tmp/reference.json [--format nc]

Exit status 1 if any case disagrees beyond its rtol.
"""

import argparse
import json
import math
import os
import sys
import warnings

import numpy as np
import pyarrow as pa
import xarray as xr

sys.dont_write_bytecode = True  # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference import FORMATS, encode  # noqa: E402


def arrow_table(ds):
    """The gridsql table model of a dataset with one grid: one row per cell, C order of the dims."""
    var_names = list(ds.data_vars)
    dims = ds[var_names[0]].dims
    shape = tuple(ds.sizes[d] for d in dims)
    n = int(np.prod(shape))
    cols = {}
    for axis, d in enumerate(dims):
        coord = ds[d].values
        if coord.dtype.kind == "M":
            coord = coord.astype("datetime64[us]")
        reps = int(np.prod(shape[axis + 1:]))
        tiles = n // (reps * shape[axis])
        cols[d] = pa.array(np.tile(np.repeat(coord, reps), tiles))
    for v in var_names:
        values = ds[v].values.reshape(n)
        cols[v] = pa.array(values, mask=np.isnan(values) if values.dtype.kind == "f" else None)
    return pa.table(cols)


def close(got, want, rtol):
    if got is None or want is None:
        return got is None and want is None
    if isinstance(want, float) or isinstance(got, float):
        if isinstance(got, bool) or isinstance(want, bool):
            return got == want
        return math.isclose(float(got), float(want), rel_tol=rtol, abs_tol=0.0)
    return got == want


def run_sql(ctx, sql):
    batches = ctx.sql(sql).collect()
    rows = []
    for b in batches:
        cols = [b.column(i).to_pylist() for i in range(b.num_columns)]
        rows.extend([encode(v) for v in r] for r in zip(*cols))
    return rows


def main(argv=None):
    import datafusion  # imported here so that --help works without it

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--ref", required=True, help="JSON written by reference.py")
    ap.add_argument("--format", default="nc", choices=sorted(FORMATS), help="which store to build the table from")
    args = ap.parse_args(argv)

    answers = [o for o in json.load(open(args.ref)) if o["format"] == args.format]
    bad = 0
    for dataset in dict.fromkeys(o["dataset"] for o in answers):
        pattern, kwargs = FORMATS[args.format]
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*non-conforming '_FillValue'.*")
            ds = xr.open_dataset(os.path.join(args.data, pattern.format(dataset)), **kwargs).load()
        ctx = datafusion.SessionContext()
        ctx.register_record_batches("t", [arrow_table(ds).to_batches()])
        for o in (o for o in answers if o["dataset"] == dataset):
            try:
                got = run_sql(ctx, o["sql"])
            except Exception as e:  # noqa: BLE001
                print(f"ERROR {o['name']}: {e}")
                bad += 1
                continue
            want = o["rows"]
            problems = []
            if len(got) != len(want):
                problems.append(f"{len(got)} rows, expected {len(want)}")
            for i, (g, w) in enumerate(zip(got, want)):
                if len(g) != len(w) or not all(close(a, b, o["rtol"]) for a, b in zip(g, w)):
                    problems.append(f"row {i}: got {g}, expected {w}")
            if problems:
                bad += 1
                print(f"FAIL {o['name']}: " + "; ".join(problems[:3]))
    print(f"datafusion_check: {len(answers) - bad} passed, {bad} failed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
