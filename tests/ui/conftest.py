"""A workspace filled by real runs, and the dashboard serving it on 127.0.0.1.

Built once per session (the penguins pipeline trains real models): runs that succeed, one that
fails, a model with two versions and a history of alias moves, monitoring results from data and
from a prediction log, and a trigger firing — with script payloads in every free-text field a
user controls (pipeline name, parameters, logged params, metric names, printed output, data,
model description, alias reasons, trigger names and reasons).
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import uvicorn
from tests.ui import pipelines as p

from conveyor.config import Settings
from conveyor.metadata.log_store import LogStore
from conveyor.metadata.trigger_store import TriggerStore
from conveyor.registry import ModelRegistry
from conveyor.ui.app import UiConfig, create_app
from conveyor.workspace import Workspace, close_workspaces, open_workspace

KEY_ENV = "CONVEYOR_UI_TEST_KEY"
KEY = "test-key-4f1c"
OUTPUT = Path(__file__).parent / "output"


@dataclasses.dataclass
class Project:
    root: Path
    settings: Settings
    ws: Workspace
    training: list[str]  # run ids, oldest first
    fragile: str
    gated: str
    release: list[str]
    trigger_run: str  # the run the schedule trigger started
    drift_run: str  # the run the drift trigger on penguins started


def _log_segment(ws: Workspace, frame: pd.DataFrame, model: str) -> None:
    """Write a prediction-log segment as `conveyor serve` does (bytes, artifact row, index row)."""
    from conveyor.artifacts.values import save_value

    saved = save_value(frame, ws.artifacts, ws.materializers)
    LogStore(ws.metadata).add_segment(
        {
            "id": saved.id,
            "type_name": saved.type_name,
            "materializer": saved.materializer,
            "materializer_version": saved.materializer_version,
            "safe": saved.safe,
            "size": saved.size,
            "uri": saved.uri,
            "summary": json.dumps({"shape": list(frame.shape), "log": "predictions"}),
            "producer_id": None,
            "created_at": time.time(),
        },
        {
            "model": model,
            "kind": "predictions",
            "rows": len(frame),
            "first_at": float(frame["at"].min()),
            "last_at": float(frame["at"].max()),
            "versions": {1},
            "writer": "tests",
        },
    )


def _populate(root: Path) -> Project:
    from conveyor.monitoring.monitor import monitor

    settings = Settings.load(root)
    ws = open_workspace(settings)
    training = [p.training.run(lr=lr, settings=settings).id for lr in (0.1, 0.2, 0.3)]
    fragile = p.fragile.run(settings=settings)
    assert fragile.status == "failed"
    (root / "gate-open").touch()
    gated = p.gated.run(gate_file=str(root / "gate-open"), settings=settings)
    first = p.release.run(settings=settings)
    assert first.status == "succeeded", first.error
    second = p.release.run(c=5.0, keep_rejected=True, settings=settings)
    assert second.status == "succeeded", second.error
    registry = ModelRegistry(ws)
    assert [v.version for v in registry.list()] == [1, 2]
    registry.promote("penguins", 2, "candidate", reason=p.SCRIPT)
    registry.promote("penguins", 2, "production", reason="try the candidate")
    registry.rollback("penguins", "production", reason=f"worse on new data {p.IMG}")
    frame = pd.read_csv(p.PENGUINS).dropna().reset_index(drop=True)
    monitor("penguins@production", data=frame, ws=ws)
    shifted = frame.assign(bill_length_mm=frame["bill_length_mm"] + 9)
    monitor("penguins@production", data=shifted, ws=ws)
    now = time.time()
    log = pd.DataFrame(
        {
            "request_id": [f"r{i}" for i in range(len(frame))],
            "row": 0,
            "at": now - 600 + 600 * (frame.index / len(frame)),
            "version": 1,
            "latency_ms": 1.0,
            "prediction": frame["species"],
            "probabilities": None,
            **{f"input.{c}": shifted[c] for c in p.NUMERIC},
        }
    )
    _log_segment(ws, log, "penguins")
    monitor("penguins@production", ws=ws)  # from the prediction log: the latest report
    triggers = TriggerStore(ws.metadata)
    drift = triggers.claim(  # a trigger watching the model (keyed MODEL:VERSION:DIGEST), earlier
        f"drift of penguins {p.SVG}",
        "penguins:1:0123456789abcdef0123",
        f"penguins:1 drift_share = 0.75 >= 0.5 {p.SCRIPT}",
        f"{p.__file__}:release",
        {"c": 2.0},
        run_id=second.id,
    )
    assert drift is not None
    triggers.update(
        drift.id, fired_at=drift.fired_at - 60, status="succeeded", finished_at=drift.fired_at - 30
    )
    event = triggers.claim(
        f"nightly {p.IMG}",
        "2026-01-01T00:00",
        f"schedule {p.SCRIPT}",
        f"{p.__file__}:training",
        {"lr": 0.3},
        run_id=training[-1],
    )
    assert event is not None
    triggers.update(event.id, status="succeeded", finished_at=time.time())
    return Project(
        root, settings, ws, training, fragile.id, gated.id, [first.id, second.id], training[-1],
        second.id,
    )  # fmt: skip


@pytest.fixture(scope="session")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    with pytest.MonkeyPatch.context() as mp:
        for var in ("CONVEYOR_DB", "CONVEYOR_ARTIFACTS", "CONVEYOR_TRUST_PICKLE"):
            mp.delenv(var, raising=False)
        root = tmp_path_factory.mktemp("ui-project")
        yield _populate(root)
    close_workspaces()


@dataclasses.dataclass
class Shapes:
    """Runs of awkward shapes, in a project of their own (the counts of `filled` stay put)."""

    root: Path
    nine: str  # a run of nine steps in a row; its first step logs a very long parameter
    grid: str  # a run of 200 steps
    killed: str  # a run killed (SIGKILL) while its step `wait_for` was running
    plain_model: str  # a model whose only version has no alias
    relay: str  # a run whose step `check` passes its input through, with a long JSON report


def _killed_mid_step(root: Path, settings: Settings) -> str:
    """`conveyor run` of `gated` (waiting on a file that never comes), killed with SIGKILL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("conveyor")), "run", f"{p.__file__}:gated",
         "-p", f"gate_file={root / 'never'}", "--no-cache"],
        cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not list((settings.home / "logs").glob("*/wait_for.log")):
            assert proc.poll() is None, "the run ended before its step started"
            assert time.monotonic() < deadline, "the step never started"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    return next((settings.home / "logs").glob("*/wait_for.log")).parent.name


