"""The penguins example through the CLI, as `make demo` runs it, and its bad inputs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from tests.e2e.conftest import Cli
from tests.registry.snapshot import registry_rows

EXAMPLE = Path(__file__).parents[2] / "examples" / "penguins"


@pytest.fixture
def penguins(cli: Cli) -> Cli:
    for name in ("pipeline.py", "model.py", "schema.json"):
        shutil.copy(EXAMPLE / name, cli.root / name)
    shutil.copytree(EXAMPLE / "data", cli.root / "data")
    return cli


def test_train_register_then_a_worse_model_is_refused(penguins: Cli) -> None:
    first = penguins("run", "pipeline.py:training")
    assert "promoted to @production" in first.stdout
    worse = penguins("run", "pipeline.py:training", "-p", "classifier=majority")
    assert "gate FAILED" in worse.stdout and "not registered" in worse.stdout
    models = penguins.json("models", "list")
    assert [(m["name"], m["version"], m["aliases"]) for m in models] == [
        ("penguins", 1, ["production"])
    ]
    shown = penguins.json("models", "show", "penguins@production")
    assert shown["metrics"]["accuracy"] >= 0.9
    assert set(shown["data"]) == {"train.data", "eval.data"}
    assert shown["signature"]["target"] == "species"
    assert shown["evaluation"]["gate"]["passed"] is True
    trained_on = penguins.json("lineage", shown["data"]["train.data"])
    assert trained_on["models"] == [
        {"model": "penguins", "version": 1, "role": "train.data", "aliases": ["production"]}
    ]
    behind = penguins.json("lineage", "penguins:1")
    assert behind["upstream"][0]["step"] == "train"
    assert behind["upstream"][0]["code"] == "conveyor.components._train.train"
    text = penguins("models", "show", "penguins@production").stdout
    assert "gate passed" in text and "slice island=Biscoe" in text


def test_the_ingested_file_finds_its_models_and_a_model_shows_its_source(penguins: Cli) -> None:
    run = penguins.json("run", "pipeline.py:training")
    steps = {s["name"]: s for s in penguins.json("runs", "show", run["run_id"])["steps"]}
    ingested = steps["ingest"]["outputs"]["output"]
    found = penguins.json("lineage", ingested[:10])["models"]
    assert found == [
        {
            "model": "penguins",
            "version": 1,
            "role": "upstream of train.data, eval.data",
            "aliases": ["production"],
        }
    ]
    assert "penguins:1 (upstream of train.data, eval.data)" in penguins("lineage", ingested).stdout
    shown = penguins.json("models", "show", "penguins@production")
    source = str(penguins.root / "data" / "penguins.csv")
    hashed = steps["ingest"]["params"]["content_hash"]
    assert shown["lineage"]["sources"] == [
        {"source": source, "format": "csv", "content_hash": hashed, "artifact": ingested}
    ]
    text = penguins("models", "show", "penguins@production").stdout
    assert f"data source {source} (format csv, content_hash {hashed}), read as {ingested}" in text
    assert list(shown["signature"]["inputs"])[:2] == ["island", "sex"]  # as the model reads them
    assert set(shown["signature"]["inputs"].values()) == {"category", "float"}


def _write(cli: Cli, change) -> str:
    frame = pd.read_csv(EXAMPLE / "data" / "penguins.csv")
    path = cli.root / "new.csv"
    change(frame).to_csv(path, index=False)
    return str(path)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda f: f.drop(columns=["island"]), "island: column is missing"),
        (lambda f: f.assign(body_mass_g="heavy"), "body_mass_g: values that are not float"),
        (lambda f: f.replace({"island": {"Dream": "Atlantis"}}), "Atlantis"),
    ],
    ids=["missing-column", "wrong-type", "unseen-category"],
)
def test_bad_data_stops_the_run_before_training(penguins: Cli, change, expected: str) -> None:
    source = _write(penguins, change)
    failed = penguins("run", "pipeline.py:training", "-p", f"source={source}", check=1)
    assert "step 'validate' failed" in failed.stderr + failed.stdout
    assert expected in failed.stdout + failed.stderr
    assert penguins.json("models", "list") == []


def test_an_empty_file_fails_ingest_naming_it(penguins: Cli) -> None:
    (penguins.root / "empty.csv").write_text("")
    failed = penguins("run", "pipeline.py:training", "-p", "source=empty.csv", check=1)
    output = failed.stdout + failed.stderr
    assert "step 'ingest' failed" in output and "'empty.csv' is empty (0 bytes)" in output
    assert penguins.json("models", "list") == []


FLOW = """
import conveyor as cv
from conveyor.components import evaluate, gate, ingest, register, split, train, validate

FEATURES = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]


@cv.pipeline
def release(
    source: str = "data/penguins.csv",
    query: str | None = None,
    estimator: str = "sklearn.ensemble.HistGradientBoostingClassifier",
    threshold: str = ">=0.8",
    name: str = "penguins",
    alias: str = "production",
):
    data = ingest(source, query=query)
    valid, report = validate(data, "schema.json")
    train_set, test_set = split(valid, method="stratified", by="species", seed=1)
    model = train(train_set, target="species", estimator=estimator, features=FEATURES)
    evaluation = evaluate(model, test_set, target="species")
    decision = gate(
        evaluation, test_set, model_name=name, thresholds={"accuracy": threshold}, baseline=alias
    )
    return register(model, evaluation, name=name, decision=decision, alias=alias)
