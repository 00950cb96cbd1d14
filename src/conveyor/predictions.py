"""Reading the prediction log that `conveyor serve` writes (see `conveyor.serving.predlog`).

Each row is one predicted instance: `request_id`, `row`, `at`, `version`, `latency_ms`,
`prediction`, `probabilities` and one `input.<column>` per feature; feedback rows hold
`request_id`, `row`, `label` and `at`. Monitoring and the CLI read it through `read_log`, which
reads only the segments a window needs: those ending at or after `since`, and for the `last` N
rows the newest segments first, until no older segment can hold a row among the newest N.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conveyor.metadata.log_store import LogSegment, LogStore
from conveyor.workspace import Workspace, load_recorded

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["INPUT", "labelled", "log_stamp", "read_log"]

INPUT = "input."
_ORDER = ["at", "request_id", "row"]


def read_log(
    ws: Workspace,
    model: str,
    kind: str = "predictions",
    since: float | None = None,
    *,
    version: int | None = None,
    last: int | None = None,
) -> pd.DataFrame:
    """Logged records of `model` (of `kind`) at or after `since`, oldest first.

    Args:
        version: only the predictions this model version served.
        last: only the newest `last` records (after the other filters).
    """
    import pandas as pd

    segments = LogStore(ws.metadata).segments(model, kind, since)
    if version is not None and kind == "predictions":
        segments = [s for s in segments if not s.versions or version in s.versions]
    if last is None:
        frames = [_load(ws, s, since, version) for s in segments]
    else:
        frames = _newest(ws, segments, since, version, last)
    frames = [f for f in frames if len(f)]
    if not frames:
        columns = ["request_id", "row", "at"] + (
            ["version", "latency_ms", "prediction", "probabilities"]
            if kind == "predictions"
            else ["label"]
        )
        return pd.DataFrame({c: [] for c in columns})
    frame = pd.concat(frames, ignore_index=True)
    frame = frame.sort_values(_ORDER, kind="stable").reset_index(drop=True)
    return frame if last is None else frame.tail(last).reset_index(drop=True)


def _load(ws: Workspace, segment: LogSegment, since: float | None, version: int | None) -> Any:
    frame = load_recorded(ws, segment.artifact_id, trust=False)
    if since is not None:
        frame = frame[frame["at"] >= since]
    if version is not None and "version" in frame:
        frame = frame[frame["version"] == version]
    return frame


def _newest(
    ws: Workspace, segments: list[LogSegment], since: float | None, version: int | None, last: int
) -> list[Any]:
    """The frames of the segments that can hold one of the newest `last` rows."""
    frames: list[Any] = []
    times: list[float] = []
    for segment in sorted(segments, key=lambda s: (s.last_at, s.id), reverse=True):
        if len(times) >= last and segment.last_at < times[last - 1]:
            break  # every row of this and the older segments is older than the newest `last`
        frame = _load(ws, segment, since, version)
        frames.append(frame)
        times = sorted([*times, *frame["at"].tolist()], reverse=True)[: max(last, 1)]
    return frames


def log_stamp(
    ws: Workspace, model: str, kinds: tuple[str, ...] = ("predictions", "feedback")
) -> tuple[int, ...]:
    """What identifies the log's content now: its segments of `kinds` (count, newest id). The
    log only grows by segments, so an unchanged stamp means nothing new arrived."""
    store = LogStore(ws.metadata)
    stamp: list[int] = []
    for kind in kinds:
        segments = store.segments(model, kind)
        stamp += [len(segments), max((s.id for s in segments), default=0)]
    return tuple(stamp)


def labelled(predictions: pd.DataFrame, feedback: pd.DataFrame) -> pd.DataFrame:
    """Predictions joined with the latest label sent for each (request_id, row)."""
    if feedback.empty or predictions.empty:
        return predictions.iloc[0:0].assign(label=[])
    latest = feedback.sort_values("at").drop_duplicates(["request_id", "row"], keep="last")
    return predictions.merge(
        latest[["request_id", "row", "label"]], on=["request_id", "row"], how="inner"
    )
