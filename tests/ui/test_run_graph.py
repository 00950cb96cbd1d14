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
from tests.ui.conftest import Tab, UiServer

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


@cv.step
def parts(k: int) -> list:
    return list(range(k))


@cv.step
def chunk(x: int, gate: str = "") -> int:
    while x and gate and not Path(gate).exists():  # item 0 ends at once, the others wait
        time.sleep(0.02)
    return x


@cv.step
def total(values: list) -> int:
    return sum(values)


@cv.pipeline
def fan(k: int = 3, gate: str = ""):
    return total(chunk.map(parts(k), gate=gate))
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
def server(project: Path) -> Iterator[UiServer]:
    server = UiServer(UiConfig(root=str(project))).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def api(server: UiServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


@pytest.fixture
def tab(browser: Any, server: UiServer) -> Iterator[Tab]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        yield Tab(context.new_page(), server.url)
    finally:
        context.close()


def conveyor(project: Path, *args: str, wait: bool = True) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    command = [CONVEYOR, *args]
    if not wait:
        return subprocess.Popen(command, cwd=project, env=env, stdout=subprocess.DEVNULL)
    return subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, check=True)


def latest(api: httpx.Client, pipeline: str = "echo", **filters: str) -> dict[str, Any] | None:
    found = api.get("/api/runs", params={"pipeline": pipeline, **filters}).json()["runs"]
    return found[0] if found else None


def started(api: httpx.Client, proc: Any, pipeline: str, until: Any) -> dict[str, Any]:
    """The live run of `pipeline` once `until(run)` holds (within a minute)."""
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None and time.monotonic() < deadline, "the run ended or stalled"
        found = latest(api, pipeline, status="running")
        if found is not None:
            run = api.get(f"/api/runs/{found['id']}").json()
            if until(run):
                return run
        time.sleep(0.05)


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


def test_a_step_of_a_live_run_says_what_it_waits_for_and_unknown_steps_are_404s(
    project: Path, api: httpx.Client, tab: Tab
) -> None:
    """Then the run is killed (SIGKILL) while its silent step runs: that step reads
    interrupted, with nothing printed, and the step after it was never run."""
    gate = project / "never"
    proc = conveyor(project, "run", "flow.py:echo", "-p", f"gate={gate}", "-p", "x=7", wait=False)
    try:
        run = started(api, proc, "echo", lambda r: states(r).get("hold") == "running")
        run_id = run["run"]["id"]
        base = f"/api/runs/{run_id}/steps"
        waiting = api.get(f"{base}/double_1").json()
        assert (waiting["recorded"], waiting["state"], waiting["waits_for"]) == (
            False, "pending", ["hold"],
        )  # fmt: skip
        assert api.get(f"{base}/hold").json()["state"] == "running"
        unknown = api.get(f"{base}/no_such_step")
        assert unknown.status_code == 404 and "no_such_step" in unknown.json()["detail"]
        assert run["dag"]["traced"] is True and run["template_run"] is None
        page = tab.open(f"/runs/{run_id}/steps/double_1", "run")
        page.wait_for_selector("#step-state")
        assert page.inner_text("#step-panel h2 .badge") == "pending"
        assert page.inner_text("#step-state") == "Pending: waits for hold."
        assert "Steps appear as they finish" not in page.inner_text("#dag")  # all drawn
        tab.shoot("run-live-pending")
    finally:
        proc.kill()
        proc.wait(timeout=30)
    killed = api.get(f"/api/runs/{run_id}").json()
    assert killed["run"]["status"] == "interrupted"
    assert killed["last_seen"] and killed["last_seen"]["duration_s"] > 0
    silent = api.get(f"{base}/hold")
    assert silent.status_code == 200, silent.text  # no record, no live log: still a step
    assert (silent.json()["state"], silent.json()["live_log"]) == ("interrupted", None)
    never = api.get(f"{base}/double_1").json()
    assert (never["state"], never["waits_for"]) == ("not-run", ["hold"])
    assert api.get(f"{base}/no_such_step").status_code == 404
    page = tab.open(f"/runs/{run_id}/steps/hold", "run")
    page.wait_for_selector("#step-state")
    assert page.inner_text("#step-panel h2 .badge") == "interrupted"
    assert "Never finished" in page.inner_text("#step-state")
    assert page.inner_text("#live-log") == "(nothing printed)"
    assert page.locator("#step-panel .error").count() == 0
    assert page.inner_text("#run-duration").startswith("at least ")
    page.click("#dag g.node[data-node='double_1']")
    page.wait_for_selector("#step-panel h2:has-text('double_1')")
    assert page.inner_text("#step-panel h2 .badge") == "not-run"
    assert "Not run" in page.inner_text("#step-state") and "hold" in page.inner_text("#step-state")
    tab.shoot("run-killed-silent")
    tab.clean()


def test_a_map_node_runs_while_its_items_do(project: Path, api: httpx.Client, tab: Tab) -> None:
    gate = project / f"fan-gate-{time.monotonic_ns()}"
    proc = conveyor(project, "run", "flow.py:fan", "-p", f"gate={gate}", wait=False)
    try:
        run = started(
            api, proc, "fan", lambda r: (states(r).get("chunk"), _items(r)) == ("running", 1)
        )
        chunk = next(s for s in run["steps"] if s["name"] == "chunk")
        assert chunk["items"]["total"] == 3 and chunk["items"]["started"] >= 2
        assert states(run)["total"] == "pending"  # not "ready": its input is being made
        panel = api.get(f"/api/runs/{run['run']['id']}/steps/chunk").json()
        assert (panel["state"], panel["items"]["done"]) == ("running", 1)
        page = tab.open(f"/runs/{run['run']['id']}", "run")
        sub = page.text_content("#dag g.node[data-node='chunk'] text.sub")
        assert sub == "running · 1/3 done"  # items
        page.click("#dag g.node[data-node='chunk']")
        page.wait_for_selector("#step-state")
        assert page.inner_text("#step-state") == "Its items are running: 1/3 items done."
        tab.shoot("run-live-map")
    finally:
        gate.write_text("open")
        assert proc.wait(timeout=60) == 0
    done = api.get(f"/api/runs/{latest(api, 'fan')['id']}").json()
    assert states(done)["chunk"] == "succeeded" and done["steps"][0].get("items") is None
    tab.clean()


def _items(run: dict[str, Any]) -> int | None:
    chunk = next((s for s in run["steps"] if s["name"] == "chunk"), {})
    return (chunk.get("items") or {}).get("done")
