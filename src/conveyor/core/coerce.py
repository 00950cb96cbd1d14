"""Coercion of parameter values to the simple types their annotations name.

Values from the command line arrive as strings; values from YAML or JSON as their own types. Both
are checked against the annotation before anything runs, so `-p C=abc` fails at once, naming the
argument, instead of deep inside a training step.
"""

from __future__ import annotations

import functools
import pathlib
import types
import typing
from typing import Any

__all__ = ["CoercionError", "coerce", "type_hints"]

_TRUE = {"true", "1", "yes", "on", "y", "t"}
_FALSE = {"false", "0", "no", "off", "n", "f"}


class CoercionError(ValueError):
    """The value does not fit the annotation; the caller adds where it happened."""


@functools.lru_cache(maxsize=4096)
def type_hints(fn: Any) -> dict[str, Any]:
    """`typing.get_type_hints(fn)`, or {} when annotations cannot be resolved."""
    try:
        return typing.get_type_hints(fn)
    except Exception:  # an unresolvable forward reference: skip checks rather than fail
        return {}


def coerce(value: Any, annotation: Any) -> Any:
    """Return `value` converted to `annotation` when that is a simple type; else unchanged."""
    origin = typing.get_origin(annotation)
    if origin is typing.Union or (hasattr(types, "UnionType") and origin is types.UnionType):
        options = typing.get_args(annotation)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return coerce(value, option)
            except CoercionError as err:
                errors.append(str(err))
        raise CoercionError(" or ".join(errors) or f"expected {annotation}")
    if origin is typing.Literal:
        allowed = typing.get_args(annotation)
        for option in allowed:
            if value == option:
                return option
            if isinstance(value, str) and not isinstance(option, str):
                try:
                    if coerce(value, type(option)) == option:
                        return option
                except CoercionError:
                    pass
        raise CoercionError(f"expected one of {list(allowed)}, got {value!r}")
    handler = _SIMPLE.get(annotation)
    return handler(value) if handler is not None else value


def _fail(value: Any, expected: str) -> CoercionError:
    return CoercionError(f"expected {expected}, got {type(value).__name__} {value!r}")


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise _fail(value, "bool")


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise _fail(value, "int")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip().replace("_", ""))
        except ValueError:
            pass
    raise _fail(value, "int")


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise _fail(value, "float")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise _fail(value, "float")


def _to_str(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float, pathlib.PurePath)) and not isinstance(value, bool):
        return str(value)
    raise _fail(value, "str")


def _to_path(value: Any) -> pathlib.Path:
    if isinstance(value, (str, pathlib.PurePath)):
        return pathlib.Path(value)
    raise _fail(value, "path")


_SIMPLE: dict[Any, Any] = {
    bool: _to_bool,
    int: _to_int,
    float: _to_float,
    str: _to_str,
    pathlib.Path: _to_path,
}
