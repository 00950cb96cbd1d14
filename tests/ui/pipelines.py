"""Pipelines the dashboard tests run (module level, so `conveyor run FILE.py:NAME` re-runs them)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

import conveyor as cv
from conveyor.components import evaluate, gate, ingest, register, split, train

PENGUINS = Path(__file__).parents[2] / "examples" / "penguins" / "data" / "penguins.csv"
NUMERIC = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
#: what the escaping tests look for: each sets window.__xss if it ever runs
SCRIPT = "<script>window.__xss = 'script'</script>"
IMG = "<img src=x onerror=\"window.__xss = 'img'\">"
SVG = "<svg onload=\"window.__xss = 'svg'\"></svg>"


@cv.step
def make_data(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    print(f"making {n} rows")
    return pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "y": rng.integers(0, 2, n),
            "colour": rng.choice(["red", "green", SCRIPT], n),
        }
    )


@cv.step(outputs=("train", "test"))
def holdout(data: pd.DataFrame, fraction: float = 0.25):
    cut = int(len(data) * (1 - fraction))
    return data.iloc[:cut].reset_index(drop=True), data.iloc[cut:].reset_index(drop=True)


@cv.step
def fit(train: pd.DataFrame, lr: float = 0.1, epochs: int = 4) -> dict:
    loss = 1.0
    for epoch in range(epochs):
        loss *= 1 - lr
        cv.log_metric("loss", loss, step=epoch)
    cv.log_param("optimizer", "sgd")
    cv.log_param("comment", IMG)
    print(f"trained on {len(train)} rows; {SVG}")
    return {"weights": [lr, float(train["x"].mean())], "loss": loss}


@cv.step
def score(model: dict, test: pd.DataFrame) -> float:
    accuracy = 1.0 - model["loss"] / 2
    cv.log_metric("accuracy", accuracy)
    cv.log_metric(IMG, 1.0)
    return accuracy


@cv.pipeline(name=f"training {IMG}")
def training(n: int = 200, lr: float = 0.1, epochs: int = 4, note: str = SCRIPT):
    train_set, test_set = holdout(make_data(n))
    return score(fit(train_set, lr=lr, epochs=epochs), test_set)


@cv.step
def explode(data: pd.DataFrame) -> pd.DataFrame:
    print("about to fail")
    raise ValueError(f"bad batch {SCRIPT}")


@cv.step
def after(data: pd.DataFrame) -> int:
    return len(data)


@cv.pipeline
def fragile(n: int = 50):
    return after(explode(make_data(n)))


@cv.step
def wait_for(path: str, data: pd.DataFrame) -> int:
    print("waiting for", path, flush=True)
    while not Path(path).exists():
        time.sleep(0.05)
    return len(data)


@cv.step
def double(value: int) -> int:
    return 2 * value


@cv.pipeline
def gated(gate_file: str, n: int = 10):
    """make_data → wait_for (until gate_file exists) → double: a run the tests watch live."""
    return double(wait_for(gate_file, make_data(n)))


@cv.step
def complete(data: pd.DataFrame) -> pd.DataFrame:
    return data.dropna().reset_index(drop=True)


@cv.pipeline
def release(c: float = 1.0, description: str = IMG, keep_rejected: bool = False):
    data = complete(ingest(str(PENGUINS)))
    train_set, test_set = split(data, method="stratified", by="species")
    model = train(
        train_set,
        target="species",
        estimator="sklearn.linear_model.LogisticRegression",
        params={"max_iter": 3000, "C": c, "solver": "newton-cholesky"},  # lbfgs: seed-dependent
        features=NUMERIC,
    )
    evaluation = evaluate(model, test_set, target="species")
    decision = gate(evaluation, test_set, model_name="penguins", tolerance=0.05)
    return register(
        model,
        evaluation,
        name="penguins",
        decision=decision,
        description=description,
        keep_rejected=keep_rejected,
    )


#: a parameter value far wider than the step panel, with nowhere to break a line (the panel
#: must wrap it anyway, not cut it)
LONG = "s3://bucket/" + "/".join(f"part{i:02d}" for i in range(40)) + "?tag=" + "x" * 60 + " END"


@cv.step
def stage(x: int, note: str = "") -> int:
    if note:
        cv.log_param("note", note)
    return x + 1


@cv.pipeline
def nine(x: int = 0):
    """Nine steps in a row: the widest DAG of its size."""
    for i in range(9):
        x = stage(x, note=LONG if i == 0 else "")
    return x


@cv.step
def cell(a: int, b: int) -> int:
    return a + b


@cv.pipeline
def grid(layers: int = 20, width: int = 10):
    """200 steps: 20 layers of 10, each reading two outputs of the layer before (benchmark B8)."""
    row = [cell(i, 1) for i in range(width)]
    for _ in range(layers - 1):
        row = [cell(row[i], row[(i + 1) % width]) for i in range(width)]
    return row[0]


#: an argument as an estimator's repr reads: continuation lines indented to line up under an
#: opening bracket (80 columns wide), each line short
SPEC = """Pipeline(steps=[('features',
                 ColumnTransformer([('num',
                                     StandardScaler(),
                                     ['x']),
                                    ('cat',
                                     OneHotEncoder(),
                                     ['colour'])])),
                ('model',
                 LogisticRegression(C=0.5))])"""


@cv.step(outputs=("data", "report"))
def check(data: pd.DataFrame, spec: str = ""):
    """Validate and pass the data through unchanged (the very bytes it read), with a report."""
    report = {
        f"column_{i}": {"missing": 0, "min": float(i), "max": float(i + 1), "dtype": "float64"}
        for i in range(12)
    }  # longer than an artifact summary's 500 characters
    return data, report


@cv.step
def count(data: pd.DataFrame) -> int:
    return len(data)


@cv.pipeline
def relay(n: int = 20):
    """make_data → check (passes the data through) → count: a lineage with a loop to avoid."""
    checked, _report = check(make_data(n), spec=SPEC)
    return count(checked)
