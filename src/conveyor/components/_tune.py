"""`tune`: a parameter search over `train`, one mapped task per trial, then the best one trained.

    model = tune(train_set, target="species", estimator="sklearn.svm.SVC",
                 space={"C": {"low": 0.01, "high": 100, "log": True}, "kernel": ["rbf", "linear"]},
                 n_trials=20)
    evaluation = evaluate(model, test_set, target="species")

The trials are proposed up front (by Optuna's sampler when it is installed, else seeded random
sampling), scored in parallel with `score_trial.map(...)` — each trial is cached on its own, so
raising `n_trials` runs only the new ones — and the best parameters go to `train`. A space entry
is a list (categorical) or `{"low", "high"}` with optional `"log": true` and `"int": true`.
"""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING, Any

from conveyor.components._frames import require_columns, require_frame
from conveyor.components._train import build_estimator, train
from conveyor.core.context import log_metric, log_param
from conveyor.core.pipeline import pipeline
from conveyor.core.step import step
from conveyor.exceptions import ParameterError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["propose_trials", "score_trial", "select_best", "tune"]


def _check_space(space: Any) -> dict[str, Any]:
    if not isinstance(space, dict) or not space:
        raise ParameterError("tune: space must be a non-empty dict of parameter → range or list")
    for name, spec in space.items():
        if isinstance(spec, list):
            if not spec:
                raise ParameterError(f"tune: space[{name!r}] is an empty list")
        elif isinstance(spec, dict):
            if not {"low", "high"} <= set(spec) or not spec["low"] < spec["high"]:
                raise ParameterError(f"tune: space[{name!r}] needs low < high, got {spec}")
            if spec.get("log") and spec["low"] <= 0:
                raise ParameterError(f"tune: space[{name!r}] is log-scaled: low must be > 0")
        else:
            raise ParameterError(f"tune: space[{name!r}] must be a list or {{'low', 'high'}}")
    return space


def _optuna_trials(space: dict[str, Any], n: int, seed: int) -> list[dict[str, Any]] | None:
    try:
        import optuna
    except ImportError:
        return None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    distributions: dict[str, Any] = {}
    for name, spec in space.items():
        if isinstance(spec, list):
            distributions[name] = optuna.distributions.CategoricalDistribution(spec)
        elif spec.get("int"):
            distributions[name] = optuna.distributions.IntDistribution(
                int(spec["low"]), int(spec["high"]), log=bool(spec.get("log"))
            )
        else:
            distributions[name] = optuna.distributions.FloatDistribution(
                float(spec["low"]), float(spec["high"]), log=bool(spec.get("log"))
            )
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    return [study.ask(distributions).params for _ in range(n)]


def _random_trials(space: dict[str, Any], n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    trials = []
    for _ in range(n):
        params: dict[str, Any] = {}
        for name, spec in space.items():
            if isinstance(spec, list):
                params[name] = rng.choice(spec)
                continue
            low, high = float(spec["low"]), float(spec["high"])
            if spec.get("log"):
                value = math.exp(rng.uniform(math.log(low), math.log(high)))
            else:
                value = rng.uniform(low, high)
            params[name] = round(value) if spec.get("int") else value
        trials.append(params)
    return trials


@step
def propose_trials(space: dict[str, Any], n_trials: int = 20, seed: int = 0) -> list:
    """`n_trials` parameter sets from `space` (Optuna's sampler when installed); the first k of a
    larger search are those of a search of k, so growing a search re-uses every scored trial."""
    _check_space(space)
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
        raise ParameterError(f"tune: n_trials must be an int >= 1, got {n_trials!r}")
    trials = _optuna_trials(space, n_trials, seed)
    log_param("sampler", "random" if trials is None else "optuna")
    return trials if trials is not None else _random_trials(space, n_trials, seed)


@step
def score_trial(
    params: dict[str, Any],
    data: pd.DataFrame,
    target: str,
    estimator: Any,
    base_params: dict[str, Any] | None = None,
    scoring: str | None = None,
    folds: int = 3,
) -> float:
    """Mean cross-validated score of `estimator` with `params` on `data` (higher is better)."""
    from sklearn.model_selection import cross_val_score

    require_frame(data, "tune", "data")
    require_columns(data, [target], "tune", "target")
    from conveyor.registry import labels

    model = build_estimator(estimator, {**(base_params or {}), **params})
    X, y = data.drop(columns=[target]), data[target]
    if labels.needs_encoding(model):  # XGBoost: label positions (the score is the same)
        y, _ = labels.encode_labels(y)
    scores = cross_val_score(model, X, y, cv=folds, scoring=scoring, error_score="raise")
    return float(scores.mean())


@step(outputs=("params", "score"))
def select_best(trials: list, scores: list) -> tuple[dict[str, Any], float]:
    """The trial with the highest score (the first of equals)."""
    if not trials or len(trials) != len(scores):
        raise ParameterError("tune: no trials to choose from")
    best = max(range(len(scores)), key=lambda i: (scores[i], -i))
    for i, value in enumerate(scores):
        log_metric("trial_score", value, step=i)
    log_param("best_params", trials[best])
    log_metric("best_score", scores[best])
    return dict(trials[best]), float(scores[best])


@pipeline
def tune(
    data: Any,
    target: str,
    estimator: Any,
    space: dict[str, Any],
    n_trials: int = 20,
    params: dict[str, Any] | None = None,
    scoring: str | None = None,
    folds: int = 3,
    seed: int = 0,
):
    """Search `space` for `estimator` on `data`; train the best trial on all of `data`.

    `params` are fixed parameters given to every trial; `scoring` is a scikit-learn scorer name
    (default: the estimator's own score — accuracy, R²).
    """
    trials = propose_trials(space, n_trials, seed)
    scores = score_trial.map(
        trials, data=data, target=target, estimator=estimator, base_params=params,
        scoring=scoring, folds=folds,
    )  # fmt: skip
    best = select_best(trials, scores)
    return train(data, target=target, estimator=estimator, params=_merged(params, best.params))


def _merged(fixed: dict[str, Any] | None, best: Any) -> Any:
    return best if not fixed else merge_params(fixed, best)


@step
def merge_params(fixed: dict[str, Any], best: dict[str, Any]) -> dict[str, Any]:
    """The fixed parameters with the best trial's on top."""
    return {**fixed, **best}
