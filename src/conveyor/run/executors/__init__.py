"""Executors run tasks: in-process (the default), a process pool, or Ray."""

from __future__ import annotations

from typing import Any

from conveyor.exceptions import ParameterError
from conveyor.run.executors.base import Executor
from conveyor.run.executors.local import LocalExecutor

__all__ = ["EXECUTORS", "Executor", "LocalExecutor", "make_executor"]

EXECUTORS = ("local", "process", "ray")


def make_executor(
    spec: str | Executor | None = None,
    *,
    workers: int | None = None,
    ray_address: str | None = None,
) -> Executor:
    """An executor by name (`local`, `process`, `ray`), or `spec` itself if it is one."""
    if spec is None or spec == "local":
        return LocalExecutor()
    if not isinstance(spec, str):
        return spec
    if spec == "process":
        from conveyor.run.executors.process import ProcessExecutor

        return ProcessExecutor(workers)
    if spec == "ray":
        from conveyor.run.executors.ray import RayExecutor

        return RayExecutor(address=ray_address, max_in_flight=workers)
    raise ParameterError(f"executor {spec!r}: choose one of {list(EXECUTORS)}")


def describe(executor: Any) -> str:
    return type(executor).__name__
