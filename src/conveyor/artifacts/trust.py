"""Which types and functions a skops model may hold and still load without `trust=True`.

skops lists what it does not trust itself; Conveyor decides from its own configuration, never
from the artifact's metadata. An object of a class of the scientific libraries is trusted: skops
rebuilds it from its state without running the class's code. A function, or a class held as a
value, is code the estimator will call (`FunctionTransformer(func=builtins.exec)` runs `exec` on
`predict`; `inverse_func=numpy.memmap` creates files), so only callables that compute and do
nothing else are trusted: metrics, score functions, special functions, numpy's reductions, and
scalar types such as `float` or `numpy.float32` (an encoder's `dtype`). Modules the user names in
`trusted_types` are trusted whole.
"""

from __future__ import annotations

import importlib
import io
import json
import zipfile
from typing import Any

__all__ = ["DEFAULT_TRUSTED_MODULES", "PURE_FUNCTION_MODULES", "held_callables", "is_trusted"]

#: Libraries whose classes load without trust.
DEFAULT_TRUSTED_MODULES = ("sklearn.", "numpy.", "scipy.", "builtins.", "collections.")

#: Modules whose functions compute and do nothing else (no files, no network, no imports).
PURE_FUNCTION_MODULES = (
    "sklearn.metrics.",
    "sklearn.feature_selection.",  # score functions: SelectKBest(score_func=f_classif)
    "sklearn.cluster.",  # the algorithms a fitted BisectingKMeans holds
    "scipy.special.",
    "scipy.stats.",
    "scipy._lib.array_api_compat.numpy.",  # numpy's array-API aliases (SplineTransformer)
)

#: numpy functions that compute and do nothing else: FeatureAgglomeration(pooling_func=np.mean).
#: numpy's own namespace also holds load, save, fromfile, memmap: those are not here.
PURE_NUMPY_FUNCTIONS = frozenset(
    {
        "abs",
        "absolute",
        "amax",
        "amin",
        "array",
        "asarray",
        "average",
        "clip",
        "exp",
        "expm1",
        "log",
        "log1p",
        "max",
        "mean",
        "median",
        "min",
        "nanmax",
        "nanmean",
        "nanmedian",
        "nanmin",
        "nanpercentile",
        "nanquantile",
        "nanstd",
        "nansum",
        "nanvar",
        "percentile",
        "prod",
        "ptp",
        "quantile",
        "round",
        "sign",
        "sqrt",
        "std",
        "sum",
        "var",
    }
)  # fmt: skip


#: Builtin types that are harmless to call: a model may hold them as values (`dtype=float`).
SCALAR_BUILTINS = frozenset(
    {"bool", "int", "float", "complex", "str", "bytes", "object", "list", "tuple", "dict"}
)

#: skops nodes whose object is a callable held as a value, not an object rebuilt from state.
_CALLABLE_NODES = frozenset({"TypeNode", "FunctionNode", "MethodNode", "PartialNode"})


def held_callables(data: bytes) -> set[str]:
    """The dotted names a skops file holds as callables (types and functions as values)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            schema = json.loads(archive.read("schema.json"))
    except (zipfile.BadZipFile, KeyError, ValueError):
        return set()  # skops refuses it when loading
    found: set[str] = set()
    stack: list[Any] = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("__loader__") in _CALLABLE_NODES:
                found.add(f"{node.get('__module__')}.{node.get('__class__')}")
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def is_trusted(name: str, user_modules: tuple[str, ...] = (), *, called: bool = False) -> bool:
    """Whether skops may load `name` (dotted) without trust; `called`: the model holds it as a
    value it can call, not as an object rebuilt from state."""
    if name.startswith(user_modules):
        return True
    if not name.startswith(DEFAULT_TRUSTED_MODULES):
        return False
    found = _resolve(name)
    if isinstance(found, type):
        return not called or _harmless_type(name, found)
    if not callable(found):
        return False
    if name.startswith(PURE_FUNCTION_MODULES):
        return True
    module, _, function = name.rpartition(".")
    return module == "numpy" and function in PURE_NUMPY_FUNCTIONS


def _harmless_type(name: str, found: type) -> bool:
    module, _, short = name.rpartition(".")
    if module == "builtins":
        return short in SCALAR_BUILTINS
    if name.startswith("numpy."):
        import numpy as np

        return issubclass(found, (np.generic, np.dtype))  # scalar types and dtypes
    return False


def _resolve(name: str) -> Any:
    """The object a dotted `name` of a trusted library names, or None."""
    parts = name.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            found: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            found = getattr(found, attr, None)
        return found
    return None
