"""One step's work: load inputs → call the function → save outputs. No metadata is written here.

A `Task` is everything an executor needs to run one node; it returns a `TaskResult` that the runner
records. Inputs arrive as values when they were computed in this process, or as `Stored` markers
that the task loads (and verifies) from the artifact store. Each call is seeded, captured and, when
the step has a timeout, made in a child process that can be killed.
"""

from __future__ import annotations

import dataclasses
import random
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from conveyor.artifacts.materializers import MaterializerRegistry
from conveyor.artifacts.store import ArtifactStore
from conveyor.artifacts.values import SavedArtifact, load_value, save_value
from conveyor.core.context import StepContext, step_context
from conveyor.core.graph import Node
from conveyor.exceptions import ConveyorError
from conveyor.metadata.records import AttemptRecord
from conveyor.run.capture import capture_step, routed_output
from conveyor.run.isolation import StepTimeout, call_in_child, qualname

__all__ = ["Stored", "Task", "TaskResult", "WorkerMemo"]


class WorkerMemo:
    """Values a worker process produced recently, by artifact id (a small LRU)."""

    def __init__(self, size: int = 32) -> None:
        import collections

        self.size = size
        self._values: collections.OrderedDict[str, Any] = collections.OrderedDict()

    def get(self, artifact_id: str) -> Any:
        value = self._values.get(artifact_id, _MISSING)
        if value is not _MISSING:
            self._values.move_to_end(artifact_id)
        return value

    def put(self, artifact_id: str, value: Any) -> None:
        self._values[artifact_id] = value
        self._values.move_to_end(artifact_id)
        while len(self._values) > self.size:
            self._values.popitem(last=False)


_MISSING = object()
#: set in worker processes of parallel executors; None in the runner's own process
WORKER_MEMO: WorkerMemo | None = None


@dataclasses.dataclass(frozen=True)
class Stored:
    """An input that must be read from the artifact store."""

    artifact_id: str
    materializer: str
    version: int


@dataclasses.dataclass
class TaskResult:
    status: str  # "succeeded" | "failed" | "timed_out"
    started_at: float
    ended_at: float
    attempts: list[AttemptRecord] = dataclasses.field(default_factory=list)
    seed: int | None = None
    outputs: dict[str, Any] = dataclasses.field(default_factory=dict)
    saved: dict[str, SavedArtifact] = dataclasses.field(default_factory=dict)
    metrics: list[tuple[str, float, int | None]] = dataclasses.field(default_factory=list)
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    stdout: str = ""
    stderr: str = ""
    error_type: str | None = None
    error_message: str | None = None
    traceback: str | None = None

    @property
    def duration_s(self) -> float:
        return self.ended_at - self.started_at

    @classmethod
    def failure(cls, error_type: str, message: str) -> TaskResult:
        """A task that failed before or outside the step's own code (its executor's doing)."""
        now = time.time()
        return cls(
            status="failed",
            started_at=now,
            ended_at=now,
            error_type=error_type,
            error_message=message,
        )


class _StepError(Exception):
    """A failure of Conveyor's own part of the task (inputs, outputs), worded for the user."""


