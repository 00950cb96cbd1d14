"""The executor protocol: four methods, as narrow as the runner needs."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Protocol, runtime_checkable

from conveyor.core.step import Resources
from conveyor.run.task import Task, TaskResult

__all__ = ["Executor"]


@runtime_checkable
class Executor(Protocol):
    """Runs tasks. The runner submits only while `can_submit()` and waits on the futures."""

    def submit(self, task: Task) -> Future[TaskResult]:
        """Start `task`; the future resolves to its result (a failed step is a result)."""
        ...

    def can_submit(self, resources: Resources | None = None) -> bool:
        """Whether a task needing `resources` (a step's `resources=`) may be submitted now."""
        ...

    def shutdown(self) -> None:
        """Release workers; pending tasks are cancelled."""
        ...

    @property
    def in_process(self) -> bool:
        """True when tasks run in the runner's process (outputs stay in memory)."""
        ...
