"""`pipeline.run()`: statuses, outputs and step records, on the shared DAG shapes."""

from __future__ import annotations

import collections
import threading
from pathlib import Path
from typing import Any

import pytest

import conveyor as cv
from conveyor.config import Settings
from conveyor.exceptions import ParameterError
from conveyor.metadata.records import RunRecord, StepRunRecord
from conveyor.workspace import Workspace

from . import _steps

HEX = set("0123456789abcdef")


def _assert_succeeded_step(step: cv.StepRun, run: cv.Run) -> None:
    assert step.status == "succeeded", (step.name, step.error_message)
    assert step.run_id == run.id
    assert len(step.cache_key or "") == 64
    assert step.outputs and all(len(a) == 64 and set(a) <= HEX for a in step.outputs.values())
    assert step.started_at is not None and step.ended_at is not None
    assert step.started_at <= step.ended_at
    assert step.duration_s is not None and step.duration_s >= 0
    assert step.error_type is None and step.error_message is None


@pytest.mark.parametrize(
    ("shape", "params", "expected", "names"),
    [
        ("chain", {}, 3, ["_inc", "_inc_1", "_inc_2"]),
        ("chain", {"x": 10, "n": 2}, 12, ["_inc", "_inc_1"]),
        ("diamond", {}, 5, ["_inc", "_inc_1", "_inc_2", "_add"]),
        ("diamond", {"x": 10}, 23, ["_inc", "_inc_1", "_inc_2", "_add"]),
        ("fan_out_fan_in", {}, 10, ["_inc", "_inc_1", "_inc_2", "_inc_3", "_total"]),
        ("fan_out_fan_in", {"n": 2, "x": 5}, 13, ["_inc", "_inc_1", "_total"]),
    ],
)
def test_shapes_run_to_their_outputs(
    request: pytest.FixtureRequest,
    project: Path,
    shape: str,
    params: dict[str, int],
    expected: int,
    names: list[str],
) -> None:
    pipeline: cv.Pipeline = request.getfixturevalue(shape)
    run = pipeline.run(**params)
    assert run.status == "succeeded"
    assert run.succeeded
    assert run.error is None
    assert run.pipeline == shape
    assert run.output() == expected
    assert [s.name for s in run.steps] == names
    assert [s.position for s in run.steps] == list(range(len(names)))
    for step in run.steps:
        _assert_succeeded_step(step, run)
    assert run.duration_s is not None and run.duration_s >= 0
    assert len(run.id) == 32 and set(run.id) <= HEX


def test_run_records_parameters_with_defaults_and_coercion(project: Path) -> None:
    run = _steps.two_branches.run(a="4")
    assert run.params == {"a": 4, "b": 10}
    assert run.output() == 25


def test_step_records_link_inputs_to_upstream_outputs(project: Path) -> None:
    run = _steps.two_branches.run()
    src, inc, double, add = (run.step(n) for n in ("source", "inc", "double", "add"))
    assert inc.inputs == {"x": src.outputs["output"]}
    assert add.inputs == {"a": inc.outputs["output"], "b": double.outputs["output"]}
    assert run.output_ids == {"output": add.outputs["output"]}
    assert src.inputs == {}  # literals are not artifacts


def test_collections_of_outputs_are_recorded_per_item(
    fan_out_fan_in: cv.Pipeline, project: Path
) -> None:
    run = fan_out_fan_in.run(n=3)
    fan_in = run.step("_total")
    assert fan_in.inputs == {
        f"values[{i}]": run.step(name).outputs["output"]
        for i, name in enumerate(["_inc", "_inc_1", "_inc_2"])
    }


def test_the_recorded_run_matches_the_returned_one(project: Path, workspace: Workspace) -> None:
    run = _steps.two_branches.run()
    meta = workspace.metadata
    assert meta.get_run(run.id) == run.record
    assert meta.step_runs(run.id) == list(run.steps)
    record = meta.get_run(run.id)
    assert record.status == "succeeded"
    assert record.outputs == run.output_ids
    assert record.python_version and record.host and record.pid


