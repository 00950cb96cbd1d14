"""What a step run records besides its outputs: printed output, metrics and params."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import conveyor as cv
from conveyor.workspace import Workspace

from . import _steps


def test_stdout_and_stderr_are_captured_per_step(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _steps.printing.run(x=7)
    chatty, quiet = run.step("chatty"), run.step("quiet")
    assert chatty.stdout == "stdout of chatty 7\n"
    assert chatty.stderr == "stderr of chatty 7\n"
    assert (quiet.stdout, quiet.stderr) == ("", "")
    shown = capsys.readouterr()
    assert "stdout of chatty 7" in shown.out  # still shown to the user
    assert "stderr of chatty 7" in shown.err


def test_captured_output_is_stored(project: Path, workspace: Workspace) -> None:
    run = _steps.printing.run(x=8)
    (chatty,) = [s for s in workspace.metadata.step_runs(run.id) if s.name == "chatty"]
    assert chatty.stdout == "stdout of chatty 8\n"
    assert chatty.stderr == "stderr of chatty 8\n"


def test_output_of_a_failing_step_is_kept(project: Path) -> None:
    @cv.step
    def noisy_failure(x: int) -> int:
        print("about to fail")
        raise ValueError("failed after printing")

    @cv.pipeline
    def p(x: int = 1):
        return noisy_failure(x)

    step = p.run().step("noisy_failure")
    assert step.status == "failed"
    assert step.stdout == "about to fail\n"


def test_streams_are_restored_after_a_run(project: Path) -> None:
    before = (sys.stdout, sys.stderr)
    _steps.printing.run(x=9)
    assert (sys.stdout, sys.stderr) == before


def test_metrics_and_params_are_recorded(project: Path, workspace: Workspace) -> None:
    run = _steps.with_metrics.run()
    step = run.step("measured")
    metrics = [(m.name, m.value, m.step, m.step_run_id) for m in workspace.metadata.metrics(run.id)]
    assert metrics == [
        ("accuracy", 0.75, None, step.id),
        ("loss", 1.0, 0, step.id),
        ("loss", 0.5, 1, step.id),
        ("loss", pytest.approx(1 / 3), 2, step.id),
    ]
    assert workspace.metadata.step_params(run.id) == {
        step.id: {"strategy": "greedy", "layers": [8, 4]}
    }


def test_a_cached_step_run_carries_the_metrics_of_its_origin(
    project: Path, workspace: Workspace
) -> None:
    _steps.with_metrics.run()
    second = _steps.with_metrics.run()
    step = second.step("measured")
    assert step.cached
    metrics = workspace.metadata.metrics(second.id)
    assert [(m.name, m.step, m.step_run_id) for m in metrics] == [
        ("accuracy", None, step.id),
        ("loss", 0, step.id),
        ("loss", 1, step.id),
        ("loss", 2, step.id),
    ]


def test_a_cached_step_run_carries_the_params_of_its_origin(
    project: Path, workspace: Workspace
) -> None:
    _steps.with_metrics.run()
    second = _steps.with_metrics.run()
    step = second.step("measured")
    assert step.cached
    assert workspace.metadata.step_params(second.id) == {
        step.id: {"strategy": "greedy", "layers": [8, 4]}
    }


def test_logging_outside_a_run_is_a_no_op() -> None:
    assert _steps.measured.fn(5) == 5  # plain Python: no run, nothing recorded, no error


@pytest.mark.parametrize(
    ("name", "value"),
    [("", 1.0), ("accuracy", "high"), ("accuracy", True), ("accuracy", float("nan")), (3, 1.0)],
)
def test_log_metric_rejects_bad_values(name: object, value: object) -> None:
    with pytest.raises(cv.ConveyorError):
        cv.log_metric(name, value)  # type: ignore[arg-type]


def test_log_param_rejects_bad_names() -> None:
    with pytest.raises(cv.ConveyorError):
        cv.log_param("", 1)


@cv.step
def _sized(rows: int, label: str = "x", model: object = None) -> list:
    return [label] * rows


@cv.step
def _slow_count(values: list, seconds: float = 0.0) -> int:
    import time

    time.sleep(seconds)
    return len(values)


@cv.pipeline
def _drawn(rows: int = 2, seconds: float = 0.0):
    return _slow_count(_sized(rows, label="y", model=range(3)), seconds=seconds)


def test_a_run_records_its_graph_and_each_step_its_own_arguments(
    project: Path, workspace: Workspace
) -> None:
    run = _drawn.run(rows=3)
    meta = workspace.metadata
    record = meta.get_run(run.id)
    assert meta.pipeline_graph(record.pipeline, record.pipeline_version) == [
        ["_sized", "_sized", [], None],
        ["_slow_count", "_slow_count", ["_sized"], None],
    ]
    steps = {s.name: s for s in meta.step_runs(run.id)}
    assert steps["_sized"].arguments == {"rows": 3, "label": "y", "model": "range(0, 3)"}
    assert steps["_slow_count"].arguments == {"seconds": 0.0}  # `values` comes from a step


def test_a_live_run_says_which_steps_are_running(project: Path, workspace: Workspace) -> None:
    import threading
    import time

    meta = workspace.metadata
    result: list[cv.Run] = []
    worker = threading.Thread(target=lambda: result.append(_drawn.run(seconds=1.5)))
    worker.start()
    seen: set[tuple[str, ...]] = set()
    while worker.is_alive():
        for record in meta.list_runs():
            seen.add(tuple(record.running))
        time.sleep(0.05)
    worker.join()
    assert ("_slow_count",) in seen  # while it slept
    assert meta.get_run(result[0].id).running == []  # cleared when the run ended


@cv.step
def _pair() -> list:
    return [1, 2]


@cv.step
def _nap(x: int) -> int:
    import time

    time.sleep(0.05)
    return x


@cv.step
def _slow_len(values: list) -> int:
    import time

    time.sleep(0.05)
    return len(values)


@cv.step
def _recorded_so_far(values: list) -> list:
    """The steps of this run the metadata store holds when this step runs."""
    from conveyor.core.context import current_step
    from conveyor.workspace import open_workspace

    run_id = current_step().run_id
    return sorted(s.name for s in open_workspace().metadata.step_runs(run_id))


@cv.pipeline
def _siblings():
    pair = _pair()
    return [_nap.map(pair), _slow_len(pair), _recorded_so_far(pair)]


def test_a_finished_step_is_recorded_before_its_siblings_run(project: Path) -> None:
    """Steps that become ready together run one after another in this thread; each one's record
    is written before the next starts, not once all of them have run (a live view shows them
    finished, and a crash loses none of them)."""
    run = _siblings.run()
    assert run.output("output_2") == ["_nap", "_nap[0]", "_nap[1]", "_pair", "_slow_len"]
