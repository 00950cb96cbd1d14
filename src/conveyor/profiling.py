"""Data profiles: column kinds and per-column statistics, shared by components and monitoring.

Pure computation on DataFrames (pandas and numpy load when first used). `column_statistics` is
the reference that drift monitoring compares live windows with: numeric columns get moments,
quantiles and a fixed-edge histogram (later windows are binned on the same edges), text and
categorical columns get value counts.
"""

from __future__ import annotations

import contextlib
import datetime
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["column_statistics", "jsonable", "kind_of"]


def kind_of(series: Any) -> str:
    """The schema type of a column: int, float, bool, datetime, category or string."""
    import pandas as pd

    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "int"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    return "string"


def jsonable(value: Any) -> Any:
    """A JSON-able copy of a cell or record: numpy scalars to Python, NaN to None, times to ISO."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        with contextlib.suppress(ValueError, AttributeError):
            value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else value
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    try:
        import pandas as pd

        if value is pd.NaT or pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


_QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


def _numeric(series: pd.Series, bins: int) -> dict[str, Any]:
    import numpy as np

    values = series.dropna().to_numpy(dtype="float64")
    if not len(values):
        return {}
    quantiles = np.quantile(values, _QUANTILES)
    low, high = float(values.min()), float(values.max())
    edges = np.linspace(low, high, bins + 1) if high > low else np.array([low, low + 1.0])
    counts, _ = np.histogram(values, bins=edges)
    return {
        "mean": float(values.mean()),
        "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
        "min": low,
        "max": high,
        "quantiles": {str(q): float(v) for q, v in zip(_QUANTILES, quantiles, strict=True)},
        "histogram": {"edges": edges.tolist(), "counts": counts.tolist()},
    }


def _categorical(series: pd.Series, top: int) -> dict[str, Any]:
    counts = series.value_counts(dropna=True)
    return {
        "unique": len(counts),
        "top": {str(k): int(v) for k, v in counts.head(top).items()},
        "other": int(counts.iloc[top:].sum()),
    }


def column_statistics(frame: pd.DataFrame, bins: int = 20, top: int = 50) -> dict[str, Any]:
    """Statistics of every column of `frame` (plain function: also used by monitoring)."""
    n = len(frame)
    columns: dict[str, Any] = {}
    for name in frame.columns:
        series = frame[name]
        kind = kind_of(series)
        missing = int(series.isna().sum())
        entry: dict[str, Any] = {
            "type": kind,
            "count": n - missing,
            "missing": missing,
            "missing_fraction": missing / n if n else 0.0,
        }
        if kind in ("int", "float"):
            entry.update(_numeric(series, bins))
        elif kind == "bool":
            entry.update(_categorical(series.astype("object"), top))
        elif kind == "datetime":
            present = series.dropna()
            if len(present):
                entry["min"], entry["max"] = jsonable(present.min()), jsonable(present.max())
        else:
            entry.update(_categorical(series, top))
        columns[str(name)] = entry
    return {"rows": n, "columns": columns}
