"""`statistics`: per-column summary statistics as a step (see `conveyor.profiling`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conveyor.components._frames import require_frame
from conveyor.core.step import step
from conveyor.profiling import column_statistics

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["statistics"]


@step
def statistics(data: pd.DataFrame, bins: int = 20, top: int = 50) -> dict[str, Any]:
    """Summary statistics per column: counts, missing, moments, quantiles, histograms, values.

    The reference that drift monitoring compares live data with.
    """
    require_frame(data, "statistics", "data")
    return column_statistics(data, bins, top)
