"""Reading the prediction log that `conveyor serve` writes (see `conveyor.serving.predlog`).

Each row is one predicted instance: `request_id`, `row`, `at`, `version`, `latency_ms`,
`prediction`, `probabilities` and one `input.<column>` per feature; feedback rows hold
`request_id`, `row`, `label` and `at`. Monitoring and the CLI read it through `read_log`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor.metadata.log_store import LogStore
from conveyor.workspace import Workspace, load_recorded

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["INPUT", "labelled", "read_log"]

INPUT = "input."


def read_log(
    ws: Workspace, model: str, kind: str = "predictions", since: float | None = None
) -> pd.DataFrame:
    """Every logged record of `model` (of `kind`) at or after `since`, oldest first."""
    import pandas as pd

    frames = [
        load_recorded(ws, segment.artifact_id, trust=False)
        for segment in LogStore(ws.metadata).segments(model, kind, since)
    ]
    if not frames:
        columns = ["request_id", "row", "at"] + (
            ["version", "latency_ms", "prediction", "probabilities"]
            if kind == "predictions"
            else ["label"]
        )
        return pd.DataFrame({c: [] for c in columns})
    frame = pd.concat(frames, ignore_index=True)
    if since is not None:
        frame = frame[frame["at"] >= since]
    return frame.sort_values(["at", "request_id", "row"], kind="stable").reset_index(drop=True)


def labelled(predictions: pd.DataFrame, feedback: pd.DataFrame) -> pd.DataFrame:
    """Predictions joined with the latest label sent for each (request_id, row)."""
    if feedback.empty or predictions.empty:
        return predictions.iloc[0:0].assign(label=[])
    latest = feedback.sort_values("at").drop_duplicates(["request_id", "row"], keep="last")
    return predictions.merge(
        latest[["request_id", "row", "label"]], on=["request_id", "row"], how="inner"
    )
