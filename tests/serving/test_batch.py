"""Batch inference: the `batch_predict` step in a pipeline, and `predict_file` behind the CLI."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from tests.serving.conftest import ADELIE, FEATURES, GENTOO, PENGUINS, register_penguins

import conveyor as cv
from conveyor.components import batch_predict
from conveyor.components._batch import predict_file, score
from conveyor.exceptions import InputError, NotFoundError, ParameterError
from conveyor.registry import ModelRegistry
from conveyor.workspace import Workspace


@cv.step
def read(path: str) -> pd.DataFrame:
    return pd.read_csv(path)


@cv.pipeline
def scoring(path: str, model: str = "penguins@production", proba: bool = False):
    return batch_predict(model, read(path), proba=proba)


@pytest.fixture
def new_penguins(project: Path) -> Path:
    """Penguins to score: the example data without the answer, plus an id column."""
    frame = pd.read_csv(PENGUINS).drop(columns=["species"]).head(40)
    frame.insert(0, "id", range(100, 140))
    path = project / "new.csv"
    frame.to_csv(path, index=False)
    return path


def test_batch_predict_in_a_pipeline(trained: Workspace, new_penguins: Path) -> None:
    run = scoring.run(path=str(new_penguins), proba=True)
    assert run.status == "succeeded", run.error
    scored = run.output()
    source = pd.read_csv(new_penguins)
    pd.testing.assert_frame_equal(scored[source.columns], source)  # the input is kept as it was
    model = ModelRegistry(trained).load("penguins@production")
    assert scored["prediction"].tolist() == model.predict(source[FEATURES]).tolist()
    proba = scored[["proba_Adelie", "proba_Chinstrap", "proba_Gentoo"]]
    assert proba.sum(axis=1).round(9).eq(1).all()
    step = run.step("batch_predict")
    assert trained.metadata.step_params(run.id)[step.id] == {"model": "penguins:1"}


def test_cached_until_the_alias_moves(trained: Workspace, new_penguins: Path) -> None:
    first = scoring.run(path=str(new_penguins))
    assert not first.step("batch_predict").cached
    again = scoring.run(path=str(new_penguins))
    assert again.step("batch_predict").cached  # same data, same version
    assert again.output()["prediction"].tolist() == first.output()["prediction"].tolist()

    assert register_penguins(trained.settings, "majority", alias=None) == 2
    not_moved = scoring.run(path=str(new_penguins))
    assert not_moved.step("batch_predict").cached  # a new version, but the alias is where it was

    ModelRegistry(trained).promote("penguins", 2, "production")
    moved = scoring.run(path=str(new_penguins))
    assert not moved.step("batch_predict").cached
    assert set(moved.output()["prediction"]) == {"Adelie"}  # the majority model's answer

    ModelRegistry(trained).rollback("penguins", "production")
    back = scoring.run(path=str(new_penguins))
    assert back.step("batch_predict").cached  # version 1 scored this data before


def test_bad_rows_fail_naming_the_row_and_column(trained: Workspace, project: Path) -> None:
    frame = pd.DataFrame([ADELIE, GENTOO, {**GENTOO, "island": "Atlantis"}])
    frame.loc[1, "body_mass_g"] = None  # allowed: the column is nullable
    path = project / "bad.csv"
    frame.to_csv(path, index=False)
    run = scoring.run(path=str(path))
    assert run.status == "failed"
    step = run.step("batch_predict")
    assert step.status == "failed"
    assert "row 2.island: 'Atlantis' is not one of ['Biscoe', 'Dream', 'Torgersen']" in run.error

    other = project / "no-sex.csv"
    frame.drop(columns=["sex"]).to_csv(other, index=False)
    missing = scoring.run(path=str(other))
    assert missing.status == "failed" and "missing column(s) ['sex']" in missing.error


def test_predict_file(trained: Workspace, new_penguins: Path, project: Path) -> None:
    target = project / "scored.parquet"
    assert predict_file("penguins@production", new_penguins, target, proba=True) == 40
    scored = pd.read_parquet(target)
    assert list(scored.columns) == [
        *pd.read_csv(new_penguins).columns, "prediction",
        "proba_Adelie", "proba_Chinstrap", "proba_Gentoo",
    ]  # fmt: skip
    as_csv = project / "scored.csv"
    predict_file("penguins:1", target, as_csv)  # Parquet in, CSV out
    assert pd.read_csv(as_csv)["prediction"].tolist() == scored["prediction"].tolist()

    bad = project / "bad.csv"
    pd.DataFrame([{**ADELIE, "bill_depth_mm": "deep"}]).to_csv(bad, index=False)
    with pytest.raises(InputError, match=re.escape("row 0.bill_depth_mm: must be a number")):
        predict_file("penguins@production", bad, project / "out.parquet")
    assert not (project / "out.parquet").exists()
    with pytest.raises(NotFoundError, match="has no alias 'staging'"):
        predict_file("penguins@staging", new_penguins, project / "out.parquet")
    nowhere = project / "no" / "such" / "out.parquet"
    with pytest.raises(ParameterError, match=re.escape(f"predict: cannot write '{nowhere}'")):
        predict_file("penguins@production", new_penguins, nowhere)
    assert [p.name for p in project.iterdir() if "partial" in p.name] == []


def test_the_data_must_be_a_frame(trained: Workspace) -> None:
    with pytest.raises(ParameterError, match="batch_predict"):
        score("penguins@production", "not a frame")  # type: ignore[arg-type]
