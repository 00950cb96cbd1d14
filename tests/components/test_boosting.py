"""XGBoost and LightGBM through the components: string labels in, string labels out, no trust."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from tests.components.conftest import PENGUINS

import conveyor as cv
from conveyor.components import evaluate, gate, ingest, register, split, train
from conveyor.registry import ModelRegistry

NUMERIC = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
SPECIES = ["Adelie", "Chinstrap", "Gentoo"]


@cv.pipeline
def boosted(estimator: str, params: dict | None = None, name: str = "boosted"):
    data = ingest(str(PENGUINS))
    train_set, test_set = split(data, method="stratified", by="species", seed=1)
    model = train(train_set, target="species", estimator=estimator, params=params, features=NUMERIC)
    evaluation = evaluate(model, test_set, target="species", slice_by=["island"])
    decision = gate(evaluation, test_set, model_name=name, thresholds={"accuracy": ">=0.9"})
    return {
        "registered": register(model, evaluation, name=name, decision=decision),
        "evaluation": evaluation,
    }


LIBRARIES = [
    pytest.param(
        "xgboost", "xgboost.XGBClassifier", {"n_estimators": 20, "max_depth": 3}, id="xgboost"
    ),
    pytest.param(
        "lightgbm",
        "lightgbm.LGBMClassifier",
        {"n_estimators": 20, "min_child_samples": 5, "verbose": -1},
        id="lightgbm",
    ),
]


@pytest.mark.parametrize(("library", "estimator", "params"), LIBRARIES)
def test_boosted_classifiers_train_evaluate_register_and_load_with_string_labels(
    workspace, library: str, estimator: str, params: dict
) -> None:
    pytest.importorskip(library, reason=f"{library} is an optional extra (conveyor[{library}])")
    run = boosted.run(estimator=estimator, params=params)
    assert run.status == "succeeded", run.error
    outcome, evaluation = run.output("registered"), run.output("evaluation")
    assert outcome["promoted"] and outcome["version"] == 1
    assert evaluation["metrics"]["accuracy"] > 0.9 and "log_loss" in evaluation["metrics"]
    assert evaluation["confusion_matrix"]["labels"] == SPECIES
    record = ModelRegistry(workspace).get("boosted@production")
    assert record.signature["classes"] == SPECIES
    assert list(record.signature["inputs"]) == NUMERIC
    stored = workspace.metadata.get_artifact(record.artifact_id)
    assert (
        stored.safe
        and stored.materializer == f"{library}.{'json' if library == 'xgboost' else 'txt'}"
    )
    frame = pd.read_csv(PENGUINS).dropna(subset=NUMERIC)
    model = cv.load_model("boosted@production", settings=workspace.settings)  # no trust needed
    predicted = model.predict(frame[NUMERIC])
    assert set(predicted) <= set(SPECIES) and (predicted == frame["species"]).mean() > 0.9
    assert list(model.classes_) == SPECIES
    proba = model.predict_proba(frame[NUMERIC][:3])
    assert proba.shape == (3, 3) and np.allclose(proba.sum(axis=1), 1)
    again = boosted.run(estimator=estimator, params=params)
    assert again.step("train").cached and not again.output("registered")["added"]


def test_xgboost_fitted_on_positions_records_its_labels_in_its_own_file(workspace) -> None:
    pytest.importorskip("xgboost", reason="xgboost is an optional extra (conveyor[xgboost])")
    from conveyor.registry.labels import ATTRIBUTE, LabelDecoded

    frame = pd.read_csv(PENGUINS)
    model = train(
        frame, target="species", estimator="xgboost.XGBClassifier", features=NUMERIC,
        params={"n_estimators": 5},
    )  # fmt: skip
    assert type(model).__name__ == "XGBClassifier"  # what is stored: XGBoost's own format
    assert model.get_booster().attr(ATTRIBUTE) == '["Adelie", "Chinstrap", "Gentoo"]'
    report = evaluate(model, frame, target="species")
    assert report["confusion_matrix"]["labels"] == SPECIES
    assert report["model"] == "xgboost.sklearn.XGBClassifier"
    assert isinstance(LabelDecoded(model, SPECIES).predict(frame[NUMERIC][:2])[0], str)
