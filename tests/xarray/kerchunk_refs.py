#!/usr/bin/env python3
"""Write kerchunk references over the NetCDF files of ../shared/data, for gridsql's reference tests.

    python tests/xarray/kerchunk_refs.py --data /work/shared/data --out DIR [--url-prefix s3://bucket/data/]

Writes into DIR, with the kerchunk Python package itself:
  - F.json for every NetCDF-4/HDF5 file F (kerchunk.hdf.SingleHdf5ToZarr) and NetCDF-3 file
    (kerchunk.netCDF3.NetCDF3ToZarr) that kerchunk can translate, as version-1 JSON;
  - F.parq for one of them in kerchunk's Parquet layout (kerchunk.df.refs_to_dataframe);
  - split/ a multi-file collection cut from one file along time by xarray, and F.split.json combining
    the references of its files (kerchunk.combine.MultiZarrToZarr);
  - manifest.json: [{"dataset": F (the original, whose xarray answers apply), "refs": path, "kind"}]
    and, under "untranslatable", the files kerchunk refused and why.

With --url-prefix, the data folder in every referenced URL is replaced by the prefix (the same
files uploaded to an object store), and the split files are referenced under PREFIX/split/.
"""

import argparse
import glob
import json
import os
import sys
import warnings

import xarray as xr
from kerchunk.combine import MultiZarrToZarr
from kerchunk.df import refs_to_dataframe
from kerchunk.hdf import SingleHdf5ToZarr
from kerchunk.netCDF3 import NetCDF3ToZarr

sys.dont_write_bytecode = True

# The file written in the Parquet layout and the one split into a collection.
PARQUET = "sst.mnmean.nc"
SPLIT = "dt_med_allsat_phy_l4_2005T2.nc"  # the altimetry cube of the headline question
SPLIT_PARTS = 4


def translate(path):
    """kerchunk's references of one file (version 1)."""
    with open(path, "rb") as f:
        netcdf3 = f.read(3) == b"CDF"
    if netcdf3:
        return NetCDF3ToZarr(path, inline_threshold=100).translate(), "netcdf3"
    return SingleHdf5ToZarr(path, inline_threshold=100).translate(), "hdf5"


def rewrite(refs, local_dir, prefix):
    """`refs` with URLs under `local_dir` moved under `prefix`."""
    if prefix is None:
        return refs
    local_dir = local_dir.rstrip("/") + "/"
    out = {}
    for key, value in refs["refs"].items():
        if isinstance(value, list) and value and isinstance(value[0], str) and value[0].startswith(local_dir):
            value = [prefix + value[0][len(local_dir):]] + value[1:]
        out[key] = value
    return {**refs, "refs": out}


def split_collection(path, out_dir):
    """Cuts `path` along time into SPLIT_PARTS NetCDF-4 files; returns their paths."""
    os.makedirs(out_dir, exist_ok=True)
    with xr.open_dataset(path) as ds:
        n = ds.sizes["time"]
        step = -(-n // SPLIT_PARTS)
        paths = []
        for i in range(SPLIT_PARTS):
            part = ds.isel(time=slice(i * step, min(n, (i + 1) * step)))
            p = os.path.join(out_dir, f"part{i}.nc")
            # one time step per HDF5 chunk in every file, so that the files' chunk grids line up
            encoding = {v: {"chunksizes": (1,) + part[v].shape[1:], "zlib": True}
                        for v in part.data_vars if part[v].dims[:1] == ("time",)}
            part.to_netcdf(p, engine="netcdf4", format="NETCDF4", encoding=encoding)
            paths.append(p)
    return paths


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--url-prefix", default=None)
    args = ap.parse_args(argv)
    data = os.path.abspath(args.data)
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    warnings.filterwarnings("ignore")

    manifest, untranslatable = [], {}
    files = sorted(glob.glob(os.path.join(data, "*.nc")) + glob.glob(os.path.join(data, "*.nc4")))
    for path in files:
        name = os.path.basename(path)
        try:
            refs, kind = translate(path)
        except Exception as e:  # kerchunk's own limits, reported in the manifest
            untranslatable[name] = f"{type(e).__name__}: {e}"
            continue
        refs = rewrite(refs, data, args.url_prefix)
        target = os.path.join(out, name + ".json")
        with open(target, "w") as f:
            json.dump(refs, f)
        manifest.append({"dataset": name, "refs": target, "kind": f"json-{kind}"})
        if name == PARQUET:
            parq = os.path.join(out, name + ".parq")
            refs_to_dataframe(refs, parq, record_size=10)
            manifest.append({"dataset": name, "refs": parq, "kind": "parquet"})

    split_dir = os.path.join(out, "split")
    parts = split_collection(os.path.join(data, SPLIT), split_dir)
    # combined from the local files (kerchunk reads their coordinates), then moved under the prefix
    singles = [translate(p)[0] for p in parts]
    combined = MultiZarrToZarr(singles, concat_dims=["time"], identical_dims=["latitude", "longitude"]).translate()
    combined = rewrite(combined, split_dir, args.url_prefix and args.url_prefix + "split/")
    target = os.path.join(out, SPLIT + ".split.json")
    with open(target, "w") as f:
        json.dump(combined, f)
    manifest.append({"dataset": SPLIT, "refs": target, "kind": "multi-file"})

    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump({"references": manifest, "untranslatable": untranslatable}, f, indent=1)
    print(f"kerchunk_refs.py: {len(manifest)} reference sets in {out}; "
          f"kerchunk could not translate {sorted(untranslatable)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
