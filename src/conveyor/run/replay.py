"""Continue or re-execute a recorded run: `resume` and `reproduce`.

Both load the pipeline from the `file.py:name` reference the run recorded and use its parameters.
`resume` reuses every step that succeeded (if its code and inputs are unchanged) and executes the
rest; `reproduce` executes everything again, without the cache, and compares each output's content
hash with the original's, step by step.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from conveyor.config import Settings
from conveyor.exceptions import PipelineLoadError, RunStateError
from conveyor.metadata.records import RunRecord
from conveyor.run.events import RunObserver
from conveyor.run.loading import load_pipeline
from conveyor.run.runner import run_pipeline
from conveyor.run.views import Run
from conveyor.workspace import open_workspace

__all__ = ["Reproduction", "StepComparison", "reproduce", "resume"]


def _original(run_id: str, settings: Settings | None) -> tuple[RunRecord, Any]:
    meta = open_workspace(settings).metadata
    record = meta.get_run(meta.resolve_run_id(run_id))
    if not record.pipeline_ref:
        raise PipelineLoadError(f"run {record.id[:12]} did not record where its pipeline lives")
    return record, load_pipeline(record.pipeline_ref)


def resume(
    run_id: str,
    *,
    settings: Settings | None = None,
    observer: RunObserver | None = None,
    trust: bool | None = None,
    executor: Any = None,
) -> Run:
    """Continue a failed or interrupted run: same parameters, completed steps reused."""
    record, pipeline = _original(run_id, settings)
    if record.status in ("succeeded", "running"):
        raise RunStateError(
            f"run {record.id[:12]} is {record.status}; only failed or interrupted runs resume"
        )
    return run_pipeline(
        pipeline,
        dict(record.params),
        settings=settings,
        observer=observer,
        trust=trust,
        resume=record.id,
        executor=executor,
    )


@dataclasses.dataclass(frozen=True)
class StepComparison:
    name: str
    original: dict[str, str]  # output → artifact id
    reproduced: dict[str, str]

    @property
    def matches(self) -> bool:
        return self.original == self.reproduced


@dataclasses.dataclass(frozen=True)
class Reproduction:
    original: RunRecord
    run: Run
    steps: tuple[StepComparison, ...]
    code_changed: bool

    @property
    def reproducible(self) -> bool:
        return self.run.status == "succeeded" and all(s.matches for s in self.steps)

    @property
    def first_difference(self) -> str | None:
        return next((s.name for s in self.steps if not s.matches), None)


def reproduce(
    run_id: str,
    *,
    settings: Settings | None = None,
    observer: RunObserver | None = None,
    trust: bool | None = None,
) -> Reproduction:
    """Re-execute a run without the cache and compare every step's outputs bit for bit."""
    record, pipeline = _original(run_id, settings)
    meta = open_workspace(settings).metadata
    before = {s.name: s.outputs for s in meta.step_runs(record.id) if s.status == "succeeded"}
    new = run_pipeline(
        pipeline,
        dict(record.params),
        cache=False,
        settings=settings,
        observer=observer,
        trust=trust,
    )
    fresh = meta.get_run(new.id)
    comparisons = tuple(
        StepComparison(step.name, before.get(step.name, {}), dict(step.outputs))
        for step in new.steps
    )
    changed = (fresh.git_commit, fresh.git_dirty) != (record.git_commit, record.git_dirty)
    return Reproduction(record, new, comparisons, changed)
