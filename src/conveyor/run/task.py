"""One step's work: load inputs → call the function → save outputs. No metadata is written here.

A `Task` is everything an executor needs to run one node; it returns a `TaskResult` that the runner
records. Inputs arrive as values when they were computed in this process, or as `Stored` markers
that the task loads (and verifies) from the artifact store.
"""

from __future__ import annotations

import dataclasses
import time
import traceback
from collections.abc import Mapping
from typing import Any

from conveyor.artifacts.materializers import MaterializerRegistry
from conveyor.artifacts.store import ArtifactStore
from conveyor.artifacts.values import SavedArtifact, load_value, save_value
from conveyor.core.context import StepContext, step_context
from conveyor.core.graph import Node
from conveyor.exceptions import ConveyorError
from conveyor.run.capture import capture_step

__all__ = ["Stored", "Task", "TaskResult"]


@dataclasses.dataclass(frozen=True)
class Stored:
    """An input that must be read from the artifact store."""

    artifact_id: str
    materializer: str
    version: int


@dataclasses.dataclass
class TaskResult:
    status: str  # "succeeded" | "failed"
    started_at: float
    ended_at: float
    attempts: int
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

    def __call__(self) -> TaskResult:
        started = time.time()
        ctx = StepContext(run_id=self.run_id, node=self.node.name)
        attempts = 0
        with capture_step() as captured, step_context(ctx):
            try:
                kwargs = {name: self._resolve(name, value) for name, value in self.inputs.items()}
                step = self.node.step
                while True:
                    attempts += 1
                    try:
                        returned = step.fn(**kwargs)
                        break
                    except Exception:
                        if attempts > step.retries:
                            raise
                        time.sleep(step.retry_delay * 2 ** (attempts - 1))
                outputs = self._split(returned)
                saved = {name: self._save(name, value) for name, value in outputs.items()}
            except Exception as err:
                stdout, stderr = captured.text()
                own = isinstance(err, (_StepError, ConveyorError))
                return TaskResult(
                    status="failed",
                    started_at=started,
                    ended_at=time.time(),
                    attempts=attempts,
                    stdout=stdout,
                    stderr=stderr,
                    metrics=[(m.name, m.value, m.step) for m in ctx.metrics],
                    params=dict(ctx.params),
                    error_type="ConveyorError" if isinstance(err, _StepError) else _qualname(err),
                    error_message=str(err),
                    traceback=None
                    if own and isinstance(err, _StepError)
                    else traceback.format_exc(),
                )
        stdout, stderr = captured.text()
        return TaskResult(
            status="succeeded",
            started_at=started,
            ended_at=time.time(),
            attempts=attempts,
            outputs=outputs,
            saved=saved,
            metrics=[(m.name, m.value, m.step) for m in ctx.metrics],
            params=dict(ctx.params),
            stdout=stdout,
            stderr=stderr,
        )

    def _resolve(self, name: str, value: Any) -> Any:
        if isinstance(value, Stored):
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
            return save_value(value, self.store, self.registry)
        except ConveyorError as err:
            raise _StepError(f"output {name!r} cannot be stored: {err}") from err
        except OSError as err:
            raise _StepError(
                f"output {name!r}: writing to the artifact store failed: {err}"
            ) from err


def _qualname(err: BaseException) -> str:
    cls = type(err)
    return (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )
