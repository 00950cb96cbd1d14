"""Read-only views of stored facts, handed to the runner, the CLI and users."""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = [
    "ArtifactRecord",
    "AttemptRecord",
    "LineageEdge",
    "MetricRecord",
    "Reusable",
    "RunRecord",
    "StepFacts",
    "StepRunRecord",
]


@dataclasses.dataclass(frozen=True)
class RunRecord:
    id: str
    pipeline: str
    pipeline_version: str
    status: str  # running | succeeded | failed | interrupted
    params: dict[str, Any]
    cache: bool
    started_at: float
    ended_at: float | None = None
    duration_s: float | None = None
    error: str | None = None
    outputs: dict[str, str] = dataclasses.field(default_factory=dict)
    host: str | None = None
    pid: int | None = None
    git_commit: str | None = None
    git_dirty: str | None = None
    python_version: str | None = None
    packages: dict[str, str] = dataclasses.field(default_factory=dict)
    source_file: str | None = None
    pipeline_ref: str | None = None
    resumed_from: str | None = None
    heartbeat_at: float | None = None
    environment_id: str | None = None  # the full package list: `MetadataStore.environment()`
    running: list[str] = dataclasses.field(default_factory=list)  # steps busy for a while


@dataclasses.dataclass(frozen=True)
class StepRunRecord:
    """One node of one run. `status`: succeeded | failed | skipped | cached steps succeed too."""

    id: str
    run_id: str
    name: str
    step: str
    position: int
    status: str
    cached: bool
    cache_key: str | None = None
    origin_id: str | None = None
    started_at: float | None = None
    ended_at: float | None = None
    duration_s: float | None = None
    attempts: int = 0
    seed: int | None = None
    error_type: str | None = None
    error_message: str | None = None
    traceback: str | None = None
    stdout: str | None = None
    stderr: str | None = None
    inputs: dict[str, str] = dataclasses.field(default_factory=dict)  # argument → artifact id
    outputs: dict[str, str] = dataclasses.field(default_factory=dict)  # output → artifact id
    arguments: dict[str, Any] = dataclasses.field(default_factory=dict)  # literal → JSON value


@dataclasses.dataclass(frozen=True)
class ArtifactRecord:
    id: str
    type_name: str
    materializer: str
    materializer_version: int
    safe: bool
    size: int
    uri: str
    summary: dict[str, Any]
    producer_id: str | None
    created_at: float


@dataclasses.dataclass(frozen=True)
class MetricRecord:
    run_id: str
    step_run_id: str
    name: str
    value: float
    step: int | None
    logged_at: float


@dataclasses.dataclass(frozen=True)
class LineageEdge:
    """`artifact` went `direction` ("in" or "out") of the step run `step_run_id` as `name`."""

    step_run_id: str
    run_id: str
    node: str
    direction: str
    name: str
    artifact_id: str


@dataclasses.dataclass(frozen=True)
class AttemptRecord:
    """One call of a step's function: retries make several."""

    attempt: int
    status: str  # succeeded | failed | timed_out
    started_at: float
    ended_at: float
    error_type: str | None = None
    error_message: str | None = None


@dataclasses.dataclass(frozen=True)
class StepFacts:
    """Everything recorded when a step run finishes, written in one transaction."""

    step_run: StepRunRecord
    artifacts: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    metrics: list[tuple[str, float, int | None]] = dataclasses.field(default_factory=list)
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    cache_outputs: dict[str, Any] | None = None
    attempts: list[AttemptRecord] = dataclasses.field(default_factory=list)
    # a cache hit: whether its origin logged metrics or params worth copying (skips a query if not)
    inherit: bool = True


@dataclasses.dataclass(frozen=True)
class Reusable:
    """A step that succeeded in an earlier run: what `resume` may reuse if the key still matches."""

    step_run_id: str
    cache_key: str | None
    outputs: dict[str, dict[str, Any]]  # output → {"id", "m", "v"}
