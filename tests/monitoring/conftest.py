"""A churn model registered by a real pipeline run on synthetic customers, and live frames for it.

The customers have three numeric features (`age`, `income`, `tenure`) and two categorical ones
(`plan`, `region`); `customers(rows, seed, shift=...)` draws more of them from the same world, or
from one where the named features moved: `age` by one standard deviation, `tenure` by half its
range, `plan`'s frequencies reversed, `region` concentrated on one value.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import conveyor as cv
from conveyor.components import evaluate, ingest, register, split, train
from conveyor.workspace import Workspace

NUMERIC = ["age", "income", "tenure"]
CATEGORICAL = ["plan", "region"]
FEATURES = [*NUMERIC, *CATEGORICAL]
PLANS = ["basic", "plus", "pro"]
REGIONS = ["north", "south", "east", "west"]
SHIFTS = ("age", "tenure", "plan", "region")

_FIGURES: list[str] = []


@pytest.fixture
def figures() -> Callable[[str], None]:
    """Call with a line of figures; it is printed in the test session's summary."""
    return _FIGURES.append


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _FIGURES:
        terminalreporter.section("monitoring figures")
        for line in _FIGURES:
            terminalreporter.write_line(line)


def customers(rows: int, seed: int, shift: tuple[str, ...] = ()) -> pd.DataFrame:
    """`rows` synthetic customers with a `churn` label ("yes"/"no"); `shift` moves features."""
    unknown = set(shift) - set(SHIFTS)
    assert not unknown, f"no shift defined for {unknown}"
    rng = np.random.default_rng(seed)
    age = rng.normal(40.0, 10.0, rows) + (10.0 if "age" in shift else 0.0)
    income = rng.lognormal(10.0, 0.5, rows)
    tenure = rng.integers(0, 120, rows) + (60 if "tenure" in shift else 0)
    plan_p = [0.1, 0.3, 0.6] if "plan" in shift else [0.6, 0.3, 0.1]
    plan = rng.choice(PLANS, size=rows, p=plan_p)
    region_p = [0.85, 0.05, 0.05, 0.05] if "region" in shift else [0.25] * 4
    region = rng.choice(REGIONS, size=rows, p=region_p)
    logit = -0.06 * (age - 40) - 0.03 * (tenure - 60) + 1.5 * (plan == "basic") - 0.5
    churn = np.where(rng.random(rows) < 1 / (1 + np.exp(-logit)), "yes", "no")
    return pd.DataFrame(
        {"age": age, "income": income, "tenure": tenure, "plan": plan, "region": region}
        | {"churn": churn}
    )


def estimator() -> Pipeline:
    """Scale the numeric features, one-hot encode the categorical ones, then a logistic model."""
    features = ColumnTransformer(
        [
            ("numeric", StandardScaler(), NUMERIC),
            ("categorical", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
        ]
    )
    return Pipeline([("features", features), ("classifier", LogisticRegression(max_iter=1000))])


@cv.pipeline
def churn(source: str):
    """ingest → split → train → evaluate → register (captures the reference statistics)."""
    data = ingest(source)
    train_set, test_set = split(data, method="stratified", by="churn", test_size=0.25)
    model = train(train_set, target="churn", estimator=estimator(), features=FEATURES)
    evaluation = evaluate(model, test_set, target="churn")
    return register(model, evaluation, name="churn")


@pytest.fixture
def trained(workspace: Workspace, project: Path) -> Workspace:
    """The test's workspace with churn:1 registered at @production from 4,000 customers."""
    source = project / "customers.csv"
    customers(4000, seed=1).to_csv(source, index=False)
    run = churn.run(source=str(source), settings=workspace.settings)
    assert run.status == "succeeded", run.error
    assert run.output()["version"] == 1
    return workspace


@pytest.fixture
def live() -> Callable[..., pd.DataFrame]:
    """Live features (no label): `live(rows, seed=..., shift=("age", "plan"))`."""

    def make(rows: int = 3000, seed: int = 2, shift: tuple[str, ...] = ()) -> Any:
        return customers(rows, seed, shift)[FEATURES]

    return make


@cv.pipeline
def incomes(source: str):
    """A regression model: income from age and tenure, registered as `income` with its
    reference (the predictions' distribution is a histogram of numbers)."""
    data = ingest(source)
    train_set, test_set = split(data, test_size=0.25)
    model = train(
        train_set,
        target="income",
        estimator="sklearn.linear_model.LinearRegression",
        features=["age", "tenure"],
    )
    return register(model, evaluate(model, test_set, target="income"), name="income")


@pytest.fixture
def regressor(workspace: Workspace, project: Path) -> Workspace:
    """The test's workspace with income:1 registered at @production: a regression model whose
    income grows with age and tenure."""
    source = project / "incomes.csv"
    frame = customers(4000, seed=1)
    rng = np.random.default_rng(9)
    frame["income"] = 1000 * frame["age"] + 200 * frame["tenure"] + rng.normal(0, 2000, len(frame))
    frame[["age", "tenure", "income"]].to_csv(source, index=False)
    run = incomes.run(source=str(source), settings=workspace.settings)
    assert run.status == "succeeded", run.error
    return workspace
