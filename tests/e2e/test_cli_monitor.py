"""`conveyor monitor` as a user runs it: a model trained by `conveyor run`, then live data files."""

from __future__ import annotations

import json

import pytest
from tests.e2e.conftest import Cli
from tests.monitoring.conftest import FEATURES, customers

FLOW = """
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    import conveyor as cv
    from conveyor.components import evaluate, ingest, register, split, train

    NUMERIC = ["age", "income", "tenure"]
    CATEGORICAL = ["plan", "region"]
    FEATURES = NUMERIC + CATEGORICAL


    @cv.pipeline
    def churn(source: str = "customers.csv"):
        data = ingest(source)
        train_set, test_set = split(data, method="stratified", by="churn")
        features = ColumnTransformer(
            [
                ("numeric", StandardScaler(), NUMERIC),
                ("categorical", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
            ]
        )
        estimator = Pipeline([("features", features), ("model", LogisticRegression())])
        model = train(train_set, target="churn", estimator=estimator, features=FEATURES)
        return register(model, evaluate(model, test_set, target="churn"), name="churn")
"""


@pytest.fixture
def trained(cli: Cli) -> Cli:
    """churn:1 at @production in the CLI's project, and live files: same.csv, shifted.csv."""
    customers(4000, seed=1).to_csv(cli.root / "customers.csv", index=False)
    customers(3000, seed=2)[FEATURES].to_csv(cli.root / "same.csv", index=False)
    shifted = customers(3000, seed=2, shift=("age", "tenure", "plan"))[FEATURES]
    shifted.to_csv(cli.root / "shifted.csv", index=False)
    cli.write("flow.py", FLOW)
    cli("run", "flow.py:churn")
    [model] = cli.json("models", "list")
    assert (model["name"], model["version"], model["aliases"]) == ("churn", 1, ["production"])
    return cli


def test_monitor_exits_1_on_dataset_drift_and_writes_the_report(trained: Cli) -> None:
    same = trained.json("monitor", "churn@production", "--data", "same.csv")
    assert same["drift"]["drifted"] is False and same["drift"]["drifted_features"] == []
    assert same["window"] == {"source": "data", "rows": 3000, "start": None, "end": None}

    proc = trained(
        "monitor", "churn@production", "--data", "shifted.csv", "--html", "drift.html", "--json",
        check=1,
    )  # fmt: skip
    report = json.loads(proc.stdout)
    assert report["drift"]["drifted"] is True
    assert report["drift"]["drifted_features"] == ["age", "tenure", "plan"]
    assert {f["feature"] for f in report["features"] if f["drifted"]} == {"age", "tenure", "plan"}
    assert report["model"] == "churn" and report["version"] == 1
    assert report["html"] == "drift.html"
    page = (trained.root / "drift.html").read_text()
    assert "churn:1" in page and page.count('<div class="card">') == 3
    assert "http://" not in page and "https://" not in page and "<script" not in page

    text = trained("monitor", "churn", "--data", "shifted.csv", "--html", "again.html", check=1)
    assert "DRIFT" in text.stdout and "60% of 5 features drifted" in text.stdout
    assert text.stdout.count("drifted") >= 3 and "report written to again.html" in text.stdout
    assert (trained.root / "again.html").exists()
    history = (trained.root / "again.html").read_text()
    assert history.count("<circle") == 3  # the drift share of all three evaluations so far


def test_bad_windows_and_empty_logs_are_clear_errors(trained: Cli) -> None:
    for bad in ("soon", "0", "-5", "30x", "1.5"):
        proc = trained("monitor", "churn", "--window", bad, check=2)
        assert f"--window {bad!r}: give a row count (500) or a duration" in proc.stderr
    empty = trained("monitor", "churn", "--window", "30m", check=4)  # not 1: that is drift
    assert "no rows in the last 30m of the prediction log (rows served by churn:1)" in empty.stderr
    missing = trained("monitor", "nosuch", "--data", "same.csv", check=2)
    assert "no model named 'nosuch' is registered" in missing.stderr
    absent = trained("monitor", "churn", "--data", "absent.csv", check=2)  # not 1: that is drift
    assert "absent.csv" in absent.stderr
    for window in (("--since", "3600"), ("--window", "30m")):
        untimed = trained("monitor", "churn", "--data", "same.csv", *window, check=2)
        assert "the data has no 'at' column" in untimed.stderr
    shown = " ".join(trained("monitor", "--help").stdout.split())
    assert "3 no dataset drift, but a feature could not be compared" in shown
    assert "4 the window has no rows" in shown


def test_lost_features_fail_the_check(trained: Cli) -> None:
    import pandas as pd

    same = pd.read_csv(trained.root / "same.csv")
    same.drop(columns=["income"]).to_csv(trained.root / "no-income.csv", index=False)
    same[[]].assign(other=1).to_csv(trained.root / "nothing.csv", index=False)
    same.assign(age="old").to_csv(trained.root / "text.csv", index=False)

    one = trained("monitor", "churn", "--data", "no-income.csv", check=3)
    assert (
        "FEATURES LOST" in one.stdout and "20% of 5 features drifted or lost (1 lost)" in one.stdout
    )
    assert "warning: column 'income' is missing from the live data" in one.stdout
    text = trained.json("monitor", "churn", "--data", "text.csv", check=3)
    assert text["status"] == "lost_features" and text["drift"]["lost_features"] == ["age"]
    every = trained.json("monitor", "churn", "--data", "nothing.csv", check=1)
    assert every["status"] == "drift" and every["drift"]["share"] == 1.0
    assert every["drift"]["compared"] == 0 and len(every["warnings"]) == 5


def test_an_unwritable_html_path_is_refused_before_anything_runs(trained: Cli) -> None:
    from conveyor.config import Settings
    from conveyor.metadata.monitor_store import MonitorStore
    from conveyor.workspace import close_workspaces, open_workspace

    nowhere = trained("monitor", "churn", "--data", "same.csv", "--html", "no/such.html", check=2)
    assert "--html no/such.html: cannot write the report file" in nowhere.stderr
    assert "the directory 'no' does not exist" in nowhere.stderr
    (trained.root / "folder.html").mkdir()
    folder = trained("monitor", "churn", "--data", "same.csv", "--html", "folder.html", check=2)
    assert "folder.html: cannot write the report file: it is a directory" in folder.stderr
    assert "Traceback" not in nowhere.stderr + folder.stderr
    try:
        store = MonitorStore(open_workspace(Settings.load(trained.root)).metadata)
        assert store.series("churn") == []  # refused before the evaluation was stored
    finally:
        close_workspaces()
