#!/usr/bin/env python3
"""Check reference.py's JSON against the reference answers printed in shared/data/MANIFEST.md.

    python tests/xarray/manifest_check.py /tmp/reference.json

Each check names a case, a row (by its leading key values), a column index and the MANIFEST's value. A
check passes when every format present in the JSON gives that value to within 1e-12 (relative).
Exit status 1 if any check fails or refers to a missing case/row.
"""

import json
import math
import sys

ADT_MEAN = "adt_spatial_mean_per_day"
ADT_W = "adt_weighted_mean_per_day"

# (case, row key prefix, column, manifest value)
CHECKS = [
    # sea level Q1: unweighted spatial mean, first 3 days
    (ADT_MEAN, ["2005-04-01T00:00:00"], 1, -0.10394261217661468),
    (ADT_MEAN, ["2005-04-02T00:00:00"], 1, -0.1031499372647428),
    (ADT_MEAN, ["2005-04-03T00:00:00"], 1, -0.10320453486287866),
    # sea level Q2: cos(lat)-weighted mean
    (ADT_W, ["2005-04-01T00:00:00"], 1, -0.10269009722564029),
    (ADT_W, ["2005-04-02T00:00:00"], 1, -0.10189064989542936),
    (ADT_W, ["2005-04-03T00:00:00"], 1, -0.10196331425510222),
    # sea level Q3: time means at points, land point NaN
    ("adt_point_time_means", [33.9375, 18.0625], 2, -0.055701098901098894),
    ("adt_point_time_means", [43.0625, 6.0625], 2, -0.12854725274725276),
    ("adt_point_time_means", [35.0625, 25.0625], 2, None),
    # sea level Q4: counts
    ("adt_count_whole_cube", [], 0, 1522874),
    ("adt_count_whole_cube", [], 1, 4006912),
    ("adt_count_per_day", ["2005-04-01T00:00:00"], 1, 16737),
    # sst Q1 (float64 column)
    ("sst_spatial_mean_per_month", ["2010-01-01T00:00:00"], 1, 13.907317564402334),
    ("sst_spatial_mean_per_month", ["2010-02-01T00:00:00"], 1, 14.013957675507589),
    ("sst_spatial_mean_per_month", ["2010-03-01T00:00:00"], 1, 13.995922259560915),
    # sst Q2
    ("sst_point_time_means", [0.0, 190.0], 2, 28.290178269147873),
    ("sst_point_time_means", [40.0, 320.0], 2, 19.50827521085739),
    ("sst_point_time_means", [40.0, 260.0], 2, None),
    # sst Q3
    ("sst_count_whole_cube", [], 0, 1406464),
    ("sst_count_whole_cube", [], 1, 2050560),
    ("sst_count_per_month", ["2010-01-01T00:00:00"], 1, 10988),
    # eraint Q1
    ("eraint_z500_mean_per_month", [1], 1, 53882.10198470176),
    ("eraint_z500_mean_per_month", [7], 1, 54557.30424912832),
    # eraint Q2
    ("eraint_u200_point_means", [45.0, 0.0], 2, 15.781313423213087),
    ("eraint_u200_point_means", [40.5, 139.5], 2, 34.093889721815295),
    # eraint Q3
    ("eraint_counts", [], 0, 694080),
    ("eraint_counts", [], 3, 694080),
    ("eraint_min_max", [], 3, 78.5),
    # tcw Q1
    ("tcw_spatial_mean_per_step", ["2002-07-01T12:00:00"], 1, 21.537828636929355),
    ("tcw_spatial_mean_per_step", ["2002-07-02T12:00:00"], 1, 21.591768218478872),
    ("tcw_spatial_mean_per_step", ["2002-07-03T12:00:00"], 1, 21.706587697897948),
    ("tcw_weighted_mean_per_step", ["2002-07-01T12:00:00"], 1, 27.600857999724717),
    ("tcw_weighted_mean_per_step", ["2002-07-02T12:00:00"], 1, 27.668944122445218),
    ("tcw_weighted_mean_per_step", ["2002-07-03T12:00:00"], 1, 27.769009620176206),
    # tcw Q2
    ("tcw_point_time_means", [0.0, 0.0], 2, 42.385958883392405),
    ("tcw_point_time_means", [50.0, 2.5], 2, 25.277645470180985),
    # tcw Q3
    ("tcw_count_whole_cube", [], 0, 325872),
    ("tcw_count_whole_cube", [], 1, 325872),
    ("tcw_min_max", [], 0, 0.08908158540725708),
    ("tcw_min_max", [], 1, 88.56371515989304),
]


def same(got, want):
    if want is None or got is None:
        return got is None and want is None
    return math.isclose(got, want, rel_tol=1e-12, abs_tol=0.0)


def main(path):
    answers = json.load(open(path))
    failed = 0
    bad = set()
    for i, (name, key, col, want) in enumerate(CHECKS):
        before = failed
        objs = [o for o in answers if o["name"] == name]
        if not objs:
            print(f"FAIL {name}: no answers in {path}")
            failed += 1
            continue
        for o in objs:
            rows = [r for r in o["rows"] if r[: len(key)] == key]
            if len(rows) != 1:
                print(f"FAIL {name} [{o['format']}] {key}: {len(rows)} matching rows")
                failed += 1
            elif not same(rows[0][col], want):
                print(f"FAIL {name} [{o['format']}] {key} col {col}: got {rows[0][col]!r}, MANIFEST {want!r}")
                failed += 1
        if failed != before:
            bad.add(i)
    formats = sorted({o["format"] for o in answers})
    print(f"MANIFEST reference answers checked on formats {','.join(formats)}")
    print(f"manifest: {len(CHECKS) - len(bad)} passed, {len(bad)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
