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
#: seconds the cluster's node list is trusted before it is read again (nodes come and go)
NODES_TTL = 10.0
#: attempts at a Ray Client (ray://) connection. The client server on the head forks one server
#: per client, and now and then that fork dies at birth (a gRPC race inside Ray,
#: ray-project/ray#63202); the next attempt gets a fresh one.
CLIENT_ATTEMPTS = 3


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


def _connect(ray: Any, address: str | None) -> None:
    """Join (or, with no address, start) the cluster; a clear error when it cannot be reached."""
    import time

    attempts = CLIENT_ATTEMPTS if address and address.startswith("ray://") else 1
    for attempt in range(1, attempts + 1):
        try:
            ray.init(
                address=address,
                ignore_reinit_error=True,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )
            return
        except ConnectionError as error:
            # Aborted: the head answered but its server for this client failed; worth another
            # try. Anything else (nothing listening, a timeout) would only fail again, slowly.
            if attempt == attempts or not isinstance(error, ConnectionAbortedError):
                where = f"at {address}" if address else "started here"
                raise ConfigError(f"cannot connect to the Ray cluster {where}: {error}") from None
            time.sleep(0.5 * attempt)


class RayExecutor:
    """Submits tasks to Ray: `address` "auto", "ray://host:port", or None (start one locally).

    A step asking for more than any live node has fails at once, naming what is missing: Ray
    itself would hold such a task forever. On an autoscaling cluster, where a node that fits may
    still come, pass `wait_for_nodes=True` to leave the task to Ray's scheduler.
    """

    in_process = False

    def __init__(
        self,
        address: str | None = None,
        max_in_flight: int | None = None,
        *,
        wait_for_nodes: bool = False,
    ) -> None:
        try:
            import ray
        except ImportError:
            raise ConfigError("the ray executor needs Ray: pip install 'conveyor[ray]'") from None
        self._ray = ray
        if not ray.is_initialized():
            _connect(ray, address)
        self._remote = ray.remote(_run_on_ray)
        total = ray.cluster_resources().get("CPU", 1.0)
        self.max_in_flight = max_in_flight or max(1, int(total) * 2)
        self._lock = threading.Lock()
        self._running = 0
        self._wait_for_nodes = wait_for_nodes
        self._nodes: list[dict[str, float]] = []
        self._nodes_read = -NODES_TTL

    def _node_resources(self) -> list[dict[str, float]]:
        import time

        if time.monotonic() - self._nodes_read > NODES_TTL:
            self._nodes = [
                dict(node.get("Resources", {})) for node in self._ray.nodes() if node.get("Alive")
            ]
            self._nodes_read = time.monotonic()
        return self._nodes

    def _infeasible(self, step: str, need: Resources) -> str | None:
        """Why no live node can run a task needing `need`, or None when one can."""
        wanted = {"CPU": need.cpu, "GPU": need.gpu, "memory": float(need.memory)}
        wanted = {key: amount for key, amount in wanted.items() if amount > 0}
        if self._wait_for_nodes or not wanted:
            return None  # no need to ask the cluster for its nodes
        nodes = self._node_resources()
        if any(all(node.get(k, 0.0) >= v for k, v in wanted.items()) for node in nodes):
            return None
        largest = {k: max((node.get(k, 0.0) for node in nodes), default=0.0) for k in wanted}
        asked = ", ".join(f"{_label(k)}={_amount(k, v)}" for k, v in wanted.items())
        has = ", ".join(f"{_label(k)}={_amount(k, v)}" for k, v in largest.items())
        return (
            f"step {step!r} asks Ray for {asked}, more than any of the cluster's "
            f"{len(nodes)} live node(s) has (the largest: {has}); lower the step's resources, "
            "add a node that fits, or on an autoscaling cluster use wait_for_nodes=True"
        )

    def can_submit(self, resources: Resources | None = None) -> bool:
        with self._lock:
            return self._running < self.max_in_flight  # Ray's scheduler places by resources

    def submit(self, task: Task) -> Future[TaskResult]:
        import cloudpickle

        _by_value(task.node.step.fn)
        payload = cloudpickle.dumps(dataclasses.replace(task, sync=None))
        need = task.node.step.resources or Resources()
        infeasible = self._infeasible(task.node.name, need)
        if infeasible is not None:
            refused: Future[TaskResult] = Future()
            refused.set_result(TaskResult.failure("InfeasibleResources", infeasible))
            return refused
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


def _label(resource: str) -> str:
    return {"CPU": "cpu", "GPU": "gpu"}.get(resource, resource)


def _amount(resource: str, value: float) -> str:
    if resource == "memory":
        return f"{value / 2**30:.1f}GiB"
    return f"{value:g}"


def _lost(error: BaseException) -> TaskResult:
    return TaskResult.failure(
        f"Ray{type(error).__name__}", f"the Ray task failed after {SYSTEM_RETRIES} retries: {error}"
    )
