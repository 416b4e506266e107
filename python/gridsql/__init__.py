"""gridsql in a notebook: SQL over Zarr, NetCDF and GRIB datasets, answered by the gridsql
engine inside this Python process, or by a gridsql server.

    import gridsql
    gridsql.register("sla", "store.zarr")
    r = gridsql.sql("SELECT time, avg(sla) AS sla FROM sla GROUP BY time ORDER BY time")
    r.to_arrow()      # pyarrow.Table
    r.to_pandas()     # pandas.DataFrame
    r.to_xarray()     # xarray.Dataset on the result's dimension columns, CF attributes restored

    srv = gridsql.connect("grpc://127.0.0.1:32010")     # a `gridsql serve`, through Flight SQL
    srv.sql("SELECT count(*) FROM sla").to_pandas()

In Jupyter, `%load_ext gridsql` gives the `%%sql` cell magic (`%%sql --plot` draws the result).
Results stream: iterating over a result yields its Arrow record batches as they are computed.
"""

from __future__ import annotations

from typing import Iterator, Optional, Sequence

import pyarrow as pa

from ._gridsql import Batches as _Batches
from ._gridsql import Session as _Session
from ._gridsql import __version__

__all__ = ["Result", "Session", "Server", "register", "sql", "tables", "connect", "__version__"]

# field metadata the engine puts on columns (docs/table-model.md)
_ROLE = b"gridsql.role"
_UNITS = b"units"
_LONG_NAME = b"long_name"


class Result:
    """The result of a query: Arrow record batches, read once, as they come."""

    def __init__(self, schema: pa.Schema, batches: Iterator[pa.RecordBatch]):
        self._schema = schema
        self._batches = batches
        self._table: Optional[pa.Table] = None

    @property
    def schema(self) -> pa.Schema:
        """The result's columns, with gridsql's field metadata (units, long names, roles)."""
        return self._schema

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        if self._table is not None:
            yield from self._table.to_batches()
            return
        yield from self._batches

    def to_arrow(self) -> pa.Table:
        """All batches as one pyarrow Table."""
        if self._table is None:
            self._table = pa.Table.from_batches(list(self._batches), schema=self._schema)
        return self._table

    def to_pandas(self):
        """The result as a pandas DataFrame."""
        return self.to_arrow().to_pandas()

    def dims(self) -> list:
        """The columns `to_xarray` makes dimensions: those that come from a dimension of a
        dataset, else every time, integer or text column (GROUP BY keys such as a month)."""
        fields = list(self._schema)
        marked = [f.name for f in fields if (f.metadata or {}).get(_ROLE) == b"dimension"]
        if marked:
            return marked
        return [
            f.name
            for f in fields
            if pa.types.is_timestamp(f.type)
            or pa.types.is_date(f.type)
            or pa.types.is_integer(f.type)
            or pa.types.is_string(f.type)
            or pa.types.is_large_string(f.type)
        ]

    def to_xarray(self, dims: Optional[Sequence[str]] = None):
        """The result as an xarray Dataset: one dimension per column of `dims` (default
        `self.dims()`), every other column a variable on them, `units` and `long_name` restored
        from the columns' metadata; missing cells are NaN. It plots with xarray directly."""
        import xarray as xr

        dims = list(dims) if dims is not None else self.dims()
        if not dims:
            raise ValueError(
                "no column is a dimension: name them, e.g. to_xarray(dims=['lat', 'lon'])"
            )
        table = self.to_arrow()
        missing = [d for d in dims if d not in table.column_names]
        if missing:
            raise ValueError(f"the result has no column {missing}; it has {table.column_names}")
        frame = table.to_pandas()
        if frame.duplicated(subset=dims).any():
            raise ValueError(
                f"two rows share one cell of {dims}: add the missing dimension or aggregate"
            )
        ds = xr.Dataset.from_dataframe(frame.set_index(dims))
        for f in self._schema:
            meta = f.metadata or {}
            attrs = {}
            if meta.get(_UNITS):
                attrs["units"] = meta[_UNITS].decode()
            if meta.get(_LONG_NAME):
                attrs["long_name"] = meta[_LONG_NAME].decode()
            if f.name in ds.variables:
                ds[f.name].attrs.update(attrs)
        return ds

    def _repr_html_(self) -> str:
        return self.to_pandas()._repr_html_()

    def __repr__(self) -> str:
        return repr(self.to_pandas())


def _read_ipc(data: bytes) -> pa.RecordBatchStreamReader:
    return pa.ipc.open_stream(pa.py_buffer(data))


class Session:
    """A gridsql session in this process: its own tables, the engine's functions and pushdown."""

    def __init__(self, memory_limit: Optional[int] = None):
        self._inner = _Session(memory_limit)

    def register(self, name: str, location: str) -> None:
        """Opens the dataset at `location` (Zarr store, NetCDF file or glob, GRIB file,
        kerchunk references, Icechunk repository; a path or an s3://, gs://, az://, http(s)://
        URL) as table `name`."""
        self._inner.register(name, location)

    def sql(self, query: str) -> Result:
        """Runs `query`; the result streams as it is computed."""
        batches: _Batches = self._inner.sql(query)
        schema = _read_ipc(batches.schema()).schema

        def stream() -> Iterator[pa.RecordBatch]:
            for data in batches:
                yield from _read_ipc(data)

        return Result(schema, stream())

    def tables(self) -> list:
        """The tables' names."""
        return self._inner.tables()


class Server:
    """A gridsql server reached through Arrow Flight SQL (ADBC): the same `sql` API."""

    def __init__(self, uri: str, username: Optional[str] = None, password: Optional[str] = None):
        from adbc_driver_flightsql import dbapi as flight_sql

        kwargs = {}
        if username is not None:
            kwargs = {"username": username, "password": password or ""}
        self._conn = flight_sql.connect(uri, db_kwargs=kwargs)

    def sql(self, query: str) -> Result:
        cur = self._conn.cursor()
        cur.execute(query)
        reader = cur.fetch_record_batch()

        def stream() -> Iterator[pa.RecordBatch]:
            # the cursor lives as long as its batches are read
            try:
                yield from reader
            finally:
                cur.close()

        return Result(reader.schema, stream())

    def tables(self) -> list:
        objects = self._conn.adbc_get_objects(depth="tables").read_all().to_pylist()
        return sorted(
            t["table_name"]
            for c in objects
            for s in c["catalog_db_schemas"] or []
            for t in s["db_schema_tables"] or []
            if s["db_schema_name"] != "information_schema"
        )

    def close(self) -> None:
        self._conn.close()


_default: Optional[Session] = None


def _session() -> Session:
    global _default
    if _default is None:
        _default = Session()
    return _default


def register(name: str, location: str) -> None:
    """Opens a dataset as a table of the process's default session."""
    _session().register(name, location)


def sql(query: str) -> Result:
    """Runs a query in the process's default session."""
    return _session().sql(query)


def tables() -> list:
    """The tables of the process's default session."""
    return _session().tables()


def connect(uri: str, username: Optional[str] = None, password: Optional[str] = None) -> Server:
    """A gridsql server at `uri` (`grpc://host:port`, `grpc+tls://...`) through Flight SQL."""
    return Server(uri, username, password)


def load_ipython_extension(ipython) -> None:
    """`%load_ext gridsql`: registers the `%%sql` cell magic."""
    from .magic import register_magic

    register_magic(ipython)
