"""Which types and functions a skops model may hold and still load without `trust=True`.

skops lists what it does not trust itself; Conveyor decides from its own configuration, never
from the artifact's metadata. Classes of the scientific libraries are trusted: skops rebuilds
them from state without running their code. Functions are code an estimator will call
(`FunctionTransformer(func=builtins.exec)` runs `exec` on `predict`), so only those that compute
and do nothing else are trusted: metrics, score functions, special functions and numpy's
reductions. Modules the user names in `trusted_types` are trusted whole.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["DEFAULT_TRUSTED_MODULES", "PURE_FUNCTION_MODULES", "is_trusted"]

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


def is_trusted(name: str, user_modules: tuple[str, ...] = ()) -> bool:
    """Whether skops may load the type or function `name` (dotted) without trust."""
    if name.startswith(user_modules):
        return True
    if not name.startswith(DEFAULT_TRUSTED_MODULES):
        return False
    found = _resolve(name)
    if isinstance(found, type):
        return True
    if not callable(found):
        return False
    if name.startswith(PURE_FUNCTION_MODULES):
        return True
    module, _, function = name.rpartition(".")
    return module == "numpy" and function in PURE_NUMPY_FUNCTIONS


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
