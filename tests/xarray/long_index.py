"""xarray's answers for the long-index store of tests/long_index.rs.

    long_index.py STORE [--at I,J,...]  ->  JSON {name: rows} on stdout

With --at, the rows (i, x[i]) at those positions, for checking the rows a
LIMIT without ORDER BY returned (any rows of the table are a right answer).

The store has one variable x on a dimension n of 300 million cells with no
coordinate variable; xarray indexes n by position, as gridsql does.
"""

import json
import math
import sys

import xarray as xr


def enc(v):
    f = float(v)
    return None if math.isnan(f) else f


def main(path, at=None):
    ds = xr.open_zarr(path, consolidated=False)
    x = ds["x"]
    n = ds.sizes["n"]
    if at is not None:
        json.dump([[i, enc(x.isel(n=i).values)] for i in at], sys.stdout)
        return
    head = x.isel(n=slice(0, 2)).values
    tail = x.isel(n=slice(n - 3, n)).values
    last_chunk = x.isel(n=slice(299_000_000, n))
    out = {
        "head": [[i, enc(v)] for i, v in enumerate(head)],
        "near_end": [[n - 3 + i, enc(v)] for i, v in enumerate(tail)],
        "count": [[int(n)]],
        "last_chunk": [[int(last_chunk.count().values), enc(last_chunk.sum().values)]],
    }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    at = None
    if len(sys.argv) > 3 and sys.argv[2] == "--at":
        at = [int(i) for i in sys.argv[3].split(",")]
    main(sys.argv[1], at)
