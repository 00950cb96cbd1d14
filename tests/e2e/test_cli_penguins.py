"""The penguins example through the CLI, as `make demo` runs it, and its bad inputs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from tests.e2e.conftest import Cli

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
