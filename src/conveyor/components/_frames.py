"""Small helpers shared by the components that read DataFrames."""

from __future__ import annotations

from typing import Any

from conveyor.exceptions import ParameterError

__all__ = ["require_columns", "require_frame"]


def require_frame(value: Any, step: str, arg: str) -> None:
    import pandas as pd

    if not isinstance(value, pd.DataFrame):
        raise ParameterError(
            f"{step}: {arg} must be a pandas DataFrame, got {type(value).__name__}"
        )


def require_columns(frame: Any, columns: list[str], step: str, arg: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ParameterError(
            f"{step}: {arg} names column(s) {missing} that the data does not have; "
            f"columns: {list(map(str, frame.columns))}"
        )
