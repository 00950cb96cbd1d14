"""`gate` and `register`: thresholds, the production baseline, promotion, lineage, idempotence."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from tests.components.conftest import PENGUINS
from tests.registry.snapshot import registry_rows

import conveyor as cv
from conveyor.components import evaluate, gate, ingest, register, split, train
from conveyor.components._gate import decide, parse_threshold
from conveyor.exceptions import GraphError, ParameterError
from conveyor.registry import ModelRegistry

NUMERIC = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
GOOD = "sklearn.linear_model.LogisticRegression"
BAD = "sklearn.dummy.DummyClassifier"
PARAMS = {"max_iter": 3000, "solver": "newton-cholesky"}


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
        with pytest.raises(ParameterError, match=re.escape(f"thresholds['accuracy'] = {bad!r}")):
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
        "name": "penguins", "version": 1, "registered": True, "added": True, "promoted": True,
        "alias": "production", "alias_version": 1, "reasons": [],
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
    assert list(version.signature["inputs"].items()) == [(c, "float") for c in NUMERIC]
    assert version.signature["classes"] == ["Adelie", "Chinstrap", "Gentoo"]
    assert version.metrics["accuracy"] > 0.9
    trained_on = workspace.metadata.get_artifact(version.data["train.data"]).id
    from conveyor.metadata.model_store import ModelStore

    assert [v.version for v in ModelStore(workspace.metadata).versions_of_artifact(trained_on)]


def test_rerunning_an_unchanged_pipeline_adds_no_version(workspace) -> None:
    release.run()
    second = release.run()  # the alias was set by the first run: the gate compares with it
    assert not second.step("gate").cached and second.output()["version"] == 1
    assert not second.output()["added"] and not second.output()["promoted"]  # it did nothing
    again = release.run()
    assert again.step("gate").cached and again.step("register").cached
    assert again.output() == second.output()
    release.run(estimator=BAD, keep_rejected=True)  # version 2, refused
    registry = ModelRegistry(workspace)
    registry.promote("penguins", 2, "production", reason="by hand")
    moved = release.run()  # the alias moved: the gate decides again, against version 2
    assert not moved.step("gate").cached and moved.output()["promoted"]
    assert [v.version for v in registry.list()] == [1, 2]
    assert registry.get("penguins@production").version == 1


def _populated(workspace) -> dict:
    """A registry holding two versions, two aliases and a history; its rows as stored."""
    release.run(estimator=BAD)  # version 1, the first model: promoted
    release.run()  # version 2, better: promoted
    ModelRegistry(workspace).promote("penguins", 1, "candidate", reason="for the record")
    return registry_rows(workspace.settings.db)


def test_a_cached_register_never_claims_a_promotion_after_a_rollback(workspace) -> None:
    registry = ModelRegistry(workspace)
    first = release.run(estimator=BAD)
    assert first.output()["promoted"] and first.output()["version"] == 1
    better = release.run()
    assert better.output()["promoted"] and better.output()["version"] == 2
    registry.rollback("penguins", "production", reason="bad on Mondays")
    again = release.run()  # version 2's configuration, again: its gate passes against version 1
    assert again.status == "succeeded", again.error
    assert again.step("gate").cached
    outcome = again.output()
    assert not again.step("register").cached  # the registry changed since: it decides anew
    assert outcome["version"] == 2 and outcome["registered"] and not outcome["added"]
    assert not outcome["promoted"] and outcome["alias_version"] == 1
    assert "rolled back from version 2" in outcome["reasons"][-1]
    assert "bad on Mondays" in outcome["reasons"][-1]
    assert registry.get("penguins@production").version == 1
    once_more = release.run()  # now cached: and it says, truly, that nothing moved
    assert once_more.step("register").cached and not once_more.output()["promoted"]
    assert registry.get("penguins@production").version == 1
    registry.promote("penguins", 2, "production", reason="fixed the Monday data")
    assert registry.get("penguins@production").version == 2  # by hand, it can be overruled


def test_a_gate_that_does_not_parse_refuses_the_run_and_leaves_the_registry(workspace) -> None:
    before = _populated(workspace)
    runs = len(workspace.metadata.list_runs(limit=1000))
    with pytest.raises(GraphError) as caught:
        release.run(thresholds={"accuracy": "=>0.9"})
    assert str(caught.value).startswith("step 'gate': thresholds['accuracy'] = '=>0.9': ")
    for bad, message in (
        ({"accuracy": None}, "thresholds['accuracy'] = None"),
        ("accuracy>=0.9", "thresholds= must be a dict"),
    ):
        with pytest.raises(GraphError, match=re.escape(message)):
            release.run(thresholds=bad)
    with pytest.raises(GraphError, match=re.escape("step 'gate': tolerance = -0.1: must be")):
        release.run(tolerance=-0.1)
    assert registry_rows(workspace.settings.db) == before
    assert len(workspace.metadata.list_runs(limit=1000)) == runs  # no run started


@cv.pipeline
def named(name: str = "penguins", alias: str | None = "production", baseline: str = "production"):
    data = complete(ingest(str(PENGUINS)))
    train_set, test_set = split(data, method="stratified", by="species")
    model = train(train_set, target="species", estimator=GOOD, params=PARAMS, features=NUMERIC)
    evaluation = evaluate(model, test_set, target="species")
    decision = gate(evaluation, test_set, model_name=name, baseline=baseline)
    return register(model, evaluation, name=name, decision=decision, alias=alias)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"alias": "bad alias"}, "step 'register': alias='bad alias' is not a valid alias"),
        ({"alias": "9lives"}, "step 'register': alias='9lives' is not a valid alias"),
        ({"baseline": "bad alias"}, "step 'gate': baseline='bad alias' is not a valid alias"),
        ({"name": "bad name!"}, "step 'gate': model_name='bad name!' is not a valid model name"),
        ({"name": ""}, "step 'gate': model_name='' is not a valid model name"),
    ],
)
def test_bad_names_and_aliases_refuse_the_run_before_any_step(
    workspace, params: dict, message: str
) -> None:
    before = _populated(workspace)
    runs = len(workspace.metadata.list_runs(limit=1000))
    with pytest.raises(GraphError) as caught:
        named.run(**params)
    assert str(caught.value).startswith(message)
    assert registry_rows(workspace.settings.db) == before
    assert len(workspace.metadata.list_runs(limit=1000)) == runs  # no run started


@cv.step
def name_of(data: pd.DataFrame) -> str:
    return "bad name!"


@cv.pipeline
def named_late():
    data = complete(ingest(str(PENGUINS)))
    train_set, test_set = split(data, method="stratified", by="species")
    model = train(train_set, target="species", estimator=GOOD, params=PARAMS, features=NUMERIC)
    evaluation = evaluate(model, test_set, target="species")
    return register(model, evaluation, name=name_of(data))


def test_a_bad_name_known_only_when_register_runs_writes_nothing(workspace) -> None:
    before = _populated(workspace)
    run = named_late.run()
    assert run.status == "failed"
    assert run.step("register").error_message.startswith(
        "register: name='bad name!' is not a valid model name"
    )
    assert registry_rows(workspace.settings.db) == before


def test_a_comparison_the_baseline_cannot_make_fails_unless_skipped_and_says_so() -> None:
    evaluation = {"task": "classification", "metrics": {"accuracy": 0.95, "log_loss": 0.9}}
    decision = decide(evaluation, None, {"accuracy": 0.99}, compare=["log_loss"])
    assert not decision["passed"]
    assert decision["reasons"] == [
        "log_loss = 0.9 vs baseline: the baseline has no log_loss (it was not computed), "
        "no comparison: FAILED"
    ]
    why = {"log_loss": "DummyClassifier has no predict_proba"}
    skipped = decide(
        evaluation,
        None,
        {"accuracy": 0.99},
        compare=["log_loss"],
        missing_baseline="skip",
        baseline_undefined=why,
    )
    assert skipped["passed"] and skipped["checks"][0]["skipped"]
    assert skipped["reasons"] == [
        "log_loss = 0.9 vs baseline: the baseline has no log_loss (DummyClassifier has no "
        "predict_proba), no comparison: skipped (missing_baseline='skip')"
    ]
    with pytest.raises(ParameterError, match="missing_baseline='maybe' must be 'fail' or 'skip'"):
        decide(evaluation, None, {}, missing_baseline="maybe")


def test_a_threshold_on_an_undefined_metric_fails_naming_why() -> None:
    evaluation = {
        "task": "classification",
        "metrics": {"accuracy": 0.95},
        "undefined": {"log_loss": "the model never saw class(es) ['Emperor']"},
    }
    decision = decide(evaluation, {"log_loss": "<0.5"})
    assert not decision["passed"]
    assert decision["reasons"] == [
        "log_loss = missing (the model never saw class(es) ['Emperor']), needs < 0.5: FAILED"
    ]


@cv.step
def colonies(data: pd.DataFrame, dropped: str | None) -> pd.DataFrame:
    data = data.dropna()
    return (data if dropped is None else data[data["species"] != dropped]).reset_index(drop=True)


@cv.pipeline
def new_species(dropped: str | None = None, missing_baseline: str = "fail"):
    data = colonies(ingest(str(PENGUINS)), dropped)
    train_set, test_set = split(data, method="stratified", by="species")
    model = train(train_set, target="species", estimator=GOOD, params=PARAMS, features=NUMERIC)
    evaluation = evaluate(model, test_set, target="species")
    decision = gate(
        evaluation,
        test_set,
        model_name="penguins",
        compare=["accuracy", "log_loss"],
        missing_baseline=missing_baseline,
    )
    return register(model, evaluation, name="penguins", decision=decision)


def test_the_gate_rescores_a_baseline_that_never_saw_a_new_class(workspace) -> None:
    first = new_species.run(dropped="Gentoo")  # production knows two species
    assert first.status == "succeeded", first.error
    assert first.output()["promoted"]
    refused = new_species.run()  # now Gentoo is in the data: production is scored on it
    assert refused.status == "succeeded", refused.error
    decision = refused.step("gate")
    reasons = refused.output()["reasons"]
    assert not refused.output()["promoted"] and decision.status == "succeeded"
    assert reasons[0].startswith("accuracy = ") and reasons[0].endswith(": ok")
    assert reasons[1].endswith(
        "the baseline has no log_loss (the model never saw class(es) ['Gentoo']: it gives "
        "them probability 0, so log loss is infinite), no comparison: FAILED"
    )
    skipped = new_species.run(missing_baseline="skip")
    assert skipped.output()["promoted"], skipped.output()["reasons"]
    assert ModelRegistry(workspace).get("penguins@production").version == 2
