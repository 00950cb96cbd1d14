"""The served model gets the float array only where that is provably the same as the frame."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

import conveyor as cv
from conveyor.components import evaluate, infer_schema, register, split, train
from conveyor.registry.signature import Field, InputSchema
from conveyor.serving.app import ServeConfig
from conveyor.serving.inputs import takes_array
from conveyor.workspace import Workspace

from .live import LiveServer

FRAME = load_breast_cancer(as_frame=True).frame
TARGET = "target"
COLUMNS = [c for c in FRAME.columns if c != TARGET]


def floats(names: list[str]) -> InputSchema:
    return InputSchema([Field(name, kind="float", nullable=False) for name in names])


def scaled_logistic() -> Pipeline:
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


class ReadsColumnsByName(ClassifierMixin, BaseEstimator):
    """Answers from the frame's first column by name, and from the array's last column."""

    def fit(self, X: pd.DataFrame, y: Any) -> ReadsColumnsByName:
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.classes_ = np.unique(y)
        return self

    def predict(self, X: Any) -> Any:
        values = X[self.feature_names_in_[0]] if isinstance(X, pd.DataFrame) else X[:, -1]
        return (np.asarray(values) > 1).astype(int)


def test_a_scaled_linear_model_on_float_columns_takes_the_array() -> None:
    model = scaled_logistic().fit(FRAME[COLUMNS], FRAME[TARGET])
    assert takes_array(model, floats(COLUMNS))


@pytest.mark.parametrize(
    "case",
    ["fitted_on_an_array", "columns_in_another_order", "a_non_float_field", "selects_by_name"],
)
def test_the_frame_is_kept_where_the_array_could_differ(case: str) -> None:
    schema = floats(COLUMNS)
    model: Any = scaled_logistic().fit(FRAME[COLUMNS], FRAME[TARGET])
    if case == "fitted_on_an_array":
        model = scaled_logistic().fit(FRAME[COLUMNS].to_numpy(), FRAME[TARGET])
    elif case == "columns_in_another_order":
        schema = floats(COLUMNS[::-1])
    elif case == "a_non_float_field":
        schema = InputSchema([*schema.fields[:-1], Field(COLUMNS[-1], kind="int")])
    else:  # a ColumnTransformer picking columns by name refuses an array
        picks = ColumnTransformer([("scaled", StandardScaler(), COLUMNS[:5])])
        model = Pipeline([("pick", picks), ("clf", LogisticRegression(max_iter=1000))])
        model.fit(FRAME[COLUMNS], FRAME[TARGET])
    assert not takes_array(model, schema)


def test_a_model_answering_differently_on_the_array_keeps_the_frame() -> None:
    model = ReadsColumnsByName().fit(FRAME[COLUMNS], FRAME[TARGET])
    assert not takes_array(model, floats(COLUMNS))


@cv.step
def _breast_cancer() -> pd.DataFrame:
    return FRAME


@cv.pipeline
def _float_model():
    data = _breast_cancer()
    schema = infer_schema(data)
    train_set, test_set = split(data, method="stratified", by=TARGET, test_size=0.25, seed=0)
    model = train(train_set, target=TARGET, estimator=scaled_logistic())
    evaluation = evaluate(model, test_set, target=TARGET)
    return register(model, evaluation, name="cancer", alias="production", schema=schema)


def test_the_server_answers_from_the_array_as_the_model_does_from_the_frame(
    workspace: Workspace,
) -> None:
    run = _float_model.run(settings=workspace.settings)
    assert run.status == "succeeded", run.error
    model = cv.load_model("cancer@production", settings=workspace.settings)
    config = ServeConfig(ref="cancer@production", root=str(workspace.settings.root))
    server = LiveServer(config).start()
    try:
        with server.client() as http:
            assert http.get("/metadata").json()["called_with"] == "array"
            rows = FRAME[COLUMNS].sample(200, random_state=1)
            body = {"columns": COLUMNS, "data": rows.to_numpy().tolist()}
            answer = http.post("/predict?proba=true", json=body)
            assert answer.status_code == 200, answer.text
            expected = model.predict(rows)
            assert answer.json()["predictions"] == expected.tolist()
            # equal up to the last bits: BLAS sums in an order that depends on memory layout
            probabilities = model.predict_proba(rows)
            for got, want in zip(answer.json()["probabilities"], probabilities, strict=True):
                assert [got[str(c)] for c in model.classes_] == pytest.approx(want, rel=1e-12)
    finally:
        server.stop()
