"""A run's DAG is the graph that was traced: exact edges, every step from the start, live states."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.ui.conftest import UiServer

from conveyor.config import Settings
from conveyor.ui.app import UiConfig
from conveyor.workspace import close_workspaces

FLOW = """
import time
from pathlib import Path

import conveyor as cv


@cv.step
def double(value: int) -> int:
    return 2 * value


@cv.step
def passthrough(value: int) -> int:
    return value  # writes the very bytes it read: lineage alone cannot tell who fed whom


@cv.step
def hold(value: int, gate: str = "", label: str = "held") -> int:
    while gate and not Path(gate).exists():  # prints nothing: no live log to go by
        time.sleep(0.02)
    return value


@cv.pipeline
def echo(x: int = 1, gate: str = ""):
    return double(hold(passthrough(double(x)), gate=gate, label="first"))
"""

CONVEYOR = str(Path(sys.executable).with_name("conveyor"))


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("ui-graph")
    (root / "flow.py").write_text(FLOW)
    Settings.load(root)
    yield root
    close_workspaces()


@pytest.fixture(scope="module")
def api(project: Path) -> Iterator[httpx.Client]:
    server = UiServer(UiConfig(root=str(project))).start()
    with server.client() as client:
        yield client
    server.stop()


def conveyor(project: Path, *args: str, wait: bool = True) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    command = [CONVEYOR, *args]
    if not wait:
        return subprocess.Popen(command, cwd=project, env=env, stdout=subprocess.DEVNULL)
    return subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, check=True)


def latest(api: httpx.Client, **filters: str) -> dict[str, Any] | None:
    found = api.get("/api/runs", params={"pipeline": "echo", **filters}).json()["runs"]
    return found[0] if found else None


def states(run: dict[str, Any]) -> dict[str, str]:
    return {s["name"]: s["status"] for s in run["steps"]}


def test_the_dag_is_the_traced_graph_even_when_steps_write_equal_bytes(
    project: Path, api: httpx.Client
) -> None:
    conveyor(project, "run", "flow.py:echo", "--json")
    run = api.get(f"/api/runs/{latest(api)['id']}").json()
    edges = sorted((a, b) for a, b, _via in run["dag"]["edges"])
    assert edges == [("double", "passthrough"), ("hold", "double_1"), ("passthrough", "hold")]


def test_a_step_shows_the_arguments_it_was_called_with(project: Path, api: httpx.Client) -> None:
    conveyor(project, "run", "flow.py:echo", "-p", "x=3", "--json")
    run_id = latest(api)["id"]
    step = api.get(f"/api/runs/{run_id}/steps/hold").json()
    assert step["step"]["arguments"] == {"gate": "", "label": "first"}  # not `value`: a step's
    first = api.get(f"/api/runs/{run_id}/steps/double").json()
    assert first["step"]["arguments"] == {"value": 3}  # a pipeline parameter


def test_a_live_run_of_new_code_shows_every_step_and_the_one_running(
    project: Path, api: httpx.Client
) -> None:
    (project / "flow.py").write_text(FLOW.replace("2 * value", "value * 2"))  # a new version
    gate = project / "gate"
    proc = conveyor(project, "run", "flow.py:echo", "-p", f"gate={gate}", wait=False)
    try:
        seen: dict[str, str] = {}
        deadline = time.monotonic() + 60
        while seen.get("hold") != "running":
            assert proc.poll() is None and time.monotonic() < deadline, f"last seen: {seen}"
            found = latest(api, status="running")
            if found is not None:
                seen = states(api.get(f"/api/runs/{found['id']}").json())
            time.sleep(0.05)
        assert seen == {
            "double": "succeeded",
            "passthrough": "succeeded",
            "hold": "running",  # busy for a while, though it printed nothing
            "double_1": "pending",  # known from the traced graph before it ran
        }
    finally:
        gate.write_text("open")
        assert proc.wait(timeout=60) == 0
    done = api.get(f"/api/runs/{latest(api)['id']}").json()
    assert set(states(done).values()) == {"succeeded"}
    assert done["live"] is False


def test_steps_a_finished_run_never_reached_read_not_run(project: Path, api: httpx.Client) -> None:
    conveyor(project, "run", "flow.py:echo", "-p", "x=5", "--to", "passthrough", "--json")
    run = api.get(f"/api/runs/{latest(api)['id']}").json()
    assert states(run) == {
        "double": "succeeded",
        "passthrough": "succeeded",
        "hold": "not-run",
        "double_1": "not-run",
    }
