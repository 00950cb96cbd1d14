"""Zero-downtime swaps: the server follows its alias through a promotion and a rollback while
concurrent clients keep asking, and no request fails or is answered by a mix of versions."""

from __future__ import annotations

import time
from typing import Any

import pandas as pd
import pytest
from tests.serving.conftest import FEATURES, GENTOO, register_penguins
from tests.serving.live import LiveServer, Load

from conveyor.registry import ModelRegistry
from conveyor.workspace import Workspace


def _expected(ws: Workspace, version: int) -> tuple[str, dict[str, float]]:
    model = ModelRegistry(ws).load(f"penguins:{version}")
    frame = pd.DataFrame([GENTOO])[FEATURES]
    [prediction] = model.predict(frame).tolist()
    [row] = model.predict_proba(frame).tolist()
    return prediction, dict(zip(map(str, model.classes_), row, strict=True))


def _gauge(server: LiveServer) -> float | None:
    registry = server.inner.state.metrics.registry
    return registry.get_sample_value("conveyor_model_version", {"model": "penguins"})


def _versions(results: list[Any]) -> list[int]:
    """The run-length encoding of the versions one client saw, in order: e.g. [1, 2, 1]."""
    runs: list[int] = []
    for _, body in results:
        if not runs or runs[-1] != body["model"]["version"]:
            runs.append(body["model"]["version"])
    return runs


@pytest.mark.timeout(240)
def test_promotion_and_rollback_under_load(serve, trained: Workspace) -> None:
    assert register_penguins(trained.settings, "majority", alias=None) == 2
    expected = {1: _expected(trained, 1), 2: _expected(trained, 2)}
    assert expected[1][0] == "Gentoo" and expected[2][0] == "Adelie"  # the versions differ
    registry = ModelRegistry(trained)
    server = serve("penguins@production", poll_s=0.1)

    with Load(server.url, {"instances": [GENTOO]}) as load:
        load.wait(lambda: load.each() >= 25, "the first responses")
        registry.promote("penguins", 2, "production", reason="test: promote under load")
        promoted = load.marks()
        load.wait(lambda: load.each(2, since=promoted) >= 50, "version 2 to answer")
        assert _gauge(server) == 2  # set by the swap itself, not by a visit to /metrics
        registry.rollback("penguins", "production", reason="test: roll back under load")
        rolled_back = load.marks()
        load.wait(lambda: load.each(1, since=rolled_back) >= 50, "version 1 to answer again")
        assert _gauge(server) == 1

    everything = [r for results in load.results for r in results]
    assert len(everything) >= 500
    failed = [r for r in everything if r[0] != 200]
    assert failed == []
    for _, body in everything:  # each answer is entirely one version's
        prediction, probabilities = expected[body["model"]["version"]]
        assert body["predictions"] == [prediction]
        assert body["probabilities"][0] == pytest.approx(probabilities)
        assert body["model"]["name"] == "penguins"
    for results in load.results:  # each client saw 1, then 2, then 1 again: never back and forth
        assert _versions(results) == [1, 2, 1]

    with server.client() as http:
        meta = http.get("/metadata").json()
        assert (meta["version"], meta["last_error"]) == (1, None)
        assert 'conveyor_model_version{model="penguins"} 1.0' in http.get("/metrics").text


def test_a_fixed_version_does_not_follow_the_alias(serve, trained: Workspace) -> None:
    register_penguins(trained.settings, "majority", alias=None)
    server = serve("penguins:1", poll_s=0.1)
    ModelRegistry(trained).promote("penguins", 2, "production")
    with server.client() as http:
        for _ in range(20):  # two seconds of polls: it would have moved by now
            assert http.post("/predict", json={"instances": [GENTOO]}).json()["model"] == {
                "name": "penguins", "version": 1,
            }  # fmt: skip
            time.sleep(0.1)
        assert server.inner.state.slot._thread is None  # and there is no watcher at all


def test_a_version_that_cannot_load_keeps_the_old_one(serve, trained: Workspace) -> None:
    register_penguins(trained.settings, "majority", alias=None)
    version = ModelRegistry(trained).get("penguins:2")
    trained.artifacts.delete(trained.artifacts.key(version.artifact_id))  # lost bytes
    server = serve("penguins@production", poll_s=0.1)
    ModelRegistry(trained).promote("penguins", 2, "production")
    with server.client() as http:
        for _ in range(600):  # at most 30 s
            meta = http.get("/metadata").json()
            if meta["last_error"] is not None:
                break
            time.sleep(0.05)
        assert meta["version"] == 1 and meta["last_error"]
        response = http.post("/predict", json={"instances": [GENTOO]})
        assert response.status_code == 200 and response.json()["model"]["version"] == 1
        assert http.get("/ready").json()["version"] == 1


def test_before_a_model_is_loaded_it_answers_503(serve) -> None:
    server = serve("penguins:1")  # a fixed version: no watcher would load one meanwhile
    slot = server.inner.state.slot
    loaded, slot.current = slot.current, None  # the state of a slot until its model loads
    with server.client() as http:
        assert http.get("/ready").status_code == 503
        assert http.get("/metadata").status_code == 503
        response = http.post("/predict", json={"instances": [GENTOO]})
        assert (response.status_code, response.json()["error"]) == (503, "not_ready")
        assert http.get("/health").status_code == 200
        slot.current = loaded
        assert http.get("/ready").status_code == 200
