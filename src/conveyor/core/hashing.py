"""Canonical encodings and content hashes of values.

Identity in Conveyor comes from canonical JSON (sorted keys, compact) plus a hash, so the same value
gets the same id in every process. Values that JSON cannot carry (arrays, frames, paths, sets) are
reduced to a canonical JSON-able form by `canonical`, a `functools.singledispatch` function:
one registration per type. Types from heavy libraries (numpy, pandas) are registered lazily, the
first time a value of that type is seen, so importing Conveyor never imports them.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import json
import math
import pathlib
from collections.abc import Callable, Mapping
from typing import Any

import blake3

from conveyor.core.lazytypes import resolve

__all__ = ["canonical", "canonical_json", "digest", "hash_value"]


def digest(*parts: bytes) -> str:
    """Hex blake3 digest of byte strings, each length-prefixed so parts cannot run together."""
    hasher = blake3.blake3()
    for part in parts:
        hasher.update(len(part).to_bytes(8, "little"))
        hasher.update(part)
    return hasher.hexdigest()


def canonical_json(value: Any) -> str:
    """Compact JSON with sorted keys of `canonical(value)`: equal values give equal text."""
    return json.dumps(
        canonical(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=True
    )


def hash_value(value: Any) -> str:
    """A stable content hash of any value Conveyor accepts as a parameter or literal input."""
    return digest(canonical_json(value).encode())


@functools.singledispatch
def canonical(value: Any) -> Any:
    """Reduce `value` to JSON-able data that identifies it; unknown types try lazy handlers."""
    for path, handler in _LAZY.items():
        target = resolve(path)
        if target is not None and isinstance(value, target):
            canonical.register(target, handler)
            return handler(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return {"__dataclass__": _qualname(type(value)), "fields": canonical(fields)}
    import cloudpickle  # last resort: the pickled bytes of an arbitrary object

    return {"__pickle__": _qualname(type(value)), "hash": digest(cloudpickle.dumps(value))}


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


@canonical.register(type(None))
@canonical.register(bool)
@canonical.register(int)
@canonical.register(str)
def _(value: Any) -> Any:
    return value


@canonical.register(float)
def _(value: float) -> Any:
    # JSON has no NaN or infinity: name them so they stay distinct from strings and each other.
    if math.isfinite(value):
        return value
    return {"__float__": repr(value)}


@canonical.register(bytes)
@canonical.register(bytearray)
def _(value: bytes) -> Any:
    return {"__bytes__": digest(bytes(value))}


@canonical.register(list)
def _(value: list) -> Any:
    return [canonical(item) for item in value]


@canonical.register(tuple)
def _(value: tuple) -> Any:
    return {"__tuple__": [canonical(item) for item in value]}


@canonical.register(set)
@canonical.register(frozenset)
def _(value: set) -> Any:
    return {"__set__": sorted(canonical_json(item) for item in value)}


@canonical.register(Mapping)
def _(value: Mapping) -> Any:
    if all(isinstance(key, str) for key in value):
        plain = {key: canonical(item) for key, item in value.items()}
        # Tagged encodings use "__x__" keys; a user dict with such keys is wrapped, so it can
        # never be mistaken for (and hash like) a tuple, bytes or NaN.
        if any(key.startswith("__") for key in value):
            return {"__dict__": plain}
        return plain
    return {"__mapping__": sorted([canonical_json(k), canonical(v)] for k, v in value.items())}


@canonical.register(pathlib.PurePath)
def _(value: pathlib.PurePath) -> Any:
    return {"__path__": value.as_posix()}


@canonical.register(enum.Enum)
def _(value: enum.Enum) -> Any:
    return {"__enum__": _qualname(type(value)), "value": canonical(value.value)}


def _ndarray(value: Any) -> Any:
    import numpy as np

    array = np.ascontiguousarray(value)
    if array.dtype.hasobject:
        return {"__ndarray__": str(array.dtype), "items": canonical(array.tolist())}
    return {
        "__ndarray__": array.dtype.str,
        "shape": list(array.shape),
        "hash": digest(array.tobytes()),
    }


def _numpy_scalar(value: Any) -> Any:
    return canonical(value.item())


def _dataframe(value: Any) -> Any:
    import pandas as pd

    rows = pd.util.hash_pandas_object(value, index=True).to_numpy()
    return {
        "__dataframe__": [str(c) for c in value.columns],
        "dtypes": [str(t) for t in value.dtypes],
        "hash": digest(rows.tobytes()),
    }


def _series(value: Any) -> Any:
    import pandas as pd

    rows = pd.util.hash_pandas_object(value, index=True).to_numpy()
    return {
        "__series__": str(value.name),
        "dtype": str(value.dtype),
        "hash": digest(rows.tobytes()),
    }


def _estimator(value: Any) -> Any:
    """An unfitted scikit-learn-style estimator given as a parameter: its class and params."""
    return {"__estimator__": _qualname(type(value)), "params": canonical(value.get_params(False))}


_LAZY: dict[str, Callable[[Any], Any]] = {
    "numpy.ndarray": _ndarray,
    "numpy.generic": _numpy_scalar,
    "pandas.DataFrame": _dataframe,
    "pandas.Series": _series,
    "sklearn.base.BaseEstimator": _estimator,
}
