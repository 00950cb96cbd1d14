"""A workspace binds the two stores and the materializers, from `Settings`: what the runner, the
registry and the commands above them work on."""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

from conveyor.artifacts.materializers import MaterializerRegistry, default_registry, trusting
from conveyor.artifacts.store import ArtifactStore
from conveyor.artifacts.values import load_value
from conveyor.config import Settings
from conveyor.metadata.store import MetadataStore

__all__ = ["Workspace", "close_workspaces", "load_recorded", "open_workspace"]


@dataclasses.dataclass(frozen=True)
class Workspace:
    settings: Settings
    artifacts: ArtifactStore
    metadata: MetadataStore
    materializers: MaterializerRegistry


_OPEN: dict[tuple[str, str], Workspace] = {}
_LOCK = threading.Lock()


def open_workspace(settings: Settings | None = None) -> Workspace:
    """The workspace for `settings` (default: `Settings.load()`), opened once per process."""
    settings = settings or Settings.load()
    key = (settings.db, settings.artifacts)
    with _LOCK:
        found = _OPEN.get(key)
        if found is None or found.settings != settings:
            metadata = found.metadata if found is not None else MetadataStore(settings.db)
            found = _OPEN[key] = Workspace(
                settings=settings,
                artifacts=ArtifactStore(settings.artifacts),
                metadata=metadata,
                materializers=trusting(default_registry(), settings.trusted_types),
            )
        return found


def load_recorded(ws: Workspace, artifact_id: str, *, trust: bool) -> Any:
    """Load a recorded artifact's value (verified; unsafe formats only when trusted)."""
    rec = ws.metadata.get_artifact(artifact_id)
    return load_value(
        rec.id,
        rec.materializer,
        rec.materializer_version,
        ws.artifacts,
        ws.materializers,
        trust=trust,
    )


def close_workspaces() -> None:
    """Close every open metadata connection (tests and long-lived processes)."""
    with _LOCK:
        for workspace in _OPEN.values():
            workspace.metadata.close()
        _OPEN.clear()
