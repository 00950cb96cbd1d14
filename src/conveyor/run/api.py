"""Reading back what was recorded, from Python: runs and artifacts by id."""

from __future__ import annotations

from typing import Any

from conveyor.config import Settings
from conveyor.run.views import Run
from conveyor.workspace import load_recorded, open_workspace

__all__ = ["get_run", "list_runs", "load_artifact"]


def get_run(run_id: str, *, settings: Settings | None = None, trust: bool | None = None) -> Run:
    """The run with this id (or unique prefix, or "latest")."""
    ws = open_workspace(settings)
    meta = ws.metadata
    record = meta.get_run(meta.resolve_run_id(run_id))
    steps = tuple(meta.step_runs(record.id))
    trusted = ws.settings.trust_pickle if trust is None else trust
    return Run(record, steps, record.outputs, lambda aid: load_recorded(ws, aid, trust=trusted))


def list_runs(
    pipeline: str | None = None, limit: int = 20, *, settings: Settings | None = None
) -> list[Any]:
    """The latest runs' records, newest first."""
    return open_workspace(settings).metadata.list_runs(pipeline, limit)


def load_artifact(
    artifact_id: str, *, settings: Settings | None = None, trust: bool | None = None
) -> Any:
    """Load an artifact's value by id (or unique prefix), verifying its content hash."""
    ws = open_workspace(settings)
    full = ws.metadata.resolve_artifact_id(artifact_id)
    return load_recorded(ws, full, trust=ws.settings.trust_pickle if trust is None else trust)
