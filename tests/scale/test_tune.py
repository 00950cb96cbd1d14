"""`conveyor.components.tune`: a parameter search with one cached, mapped task per trial."""

from __future__ import annotations

from typing import Any

import conveyor as cv
from conveyor.components import evaluate, split, tune
from conveyor.config import Settings
from conveyor.workspace import open_workspace

SPACE = {"C": {"low": 0.01, "high": 100, "log": True}, "kernel": ["rbf", "linear"]}


@cv.step
def iris() -> Any:
    from sklearn.datasets import load_iris

    return load_iris(as_frame=True).frame


@cv.pipeline
def search(n_trials: int = 4, space: dict = SPACE):
    train_set, test_set = split(iris(), method="stratified", by="target", seed=0)
    model = tune(
        train_set, target="target", estimator="sklearn.svm.SVC", space=space, n_trials=n_trials
    )
    return evaluate(model, test_set, target="target")


def _trials(run: cv.Run) -> list[cv.StepRun]:
    return [step for step in run.steps if step.name.startswith("tune.score_trial[")]


def test_tune_finds_a_good_model_on_iris(settings: Settings) -> None:
    run = search.run(n_trials=4, settings=settings)

    assert run.status == "succeeded", run.error
    assert run.output()["metrics"]["accuracy"] > 0.9
    assert len(_trials(run)) == 4
    meta = open_workspace(settings).metadata
    metrics = meta.metrics(run.id)
    trial_scores = [m.value for m in metrics if m.name == "trial_score"]
    assert len(trial_scores) == 4
    assert [m.value for m in metrics if m.name == "best_score"] == [max(trial_scores)]
    params = meta.step_params(run.id)
    assert params[run.step("tune.propose_trials").id] == {"sampler": "optuna"}
    best = params[run.step("tune.select_best").id]["best_params"]
    assert set(best) == {"C", "kernel"}


def test_a_larger_search_scores_only_the_new_trials(settings: Settings) -> None:
    small = search.run(n_trials=4, settings=settings)
    assert small.status == "succeeded", small.error

    grown = search.run(n_trials=6, settings=settings, executor="process")

    assert grown.status == "succeeded", grown.error
    assert [step.cached for step in _trials(grown)] == [True] * 4 + [False] * 2
    assert [s.outputs for s in _trials(grown)][:4] == [s.outputs for s in _trials(small)]
    assert grown.output()["metrics"]["accuracy"] > 0.9


def test_a_bad_range_fails_naming_the_parameter(settings: Settings) -> None:
    run = search.run(space={"C": {"low": 10, "high": 1}}, settings=settings)

    assert run.status == "failed"
    proposed = run.step("tune.propose_trials")
    assert proposed.status == "failed"
    assert "space['C'] needs low < high" in (proposed.error_message or "")
    assert "space['C']" in (run.error or "")


def test_a_parameter_the_estimator_does_not_take_fails_naming_it(settings: Settings) -> None:
    run = search.run(space={"gamma_typo": [0.1, 1.0]}, n_trials=2, settings=settings)

    assert run.status == "failed"
    assert "gamma_typo" in (run.step("tune.score_trial").error_message or "")
    assert "gamma_typo" in (run.error or "")
