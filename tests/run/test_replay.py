"""Seeds, partial runs, `resume` and `reproduce`."""

from __future__ import annotations

import collections
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import conveyor as cv
from conveyor.exceptions import GraphError, RunStateError
from conveyor.run.runner import run_pipeline

from . import _steps

Calls = collections.Counter[str]


@pytest.fixture
def reloads() -> Iterator[None]:
    """`resume`/`reproduce` import the pipeline's file again; forget those imports afterwards."""
    path = list(sys.path)
    yield
    sys.path[:] = path
    for name in [n for n in sys.modules if n == "_steps" or n.startswith("conveyor_user_")]:
        del sys.modules[name]


# -- seeds ---------------------------------------------------------------------------------------


def test_each_step_is_seeded_deterministically(project: Path) -> None:
    first = _steps.seed_report.run(x=1, cache=False)
    second = _steps.seed_report.run(x=1, cache=False)
    assert first.output() == second.output()
    step = first.step("seeded")
    assert first.output()[0] == step.seed
    other = _steps.seed_report.run(x=2, cache=False)
    assert other.step("seeded").seed != step.seed
    assert other.output()[1] != first.output()[1]


def test_seed_outside_a_run_is_the_default() -> None:
    assert isinstance(cv.seed(), int)
    assert cv.seed() == cv.seed()


# -- partial runs --------------------------------------------------------------------------------


def test_from_a_step_runs_it_and_downstream_with_upstream_from_cache(
    project: Path, calls: Calls
) -> None:
    _steps.two_branches.run()
    calls.clear()
    # as `conveyor run --from double --no-cache`: the selection executes, upstream is reused
    run = run_pipeline(_steps.two_branches, {}, from_step="double", cache=False)
    assert {s.name: s.cached for s in run.steps} == {
        "source": True,
        "inc": True,
        "double": False,
        "add": False,
    }
    assert dict(calls) == {"double": 1, "add": 1}
    assert run.output() == 22


def test_from_a_step_with_the_cache_on_reuses_unchanged_selected_steps(
    project: Path, calls: Calls
) -> None:
    _steps.two_branches.run()
    calls.clear()
    run = run_pipeline(_steps.two_branches, {}, from_step="double")
    assert all(s.cached for s in run.steps)
    assert sum(calls.values()) == 0


def test_to_a_step_runs_only_what_it_needs(project: Path, calls: Calls) -> None:
    run = run_pipeline(_steps.two_branches, {}, to_step="inc")
    assert [s.name for s in run.steps] == ["source", "inc"]
    assert dict(calls) == {"source": 1, "inc": 1}
    assert run.status == "succeeded"


def test_from_a_step_without_cached_upstream_fails_clearly(project: Path, calls: Calls) -> None:
    run = run_pipeline(_steps.two_branches, {}, from_step="add")
    assert run.status == "failed"
    statuses = {s.name: s.status for s in run.steps}
    assert statuses == {"source": "failed", "inc": "skipped", "double": "failed", "add": "skipped"}
    assert "cache" in (run.step("source").error_message or "")
    assert sum(calls.values()) == 0


def test_unknown_selection_names_the_steps(project: Path) -> None:
    with pytest.raises(GraphError, match="'nope'"):
        run_pipeline(_steps.two_branches, {}, from_step="nope")


# -- resume and reproduce ----------------------------------------------------------------------


def test_resume_reuses_the_steps_that_succeeded(project: Path, reloads: None) -> None:
    _steps.FAIL["flaky"] = 1
    failed = _steps.failing_branch.run(x=2)
    assert failed.status == "failed"
    resumed = cv.resume(failed.id[:10])
    assert resumed.status == "succeeded"
    assert resumed.record.resumed_from == failed.id
    assert resumed.params == {"x": 2}
    assert {s.name: s.cached for s in resumed.steps} == {
        "flaky": False,
        "inc": False,
        "double": True,
    }
    assert resumed.step("double").outputs == failed.step("double").outputs


def test_a_succeeded_run_cannot_be_resumed(project: Path, reloads: None) -> None:
    run = _steps.two_branches.run()
    with pytest.raises(RunStateError, match=run.id[:12]):
        cv.resume(run.id)


def test_a_deterministic_run_reproduces(project: Path, reloads: None) -> None:
    run = _steps.two_branches.run(a=3)
    result = cv.reproduce(run.id)
    assert result.reproducible
    assert result.first_difference is None
    assert result.run.params == {"a": 3, "b": 10}
    assert all(not s.cached for s in result.run.steps)


def test_a_seeded_random_step_reproduces(project: Path, reloads: None) -> None:
    run = _steps.random_draw.run(x=1)
    result = cv.reproduce(run.id)
    assert result.reproducible, [(s.name, s.original, s.reproduced) for s in result.steps]
