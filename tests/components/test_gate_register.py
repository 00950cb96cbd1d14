"""`gate` and `register`: thresholds, the production baseline, promotion, lineage, idempotence."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from tests.components.conftest import PENGUINS

import conveyor as cv
from conveyor.components import evaluate, gate, ingest, register, split, train
from conveyor.components._gate import decide, parse_threshold
from conveyor.exceptions import ParameterError
from conveyor.registry import ModelRegistry

NUMERIC = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
GOOD = "sklearn.linear_model.LogisticRegression"
BAD = "sklearn.dummy.DummyClassifier"


@cv.step
def complete(data: pd.DataFrame) -> pd.DataFrame:
    return data.dropna().reset_index(drop=True)


@cv.pipeline
def release(
    estimator: str = GOOD,
    thresholds: dict | None = None,
    tolerance: float = 0.0,
    keep_rejected: bool = False,
):
    data = complete(ingest(str(PENGUINS)))
    train_set, test_set = split(data, method="stratified", by="species")
    params = {"max_iter": 3000, "solver": "newton-cholesky"} if estimator == GOOD else {}
    model = train(train_set, target="species", estimator=estimator, params=params, features=NUMERIC)
    evaluation = evaluate(model, test_set, target="species")
    decision = gate(
        evaluation, test_set, model_name="penguins", thresholds=thresholds, tolerance=tolerance
    )
    return register(
        model, evaluation, name="penguins", decision=decision, keep_rejected=keep_rejected
    )


def test_threshold_expressions() -> None:
    assert parse_threshold("accuracy", ">=0.9") == (">=", 0.9)
    assert parse_threshold("log_loss", " < 3.5e-1 ") == ("<", 0.35)
    assert parse_threshold("accuracy", 0.8) == (">=", 0.8)
    assert parse_threshold("rmse", 12) == ("<=", 12.0)
    for bad in ("≥0.9", ">>0.9", "0.9", "at least 0.9", None):
        with pytest.raises(ParameterError, match="threshold for 'accuracy'"):
            parse_threshold("accuracy", bad)


def test_decisions_explain_each_check() -> None:
    evaluation = {"task": "classification", "metrics": {"accuracy": 0.93, "log_loss": 0.3}}
    decision = decide(evaluation, {"accuracy": ">=0.9", "log_loss": "<0.2"})
    assert not decision["passed"]
    assert [c["passed"] for c in decision["checks"]] == [True, False]
    assert decision["reasons"][1] == "log_loss = 0.3, needs < 0.2: FAILED"
    within = decide(evaluation, None, {"accuracy": 0.94}, tolerance=0.02)
    assert within["passed"] and within["checks"][0]["bound"] == pytest.approx(0.92)
    assert not decide(evaluation, None, {"accuracy": 0.96}, tolerance=0.02)["passed"]
    lower = decide(evaluation, None, {"log_loss": 0.25}, compare=["log_loss"], tolerance=0.1)
    assert lower["passed"] and lower["checks"][0]["op"] == "<="
    with pytest.raises(ParameterError, match=re.escape("unknown metric(s) ['acuracy']")):
        decide(evaluation, {"acuracy": ">=0.9"})


def test_first_model_is_promoted_a_worse_one_is_refused(workspace) -> None:
    first = release.run(thresholds={"accuracy": ">=0.9"})
    assert first.status == "succeeded", first.error
    assert first.output() | {"reasons": []} == {
        "name": "penguins", "version": 1, "registered": True, "promoted": True,
        "alias": "production", "reasons": [],
    }  # fmt: skip
    worse = release.run(estimator=BAD, thresholds={"accuracy": ">=0.9"})
    assert worse.status == "succeeded"  # a refusal is an outcome, not a failure
    decision = worse.step("gate")
    assert not worse.output()["registered"] and not worse.output()["promoted"]
    assert any("FAILED" in r for r in worse.output()["reasons"])
    metrics = {m.name: m.value for m in workspace.metadata.metrics(worse.id)}
    assert metrics["gate_passed"] == 0.0 and decision.status == "succeeded"
    registry = ModelRegistry(workspace)
    assert [v.version for v in registry.list()] == [1]
    assert registry.get("penguins@production").version == 1


def test_baseline_comparison_refuses_a_regression_without_thresholds(workspace) -> None:
    release.run()
    kept = release.run(estimator=BAD, keep_rejected=True)
    outcome = kept.output()
    assert outcome["registered"] and not outcome["promoted"] and outcome["version"] == 2
    registry = ModelRegistry(workspace)
    assert registry.get("penguins@production").version == 1
    rejected = registry.get("penguins:2")
    assert rejected.evaluation["gate"]["passed"] is False
    assert rejected.evaluation["gate"]["baseline"]["version"] == 1


def test_register_records_lineage_and_signature(workspace) -> None:
    run = release.run()
    version = ModelRegistry(workspace).get("penguins:1")
    train_step = run.step("train")
    assert version.run_id == run.id and version.step_run_id == train_step.id
    assert version.artifact_id == train_step.outputs["output"]
    assert version.data["train.data"] == run.step("split").outputs["train"]
    assert version.data["eval.data"] == run.step("split").outputs["test"]
    assert version.signature["inputs"] == dict.fromkeys(NUMERIC, "float64")
    assert version.signature["classes"] == ["Adelie", "Chinstrap", "Gentoo"]
    assert version.metrics["accuracy"] > 0.9
    trained_on = workspace.metadata.get_artifact(version.data["train.data"]).id
    from conveyor.metadata.model_store import ModelStore

    assert [v.version for v in ModelStore(workspace.metadata).versions_of_artifact(trained_on)]


def test_rerunning_an_unchanged_pipeline_adds_no_version(workspace) -> None:
    release.run()
    second = release.run()  # the alias was set by the first run: the gate compares with it
    assert not second.step("gate").cached and second.output()["version"] == 1
    again = release.run()
    assert again.step("gate").cached and again.step("register").cached
    release.run(estimator=BAD, keep_rejected=True)  # version 2, refused
    registry = ModelRegistry(workspace)
    registry.promote("penguins", 2, "production", reason="by hand")
    moved = release.run()  # the alias moved: the gate decides again, against version 2
    assert not moved.step("gate").cached and moved.output()["promoted"]
    assert [v.version for v in registry.list()] == [1, 2]
    assert registry.get("penguins@production").version == 1


def test_a_gate_that_does_not_parse_fails_the_run_and_leaves_the_registry(workspace) -> None:
    run = release.run(thresholds={"accuracy": "=>0.9"})
    assert run.status == "failed"
    assert run.step("gate").error_message.startswith("gate: threshold for 'accuracy'")
    assert run.step("register").status == "skipped"
    assert ModelRegistry(workspace).list() == []
