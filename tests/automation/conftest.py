"""Fixtures for the automation tests: a real pipeline file in the project, watchers on the test's
workspace, and a penguin classifier registered by a real pipeline run with a prediction log.

Watchers launch real `conveyor run` processes; every wait here is bounded.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import conveyor as cv
from conveyor.automation import Trigger, Watcher
from conveyor.components import evaluate, ingest, register, split, train
from conveyor.metadata.trigger_store import TriggerEvent, TriggerStore
from conveyor.serving.predlog import PredictionLog
from conveyor.workspace import Workspace

PENGUINS = Path(__file__).parents[2] / "examples" / "penguins" / "data" / "penguins.csv"
NUMERIC = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]

FLOW = """
import os
import time
import conveyor as cv

@cv.step
def work(n: int, sleep: float, fail: bool, hold: str) -> int:
    time.sleep(sleep)
    end = time.monotonic() + 60
    while hold and not os.path.exists(hold):  # the test lets it end by writing the file
        if time.monotonic() > end:
            raise TimeoutError(f"{hold} never appeared")
        time.sleep(0.05)
    if fail:
        raise RuntimeError("asked to fail")
    return n * 2

@cv.pipeline
def flow(n: int = 1, sleep: float = 0.0, fail: bool = False, hold: str = ""):
    return work(n, sleep, fail, hold)
"""


@pytest.fixture(autouse=True)
def _forget_project_modules(tmp_path: Path) -> Iterator[None]:
    """A watcher imports the project's pipeline files: forget them after each test."""
    path = list(sys.path)
    yield
    sys.path[:] = path
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", None) or "").startswith(str(tmp_path)):
            del sys.modules[name]


@pytest.fixture
def flow_file(project: Path) -> Path:
    """flow.py:flow in the project: one step that sleeps `sleep` s, waits for the file `hold`
    to exist (at most 60 s), and fails when `fail`."""
    path = project / "flow.py"
    path.write_text(textwrap.dedent(FLOW))
    return path


class Watchers:
    """Makes watchers on the test's workspace, collects what they say, and waits for their runs
    before the test ends (no process outlives the test)."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.said: list[str] = []
        self.made: list[Watcher] = []

    def __call__(self, *triggers: Trigger, max_runs: int = 2) -> Watcher:
        watcher = Watcher(triggers, workspace=self.ws, max_runs=max_runs, echo=self.said.append)
        self.made.append(watcher)
        return watcher

    @property
    def store(self) -> TriggerStore:
        return TriggerStore(self.ws.metadata)

    def events(self, trigger: str | None = None) -> list[TriggerEvent]:
        """Firings, oldest first."""
        return list(reversed(self.store.history(trigger)))

    def settle(self, watcher: Watcher, timeout: float = 60) -> None:
        """Wait (bounded) for the runs `watcher` started, and record how they ended."""
        watcher.wait(timeout=timeout)
        assert not watcher._children, f"runs still going after {timeout}s: {self.said}"

    def close(self) -> None:
        """Reap what the test left running (a watcher dropped without waiting for its runs)."""
        for watcher in self.made:
            for child in watcher._children:
                if isinstance(child.process, subprocess.Popen):
                    child.process.wait(timeout=60)
            watcher._children.clear()


def crash(watcher: Watcher) -> None:
    """Let the runs `watcher` started end without it seeing them, as if it had been killed."""
    for child in watcher._children:
        child.process.wait(timeout=60)


@pytest.fixture
def watchers(workspace: Workspace) -> Iterator[Watchers]:
    made = Watchers(workspace)
    yield made
    made.close()


def wait_until(what: str, check: Callable[[], Any], timeout: float = 60) -> Any:
    """Poll `check` until it returns something true; fail after `timeout` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what} after {timeout:.0f}s")


def minute_after(t: float) -> float:
    """The first whole minute after `t`: a slot of '* * * * *' in every real time zone."""
    return (t // 60 + 1) * 60


# -- a registered model and its prediction log -----------------------------------------------


@cv.step
def complete(data: pd.DataFrame) -> pd.DataFrame:
    return data.dropna().reset_index(drop=True)


@cv.pipeline
def release(source: str = str(PENGUINS)):
    """ingest → split → train → evaluate → register: penguins:1 @production, with its reference."""
    data = complete(ingest(source))
    train_set, test_set = split(data, method="stratified", by="species")
    model = train(
        train_set,
        target="species",
        estimator="sklearn.linear_model.LogisticRegression",
        params={"max_iter": 3000, "solver": "newton-cholesky"},  # lbfgs: seed-dependent
        features=NUMERIC,
    )
    return register(model, evaluate(model, test_set, target="species"), name="penguins")


def penguins(shift: bool = False) -> pd.DataFrame:
    """The penguins with a species; `shift`: a colony with longer bills and flippers, heavier."""
    frame = pd.read_csv(PENGUINS).dropna().reset_index(drop=True)
    if shift:
        frame["bill_length_mm"] += 6
        frame["flipper_length_mm"] += 12
        frame["body_mass_g"] = (frame["body_mass_g"] * 1.25).round()
    return frame


@pytest.fixture
def model(workspace: Workspace) -> Workspace:
    """The test's workspace with penguins:1 registered at @production."""
    run = release.run(settings=workspace.settings)
    assert run.status == "succeeded", run.error
    assert run.output()["version"] == 1 and run.output()["promoted"]
    return workspace


def serve(
    ws: Workspace,
    frame: pd.DataFrame,
    *,
    labels: str | None = None,
    requests: int = 10,
    model: str = "penguins",
    version: int = 1,
    drop: tuple[str, ...] = (),
) -> None:
    """Log `frame` as `conveyor serve` would: predictions "Adelie" of `model`:`version` in
    `requests` requests (without the input columns in `drop`), and with `labels` ("right" or
    "wrong") a feedback label for every row."""
    log = PredictionLog(ws, model)
    size = -(-len(frame) // requests)
    feedback = []
    for i in range(requests):
        chunk = frame.iloc[i * size : (i + 1) * size]
        if chunk.empty:
            break
        rid = f"req-{time.time_ns()}-{i}"
        columns = {name: chunk[name].tolist() for name in NUMERIC if name not in drop}
        log.record(rid, version, 1.0, columns, len(chunk), ["Adelie"] * len(chunk))
        if labels is not None:
            truth = "Adelie" if labels == "right" else "Gentoo"
            feedback += [(rid, row, truth) for row in range(len(chunk))]
    if feedback:
        log.feedback(feedback)
    log.close()
