"""A penguins model registered by a real pipeline run, and the servers of `live.py` to serve it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from tests.serving.live import LiveServer, ServeProcess, serve_processes

import conveyor as cv
from conveyor.components import evaluate, infer_schema, ingest, register, split, train
from conveyor.config import Settings
from conveyor.serving.app import ServeConfig
from conveyor.workspace import Workspace, close_workspaces

PENGUINS = Path(__file__).parents[2] / "examples" / "penguins" / "data" / "penguins.csv"
NUMERIC = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
FEATURES = ["island", "sex", *NUMERIC]

# Two penguins the logistic model (version 1) tells apart; the majority model says Adelie to both.
ADELIE = {
    "island": "Torgersen", "sex": "male", "bill_length_mm": 39.1, "bill_depth_mm": 18.7,
    "flipper_length_mm": 181.0, "body_mass_g": 3750.0,
}  # fmt: skip
GENTOO = {
    "island": "Biscoe", "sex": "female", "bill_length_mm": 47.0, "bill_depth_mm": 15.0,
    "flipper_length_mm": 217.0, "body_mass_g": 5000.0,
}  # fmt: skip


def estimator(kind: str) -> Pipeline:
    """Impute and scale the measurements, one-hot encode island and sex, then classify."""
    features = ColumnTransformer(
        [
            ("numeric", make_pipeline(SimpleImputer(), StandardScaler()), NUMERIC),
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")
                ),
                ["island", "sex"],
            ),
        ]
    )
    classifier = (
        LogisticRegression(max_iter=2000)
        if kind == "logistic"
        else DummyClassifier(strategy="most_frequent")
    )
    return Pipeline([("features", features), ("classifier", classifier)])


@cv.pipeline
def penguins(classifier: str = "logistic", alias: str | None = "production"):
    """ingest → infer_schema → split → train → evaluate → register (no gate: tests decide)."""
    data = ingest(str(PENGUINS))
    schema = infer_schema(data)
    train_set, test_set = split(data, method="stratified", by="species", test_size=0.25)
    model = train(train_set, target="species", estimator=estimator(classifier), features=FEATURES)
    evaluation = evaluate(model, test_set, target="species")
    return register(model, evaluation, name="penguins", alias=alias, schema=schema)


def register_penguins(settings: Settings, classifier: str = "logistic", alias: Any = "production"):
    run = penguins.run(classifier=classifier, alias=alias, settings=settings)
    assert run.status == "succeeded", run.error
    return run.output()["version"]


@pytest.fixture
def trained(workspace: Workspace) -> Workspace:
    """The test's workspace with penguins:1 (logistic) registered at @production."""
    assert register_penguins(workspace.settings) == 1
    return workspace


@pytest.fixture
def serve(trained: Workspace) -> Iterator[Callable[..., LiveServer]]:
    """Start servers on the trained workspace: `serve("penguins@production", poll_s=0.1)`."""
    started: list[LiveServer] = []

    def start(ref: str = "penguins@production", **options: Any) -> LiveServer:
        config = ServeConfig(ref=ref, root=str(trained.settings.root), **options)
        server = LiveServer(config).start()
        started.append(server)
        return server

    yield start
    for server in started:
        if server.thread.is_alive():
            server.stop()


@pytest.fixture(scope="module")
def served_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A project of the test module's own with penguins:1 at @production (for tests that read).

    Module-scoped, so its tests must not use the `project` fixture: that closes every workspace.
    """
    root = tmp_path_factory.mktemp("served")
    with pytest.MonkeyPatch.context() as mp:
        for var in ("CONVEYOR_DB", "CONVEYOR_ARTIFACTS", "CONVEYOR_TRUST_PICKLE"):
            mp.delenv(var, raising=False)
        try:
            register_penguins(Settings.load(root))
            yield root
        finally:
            close_workspaces()


@pytest.fixture(scope="module")
def shared_server(served_root: Path) -> Iterator[LiveServer]:
    """One server per test module, with the default options, serving penguins@production."""
    server = LiveServer(ServeConfig(ref="penguins@production", root=str(served_root))).start()
    yield server
    server.stop()


@pytest.fixture
def client(shared_server: LiveServer) -> Iterator[httpx.Client]:
    with shared_server.client() as http:
        yield http


@pytest.fixture
def serve_cli() -> Iterator[Callable[..., ServeProcess]]:
    """Start `conveyor serve` processes: `serve_cli(root, "penguins@production", "--poll", "1")`."""
    yield from serve_processes()
