"""Observers see a run as it happens (the CLI's live progress is one)."""

from __future__ import annotations

from conveyor.core.graph import Graph
from conveyor.metadata.records import RunRecord, StepRunRecord

__all__ = ["RunObserver"]


class RunObserver:
    """Override what you need; every hook is a no-op by default."""

    def run_started(self, run: RunRecord, graph: Graph) -> None: ...

    def step_started(self, name: str) -> None: ...

    def step_finished(self, step: StepRunRecord) -> None: ...

    def run_finished(self, run: RunRecord) -> None: ...
