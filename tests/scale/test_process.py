"""`--executor process`: parallel steps, resources, the worker memo, and workers that die."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import conveyor as cv
from conveyor.artifacts import materializers
from conveyor.config import Settings
from conveyor.run.executors.process import ProcessExecutor
from conveyor.workspace import close_workspaces

from . import _steps as s

CONVEYOR = str(Path(sys.executable).with_name("conveyor"))


def _overlap(a: cv.StepRun, b: cv.StepRun) -> bool:
    return a.started_at < b.ended_at and b.started_at < a.ended_at


def test_independent_steps_run_at_the_same_time(settings: Settings, tmp_path: Path) -> None:
    @cv.pipeline
    def pair(folder: str):
        return s.join([s.meet("a", "b", folder), s.meet("b", "a", folder)])

    run = pair.run(folder=str(tmp_path), settings=settings, executor=ProcessExecutor(2))

    assert run.status == "succeeded"
    a, b = run.step("meet"), run.step("meet_1")
    assert _overlap(a, b), "the recorded start and end times of the two steps do not overlap"
    assert [v["met"] for v in run.output()] == [True, True]
    assert run.output()[0]["pid"] != run.output()[1]["pid"]


def test_a_step_needing_every_cpu_runs_alone(settings: Settings, tmp_path: Path) -> None:
    @cv.pipeline
    def mixed(folder: str):
        return s.join(
            [s.busy("light_a", folder), s.HEAVY("heavy", folder), s.busy("light_b", folder)]
        )

    run = mixed.run(folder=str(tmp_path), settings=settings, executor=ProcessExecutor(2))

    assert run.status == "succeeded"
    heavy = run.step("heavy")
    for light in (run.step("busy"), run.step("busy_1")):
        assert not _overlap(heavy, light), f"{light.name} ran beside the cpu=2 step"
    saw = {value["tag"]: value["saw"] for value in run.output()}
    assert saw["heavy"] == []
    assert "running-heavy" not in saw["light_a"] + saw["light_b"]


def test_a_worker_takes_the_values_it_produced_from_memory(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A registry of this test's own: the counting materializer must not outlive it.
    monkeypatch.setattr(materializers, "_DEFAULT", materializers._builtin_registry())
    close_workspaces()
    log = tmp_path / "loads.log"
    materializers.register_materializer(s.Box, s.CountingMaterializer(str(log)))
    settings = Settings.load(project)
    opener = s.open_box.options(cache=False)

    @cv.pipeline
    def boxes(n: int = 1):
        return opener(s.make_box(n))

    first = boxes.run(settings=settings, executor=ProcessExecutor(1))
    assert first.status == "succeeded"
    assert not log.exists(), "open_box loaded the box its own worker had just made"

    # make_box is cached now: open_box runs in a new worker, which must read the box.
    second = boxes.run(settings=settings, executor=ProcessExecutor(1))
    assert second.status == "succeeded"
    assert [step.cached for step in second.steps] == [True, False]
    loads = log.read_text().split()
    assert len(loads) == 1
    assert int(loads[0]) != os.getpid()
    assert second.output() == first.output() == 2


def test_workers_see_the_environment_of_the_run_that_started_them(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    @cv.pipeline
    def read(name: str = "CONVEYOR_TEST_TOKEN"):
        return s.environment(name)

    monkeypatch.delenv("CONVEYOR_TEST_TOKEN", raising=False)
    before = read.run(settings=settings, executor=ProcessExecutor(1))  # starts the fork server
    monkeypatch.setenv("CONVEYOR_TEST_TOKEN", "exported-later")
    after = read.run(settings=settings, executor=ProcessExecutor(1))

    assert before.output()["value"] is None
    assert after.output()["value"] == "exported-later"
    # Workers fork from one server process, not from the runner: a pool costs no interpreter.
    assert before.output()["parent"] == after.output()["parent"] != os.getpid()


def test_a_worker_killed_mid_step_is_replaced_and_the_step_run_again(
    settings: Settings, tmp_path: Path
) -> None:
    @cv.pipeline
    def doomed(folder: str):
        return s.join([s.die_once(f"{folder}/died", 4), s.busy("beside", folder, 1.0)])

    run = doomed.run(folder=str(tmp_path), settings=settings, executor=ProcessExecutor(2))

    assert run.status == "succeeded", run.error
    assert (tmp_path / "died").exists()  # the first attempt did kill its worker
    assert run.output()[0] == 40
    assert run.output()[1]["tag"] == "beside"


def test_a_step_that_always_kills_its_worker_fails_after_the_retries(settings: Settings) -> None:
    @cv.pipeline
    def hopeless(x: int = 1):
        return s.inc(s.die_always(x))

    run = hopeless.run(settings=settings, executor=ProcessExecutor(1))

    assert run.status == "failed"
    died = run.step("die_always")
    assert died.status == "failed"
    assert died.error_type == "WorkerDied"
    assert "run 3 times" in (died.error_message or "")
    assert run.step("inc").status == "skipped"


PAIR = """
import os
import time
from pathlib import Path

import conveyor as cv


@cv.step
def meet(tag: str, other: str, folder: str) -> dict:
    Path(folder, tag).touch()
    deadline = time.monotonic() + 60
    while not Path(folder, other).exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return {"met": Path(folder, other).exists(), "pid": os.getpid()}


@cv.step
def join(a: dict, b: dict) -> list:
    return [a, b]


@cv.pipeline
def pair(folder: str = "."):
    return join(meet("a", "b", folder), meet("b", "a", folder))
"""


@pytest.mark.e2e
def test_the_cli_runs_a_pipeline_file_on_worker_processes(project: Path) -> None:
    (project / "pair.py").write_text(PAIR)
    (project / "signals").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    args = ["-p", "folder=signals", "--executor", "process", "--workers", "2", "--json"]
    done = subprocess.run(
        [CONVEYOR, "run", "pair.py:pair", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "succeeded"
    a, b = cv.get_run(result["run_id"], settings=Settings.load(project)).output()
    assert a["met"] and b["met"] and a["pid"] != b["pid"]