@pytest.fixture(scope="session")
def shapes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shapes]:
    with pytest.MonkeyPatch.context() as mp:
        for var in ("CONVEYOR_DB", "CONVEYOR_ARTIFACTS", "CONVEYOR_TRUST_PICKLE"):
            mp.delenv(var, raising=False)
        root = tmp_path_factory.mktemp("ui-shapes")
        settings = Settings.load(root)
        nine = p.nine.run(settings=settings)
        grid = p.grid.run(settings=settings)
        relay = p.relay.run(settings=settings)
        assert nine.status == grid.status == relay.status == "succeeded"
        killed = _killed_mid_step(root, settings)
        ModelRegistry(open_workspace(settings)).register(
            "plain", nine.step("stage").outputs["output"], run_id=nine.id
        )
        yield Shapes(root, nine.id, grid.id, killed, "plain", relay.id)
    close_workspaces()


class UiServer:
    """The dashboard app on a real uvicorn server in a thread, on a socket bound here."""

    def __init__(self, config: UiConfig) -> None:
        self.app = create_app(config)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="on")
        )
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def start(self) -> UiServer:
        self.thread.start()
        for _ in range(600):
            if self.server.started or not self.thread.is_alive():
                break
            time.sleep(0.05)
        assert self.server.started, "the dashboard did not start"
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "the dashboard did not stop"
        self.sock.close()

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60, **kwargs)


@pytest.fixture(scope="session")
def ui(filled: Project) -> Iterator[UiServer]:
    """The read-only dashboard (no API key)."""
    server = UiServer(UiConfig(root=str(filled.root))).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def shapes_ui(shapes: Shapes) -> Iterator[UiServer]:
    """The read-only dashboard over `shapes`."""
    server = UiServer(UiConfig(root=str(shapes.root))).start()
    yield server
    server.stop()


@pytest.fixture
def api(ui: UiServer) -> Iterator[httpx.Client]:
    with ui.client() as client:
        yield client


# -- the browser ---------------------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
#: records what the page's Content-Security-Policy blocked (an injected script would show here)
WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__violations.push(e.violatedDirective + " " + e.blockedURI));
"""


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Chromium from the system package (Debian's `chromium`), driven by Playwright."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the browser tests need Playwright: pip install -e '.[dev]'")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"the browser tests need {CHROMIUM}: apt-get install chromium")
    with sync_playwright() as pw:
        args = ["--no-sandbox"] if os.geteuid() == 0 else []  # root in containers
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=args)
        yield chromium
        chromium.close()


class Tab:
    """A browser tab on the dashboard: page errors, dialogs and CSP violations are kept."""

    def __init__(self, page: Any, base: str) -> None:
        self.page = page
        self.base = base
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("dialog", self._dialog)
        page.add_init_script(WATCH)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def open(self, path: str, ready: str) -> Any:
        """Load `path` and wait until its page has rendered its data."""
        self.page.goto(self.base + path)
        return self.wait(ready)

    def wait(self, ready: str) -> Any:
        self.page.wait_for_selector(f"main[data-ready='{ready}']", timeout=30_000)
        return self.page

    def shoot(self, name: str) -> Path:
        OUTPUT.mkdir(exist_ok=True)
        path = OUTPUT / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")
        return path

    def clean(self) -> None:
        """Nothing went wrong in the page and nothing injected ever ran."""
        assert self.errors == []
        assert self.dialogs == []
        assert self.page.evaluate("window.__xss") is None
        assert self.page.evaluate("window.__violations") == []


@pytest.fixture
def tab(browser: Any, ui: UiServer) -> Iterator[Tab]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        yield Tab(context.new_page(), ui.url)
    finally:
        context.close()


@pytest.fixture
def shapes_tab(browser: Any, shapes_ui: UiServer) -> Iterator[Tab]:
    """A tab on the dashboard over `shapes`."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        yield Tab(context.new_page(), shapes_ui.url)
    finally:
        context.close()
