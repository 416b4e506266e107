"""The `%%sql` cell magic (`%load_ext gridsql`).

    %%sql
    SELECT time, avg(sla) AS sla FROM sla GROUP BY time ORDER BY time

shows the result as a table;

    %%sql --plot
    SELECT latitude, longitude, avg(sla) AS sla FROM sla GROUP BY 1, 2

draws it with xarray instead: a map when the result has two dimensions (latitude and longitude),
a line when it has one (a time series). `--to NAME` also keeps the Result in the variable NAME;
`--server grpc://host:port` sends the query to a gridsql server instead of this process's session.
"""

from __future__ import annotations

import argparse
import shlex


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="%%sql", add_help=False)
    p.add_argument("--plot", action="store_true")
    p.add_argument("--to", default=None)
    p.add_argument("--server", default=None)
    return p


def plot(result):
    """Draws a result with xarray: its first variable on its dimensions. Returns the artist."""
    ds = result.to_xarray()
    names = list(ds.data_vars)
    if not names:
        raise ValueError("the result has no variable to draw")
    da = ds[names[0]]
    if da.ndim == 2:
        # a map: longitude across, latitude up, whatever the column order
        lat = next((d for d in da.dims if d.lower().startswith("lat")), da.dims[0])
        lon = next((d for d in da.dims if d != lat), da.dims[1])
        return da.plot(x=lon, y=lat)
    return da.plot()


def run_cell(line: str, cell: str, user_ns: dict):
    """What `%%sql` does for one cell: the Result (or the plot's artist with --plot)."""
    import gridsql

    args = _parser().parse_args(shlex.split(line))
    query = cell.strip()
    if args.server:
        server = gridsql.connect(args.server)
        result = server.sql(query)
    else:
        result = gridsql.sql(query)
    if args.to:
        user_ns[args.to] = result
    if args.plot:
        return plot(result)
    return result


def register_magic(ipython) -> None:
    def sql(line, cell):
        return run_cell(line, cell, ipython.user_ns)

    ipython.register_magic_function(sql, magic_kind="cell", magic_name="sql")