@dataclasses.dataclass
class Task:
    run_id: str
    node: Node
    inputs: Mapping[str, Any]
    store: ArtifactStore
    registry: MaterializerRegistry
    trust: bool = False
    seed: int = 0
    live_log: Path | None = None
    input_ids: Mapping[str, str] = dataclasses.field(default_factory=dict)
    settings: Any = None
    sync: Callable[[], None] | None = None

    def __call__(self) -> TaskResult:
        started = time.time()
        ctx = StepContext(
            run_id=self.run_id,
            node=self.node.name,
            seed=self.seed,
            inputs=self.input_ids,
            settings=self.settings,
            sync=self.sync,
        )
        result = TaskResult(status="failed", started_at=started, ended_at=started, seed=self.seed)
        # routed_output: in a worker process (process or Ray executor) nothing else installs
        # the routers, and what the step prints would reach the terminal but not its record
        with routed_output(), capture_step(self.live_log) as captured, step_context(ctx):
            try:
                kwargs = {name: self._resolve(name, value) for name, value in self.inputs.items()}
                returned = self._call_with_retries(kwargs, ctx, result)
                result.outputs = self._split(returned)
                result.saved = {n: self._save(n, v) for n, v in result.outputs.items()}
                result.status = "succeeded"
            except StepTimeout as err:
                result.status = "timed_out"
                result.error_type, result.error_message = "StepTimeout", str(err)
            except Exception as err:
                result.error_type = (
                    "ConveyorError" if isinstance(err, _StepError) else qualname(err)
                )
                result.error_message = str(err)
                if not isinstance(err, _StepError) and result.traceback is None:
                    result.traceback = traceback.format_exc()
        out, err_text = captured.text()
        result.stdout, result.stderr = result.stdout + out, result.stderr + err_text
        result.metrics += [(m.name, m.value, m.step) for m in ctx.metrics]
        result.params.update(ctx.params)
        result.ended_at = time.time()
        if result.status != "succeeded":
            result.outputs, result.saved = {}, {}
        return result

    def _call_with_retries(
        self, kwargs: dict[str, Any], ctx: StepContext, result: TaskResult
    ) -> Any:
        step = self.node.step
        while True:
            attempt = len(result.attempts) + 1
            began = time.time()
            try:
                value = self._call(kwargs, ctx, result)
            except Exception as err:
                status = "timed_out" if isinstance(err, StepTimeout) else "failed"
                result.attempts.append(
                    AttemptRecord(attempt, status, began, time.time(), qualname(err), str(err))
                )
                if attempt > step.retries:
                    raise
                time.sleep(step.retry_delay * 2 ** (attempt - 1))
                continue
            result.attempts.append(AttemptRecord(attempt, "succeeded", began, time.time()))
            return value

    def _call(self, kwargs: dict[str, Any], ctx: StepContext, result: TaskResult) -> Any:
        fn = self.node.step.fn
        random.seed(self.seed)
        if "numpy" in sys.modules:
            sys.modules["numpy"].random.seed(self.seed)
        if self.node.step.timeout is None:
            return fn(**kwargs)
        outcome = call_in_child(fn, kwargs, ctx, self.node.step.timeout)
        result.stdout += outcome.stdout
        result.stderr += outcome.stderr
        ctx.metrics.extend(outcome.metrics)
        ctx.params.update(outcome.params)
        if not outcome.ok:
            result.traceback = outcome.traceback
            raise _ChildError(outcome.error_type or "Error", outcome.error_message or "")
        return outcome.value

    def _resolve(self, name: str, value: Any) -> Any:
        if isinstance(value, Stored):
            if WORKER_MEMO is not None:
                remembered = WORKER_MEMO.get(value.artifact_id)
                if remembered is not _MISSING:
                    return remembered
            try:
                return load_value(
                    value.artifact_id,
                    value.materializer,
                    value.version,
                    self.store,
                    self.registry,
                    trust=self.trust,
                )
            except ConveyorError as err:
                raise _StepError(f"input {name!r}: {err}") from err
        if isinstance(value, list):
            return [self._resolve(name, v) for v in value]
        if isinstance(value, tuple):
            return tuple(self._resolve(name, v) for v in value)
        if isinstance(value, dict):
            return {k: self._resolve(name, v) for k, v in value.items()}
        return value

    def _split(self, returned: Any) -> dict[str, Any]:
        names = self.node.step.outputs
        if len(names) == 1:
            return {names[0]: returned}
        if isinstance(returned, Mapping):
            if set(returned) != set(names):
                raise _StepError(
                    f"returned a dict with keys {sorted(returned)} "
                    f"but declares outputs {list(names)}"
                )
            return {name: returned[name] for name in names}
        if isinstance(returned, (tuple, list)) and len(returned) == len(names):
            return dict(zip(names, returned, strict=True))
        got = (
            f"{len(returned)} values"
            if isinstance(returned, (tuple, list))
            else type(returned).__name__
        )
        raise _StepError(f"returned {got} but declares {len(names)} outputs {list(names)}")

    def _save(self, name: str, value: Any) -> SavedArtifact:
        try:
            saved = save_value(value, self.store, self.registry)
            if WORKER_MEMO is not None:
                WORKER_MEMO.put(saved.id, value)
            return saved
        except ConveyorError as err:
            raise _StepError(f"output {name!r} cannot be stored: {err}") from err
        except OSError as err:
            raise _StepError(
                f"output {name!r}: writing to the artifact store failed: {err}"
            ) from err


class _ChildError(Exception):
    """An exception raised by a step in its child process, carried back by type name."""

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(message)
        self.type_name = type_name
