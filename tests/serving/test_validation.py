"""Bad input is a 4xx naming the field, never a 5xx: the model's signature, on a real server."""

from __future__ import annotations

import json

import httpx
import pytest
from tests.serving.conftest import ADELIE, FEATURES, GENTOO

JSON = {"content-type": "application/json"}


def _errors(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "input"
    assert body["detail"] and body["errors"]
    return {e["field"]: e["message"] for e in body["errors"]}


def test_missing_and_extra_columns(client: httpx.Client) -> None:
    missing = {k: v for k, v in ADELIE.items() if k != "island"}
    extra = {**GENTOO, "species": "Gentoo"}
    errors = _errors(client.post("/predict", json={"instances": [ADELIE, missing, extra]}))
    assert errors == {
        "instances[1].island": "missing column",
        "instances[2].species": "unexpected column",
    }


def test_wrong_types(client: httpx.Client) -> None:
    row = {**ADELIE, "body_mass_g": "heavy", "bill_depth_mm": True, "island": 3, "sex": [1]}
    errors = _errors(client.post("/predict", json={"instances": [GENTOO, row]}))
    assert errors == {
        "instances[1].body_mass_g": "must be a number, got 'heavy'",
        "instances[1].bill_depth_mm": "must be a number, got True",
        "instances[1].island": "must be a string, got 3",
        "instances[1].sex": "must be a single value, not a list",
    }


def test_unseen_categories(client: httpx.Client) -> None:
    errors = _errors(
        client.post("/predict", json={"instances": [{**ADELIE, "island": "Atlantis"}]})
    )
    assert errors == {
        "instances[0].island": "'Atlantis' is not one of ['Biscoe', 'Dream', 'Torgersen']"
    }


def test_null_where_not_nullable(client: httpx.Client) -> None:
    errors = _errors(client.post("/predict", json={"instances": [{**ADELIE, "island": None}]}))
    assert errors == {"instances[0].island": "must not be null"}


def test_columns_and_data_errors_name_the_row(client: httpx.Client) -> None:
    columns = list(FEATURES)
    good = [ADELIE[c] for c in columns]
    bad = [*good[:2], "long", *good[3:]]
    errors = _errors(client.post("/predict", json={"columns": columns, "data": [good, bad]}))
    assert errors == {"data[1].bill_length_mm": "must be a number, got 'long'"}
    short = _errors(client.post("/predict", json={"columns": columns, "data": [good[:-1]]}))
    assert short == {"data[0]": f"must be a list of {len(columns)} values"}
    renamed = _errors(
        client.post("/predict", json={"columns": [*columns[:-1], "mass"], "data": [good]})
    )
    assert renamed == {"columns.body_mass_g": "missing column", "columns.mass": "unexpected column"}
    twice = _errors(client.post("/predict", json={"columns": [*columns, "sex"], "data": [good]}))
    assert twice == {"columns": "names must be unique"}


def test_errors_are_capped(client: httpx.Client) -> None:
    rows = [{**ADELIE, "island": "Atlantis"}] * 50
    response = client.post("/predict", json={"instances": rows})
    assert len(_errors(response)) == 20
    assert "(and 19 more)" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([ADELIE], "body"),
        ({}, "body"),
        ({"instances": []}, "instances"),
        ({"instances": {"island": "Dream"}}, "instances"),
        ({"instances": [1, "x"]}, "instances[0]"),
        ({"instances": [ADELIE], "proba": True}, "proba"),
        ({"columns": "island", "data": [[1]]}, "columns"),
        ({"columns": FEATURES, "data": []}, "data"),
        ({"columns": FEATURES, "data": [None]}, "data[0]"),
        ({"columns": FEATURES}, "data"),
    ],
    ids=[
        "a-list", "empty-object", "no-rows", "rows-not-a-list", "rows-not-objects", "extra-key",
        "columns-not-a-list", "no-data", "data-row-not-a-list", "columns-without-data",
    ],
)  # fmt: skip
def test_malformed_bodies_are_422(client: httpx.Client, body: object, field: str) -> None:
    assert field in _errors(client.post("/predict", json=body))


def test_json_that_is_not_a_body_of_rows(client: httpx.Client) -> None:
    for raw in (b"null", b"3", b'"instances"', b"true"):
        response = client.post("/predict", content=raw, headers=JSON)
        assert _errors(response) == {"body": "must be an object"}


@pytest.mark.parametrize(
    "raw", [b"{", b"", b"{'instances': []}", b"NaN", b'{"instances": [{"x": Infinity}]}', b"\xff"]
)
def test_invalid_json_is_400(client: httpx.Client, raw: bytes) -> None:
    response = client.post("/predict", content=raw, headers=JSON)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "json"


def test_proba_must_be_a_boolean(client: httpx.Client) -> None:
    response = client.post("/predict?proba=maybe", json={"instances": [ADELIE]})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "query.proba"


@pytest.mark.parametrize(
    "body",
    [
        {"request_id": "a" * 32, "label": "Adelie", "row": 0, "extra": 1},
        {"request_id": "", "label": "Adelie"},
        {"request_id": 7, "label": "Adelie"},
        {"request_id": "a" * 65, "label": "Adelie"},
        {"request_id": "abc"},
        {"request_id": "abc", "label": None},
        {"request_id": "abc", "label": ["Adelie"]},
        {"request_id": "abc", "label": "Adelie", "row": -1},
        {"request_id": "abc", "label": "Adelie", "row": True},
        {"feedback": []},
        {"feedback": None},
        {"feedback": [{"request_id": "abc", "label": "Adelie"}, "no"]},
        [],
        None,
        -169453334,
        "feedback",
        True,
    ],
)
def test_bad_feedback_is_422(client: httpx.Client, body: object) -> None:
    response = client.post("/feedback", content=json.dumps(body), headers=JSON)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"]
