"""Caching across runs: full hits, partial re-runs, opting out, and never serving lost bytes."""

from __future__ import annotations

import collections
from pathlib import Path

import pytest

import conveyor as cv
from conveyor.config import Settings
from conveyor.workspace import Workspace

from . import _steps

Calls = collections.Counter[str]


def _cached(run: cv.Run) -> dict[str, bool]:
    return {s.name: s.cached for s in run.steps}


def test_a_second_run_is_served_entirely_from_cache(project: Path, calls: Calls) -> None:
    first = _steps.two_branches.run()
    executed = dict(calls)
    assert executed == {"source": 1, "inc": 1, "double": 1, "add": 1}

    second = _steps.two_branches.run()
    assert dict(calls) == executed  # nothing ran again
    assert second.status == "succeeded"
    assert second.output() == first.output() == 22
    assert set(_cached(second).values()) == {True}
    for before, after in zip(first.steps, second.steps, strict=True):
        assert after.status == "succeeded"
        assert after.origin_id == before.id
        assert after.cache_key == before.cache_key
        assert after.outputs == before.outputs
        assert after.inputs == before.inputs
    assert second.output_ids == first.output_ids


def test_shapes_are_fully_cached_the_second_time(
    request: pytest.FixtureRequest, project: Path
) -> None:
    for shape in ("chain", "diamond", "fan_out_fan_in"):
        pipeline: cv.Pipeline = request.getfixturevalue(shape)
        first = pipeline.run()
        second = pipeline.run()
        assert all(s.cached for s in second.steps), shape
        assert second.output() == first.output()


def test_changing_a_parameter_reruns_only_the_steps_that_depend_on_it(
    project: Path, calls: Calls
) -> None:
    _steps.two_branches.run(a=1, b=10)
    calls.clear()
    run = _steps.two_branches.run(a=1, b=11)
    assert _cached(run) == {"source": True, "inc": True, "double": False, "add": False}
    assert dict(calls) == {"double": 1, "add": 1}
    assert run.output() == 24

    calls.clear()
    run = _steps.two_branches.run(a=2, b=11)
    assert _cached(run) == {"source": False, "inc": False, "double": True, "add": False}
    assert dict(calls) == {"source": 1, "inc": 1, "add": 1}
    assert run.output() == 25


def test_a_changed_step_whose_output_is_unchanged_lets_downstream_hit(
    project: Path, calls: Calls
) -> None:
    _steps.with_uncached.run(x=3)
    calls.clear()
    run = _steps.with_uncached.run(x=3)
    assert _cached(run) == {"always": False, "inc": True}
    assert dict(calls) == {"always": 1}


def test_step_with_cache_false_runs_every_time(project: Path, calls: Calls) -> None:
    for _ in range(3):
        run = _steps.with_uncached.run(x=1)
        assert run.output() == 2
    assert calls["always"] == 3
    assert calls["inc"] == 1


def test_run_with_cache_false_executes_every_step(project: Path, calls: Calls) -> None:
    _steps.two_branches.run()
    run = _steps.two_branches.run(cache=False)
    assert set(_cached(run).values()) == {False}
    assert dict(calls) == {"source": 2, "inc": 2, "double": 2, "add": 2}
    assert run.record.cache is False
    assert run.output() == 22


def test_a_run_without_cache_still_feeds_the_cache(project: Path, calls: Calls) -> None:
    _steps.two_branches.run(cache=False)
    run = _steps.two_branches.run()
    assert set(_cached(run).values()) == {True}
    assert calls["add"] == 1


def _delete_blob(workspace: Workspace, artifact_id: str) -> None:
    path = Path(workspace.settings.artifacts)
    (blob,) = [p for p in path.rglob(artifact_id) if p.is_file()]
    blob.unlink()


def test_a_lost_blob_is_recomputed_instead_of_served(
    project: Path, workspace: Workspace, calls: Calls
) -> None:
    first = _steps.two_branches.run()
    _delete_blob(workspace, first.step("double").outputs["output"])
    calls.clear()
    second = _steps.two_branches.run()
    assert second.status == "succeeded"
    cached = _cached(second)
    assert {k: cached[k] for k in ("source", "inc", "double")} == {
        "source": True,
        "inc": True,
        "double": False,
    }
    # `add` may re-run: its input's bytes were written anew, so the runner skips its cache query
    assert set(calls) <= {"double", "add"}
    assert calls["double"] == 1
    assert second.output() == first.output()
    assert workspace.artifacts.exists(second.step("double").outputs["output"])

    calls.clear()
    third = _steps.two_branches.run()
    assert set(_cached(third).values()) == {True}
    assert sum(calls.values()) == 0


def test_a_lost_intermediate_blob_is_recomputed_when_needed_downstream(
    project: Path, workspace: Workspace, calls: Calls
) -> None:
    first = _steps.two_branches.run(b=10)
    _delete_blob(workspace, first.step("inc").outputs["output"])
    calls.clear()
    second = _steps.two_branches.run(b=12)  # add must re-run, and reads inc's output
    assert second.status == "succeeded", [s.error_message for s in second.steps]
    assert second.output() == 26
    assert calls["inc"] == 1


def test_a_lost_pipeline_output_is_recomputed(
    project: Path, workspace: Workspace, calls: Calls
) -> None:
    first = _steps.two_branches.run()
    _delete_blob(workspace, first.output_ids["output"])
    calls.clear()
    from conveyor.workspace import close_workspaces

    close_workspaces()
    second = _steps.two_branches.run()
    assert second.output() == 22
    assert calls["add"] == 1


def test_cache_is_shared_between_pipelines_with_the_same_steps(project: Path, calls: Calls) -> None:
    @cv.pipeline
    def other(a: int = 1):
        return _steps.double(_steps.inc(_steps.source(a)))

    _steps.two_branches.run(a=1)
    calls.clear()
    run = other.run(a=1)
    assert _cached(run) == {"source": True, "inc": True, "double": False}
    assert run.output() == 4


def test_cache_hits_survive_a_new_process_view(
    project: Path, settings: Settings, calls: Calls
) -> None:
    from conveyor.workspace import close_workspaces

    _steps.two_branches.run()
    close_workspaces()
    run = _steps.two_branches.run(settings=Settings.load(project))
    assert set(_cached(run).values()) == {True}
    assert run.output() == 22  # loaded from the store, not from memory
