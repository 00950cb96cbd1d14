"""Promote, rollback and re-run from the dashboard: only with the API key, and recorded."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.ui import pipelines as p
from tests.ui.conftest import KEY, KEY_ENV, UiServer

from conveyor.config import Settings
from conveyor.registry import ModelRegistry
from conveyor.ui.app import UiConfig
from conveyor.workspace import close_workspaces, open_workspace

AUTH = {"authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[str]]]:
    """A project of its own (the actions change it): two training runs, a model "toy" of two."""
    with pytest.MonkeyPatch.context() as mp:
        for var in ("CONVEYOR_DB", "CONVEYOR_ARTIFACTS", "CONVEYOR_TRUST_PICKLE"):
            mp.delenv(var, raising=False)
        root = tmp_path_factory.mktemp("ui-actions")
        settings = Settings.load(root)
        runs = [p.training.run(lr=lr, n=40, settings=settings) for lr in (0.1, 0.5)]
        registry = ModelRegistry(open_workspace(settings))
        for run in runs:
            registry.register("toy", run.step("fit").outputs["output"], run_id=run.id)
        registry.promote("toy", 1, "production")
        uncached = p.training.run(lr=0.9, n=40, cache=False, settings=settings)
        yield root, [*(r.id for r in runs), uncached.id]
    close_workspaces()


@pytest.fixture(scope="module")
def server(small: tuple[Path, list[str]]) -> Iterator[UiServer]:
    os.environ[KEY_ENV] = KEY
    try:
        ui = UiServer(UiConfig(root=str(small[0]), api_key_env=KEY_ENV)).start()
    finally:
        del os.environ[KEY_ENV]
    yield ui
    ui.stop()


@pytest.fixture
def client(server: UiServer) -> Iterator[httpx.Client]:
    with server.client() as http:
        yield http


def test_actions_need_the_key(client: httpx.Client) -> None:
    assert client.get("/api/info").json()["actions"] is True
    body = {"version": 2, "alias": "production"}
    for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": KEY}):
        response = client.post("/api/models/toy/promote", json=body, headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["error"] == "auth"
    assert client.get("/api/models/toy").json()["aliases"] == {"production": 1}
    assert client.get("/api/runs").status_code == 200  # reads stay open


def test_promote_and_rollback_are_recorded_like_the_cli(client: httpx.Client) -> None:
    promoted = client.post(
        "/api/models/toy/promote",
        json={"version": 2, "alias": "production", "reason": "better loss"},
        headers=AUTH,
    )
    assert promoted.status_code == 200, promoted.text
    event = promoted.json()["event"]
    assert (event["version"], event["previous_version"], event["by"]) == (2, 1, "conveyor ui")
    back = client.post("/api/models/toy/rollback", json={"alias": "production"}, headers=AUTH)
    assert back.json()["event"]["version"] == 1
    model = client.get("/api/models/toy").json()
    assert model["aliases"] == {"production": 1}
    assert [(e["action"], e["version"], e["reason"]) for e in model["history"][:2]] == [
        ("rollback", 1, "rolled back by hand"),  # the registry's word for no reason
        ("promote", 2, "better loss"),
    ]


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/api/models/toy/promote", {"version": 9, "alias": "production"}, 404),
        ("/api/models/toy/promote", {"version": 1, "alias": "not ok!"}, 400),
        ("/api/models/toy/promote", {"version": 0}, 400),
        ("/api/models/nothing/rollback", {"alias": "production"}, 404),
        ("/api/models/toy/rollback", {"alias": "never-set"}, 404),
    ],
)
def test_bad_actions_say_why(client: httpx.Client, path: str, body: dict, status: int) -> None:
    response = client.post(path, json=body, headers=AUTH)
    assert response.status_code == status, response.text
    assert response.json()["detail"]


def test_rerun_starts_the_pipeline_again_with_the_same_parameters(
    client: httpx.Client, small: tuple[Path, list[str]]
) -> None:
    original = small[1][1]
    response = client.post(f"/api/runs/{original}/rerun", json={}, headers=AUTH)
    assert response.status_code == 202, response.text
    started = response.json()
    assert started["run_id"] is not None, started
    assert started["command"][:1] == ["run"] and "--no-cache" not in started["command"]
    run = _finished(client, started["run_id"])
    assert run["status"] == "succeeded"
    before = client.get(f"/api/runs/{original}").json()["run"]
    assert run["params"] == before["params"] and run["pipeline_ref"] == before["pipeline_ref"]
    assert run["cache"] is True
    refused = client.post(f"/api/runs/{original}/rerun", json={"mode": "resume"}, headers=AUTH)
    assert refused.status_code == 409 and "only failed or interrupted" in refused.json()["detail"]
    bad = client.post(f"/api/runs/{original}/rerun", json={"mode": "delete"}, headers=AUTH)
    assert bad.status_code == 400


def test_rerun_keeps_the_runs_options(client: httpx.Client, small: tuple[Path, list[str]]) -> None:
    """A run made with --no-cache is re-run with --no-cache: every step executes again."""
    original = client.get(f"/api/runs/{small[1][2]}").json()
    assert original["run"]["cache"] is False
    response = client.post(f"/api/runs/{small[1][2]}/rerun", json={}, headers=AUTH)
    assert response.status_code == 202, response.text
    started = response.json()
    assert "--no-cache" in started["command"]
    run = _finished(client, started["run_id"])
    assert run["status"] == "succeeded" and run["cache"] is False
    assert run["params"] == original["run"]["params"]
    steps = client.get(f"/api/runs/{run['id']}").json()["steps"]
    assert not any(s["cached"] for s in steps)  # make_data of the other runs was not reused


def _finished(client: httpx.Client, run_id: str) -> dict:
    deadline = time.monotonic() + 120
    while True:
        run = client.get(f"/api/runs/{run_id}").json()["run"]
        if run["status"] != "running" or time.monotonic() > deadline:
            return run
        time.sleep(0.2)


def test_promote_from_the_browser_with_the_key(browser, server: UiServer) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"{server.url}/models/toy")
        page.wait_for_selector("main[data-ready='model']")
        page.click(".version[data-version='2'] button.promote")
        page.wait_for_selector(".version[data-version='2'] .actions span:has-text('API key')")
        page.fill("#mode input[type=password]", KEY)
        page.dispatch_event("#mode input[type=password]", "change")
        page.fill(".version[data-version='2'] input[aria-label=reason]", "from the browser")
        page.click(".version[data-version='2'] button.promote")
        page.wait_for_selector("#aliases tr[data-alias='production'] a[href='#v2']")
        assert "from the browser" in page.inner_text("#history")
        page.screenshot(path=str(_shot("model-actions")), full_page=True)
    finally:
        context.close()


def _shot(name: str) -> Path:
    from tests.ui.conftest import OUTPUT

    OUTPUT.mkdir(exist_ok=True)
    print(f"screenshot: {OUTPUT / name}.png")
    return OUTPUT / f"{name}.png"