"""


def _db(root: Path) -> str:
    return f"sqlite:///{root / '.conveyor' / 'conveyor.db'}"


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose registry holds versions, aliases and a history of moves."""
    cli = Cli(tmp_path_factory.mktemp("populated"))
    shutil.copy(EXAMPLE / "schema.json", cli.root / "schema.json")
    shutil.copytree(EXAMPLE / "data", cli.root / "data")
    cli.write("flow.py", FLOW)
    cli("run", "flow.py:release")  # version 1, promoted
    cli("run", "flow.py:release", "-p", "estimator=sklearn.ensemble.RandomForestClassifier")
    cli("models", "promote", "penguins", "1", "--alias", "candidate")
    cli("models", "promote", "penguins", "2", "--alias", "production", "--reason", "forest")
    cli("models", "rollback", "penguins", "--alias", "production")
    assert len(registry_rows(_db(cli.root))["model_versions"]) == 2
    return cli.root


def _bad_csv(root: Path, change) -> str:
    frame = pd.read_csv(EXAMPLE / "data" / "penguins.csv")
    change(frame).to_csv(root / "new.csv", index=False)
    return "source=new.csv"


def _empty(root: Path) -> str:
    (root / "new.csv").write_text("")
    return "source=new.csv"


BAD_INPUTS = [
    pytest.param(
        lambda root: [_bad_csv(root, lambda f: f.drop(columns=["island"]))],
        1, ["step 'validate' failed", "island: column is missing"], id="missing-column",
    ),
    pytest.param(
        lambda root: [_bad_csv(root, lambda f: f.assign(body_mass_g="heavy"))],
        1, ["step 'validate' failed", "body_mass_g: values that are not float"], id="wrong-type",
    ),
    pytest.param(
        lambda root: [_bad_csv(root, lambda f: f.replace({"island": {"Dream": "Atlantis"}}))],
        1, ["step 'validate' failed", "column(s) ['island']", "Atlantis"], id="unseen-category",
    ),
    pytest.param(
        lambda root: [_empty(root)],
        1, ["step 'ingest' failed", "'new.csv' is empty (0 bytes)"], id="empty-file",
    ),
    pytest.param(
        lambda root: ["source=postgresql://nobody@127.0.0.1:9/none", "query=select 1"],
        1, ["step 'ingest' failed", "postgresql://nobody@127.0.0.1:9/none"], id="sql-no-connect",
    ),
    pytest.param(
        lambda root: ["source=sqlite:///data/penguins.db"],
        2, ["step 'ingest': source='sqlite:///data/penguins.db' is a database: give the SQL "
            "to run as query="], id="sql-without-query",
    ),
    pytest.param(
        lambda root: ["source=postgres://nobody@127.0.0.1:9/none", "query=select 1"],
        2, ["step 'ingest': source='postgres://nobody@127.0.0.1:9/none': unknown database "
            "dialect; SQLAlchemy names the dialect postgresql://, not postgres://"],
        id="postgres-scheme",
    ),
    pytest.param(
        lambda root: ["estimator=sklearn.ensemble.RandomForrestClassifier"],
        2, ["step 'train': estimator='sklearn.ensemble.RandomForrestClassifier': module "
            "'sklearn.ensemble' has no 'RandomForrestClassifier'"], id="estimator-path",
    ),
    pytest.param(
        lambda root: ["threshold=>>0.9"],
        2, ["step 'gate': thresholds['accuracy'] = '>>0.9': the threshold does not parse"],
        id="gate-expression",
    ),
    pytest.param(
        lambda root: ["alias=bad alias"],
        2, ["step 'gate': baseline='bad alias' is not a valid alias"], id="bad-alias",
    ),
    pytest.param(
        lambda root: ["name=bad name!"],
        2, ["step 'gate': model_name='bad name!' is not a valid model name"], id="bad-name",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("params", "code", "expected"), BAD_INPUTS)
def test_each_bad_input_leaves_a_populated_registry_byte_for_byte_unchanged(
    populated: Path, tmp_path: Path, params, code: int, expected: list[str]
) -> None:
    root = tmp_path / "project"
    shutil.copytree(populated, root)
    cli = Cli(root)
    before = registry_rows(_db(root))
    args = [arg for p in params(root) for arg in ("-p", p)]
    failed = cli("run", "flow.py:release", *args, check=code)
    for text in expected:
        assert text in failed.stderr, failed.stderr
    assert registry_rows(_db(root)) == before
    if code == 2:  # refused when traced: no step ran, no run was recorded
        assert "run " not in failed.stdout


def test_a_relative_source_is_shown_absolute(populated: Path) -> None:
    text = Cli(populated)("models", "show", "penguins:1").stdout
    assert f"data source {populated / 'data' / 'penguins.csv'} (format csv" in text
