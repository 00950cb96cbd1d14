"""`InputSchema`: a model's registered signature turned into field checks and a typed frame."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from tests.serving.live import LiveServer

import conveyor as cv
from conveyor.exceptions import InputError
from conveyor.registry import ModelRegistry
from conveyor.registry.signature import Field, InputSchema
from conveyor.serving.app import ServeConfig
from conveyor.workspace import Workspace

SIGNATURE = {
    "inputs": {"n": "int64", "x": "float64", "flag": "bool", "colour": "category", "note": "str"},
    "schema": {
        "columns": {
            "n": {"type": "int", "nullable": False},
            "colour": {"type": "category", "nullable": True, "domain": ["blue", "red"]},
        }
    },
}


def _fields(schema: InputSchema) -> list[tuple[str, str, bool]]:
    return [(f.name, f.kind, f.nullable) for f in schema.fields]


def _problems(schema: InputSchema, body: object) -> dict[str, str]:
    with pytest.raises(InputError) as caught:
        schema.columns_from_body(body)
    return {e["field"]: e["message"] for e in caught.value.errors}


def test_fields_from_a_signature() -> None:
    schema = InputSchema.from_signature(SIGNATURE)
    assert _fields(schema) == [
        ("n", "int", False), ("x", "float", True), ("flag", "bool", True),
        ("colour", "category", True), ("note", "string", True),
    ]  # fmt: skip
    assert schema.fields[3].domain == frozenset({"blue", "red"})
    flat = InputSchema.from_signature({"a": "float64", "b": "object", "c": "mystery"})
    assert _fields(flat) == [("a", "float", True), ("b", "string", True), ("c", "any", True)]


def test_the_fitted_column_order_wins() -> None:
    class Fitted:
        feature_names_in_ = np.array(["x", "n"])

    schema = InputSchema.from_signature({"n": "int64", "x": "float64"}, Fitted())
    assert schema.names == ["x", "n"]
    columns, rows = schema.columns_from_body({"instances": [{"n": 1, "x": 2.5}]})
    assert list(schema.frame(columns).columns) == ["x", "n"] and rows == 1


def test_values_become_the_dtypes_the_model_was_trained_on() -> None:
    schema = InputSchema.from_signature(SIGNATURE)
    rows = [
        {"n": 1, "x": 2, "flag": True, "colour": "red", "note": "a"},
        {"n": 2.0, "x": None, "flag": None, "colour": None, "note": None},
    ]
    columns, n = schema.columns_from_body({"instances": rows})
    frame = schema.frame(columns)
    assert n == 2
    assert (frame["n"].dtype, frame["x"].dtype) == ("int64", "float64")
    assert frame["flag"].tolist()[0] is True and pd.isna(frame["flag"][1])
    assert frame["n"].tolist() == [1, 2] and np.isnan(frame["x"][1])
    assert frame["colour"].tolist()[0] == "red" and pd.isna(frame["colour"][1])


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (2**63, "out of the 64-bit integer range"),
        (-(2**63) - 1, "out of the 64-bit integer range"),
        (1e20, "out of the 64-bit integer range"),
        (2.5, "must be an integer, got 2.5"),
        (True, "must be an integer, got True"),
        ("1", "must be an integer, got '1'"),
        (None, "must not be null"),
    ],
)
def test_integers_must_fit_the_frame(value: object, message: str) -> None:
    schema = InputSchema.from_signature(SIGNATURE)
    row = {"n": value, "x": 0.0, "flag": False, "colour": "red", "note": ""}
    problems = _problems(schema, {"instances": [row]})
    assert problems.keys() == {"instances[0].n"} and message in problems["instances[0].n"]


def test_the_int64_bounds_themselves_are_accepted() -> None:
    schema = InputSchema.from_signature({"n": "int64"})
    columns, _ = schema.columns_from_body({"columns": ["n"], "data": [[-(2**63)], [2**63 - 1]]})
    assert schema.frame(columns)["n"].tolist() == [-(2**63), 2**63 - 1]


def test_a_row_limit() -> None:
    schema = InputSchema.from_signature({"x": "float64"}, max_rows=3)
    schema.columns_from_body({"instances": [{"x": 1.0}] * 3})
    assert _problems(schema, {"instances": [{"x": 1.0}] * 4}) == {
        "instances": "at most 3 rows per request"
    }
    assert _problems(schema, {"columns": ["x"], "data": [[1.0]] * 4}) == {
        "data": "at most 3 rows per request"
    }


def test_an_open_schema_takes_the_columns_of_the_request() -> None:
    schema = InputSchema.from_signature({})
    assert schema.open
    columns, rows = schema.columns_from_body(
        {"instances": [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]}
    )
    assert (columns, rows) == ({"a": [1, 2], "b": ["x", "y"]}, 2)
    assert _problems(schema, {"instances": [{"a": 1}, {"b": 2}]}) == {
        "instances[1].a": "missing column",
        "instances[1].b": "unexpected column",
    }
    columns, rows = schema.columns_from_body({"columns": ["c"], "data": [[1], [2]]})
    assert (columns, rows) == ({"c": [1, 2]}, 2)


def test_field_problems() -> None:
    colour = Field("colour", "category", nullable=False, domain=frozenset({"red"}))
    assert colour.problem("red") is None
    assert colour.problem("blue") == "'blue' is not one of ['red']"
    assert colour.problem(float("nan")) == "must not be null"
    assert colour.problem({"a": 1}) == "must be a single value, not a dict"
    assert Field("x", "float").problem("x" * 100) == f"must be a number, got '{'x' * 36}..."
    assert Field("b", "bool").problem(1) == "must be true or false, got 1"
    assert Field("a", "any").problem(object) is None


def test_check_frame_names_the_row_and_column() -> None:
    schema = InputSchema.from_signature(SIGNATURE)
    frame = pd.DataFrame(
        {
            "id": [10, 11, 12],
            "note": ["a", None, "c"],
            "colour": ["red", "green", None],
            "flag": [True, False, True],
            "x": [1.0, None, 3.0],
            "n": [1, 2, 3],
        }
    )
    with pytest.raises(InputError, match=r"row 1\.colour: 'green' is not one of") as caught:
        schema.check_frame(frame)
    assert caught.value.errors == [
        {"field": "row 1.colour", "message": "'green' is not one of ['blue', 'red']"}
    ]
    fine = schema.check_frame(frame.assign(colour=["red", "blue", None]))
    assert list(fine.columns) == schema.names  # the model's columns, in its order
    with pytest.raises(InputError, match=r"missing column\(s\) \['n'\]"):
        schema.check_frame(frame.drop(columns=["n"]))


@pytest.mark.parametrize("bad", [math.inf, -math.inf])
def test_check_frame_refuses_infinities_in_a_float_column(bad: float) -> None:
    schema = InputSchema.from_signature(SIGNATURE)
    frame = pd.DataFrame(
        {"id": [1, 2], "note": ["a", "b"], "colour": ["red", "blue"], "flag": [True, False],
         "x": [1.5, bad], "n": [1, 2]}
    )  # fmt: skip
    with pytest.raises(InputError) as caught:
        schema.check_frame(frame)
    assert [e["field"] for e in caught.value.errors] == ["row 1.x"]


# -- a model with integer inputs, on a live server ----------------------------------------------


@cv.step
def counts_data() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = rng.integers(0, 100, size=200)
    return pd.DataFrame({"n": n, "x": rng.normal(size=200), "y": (n > 50).astype(int)})


@cv.step
def fit_counts(data: pd.DataFrame) -> LogisticRegression:
    return LogisticRegression().fit(data[["n", "x"]], data["y"])


@cv.pipeline
def counts():
    return fit_counts(counts_data())


@pytest.fixture
def counts_server(workspace: Workspace) -> Iterator[LiveServer]:
    run = counts.run()
    [model] = run.output_ids.values()
    ModelRegistry(workspace).register(
        "counts", model, run_id=run.id, signature={"n": "int64", "x": "float64"}
    )
    server = LiveServer(ServeConfig(ref="counts:1", root=str(workspace.settings.root))).start()
    yield server
    server.stop()


def test_integers_beyond_int64_are_422_not_500(counts_server: LiveServer) -> None:
    with counts_server.client() as http:
        ok = http.post("/predict", json={"instances": [{"n": 70, "x": 0.0}, {"n": 3.0, "x": 1}]})
        assert ok.status_code == 200, ok.text
        assert ok.json()["predictions"] == [1, 0]
        for huge in ("9223372036854775808", "123456789012345678901234567890", "1e20"):
            raw = '{"instances": [{"n": ' + huge + ', "x": 0.5}]}'
            response = http.post(
                "/predict", content=raw, headers={"content-type": "application/json"}
            )
            assert response.status_code == 422, (huge, response.text)
            assert response.json()["errors"][0]["field"] == "instances[0].n"
        meta = http.get("/metadata").json()
        assert (meta["alias"], meta["follows"], meta["classes"]) == (None, "counts:1", [0, 1])
