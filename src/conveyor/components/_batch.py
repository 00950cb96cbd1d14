"""`batch_predict`: score a DataFrame with a registered model, inside a pipeline or from the CLI.

The model reference (`"churn@production"`) is resolved when the step runs, and the version it
resolves to is part of the cache key: scoring the same data again is a cache hit until the alias
moves. Rows are checked against the model's signature first, so bad input fails naming the row
and column rather than somewhere inside the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.components import _runtime
from conveyor.components._frames import require_frame
from conveyor.core.context import log_metric, log_param
from conveyor.core.step import step
from conveyor.exceptions import ParameterError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["batch_predict", "predict_file", "score"]


def _resolve(model: Any = None, **_: Any) -> str | None:
    """`NAME@ALIAS` → `NAME:VERSION` now (the cache key of a batch prediction)."""
    if not isinstance(model, str):
        return None
    from conveyor.registry import ModelRegistry

    record = ModelRegistry(_runtime.workspace()).get(model)
    return f"{record.name}:{record.version}"


def score(ref: str, data: pd.DataFrame, proba: bool = False) -> tuple[pd.DataFrame, str]:
    """`data` with a `prediction` column (and `proba_<class>` columns); the version used."""
    from conveyor.registry import ModelRegistry
    from conveyor.registry.signature import InputSchema

    require_frame(data, "batch_predict", "data")
    registry = ModelRegistry(_runtime.workspace())
    record = registry.get(ref)
    model = registry.load(f"{record.name}:{record.version}")
    schema = InputSchema.from_signature(record.signature, model)
    features = schema.check_frame(data) if not schema.open else data
    result = data.copy()
    result["prediction"] = model.predict(features)
    if proba:
        if not callable(getattr(model, "predict_proba", None)):
            raise ParameterError(
                f"batch_predict: {record.name}:{record.version} has no predict_proba"
            )
        for label, column in zip(model.classes_, model.predict_proba(features).T, strict=True):
            result[f"proba_{label}"] = column
    return result, f"{record.name}:{record.version}"


@step(cache_key_fn=_resolve)
def batch_predict(model: str, data: pd.DataFrame, proba: bool = False) -> pd.DataFrame:
    """Predict every row of `data` with registered model `model` (`NAME@ALIAS`, `NAME:VERSION`).

    Returns `data` with a `prediction` column, and `proba_<class>` columns when `proba`.
    """
    result, used = score(model, data, proba)
    log_param("model", used)
    log_metric("rows", len(result))
    return result


def predict_file(ref: str, source: Path, target: Path, proba: bool = False) -> int:
    """Score a CSV or Parquet file into a Parquet (or CSV) file; returns the row count."""
    from conveyor.components._ingest import read_source

    frame, _ = read_source(str(source))
    result, _ = score(ref, frame, proba)
    partial = target.with_name(f".{target.name}.partial")  # no half-written file at `target`
    try:
        if target.suffix.lower() == ".csv":
            result.to_csv(partial, index=False)
        else:
            result.to_parquet(partial, index=False)
        partial.replace(target)
    except OSError as err:
        partial.unlink(missing_ok=True)
        raise ParameterError(f"predict: cannot write {str(target)!r}: {err}") from None
    return len(result)
