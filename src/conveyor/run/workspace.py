"""A workspace binds the two stores and the materializers a run uses, from `Settings`."""

from __future__ import annotations

import dataclasses
import threading

from conveyor.artifacts.materializers import MaterializerRegistry, default_registry
from conveyor.artifacts.store import ArtifactStore
from conveyor.config import Settings
from conveyor.metadata.store import MetadataStore

__all__ = ["Workspace", "open_workspace"]


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
                materializers=default_registry(),
            )
        return found


def close_workspaces() -> None:
    """Close every open metadata connection (tests and long-lived processes)."""
    with _LOCK:
        for workspace in _OPEN.values():
            workspace.metadata.close()
        _OPEN.clear()
