"""Robustness: schemathesis generates thousands of requests from the live server's OpenAPI
description, valid and invalid, and not one is answered with a 5xx.

The server is the `conveyor serve` command (a separate process, so the model sees the generated
values exactly as in production, warnings and all). Two descriptions are used: the one the server
publishes, and the same with the body of `/predict` narrowed to the model's input fields from
`/metadata`, so that valid rows with extreme values reach the model itself.
"""

from __future__ import annotations

import collections
import copy
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from tests.serving.live import ServeProcess

#: examples per operation and generation mode; the total is counted and checked below
EXAMPLES = {"POST /predict": 600, "POST /feedback": 400}
OTHERS = 25
MODEL_ROWS = 400


def _row_schema(fields: list[dict[str, Any]]) -> dict[str, Any]:
    """A JSON schema of one row of the model's input, from `/metadata`'s fields."""
    kinds = {"float": "number", "int": "integer", "bool": "boolean", "string": "string"}
    properties = {}
    for field in fields:
        if "domain" in field:
            spec: dict[str, Any] = {"enum": list(field["domain"])}
        else:
            spec = {"type": kinds.get(field["type"], "string")}
        if field["nullable"]:
            spec = {"anyOf": [spec, {"type": "null"}]}
        properties[field["name"]] = spec
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


class Fuzzer:
    def __init__(self, url: str, session: requests.Session) -> None:
        self.url = url
        self.session = session
        self.statuses: collections.Counter[tuple[str, int]] = collections.Counter()
        self.server_errors: list[str] = []

    def run(self, operation: Any, mode: GenerationMode, examples: int) -> None:
        label = f"{operation.method.upper()} {operation.path}"

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=True,  # generated from a fixed seed, not a new one each run
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def call(case: Any) -> None:
            # a generous timeout: other processes may share the machine; a hang still fails
            response = case.call(base_url=self.url, session=self.session, timeout=120)
            self.statuses[(label, response.status_code)] += 1
            if response.status_code >= 500:
                self.server_errors.append(f"{response.status_code}: {case.as_curl_command()}")

        call()

    def total(self, label: str | None = None) -> int:
        return sum(n for (op, _), n in self.statuses.items() if label in (None, op))


@pytest.mark.timeout(600)
def test_generated_requests_never_get_a_server_error(served_root: Path, serve_cli) -> None:
    server: ServeProcess = serve_cli(served_root, "penguins@production")
    published = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    with httpx.Client(base_url=server.url) as http:
        spec = http.get("/openapi.json").json()
        fields = http.get("/metadata").json()["inputs"]

    with requests.Session() as session:
        fuzzer = Fuzzer(server.url, session)
        operations = [result.ok() for result in published.get_all_operations()]
        assert {f"{o.method.upper()} {o.path}" for o in operations} == {
            "POST /predict", "POST /feedback", "GET /health", "GET /ready", "GET /metadata",
            "GET /metrics",
        }  # fmt: skip
        for operation in operations:
            label = f"{operation.method.upper()} {operation.path}"
            fuzzer.run(operation, GenerationMode.POSITIVE, EXAMPLES.get(label, OTHERS))
            if label in EXAMPLES:
                fuzzer.run(operation, GenerationMode.NEGATIVE, EXAMPLES[label])

        # the same description with /predict narrowed to the model's own rows
        narrowed = copy.deepcopy(spec)
        body = narrowed["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
        body["schema"]["oneOf"][0]["properties"]["instances"] = {
            "type": "array", "minItems": 1, "maxItems": 5, "items": _row_schema(fields),
        }  # fmt: skip
        body["schema"]["oneOf"][0]["additionalProperties"] = False
        body["schema"]["oneOf"] = body["schema"]["oneOf"][:1]
        model_rows = schemathesis.openapi.from_dict(narrowed)["/predict"]["POST"]
        before = fuzzer.total("POST /predict")
        fuzzer.run(model_rows, GenerationMode.POSITIVE, MODEL_ROWS)
        rows_sent = fuzzer.total("POST /predict") - before

    assert fuzzer.server_errors == [], "\n".join(fuzzer.server_errors[:10])
    assert fuzzer.total() >= 2000, fuzzer.statuses
    statuses = {status for _, status in fuzzer.statuses}
    assert max(statuses) < 500 and {200, 202, 400, 422} <= statuses, fuzzer.statuses
    # rows that fit the model's fields reached it and were predicted
    predicted = fuzzer.statuses[("POST /predict", 200)]
    assert rows_sent >= 300 and predicted >= rows_sent // 2, fuzzer.statuses
    with httpx.Client(base_url=server.url) as http:
        assert http.get("/health").status_code == 200  # and it is still up
