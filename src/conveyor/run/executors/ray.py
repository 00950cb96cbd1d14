"""Each step as a Ray task, on a Ray cluster (`conveyor[ray]`).

A task asks Ray for the step's resources (CPUs, GPUs, memory) and carries its payload with
cloudpickle. Retries and timeouts keep their meaning — they happen inside the task, as locally.
A worker or node that dies mid-step is Ray's to retry (`max_retries`); the task is idempotent
(content-addressed outputs), so running it again is safe. The artifact store must be reachable
from every node: a shared path, or object storage (`CONVEYOR_ARTIFACTS=s3://...`).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import threading
from concurrent.futures import Future
from typing import Any

from conveyor.core.step import Resources
from conveyor.exceptions import ConfigError
from conveyor.run.executors.process import _by_value
from conveyor.run.task import Task, TaskResult

__all__ = ["RayExecutor"]

#: how many times Ray runs a task again when its worker process or node dies
SYSTEM_RETRIES = 3


def _run_on_ray(payload: bytes, path: list[str]) -> TaskResult:
    import cloudpickle

    for entry in reversed(path):
        if entry not in sys.path and os.path.isdir(entry):
            sys.path.insert(0, entry)
    from conveyor.run import task as task_module

    if task_module.WORKER_MEMO is None:
        task_module.WORKER_MEMO = task_module.WorkerMemo()
    task: Task = cloudpickle.loads(payload)
    result = task()
    result.outputs = {}
    return result


class RayExecutor:
    """Submits tasks to Ray: `address` "auto", "ray://host:port", or None (start one locally)."""

    in_process = False

    def __init__(self, address: str | None = None, max_in_flight: int | None = None) -> None:
        try:
            import ray
        except ImportError:
            raise ConfigError("the ray executor needs Ray: pip install 'conveyor[ray]'") from None
        self._ray = ray
        if not ray.is_initialized():
            ray.init(
                address=address,
                ignore_reinit_error=True,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )
        self._remote = ray.remote(_run_on_ray)
        total = ray.cluster_resources().get("CPU", 1.0)
        self.max_in_flight = max_in_flight or max(1, int(total) * 2)
        self._lock = threading.Lock()
        self._running = 0

    def can_submit(self, resources: Resources | None = None) -> bool:
        with self._lock:
            return self._running < self.max_in_flight  # Ray's scheduler places by resources

    def submit(self, task: Task) -> Future[TaskResult]:
        import cloudpickle

        _by_value(task.node.step.fn)
        payload = cloudpickle.dumps(dataclasses.replace(task, sync=None))
        need = task.node.step.resources or Resources()
        options: dict[str, Any] = {
            "num_cpus": need.cpu,
            "max_retries": SYSTEM_RETRIES,
            "retry_exceptions": False,  # a step's own retries happen inside the task
        }
        if need.gpu:
            options["num_gpus"] = need.gpu
        if need.memory:
            options["memory"] = need.memory
        ref = self._remote.options(**options).remote(payload, list(sys.path))
        with self._lock:
            self._running += 1
        outer: Future[TaskResult] = Future()
        inner = ref.future()

        def done(future: Future[TaskResult]) -> None:
            with self._lock:
                self._running -= 1
            error = future.exception()
            if error is None:
                outer.set_result(future.result())
            else:
                outer.set_result(_lost(error))

        inner.add_done_callback(done)
        return outer

    def shutdown(self) -> None:
        return None  # the cluster belongs to its operator; ray.shutdown() is theirs to call


def _lost(error: BaseException) -> TaskResult:
    import time

    now = time.time()
    return TaskResult(
        status="failed",
        started_at=now,
        ended_at=now,
        error_type=f"Ray{type(error).__name__}",
        error_message=f"the Ray task failed after {SYSTEM_RETRIES} retries: {error}",
    )