def test_multi_output_steps_store_each_output(project: Path) -> None:
    run = _steps.with_bounds.run(x=5)
    assert run.outputs["low"] == 4
    assert run.outputs["high"] == 6
    assert run.output("sum") == 10
    assert dict(run.outputs) == {"low": 4, "high": 6, "sum": 10}
    assert set(run.step("bounds").outputs) == {"low", "high"}
    with pytest.raises(KeyError):
        run.output()
    with pytest.raises(KeyError):
        run.output("middle")
    with pytest.raises(KeyError):
        run.step("nope")


def test_invalid_parameters_fail_before_anything_is_recorded(
    project: Path, workspace: Workspace, calls: collections.Counter[str]
) -> None:
    with pytest.raises(ParameterError, match="two_branches"):
        _steps.two_branches.run(c=1)
    with pytest.raises(ParameterError, match="'a'"):
        _steps.two_branches.run(a="one")
    assert workspace.metadata.list_runs() == []
    assert sum(calls.values()) == 0


def test_params_mapping_for_names_that_clash_with_options(project: Path) -> None:
    @cv.pipeline
    def clashing(cache: int = 1):
        return _steps.inc(cache)

    assert clashing.run({"cache": 41}).output() == 42


def test_a_step_returning_the_wrong_number_of_outputs_fails_clearly(project: Path) -> None:
    @cv.step(outputs=("a", "b"))
    def lopsided(x: int) -> tuple[int, int]:
        return (x,)  # type: ignore[return-value]

    @cv.pipeline
    def p(x: int = 1):
        return lopsided(x)

    run = p.run()
    step = run.step("lopsided")
    assert run.status == "failed"
    assert step.status == "failed"
    assert "'a'" in (step.error_message or "") and "'b'" in (step.error_message or "")


def test_a_step_returning_an_unstorable_value_fails_clearly(project: Path) -> None:
    @cv.step
    def make_lock(x: int) -> Any:
        return threading.Lock()

    @cv.pipeline
    def p(x: int = 1):
        return make_lock(x)

    run = p.run()
    step = run.step("make_lock")
    assert step.status == "failed"
    assert "output" in (step.error_message or "")
    assert run.output_ids == {}


def test_observer_sees_the_run_as_it_happens(project: Path) -> None:
    events: list[tuple[str, str]] = []

    class Recorder(cv.RunObserver):
        def run_started(self, run: RunRecord, graph: Any) -> None:
            events.append(("run_started", run.status))

        def step_started(self, name: str) -> None:
            events.append(("step_started", name))

        def step_finished(self, step: StepRunRecord) -> None:
            events.append(("step_finished", f"{step.name}:{step.status}:{step.cached}"))

        def run_finished(self, run: RunRecord) -> None:
            events.append(("run_finished", run.status))

    _steps.with_uncached.run(observer=Recorder())
    _steps.with_uncached.run(observer=Recorder())
    assert events == [
        ("run_started", "running"),
        ("step_started", "always"),
        ("step_finished", "always:succeeded:False"),
        ("step_started", "inc"),
        ("step_finished", "inc:succeeded:False"),
        ("run_finished", "succeeded"),
        ("run_started", "running"),
        ("step_started", "always"),
        ("step_finished", "always:succeeded:False"),
        ("step_finished", "inc:succeeded:True"),
        ("run_finished", "succeeded"),
    ]


def test_an_interrupted_run_is_recorded_as_interrupted(project: Path, workspace: Workspace) -> None:
    @cv.step
    def interrupt(x: int) -> int:
        raise KeyboardInterrupt

    @cv.pipeline
    def p(x: int = 1):
        return interrupt(_steps.inc(x))

    with pytest.raises(KeyboardInterrupt):
        p.run()
    (record,) = workspace.metadata.list_runs()
    assert record.status == "interrupted"
    assert [s.name for s in workspace.metadata.step_runs(record.id)] == ["inc"]


def test_runs_work_on_every_metadata_backend(
    backend_settings: Settings, calls: collections.Counter[str]
) -> None:
    first = _steps.two_branches.run(settings=backend_settings)
    second = _steps.two_branches.run(settings=backend_settings, b=11)
    assert (first.output(), second.output()) == (22, 24)
    assert [s.cached for s in second.steps] == [True, True, False, False]
    listed = cv.list_runs(settings=backend_settings)
    assert [r.id for r in listed] == [second.id, first.id]
    again = cv.get_run(first.id[:10], settings=backend_settings)
    assert again.output() == 22
