"""`statistics`: per-column summary statistics, the reference that drift monitoring compares to.

Numeric columns get moments, quantiles and a fixed-edge histogram (later windows are binned on the
same edges, so distributions compare bin by bin); text and categorical columns get value counts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conveyor.components._frames import jsonable, kind_of, require_frame
from conveyor.core.step import step

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["column_statistics", "statistics"]

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
    require_frame(frame, "statistics", "data")
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


@step
def statistics(data: pd.DataFrame, bins: int = 20, top: int = 50) -> dict[str, Any]:
    """Summary statistics per column: counts, missing, moments, quantiles, histograms, values."""
    return column_statistics(data, bins, top)
