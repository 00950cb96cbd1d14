"""What the artifact page shows of a value: its recorded summary, and column statistics.

The summary (DataFrame head and dtypes, array shape, JSON value, estimator parameters) was
written with the artifact and costs nothing to show. Column statistics are not stored, so for a
DataFrame they are computed here from the verified bytes — Parquet only, which loads no code —
with the same function monitoring uses for its references. Artifacts never change (their id is
their content hash), so the result is kept for the next visit.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from conveyor.profiling import column_statistics
from conveyor.workspace import Workspace, load_recorded

__all__ = ["MAX_PROFILE_BYTES", "column_profile"]

#: DataFrames larger than this (stored size) are not loaded to compute their statistics.
MAX_PROFILE_BYTES = 64 * 1024 * 1024
_PROFILED = ("pandas.parquet",)
_CACHE: OrderedDict[str, dict[str, Any]] = OrderedDict()
_LOCK = threading.Lock()
_KEEP = 64


def column_profile(ws: Workspace, artifact: Any) -> dict[str, Any] | None:
    """Per-column statistics of a stored DataFrame, or None with the reason in `note`."""
    if artifact.materializer not in _PROFILED:
        return None
    if artifact.size > MAX_PROFILE_BYTES:
        return {
            "columns": {},
            "note": f"not computed: the artifact is larger than {MAX_PROFILE_BYTES >> 20} MiB",
        }
    with _LOCK:
        if artifact.id in _CACHE:
            _CACHE.move_to_end(artifact.id)
            return _CACHE[artifact.id]
    frame = load_recorded(ws, artifact.id, trust=False)
    profile = {**column_statistics(frame), "note": None}
    with _LOCK:
        _CACHE[artifact.id] = profile
        while len(_CACHE) > _KEEP:
            _CACHE.popitem(last=False)
    return profile
