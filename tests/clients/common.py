"""Helpers the client scripts share: encoding result rows as the Rust tests compare them, reading cases.

Values are encoded as tests/xarray/reference.py encodes xarray's answers (floats as numbers, NaN -> null,
timestamps as YYYY-MM-DDTHH:MM:SS[.ffffff], strings, booleans), so the Rust side compares both with one rule.
"""

import datetime as dt
import decimal
import json
import math
import sys


def encode(value):
    """One result value as a JSON-ready value."""
    if value is None:
        return None
    if type(value).__module__ == "numpy":  # numpy scalars (pandas results) as Python values
        value = value.item()
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, decimal.Decimal):
        value = float(value)
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, dt.datetime):
        value = value.replace(tzinfo=None)
        s = value.strftime("%Y-%m-%dT%H:%M:%S")
        return s + (f".{value.microsecond:06d}" if value.microsecond else "")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return value
    return str(value)


def encode_rows(rows):
    return [[encode(v) for v in row] for row in rows]


def matches(got, want, rtol):
    """The Rust side's rule (tests/util.rs cells_match), for the load test's own checks."""
    if len(got) != len(want):
        return False
    for g, w in zip(got, want):
        if len(g) != len(w):
            return False
        for a, b in zip(g, w):
            if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
                if abs(a - b) > rtol * max(abs(a), abs(b), 1.0):
                    return False
            elif a != b:
                return False
    return True


def decode_param(value):
    """A JSON parameter as a Python value: {"timestamp": "ISO"} becomes a datetime."""
    if isinstance(value, dict) and "timestamp" in value:
        return dt.datetime.fromisoformat(value["timestamp"])
    return value


def one_line(e):
    return " ".join(str(e).split())


def read_json(path):
    with open(path) as f:
        return json.load(f)


def write_json(obj, path):
    if path == "-":
        json.dump(obj, sys.stdout)
    else:
        with open(path, "w") as f:
            json.dump(obj, f)
