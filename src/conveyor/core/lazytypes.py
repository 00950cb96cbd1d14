"""Refer to classes of optional libraries by dotted path without importing those libraries.

`resolve("pandas.DataFrame")` returns the class only when pandas is already imported: a value of
that type cannot exist otherwise, so there is never a reason to import it just to check.
"""

from __future__ import annotations

import functools
import importlib
import sys

__all__ = ["matches", "resolve"]


def resolve(path: str) -> type | None:
    """The class at `path` ("package.module.Class") if its package is imported, else None."""
    if path.partition(".")[0] not in sys.modules:
        return None
    return _import(path)


@functools.lru_cache(maxsize=256)
def _import(path: str) -> type | None:
    module_path, _, attr = path.rpartition(".")
    while module_path:
        try:
            obj: object = importlib.import_module(module_path)
        except ImportError:
            module_path, _, parent = module_path.rpartition(".")
            attr = f"{parent}.{attr}"
            continue
        for part in attr.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                return None
        return obj if isinstance(obj, type) else None
    return None


def matches(cls: type, path: str) -> int | None:
    """Position of the class at `path` in `cls`'s MRO (0 = `cls` itself), or None."""
    target = resolve(path)
    if target is None:
        return None
    try:
        return cls.__mro__.index(target)
    except ValueError:
        return None
