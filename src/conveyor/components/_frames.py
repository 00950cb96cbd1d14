"""Small helpers shared by the components that read DataFrames."""

from __future__ import annotations

import contextlib
import datetime
import math
from typing import Any

from conveyor.exceptions import ParameterError

__all__ = ["jsonable", "kind_of", "require_columns", "require_frame"]


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
