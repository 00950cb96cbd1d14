"""The endpoints of `conveyor serve`: predict (both body shapes, probabilities), health, ready,
metadata, Prometheus metrics and the OpenAPI description, on a real server."""

from __future__ import annotations

import math
import re

import httpx
from tests.serving.conftest import ADELIE, FEATURES, GENTOO

CLASSES = ["Adelie", "Chinstrap", "Gentoo"]


def _sample(text: str, name: str, **labels: str) -> float:
    """The value of one Prometheus sample (0 when it is not exposed yet)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        metric, _, rest = key.partition("{")
        found = ",".join(sorted(rest.rstrip("}").split(","))) if rest else ""
        if metric == name and found == wanted:
            return float(value)
    return 0.0


def test_predict_instances(client: httpx.Client) -> None:
    response = client.post("/predict", json={"instances": [ADELIE, GENTOO]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"predictions", "model", "request_id"}
    assert body["predictions"] == ["Adelie", "Gentoo"]
    assert body["model"] == {"name": "penguins", "version": 1}
    assert re.fullmatch(r"[0-9a-f]{32}", body["request_id"])
    assert response.headers["x-request-id"] == body["request_id"]
    assert response.headers["content-type"] == "application/json"


def test_predict_columns_and_data_in_any_column_order(client: httpx.Client) -> None:
    columns = sorted(FEATURES)  # not the order the model was fitted with
    data = [[row[c] for c in columns] for row in (GENTOO, ADELIE, GENTOO)]
    response = client.post("/predict", json={"columns": columns, "data": data})
    assert response.status_code == 200, response.text
    assert response.json()["predictions"] == ["Gentoo", "Adelie", "Gentoo"]


def test_nulls_where_the_schema_allows_them_are_imputed(client: httpx.Client) -> None:
    row = {**GENTOO, "sex": None, "bill_length_mm": None}
    response = client.post("/predict", json={"instances": [row]})
    assert response.status_code == 200, response.text
    assert response.json()["predictions"] == ["Gentoo"]


def test_request_ids_are_unique(client: httpx.Client) -> None:
    ids = {
        client.post("/predict", json={"instances": [ADELIE]}).json()["request_id"] for _ in "abc"
    }
    assert len(ids) == 3


def test_probabilities_per_class(client: httpx.Client) -> None:
    response = client.post(
        "/predict", params={"proba": "true"}, json={"instances": [ADELIE, GENTOO]}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["predictions"] == ["Adelie", "Gentoo"]
    assert len(body["probabilities"]) == 2
    for predicted, probabilities in zip(body["predictions"], body["probabilities"], strict=True):
        assert list(probabilities) == CLASSES
        assert math.isclose(sum(probabilities.values()), 1.0)
        assert max(probabilities, key=probabilities.get) == predicted
    plain = client.post("/predict", params={"proba": "false"}, json={"instances": [ADELIE]})
    assert "probabilities" not in plain.json()


def test_health_and_ready(client: httpx.Client) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "model": "penguins", "version": 1}


def test_metadata_describes_the_model_and_its_input(client: httpx.Client) -> None:
    meta = client.get("/metadata").json()
    assert (meta["name"], meta["version"], meta["alias"]) == ("penguins", 1, "production")
    assert meta["follows"] == "penguins@production"
    assert (meta["target"], meta["task"], meta["classes"]) == ("species", "classification", CLASSES)
    fields = {f["name"]: f for f in meta["inputs"]}
    assert [f["name"] for f in meta["inputs"]] == FEATURES  # the order the model was fitted with
    assert fields["island"] == {
        "name": "island", "type": "category", "nullable": False,
        "domain": ["Biscoe", "Dream", "Torgersen"],
    }  # fmt: skip
    assert fields["sex"]["nullable"] and fields["sex"]["domain"] == ["female", "male"]
    assert fields["body_mass_g"] == {"name": "body_mass_g", "type": "float", "nullable": True}
    assert meta["metrics"]["accuracy"] > 0.9
    assert meta["last_error"] is None


def test_prometheus_metrics(client: httpx.Client) -> None:
    before = client.get("/metrics").text
    assert client.post("/predict", json={"instances": [ADELIE, GENTOO, GENTOO]}).status_code == 200
    assert client.post("/predict", json={"instances": [{"island": "Atlantis"}]}).status_code == 422
    assert client.post("/predict", content=b"{", headers=_JSON).status_code == 400
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = response.text

    def delta(name: str, **labels: str) -> float:
        return _sample(after, name, **labels) - _sample(before, name, **labels)

    assert delta("conveyor_requests_total", endpoint="predict", status="200") == 1
    assert delta("conveyor_requests_total", endpoint="predict", status="422") == 1
    assert delta("conveyor_requests_total", endpoint="predict", status="400") == 1
    assert delta("conveyor_errors_total", kind="input") == 1
    assert delta("conveyor_errors_total", kind="json") == 1
    assert delta("conveyor_predict_latency_seconds_count") == 1
    assert delta("conveyor_predict_latency_seconds_bucket", le="+Inf") == 1
    assert delta("conveyor_predict_latency_seconds_sum") > 0
    assert delta("conveyor_predicted_rows_total") == 3
    assert delta("conveyor_predictions_total", label="Gentoo") == 2
    assert delta("conveyor_predictions_total", label="Adelie") == 1
    assert _sample(after, "conveyor_model_version", model="penguins") == 1
    assert "# TYPE conveyor_predict_latency_seconds histogram" in after


def test_openapi_and_docs(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    assert set(spec["paths"]) >= {
        "/predict", "/feedback", "/health", "/ready", "/metadata", "/metrics",
    }  # fmt: skip
    predict = spec["paths"]["/predict"]["post"]
    shapes = predict["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    assert [s["required"] for s in shapes] == [["instances"], ["columns", "data"]]
    assert {"400", "413", "415", "422"} <= set(predict["responses"])
    assert [p["name"] for p in predict["parameters"]] == ["proba"]
    assert "FeedbackItem" in spec["components"]["schemas"]
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_unknown_paths_are_404_not_5xx(client: httpx.Client) -> None:
    assert client.post("/nowhere", json={}).status_code == 404
    assert client.get("/predict/x").status_code == 404


def test_wrong_method_is_405(client: httpx.Client) -> None:
    assert client.get("/predict").status_code == 405
    assert client.post("/health", json={}).status_code == 405


_JSON = {"content-type": "application/json"}
