"""In-process, sequential execution: the default, and the test seam."""

from __future__ import annotations

from concurrent.futures import Future

from conveyor.core.step import Resources
from conveyor.run.task import Task, TaskResult

__all__ = ["LocalExecutor"]


class LocalExecutor:
    """Runs each task at once, in the calling thread."""

    in_process = True

    def submit(self, task: Task) -> Future[TaskResult]:
        future: Future[TaskResult] = Future()
        try:
            future.set_result(task())
        except BaseException as err:  # KeyboardInterrupt must reach the runner
            future.set_exception(err)
            if not isinstance(err, Exception):
                raise
        return future

    def can_submit(self, resources: Resources | None = None) -> bool:
        return True

    def shutdown(self) -> None:
        return None
