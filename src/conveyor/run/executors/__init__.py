"""Executors run tasks: in-process (default), and later process pools and Ray."""

from conveyor.run.executors.base import Executor
from conveyor.run.executors.local import LocalExecutor

__all__ = ["Executor", "LocalExecutor"]
