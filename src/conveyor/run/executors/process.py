"""Independent steps in parallel processes on one machine.

Workers are not forked from the runner (it has threads): where the platform has it, they fork
from multiprocessing's fork server, a single-threaded process started once per interpreter with
Conveyor's task machinery already imported, so a run's pool is ready in milliseconds instead of
paying an interpreter start and Conveyor's imports per worker on every run; elsewhere they are
spawned. Either way they get the runner's `sys.path`, and import the pipeline's own modules
afresh for each run's pool, as they are now. Tasks travel with cloudpickle. Inputs
come through the artifact store, except that each worker keeps the values it produced recently
(`task.WorkerMemo`): a step whose input was made in the same worker takes it from memory instead
of reading and deserializing it again. Scheduling respects each step's `resources`: CPUs against
the number of workers, memory against the machine's. A worker that dies mid-step (killed, out of
memory) is replaced and its task run again, twice at most.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import sys
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from conveyor.core.step import Resources
from conveyor.run import task as task_module
from conveyor.run.task import Task, TaskResult

__all__ = ["ProcessExecutor"]

#: how many times a task whose worker died is run again
WORKER_DEATH_RETRIES = 2


#: what the fork server imports once, so that forked workers start with it
PRELOAD = ["conveyor.run.executors.process", "conveyor.artifacts.materializers", "cloudpickle"]


def _context() -> Any:
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)  # used when the server starts, once
        return context
    return multiprocessing.get_context("spawn")


def _init_worker(path: list[str], environ: dict[str, str]) -> None:
    # The fork server's environment is that of the moment it started: take the runner's now
    # (credentials, settings exported since), as a spawned worker would.
    os.environ.clear()
    os.environ.update(environ)
    for entry in reversed(path):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    task_module.WORKER_MEMO = task_module.WorkerMemo()


def _ready() -> None:
    return None


def _run(payload: bytes) -> TaskResult:
    import cloudpickle

    task: Task = cloudpickle.loads(payload)
    result = task()
    result.outputs = {}  # values stay in this worker (memo); the runner gets the artifact ids
    return result


def _total_memory() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 1 << 62


def _by_value(fn: Any) -> None:
    """Ship a pipeline file's functions by value: workers need not import the file as a module."""
    import cloudpickle

    module = sys.modules.get(getattr(fn, "__module__", "") or "")
    if module is None or module.__name__ == "__main__" or module.__name__.startswith("conveyor."):
        return
    file = getattr(module, "__file__", "") or ""
    if "site-packages" in file or "dist-packages" in file or not file:
        return
    cloudpickle.register_pickle_by_value(module)


class ProcessExecutor:
    """Runs tasks in `workers` processes (default: one per CPU)."""

    in_process = False

    def __init__(self, workers: int | None = None, memory: int | None = None) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.memory = memory or _total_memory()
        self._lock = threading.Lock()
        self._cpu = 0.0
        self._memory = 0
        self._running = 0
        self._closed = False
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        pool = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=_context(),
            initializer=_init_worker,
            initargs=(list(sys.path), dict(os.environ)),
        )
        # Start every worker now (the pool starts one per submitted task otherwise): spawning and
        # importing take ~0.1-0.5 s, better spent while the runner traces and opens its stores.
        for _ in range(self.workers):
            pool.submit(_ready)
        return pool

    def can_submit(self, resources: Resources | None = None) -> bool:
        need = resources or Resources()
        with self._lock:
            if self._running == 0:
                return True  # a task larger than the budget still runs, alone
            return (
                self._running < self.workers
                and self._cpu + max(need.cpu, 0.0) <= self.workers
                and self._memory + need.memory <= self.memory
            )

    def submit(self, task: Task) -> Future[TaskResult]:
        import cloudpickle

        _by_value(task.node.step.fn)
        payload = cloudpickle.dumps(dataclasses.replace(task, sync=None))
        need = task.node.step.resources or Resources()
        with self._lock:
            self._running += 1
            self._cpu += need.cpu
            self._memory += need.memory
        outer: Future[TaskResult] = Future()
        self._attempt(payload, outer, need, WORKER_DEATH_RETRIES)
        return outer

    def _attempt(
        self, payload: bytes, outer: Future[TaskResult], need: Resources, retries: int
    ) -> None:
        pool = self._pool
        try:
            inner = pool.submit(_run, payload)
        except (BrokenProcessPool, RuntimeError):  # broke since, or replaced by another task
            pool = self._replace_pool(pool)
            inner = pool.submit(_run, payload)

        def done(future: Future[TaskResult]) -> None:
            if future.cancelled():  # shut down before it started
                self._release(need)
                outer.cancel()
                return
            error = future.exception()
            if isinstance(error, BrokenProcessPool) and retries > 0 and not self._closed:
                self._replace_pool(pool)
                self._attempt(payload, outer, need, retries - 1)
                return
            self._release(need)
            if error is None:
                outer.set_result(future.result())
            elif isinstance(error, BrokenProcessPool):
                outer.set_result(_died(error))
            else:
                outer.set_exception(error)

        inner.add_done_callback(done)

    def _replace_pool(self, broken: ProcessPoolExecutor) -> ProcessPoolExecutor:
        """The pool to use instead of `broken`: every task of a broken pool fails with it, and
        each asks; only the first replaces it (the others must not shut the new one down)."""
        with self._lock:
            if self._pool is broken:
                self._pool = self._new_pool()
            pool = self._pool
        broken.shutdown(wait=False, cancel_futures=False)
        return pool

    def _release(self, need: Resources) -> None:
        with self._lock:
            self._running -= 1
            self._cpu -= need.cpu
            self._memory -= need.memory

    def shutdown(self) -> None:
        self._closed = True
        # Idle workers exit on their own; waiting for that would only delay the run's return.
        self._pool.shutdown(wait=self._running > 0, cancel_futures=True)


def _died(error: BaseException) -> TaskResult:
    return TaskResult.failure(
        "WorkerDied",
        f"the worker process died while running the step ({error}); "
        f"it was run {WORKER_DEATH_RETRIES + 1} times",
    )
