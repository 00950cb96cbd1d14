"""The door of the server: foreign Host headers, the API key, body size and content type."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.serving.conftest import ADELIE
from tests.serving.live import LiveServer

from conveyor.serving.app import ServeConfig

KEY = "s3cret-key"
LIMIT = 4096
JSON = {"content-type": "application/json"}
BODY = json.dumps({"instances": [ADELIE]}).encode()


@pytest.fixture(scope="module")
def guarded(served_root: Path) -> Iterator[LiveServer]:
    """A server with an API key, a small body limit and an extra allowed host name."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PENGUINS_KEY", KEY)
        config = ServeConfig(
            ref="penguins@production",
            root=str(served_root),
            api_key_env="PENGUINS_KEY",
            max_body=LIMIT,
            allowed_hosts=("models.example.org",),
        )
        server = LiveServer(config).start()
    yield server
    server.stop()


@pytest.fixture
def http(guarded: LiveServer) -> Iterator[httpx.Client]:
    with guarded.client(headers={"authorization": f"Bearer {KEY}"}) as client:
        yield client


def test_the_key_opens_every_endpoint(http: httpx.Client) -> None:
    response = http.post("/predict", content=BODY, headers=JSON)
    assert response.status_code == 200, response.text
    for path in ("/ready", "/metadata", "/metrics", "/docs", "/openapi.json"):
        assert http.get(path).status_code == 200, path


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong", f"Basic {KEY}", f"Bearer {KEY}x", "Bearer", KEY, f"bearer  {KEY[:-1]}"],
)
def test_without_the_right_key_401(guarded: LiveServer, authorization: str | None) -> None:
    headers = {} if authorization is None else {"authorization": authorization}
    with guarded.client(headers=headers) as client:
        for method, path in [("POST", "/predict"), ("POST", "/feedback"), ("GET", "/metadata"),
                             ("GET", "/metrics"), ("GET", "/ready"), ("GET", "/openapi.json"),
                             ("GET", "/docs"), ("GET", "/nowhere")]:  # fmt: skip
            response = client.request(method, path, content=BODY, headers=JSON)
            assert response.status_code == 401, (method, path)
            assert response.headers["www-authenticate"] == "Bearer"
            assert response.json()["error"] == "auth"
            assert KEY not in response.text
        assert client.get("/health").status_code == 200  # liveness stays open


def test_the_scheme_is_case_insensitive(guarded: LiveServer) -> None:
    with guarded.client(headers={"authorization": f"bearer {KEY}"}) as client:
        assert client.get("/ready").status_code == 200


@pytest.mark.parametrize(
    "host", ["evil.example", "127.0.0.1.evil.example", "localhost.", "models.example.org.evil", ""]
)
def test_a_foreign_host_is_refused(http: httpx.Client, host: str) -> None:
    for method, path in [("POST", "/predict"), ("GET", "/health"), ("GET", "/metadata")]:
        response = http.request(method, path, content=BODY, headers={**JSON, "host": host})
        assert response.status_code == 400, (host, path)
        assert response.json()["error"] == "host"


@pytest.mark.parametrize(
    "host", ["localhost", "LOCALHOST:8000", "127.0.0.1", "[::1]:8000", "models.example.org"]
)
def test_local_and_allowed_hosts_are_accepted(http: httpx.Client, host: str) -> None:
    response = http.post("/predict", content=BODY, headers={**JSON, "host": host})
    assert response.status_code == 200, response.text


def test_a_body_over_the_limit_is_413_by_its_length(http: httpx.Client) -> None:
    body = b'{"instances": [' + b" " * LIMIT + b"]}"
    response = http.post("/predict", content=body, headers=JSON)
    assert response.status_code == 413
    assert response.json() == {
        "error": "too_large", "detail": f"body of {len(body)} bytes exceeds {LIMIT}",
    }  # fmt: skip
    exact = BODY + b" " * (LIMIT - len(BODY))
    assert http.post("/predict", content=exact, headers=JSON).status_code == 200


def test_a_chunked_body_over_the_limit_is_413_as_it_arrives(http: httpx.Client) -> None:
    def chunks(total: int) -> Iterator[bytes]:
        yield BODY
        for _ in range(total):
            yield b" " * 256

    over = http.post("/predict", content=chunks(LIMIT // 256 + 1), headers=JSON)
    assert over.request.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in over.request.headers
    assert over.status_code == 413, over.text
    assert over.json() == {"error": "too_large", "detail": f"body exceeds {LIMIT} bytes"}
    feedback = http.post("/feedback", content=chunks(LIMIT // 256 + 1), headers=JSON)
    assert feedback.status_code == 413
    under = http.post("/predict", content=chunks(4), headers=JSON)  # a chunked body that fits
    assert under.status_code == 200, under.text
    assert under.json()["predictions"] == ["Adelie"]


@pytest.mark.parametrize(
    "kind", [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
             "application/jsonx", "application/python-pickle"],
)  # fmt: skip
def test_another_content_type_is_415(http: httpx.Client, kind: str | None) -> None:
    headers = {} if kind is None else {"content-type": kind}
    for path in ("/predict", "/feedback"):
        response = http.post(path, content=BODY, headers=headers)
        assert response.status_code == 415, (path, kind)
        assert response.json()["error"] == "media_type"


def test_json_with_parameters_or_capitals_is_json(http: httpx.Client) -> None:
    for kind in ("application/json; charset=utf-8", "Application/JSON"):
        response = http.post("/predict", content=BODY, headers={"content-type": kind})
        assert response.status_code == 200, kind


def test_a_content_length_that_is_not_a_number_is_refused(guarded: LiveServer) -> None:
    import socket

    request = (
        b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer " + KEY.encode() + b"\r\nContent-Length: ten\r\n\r\n{}"
    )
    with socket.create_connection(("127.0.0.1", guarded.port), timeout=30) as sock:
        sock.sendall(request)
        status = sock.recv(4096).split(b"\r\n", 1)[0]
    assert status.startswith(b"HTTP/1.1 4"), status  # refused by uvicorn or the guard: not 5xx


def test_rejections_are_counted_by_kind(http: httpx.Client) -> None:
    def count(kind: str) -> float:
        text = http.get("/metrics").text
        line = f'conveyor_errors_total{{kind="{kind}"}} '
        found = [ln for ln in text.splitlines() if ln.startswith(line)]
        return float(found[0].rsplit(" ", 1)[1]) if found else 0.0

    kinds = ("host", "too_large", "media_type")
    before = {kind: count(kind) for kind in kinds}
    http.get("/ready", headers={"host": "evil.example"})
    http.post("/predict", content=b" " * (LIMIT + 1), headers=JSON)
    http.post("/predict", content=BODY, headers={"content-type": "text/csv"})
    assert {kind: count(kind) - before[kind] for kind in kinds} == dict.fromkeys(kinds, 1.0)


def test_the_bound_address_and_allowed_names_are_hosts() -> None:
    def hosts(**options: Any) -> set[str]:
        return ServeConfig(ref="m", **options).hosts() - {"127.0.0.1", "localhost", "[::1]"}

    assert hosts() == set()
    assert hosts(host="0.0.0.0") == hosts(host="::") == set()  # every address: name them
    assert hosts(host="10.1.2.3", allowed_hosts=("Models.Example.org",)) == {
        "10.1.2.3", "models.example.org",
    }  # fmt: skip
    assert hosts(host="fe80::1", allowed_hosts=("2001:db8::5", "[2001:db8::6]")) == {
        "[fe80::1]", "[2001:db8::5]", "[2001:db8::6]",
    }  # fmt: skip
