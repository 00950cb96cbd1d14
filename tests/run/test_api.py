"""Reading runs back: `get_run`, `list_runs`, `load_artifact`, and trust for pickled artifacts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import conveyor as cv
from conveyor.config import Settings
from conveyor.exceptions import NotFoundError, UnsafeArtifactError
from conveyor.workspace import close_workspaces

from . import _steps


def test_get_run_by_prefix_in_a_new_workspace(project: Path) -> None:
    run = _steps.with_bounds.run(x=5)
    close_workspaces()
    again = cv.get_run(run.id[:8])
    assert again.id == run.id
    assert again.status == "succeeded"
    assert again.params == {"x": 5}
    assert dict(again.outputs) == {"low": 4, "high": 6, "sum": 10}
    assert [s.name for s in again.steps] == [s.name for s in run.steps]
    assert [s.outputs for s in again.steps] == [s.outputs for s in run.steps]
    assert again.record == run.record


def test_get_run_latest_and_unknown(project: Path) -> None:
    _steps.with_bounds.run(x=1)
    second = _steps.with_bounds.run(x=2)
    assert cv.get_run("latest").id == second.id
    with pytest.raises(NotFoundError):
        cv.get_run("0" * 32)


def test_list_runs_is_newest_first(project: Path) -> None:
    ids = [_steps.with_bounds.run(x=i).id for i in range(3)]
    _steps.two_branches.run()
    assert [r.id for r in cv.list_runs("with_bounds")] == ids[::-1]
    assert len(cv.list_runs(limit=2)) == 2
    assert cv.list_runs()[0].pipeline == "two_branches"


def test_load_artifact_by_prefix(project: Path) -> None:
    run = _steps.with_bounds.run(x=5)
    close_workspaces()
    artifact = run.step("bounds").outputs["high"]
    assert cv.load_artifact(artifact[:10]) == 6


def test_pickled_outputs_need_trust_when_loaded_from_the_store(project: Path) -> None:
    run = _steps.pickled_output.run(x=3)
    assert run.output() == (3, "pickled")  # in memory: the run computed it
    close_workspaces()
    with pytest.raises(UnsafeArtifactError):
        cv.get_run(run.id).output()
    assert cv.get_run(run.id, trust=True).output() == (3, "pickled")


_LOAD_IN_NEW_PROCESS = """
import json, sys
import conveyor as cv
from conveyor.exceptions import UnsafeArtifactError
result = {}
try:
    cv.get_run(sys.argv[1]).output()
    result["untrusted"] = "loaded"
except UnsafeArtifactError as err:
    result["untrusted"] = "refused: " + str(err)
result["trusted"] = list(cv.get_run(sys.argv[1], trust=True).output())
print(json.dumps(result))
"""


def test_pickled_outputs_need_trust_in_a_new_process(project: Path) -> None:
    run = _steps.pickled_output.run(x=3)
    close_workspaces()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    proc = subprocess.run(
        [sys.executable, "-c", _LOAD_IN_NEW_PROCESS, run.id[:12]],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["untrusted"].startswith("refused: ")
    assert run.output_ids["output"][:12] in result["untrusted"]
    assert result["trusted"] == [3, "pickled"]


def test_trust_pickle_setting_trusts_by_default(project: Path) -> None:
    run = _steps.pickled_output.run(x=4)
    close_workspaces()
    trusting = Settings.load(project, trust_pickle=True)
    assert cv.get_run(run.id, settings=trusting).output() == (4, "pickled")


def test_a_step_needing_an_untrusted_input_fails_and_names_it(project: Path) -> None:
    @cv.step
    def second(values: tuple) -> str:
        return values[1]

    @cv.pipeline
    def p(x: int = 3):
        return second(_steps.pair(x))

    @cv.pipeline
    def q(x: int = 3):
        return _steps.first(_steps.pair(x))

    p.run()  # stores pair's output
    close_workspaces()
    run = q.run()  # pair is a cache hit: `first` must load the pickled tuple from the store
    step = run.step("first")
    assert step.status == "failed"
    assert "'values'" in (step.error_message or "")
    assert "trust" in (step.error_message or "")

    close_workspaces()
    trusted = q.run(trust=True)
    assert trusted.status == "succeeded"
    assert trusted.output() == 3
