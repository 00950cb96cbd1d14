"""`split`, `train`, `evaluate`: seeded splits, estimators by object or path, metrics, slices."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics
from sklearn.linear_model import LinearRegression, LogisticRegression

import conveyor as cv
from conveyor.components import evaluate, split, train
from conveyor.components._split import split_frame
from conveyor.exceptions import DataError, GraphError, ParameterError

NUMERIC = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]


@pytest.fixture
def complete(penguins: pd.DataFrame) -> pd.DataFrame:
    return penguins.dropna().reset_index(drop=True)


def test_random_split_is_seeded_and_complete(complete: pd.DataFrame) -> None:
    train_a, test_a = split_frame(complete, test_size=0.25, seed=1)
    _, test_b = split_frame(complete, test_size=0.25, seed=1)
    pd.testing.assert_frame_equal(test_a, test_b)
    assert len(test_a) == math.ceil(len(complete) * 0.25)  # as scikit-learn rounds
    assert sorted([*train_a.index, *test_a.index]) == list(complete.index)
    assert not split_frame(complete, seed=2)[1].index.equals(split_frame(complete, seed=3)[1].index)


def test_stratified_group_and_time_splits(complete: pd.DataFrame) -> None:
    _, test = split_frame(complete, "stratified", 0.25, by="species", seed=0)
    share = complete["species"].value_counts(normalize=True)
    assert (test["species"].value_counts(normalize=True) - share).abs().max() < 0.02
    train_g, test_g = split_frame(complete, "group", 0.3, by="island", seed=0)
    assert not set(train_g["island"]) & set(test_g["island"])
    train_t, test_t = split_frame(complete, "time", 0.3, by="year")
    assert train_t["year"].max() < test_t["year"].min()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "shuffle"}, "method must be one of"),
        ({"test_size": 1.5}, "test_size must be a fraction"),
        ({"method": "stratified"}, "needs by="),
        ({"method": "group", "by": "colour"}, "column(s) ['colour']"),
    ],
)
def test_split_errors_name_the_argument(complete: pd.DataFrame, kwargs, message: str) -> None:
    with pytest.raises(ParameterError, match=re.escape(message)):
        split_frame(complete, **kwargs)


@cv.pipeline
def fitting(estimator, params: dict | None = None):
    data = cv.step(lambda: pd.read_csv(_csv()).dropna(), name="read")()
    train_set, test_set = split(data, method="stratified", by="species")
    model = train(train_set, target="species", estimator=estimator, params=params, features=NUMERIC)
    return evaluate(model, test_set, target="species", slice_by=["island"])


def _csv() -> str:
    from tests.components.conftest import PENGUINS

    return str(PENGUINS)


@pytest.mark.usefixtures("project")
@pytest.mark.parametrize(
    "estimator",
    [
        "sklearn.linear_model.LogisticRegression",
        "sklearn.linear_model:LogisticRegression",
        LogisticRegression(),
    ],
    ids=["dotted", "colon", "object"],
)
def test_train_takes_an_import_path_or_an_object(estimator) -> None:
    run = fitting.run(
        estimator=estimator, params={"solver": "newton-cg", "max_iter": 1000, "C": 0.5}
    )
    assert run.status == "succeeded", run.error
    report = run.output()
    assert report["task"] == "classification" and report["metrics"]["accuracy"] > 0.9
    assert set(report["slices"]["island"]) == {"Biscoe", "Dream", "Torgersen"}
    again = fitting.run(
        estimator=estimator, params={"solver": "newton-cg", "max_iter": 1000, "C": 0.5}
    )
    assert again.step("train").cached  # an estimator object hashes by class and params


@pytest.mark.usefixtures("project")
@pytest.mark.parametrize(
    ("estimator", "params", "message"),
    [
        ("sklearn.linear_model.LogisticRegression", {"Cee": 1}, "does not accept params"),
        (LogisticRegression(), {"Cee": 1}, "bad params ['Cee']"),
    ],
)
def test_bad_params_fail_the_train_step(estimator, params, message: str) -> None:
    run = fitting.run(estimator=estimator, params=params)
    assert run.status == "failed"
    failed = run.step("train")
    assert failed.status == "failed" and message in failed.error_message
    assert failed.error_message.startswith("train:")


@pytest.mark.parametrize(
    ("estimator", "message"),
    [
        (
            "sklearn.linear_model.LogisticRegresion",
            "estimator='sklearn.linear_model.LogisticRegresion': module 'sklearn.linear_model' "
            "has no 'LogisticRegresion'",
        ),
        (
            "sklearn.linear_modl.LogisticRegression",
            "estimator='sklearn.linear_modl.LogisticRegression': there is no module "
            "'sklearn.linear_modl'",
        ),
        (
            "nosuchpackage.Model",
            "estimator='nosuchpackage.Model': there is no module 'nosuchpackage'",
        ),
        ("LogisticRegression", "estimator='LogisticRegression' is not an import path"),
        (42, "estimator=42 is not an estimator"),
    ],
)
def test_bad_estimator_paths_refuse_the_run_when_traced(estimator, message: str) -> None:
    with pytest.raises(GraphError) as caught:
        fitting.trace(estimator=estimator)
    assert str(caught.value).startswith(f"step 'train': {message}")


@pytest.mark.parametrize(
    "path",
    [
        "sklearn.ensemble.RandomForestClassifier",  # re-exported by the package's __init__
        "sklearn.linear_model:LogisticRegression",
        "sklearn.dummy.DummyClassifier",  # defined in the module itself
        "tests.components.conftest:penguins",  # a factory in a project module
    ],
)
def test_good_estimator_paths_pass_the_check_without_importing(path: str) -> None:
    import sys

    from conveyor.components._train import check_estimator_path

    module = path.partition(":")[0] if ":" in path else path.rpartition(".")[0]
    loaded = module in sys.modules
    check_estimator_path(path)
    assert (module in sys.modules) == loaded  # found from the files alone


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"test_size": 2}, "step 'split': test_size=2.0 must be a fraction in (0, 1)"),
        ({"target": 3}, "step 'train': target=3 must be a column name"),
        ({"features": "bill"}, "step 'train': features='bill' must be a list of column names"),
        ({"slice_by": 5}, "step 'evaluate': slice_by=5 must be a column name"),
        ({"task": "ranking"}, "step 'evaluate': task='ranking' must be one of"),
    ],
)
def test_argument_errors_name_the_step_and_argument_when_traced(kwargs, message: str) -> None:
    @cv.pipeline
    def checked(
        test_size: float = 0.3,
        target: object = "species",
        features: object = None,
        slice_by: object = None,
        task: str = "auto",
    ):
        data = cv.step(lambda: pd.read_csv(_csv()), name="read")()
        train_set, test_set = split(data, test_size=test_size)
        model = train(train_set, target=target, features=features)
        return evaluate(model, test_set, target="species", slice_by=slice_by, task=task)

    with pytest.raises(GraphError, match=re.escape(message)):
        checked.trace(**kwargs)


@pytest.mark.usefixtures("project")
def test_text_in_a_numeric_column_names_the_column_in_train_and_evaluate(
    complete: pd.DataFrame,
) -> None:
    bad = complete.copy()
    bad["body_mass_g"] = bad["body_mass_g"].astype(str)  # as read_csv reads a column with text
    bad.loc[5, "body_mass_g"] = "abc"
    with pytest.raises(DataError) as caught:
        train(bad, target="species", estimator=LogisticRegression(), features=NUMERIC)
    message = str(caught.value)
    assert message.startswith(
        "train: fitting LogisticRegression failed on column(s) ['body_mass_g']"
    )
    assert "'abc' in row 5" in message
    model = LogisticRegression(max_iter=3000).fit(complete[NUMERIC], complete["species"])
    with pytest.raises(
        DataError,
        match=re.escape("evaluate: scoring LogisticRegression failed on column(s) ['body_mass_g']"),
    ):
        evaluate(model, bad, target="species")


def test_classification_metrics_match_scikit_learn(complete: pd.DataFrame) -> None:
    train_set, test_set = split_frame(complete, "stratified", 0.3, by="species", seed=0)
    model = LogisticRegression(max_iter=3000).fit(train_set[NUMERIC], train_set["species"])
    report = evaluate(model, test_set, target="species", slice_by="island")
    y, predicted = test_set["species"], model.predict(test_set[NUMERIC])
    proba = model.predict_proba(test_set[NUMERIC])
    values = report["metrics"]
    assert values["accuracy"] == pytest.approx(metrics.accuracy_score(y, predicted))
    assert values["f1"] == pytest.approx(metrics.f1_score(y, predicted, average="macro"))
    assert values["log_loss"] == pytest.approx(metrics.log_loss(y, proba, labels=model.classes_))
    assert values["roc_auc"] == pytest.approx(
        metrics.roc_auc_score(y, proba, multi_class="ovr", labels=model.classes_)
    )
    matrix = np.array(report["confusion_matrix"]["matrix"])
    assert matrix.sum() == len(test_set) and np.trace(matrix) == (predicted == y).sum()
    biscoe = test_set["island"] == "Biscoe"
    assert report["slices"]["island"]["Biscoe"]["n"] == int(biscoe.sum())
    assert report["slices"]["island"]["Biscoe"]["metrics"]["accuracy"] == pytest.approx(
        metrics.accuracy_score(y[biscoe], predicted[biscoe.to_numpy()])
    )


def test_regression_metrics(complete: pd.DataFrame) -> None:
    columns = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm"]
    model = LinearRegression().fit(complete[columns], complete["body_mass_g"])
    report = evaluate(model, complete, target="body_mass_g")
    predicted = model.predict(complete[columns])
    assert report["task"] == "regression"
    assert report["metrics"]["rmse"] == pytest.approx(
        metrics.mean_squared_error(complete["body_mass_g"], predicted) ** 0.5
    )
    assert report["metrics"]["r2"] == pytest.approx(
        model.score(complete[columns], complete["body_mass_g"])
    )


def test_evaluate_errors_name_the_column(complete: pd.DataFrame) -> None:
    model = LogisticRegression(max_iter=3000).fit(complete[NUMERIC], complete["species"])
    with pytest.raises(ParameterError, match="target names column"):
        evaluate(model, complete, target="kind")
    with pytest.raises(ParameterError, match=r"slice_by names column\(s\) \['colour'\]"):
        evaluate(model, complete, target="species", slice_by=["colour"])
    with pytest.raises(ParameterError, match="the model's features"):
        evaluate(model, complete.drop(columns=["body_mass_g"]), target="species")


def _emperors(frame: pd.DataFrame, rows: int = 10) -> pd.DataFrame:
    """The data with a class no model here was trained on."""
    frame = frame.copy()
    frame.loc[: rows - 1, "species"] = "Emperor"
    return frame


def test_a_class_the_model_never_saw_counts_as_errors_and_leaves_log_loss_undefined(
    complete: pd.DataFrame,
) -> None:
    model = LogisticRegression(max_iter=3000).fit(complete[NUMERIC], complete["species"])
    data = _emperors(complete)
    report = evaluate(model, data, target="species", slice_by="island")
    y, predicted = data["species"], model.predict(data[NUMERIC])
    labels = ["Adelie", "Chinstrap", "Gentoo", "Emperor"]
    values = report["metrics"]
    assert values["accuracy"] == pytest.approx(metrics.accuracy_score(y, predicted))
    assert values["accuracy"] <= 1 - 10 / len(data)  # every Emperor is an error
    for name, score in (("precision", metrics.precision_score), ("recall", metrics.recall_score)):
        expected = score(y, predicted, labels=labels, average="macro", zero_division=np.nan)
        assert values[name] == pytest.approx(expected), name
    assert "log_loss" not in values and "roc_auc" not in values
    assert "['Emperor']" in report["undefined"]["log_loss"]
    assert "log loss is infinite" in report["undefined"]["log_loss"]
    assert report["unseen_classes"] == ["Emperor"] and report["average"] == "macro"
    assert "10 of 333 row(s) are of class(es) ['Emperor']" in report["warnings"][0]
    assert report["classes"] == ["Adelie", "Chinstrap", "Gentoo"]  # the model's, not the data's
    assert report["confusion_matrix"]["labels"] == labels
    assert np.array(report["confusion_matrix"]["matrix"])[3].sum() == 10
    # a slice without Emperors has a log loss: its rows are all of classes the model knows
    slices = report["slices"]["island"]
    emperor_islands = set(data["island"][:10])
    clean = next(i for i in ("Biscoe", "Dream", "Torgersen") if i not in emperor_islands)
    assert "log_loss" in slices[clean]["metrics"]


def test_a_binary_model_on_three_class_data_is_scored_over_the_union(
    complete: pd.DataFrame,
) -> None:
    two = complete[complete["species"] != "Gentoo"]
    model = LogisticRegression(max_iter=3000).fit(two[NUMERIC], two["species"])
    report = evaluate(model, complete, target="species")
    predicted = model.predict(complete[NUMERIC])
    assert report["average"] == "macro" and report["unseen_classes"] == ["Gentoo"]
    assert report["metrics"]["f1"] == pytest.approx(
        metrics.f1_score(complete["species"], predicted, average="macro", zero_division=np.nan)
    )
    assert "['Gentoo']" in report["undefined"]["log_loss"]


def test_a_slice_without_the_positive_class_reports_undefined_not_zero(
    complete: pd.DataFrame,
) -> None:
    data = complete.assign(gentoo=(complete["species"] == "Gentoo").map({True: "yes", False: "no"}))
    model = LogisticRegression(max_iter=3000).fit(data[NUMERIC], data["gentoo"])
    report = evaluate(model, data, target="gentoo", slice_by="island")
    assert report["average"] == "binary" and report["positive_class"] == "yes"
    assert set(report["metrics"]) >= {"precision", "recall", "f1", "log_loss", "roc_auc"}
    dream = report["slices"]["island"]["Dream"]  # no Gentoo lives on Dream
    assert (data.loc[data["island"] == "Dream", "gentoo"] == "no").all()
    for name in ("precision", "recall", "f1"):
        assert name not in dream["metrics"], name  # 0/0: not a score of 0
    assert dream["undefined"]["recall"] == "no row of the positive class 'yes': recall is 0/0"
    assert dream["undefined"]["roc_auc"] == "only one class ('no') in the data"
    assert dream["metrics"]["accuracy"] > 0.9
