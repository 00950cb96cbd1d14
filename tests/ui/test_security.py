"""The dashboard's door: Host header (DNS rebinding), read-only without a key, bodies, headers."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest
from tests.ui.conftest import UiServer

from conveyor.ui.app import CSP, UiConfig


@pytest.mark.parametrize(
    "host", ["evil.example", "127.0.0.1.evil.example", "attacker.localhost.example:80", ""]
)
def test_a_foreign_host_header_is_refused(ui: UiServer, host: str) -> None:
    """A page on another origin that resolves its name to 127.0.0.1 gets nothing back."""
    with ui.client() as client:
        for path in ("/api/runs", "/runs", "/static/js/main.js"):
            response = client.get(path, headers={"host": host})
            assert response.status_code == 400, (path, host)
            assert response.json()["error"] == "host"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "LOCALHOST", "[::1]"])
def test_local_names_are_accepted(ui: UiServer, host: str) -> None:
    with ui.client() as client:
        assert client.get("/api/info", headers={"host": f"{host}:{ui.port}"}).status_code == 200


def test_the_refusal_says_how_to_allow_a_name(ui: UiServer) -> None:
    with ui.client() as client:
        refused = client.get("/api/info", headers={"host": "box.lan:8765"})
    assert refused.status_code == 400
    assert "--allow-host box.lan" in refused.json()["detail"]


@pytest.fixture(scope="module")
def everywhere(filled) -> Iterator[UiServer]:
    """The dashboard as `conveyor ui --host 0.0.0.0` configures it (the socket stays local)."""
    config = UiConfig(root=str(filled.root), host="0.0.0.0", allowed_hosts=("ui.example",))
    server = UiServer(config).start()
    yield server
    server.stop()


def _own_addresses() -> set[str]:
    found = {socket.gethostname()}
    for info in socket.getaddrinfo(socket.gethostname(), None):
        found.add(f"[{info[4][0]}]" if ":" in info[4][0] else info[4][0])
    return found


def test_bound_to_every_interface_it_answers_to_its_addresses_and_names(
    everywhere: UiServer,
) -> None:
    """`--host 0.0.0.0` is reached by this machine's IP address or name: those Host headers
    pass, and so does any IP address (a rebinding page can only send a DNS name)."""
    hosts = _own_addresses() | {"192.0.2.10", "[2001:db8::7]", "ui.example", "UI.example"}
    with everywhere.client() as client:
        for host in sorted(hosts):
            response = client.get("/api/info", headers={"host": f"{host}:8765"})
            assert response.status_code == 200, (host, response.text)
        for host in ("evil.example", "192.0.2.10.evil.example", "[not-an-address]", ""):
            response = client.get("/api/info", headers={"host": host})
            assert response.status_code == 400, host
            assert "--allow-host" in response.json()["detail"]


def test_pages_and_assets_carry_a_strict_content_security_policy(api: httpx.Client) -> None:
    page = api.get("/runs/anything")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == CSP
    assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["x-frame-options"] == "DENY"
    script = api.get("/static/js/main.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.headers["x-content-type-options"] == "nosniff"
    assert "cdn" not in page.text.lower() and "http://" not in page.text
    assert "<script>" not in page.text  # no inline script: every script is a module file


def test_every_asset_is_shipped_in_the_package(api: httpx.Client) -> None:
    """No CDN: the shell and its scripts name only /static/ files, and each one exists."""
    import re

    from conveyor.ui.app import STATIC

    shell = api.get("/").text
    names = set(re.findall(r'(?:href|src)="(/static/[^"]+)"', shell))
    for script in (STATIC / "js").glob("*.js"):
        names |= {f"/static/js/{m}" for m in re.findall(r'"\./([\w-]+\.js)"', script.read_text())}
        assert "https://" not in script.read_text() and "innerHTML" not in script.read_text()
    assert len(names) >= 12
    for name in sorted(names):
        assert api.get(name).status_code == 200, name


def test_without_a_key_the_dashboard_is_read_only(api: httpx.Client, filled) -> None:
    for path, body in (
        ("/api/models/penguins/promote", {"version": 1, "alias": "staging"}),
        ("/api/models/penguins/rollback", {"alias": "production"}),
        (f"/api/runs/{filled.training[0]}/rerun", {}),
    ):
        response = api.post(path, json=body, headers={"authorization": "Bearer anything"})
        assert response.status_code == 403, path
        assert response.json()["error"] == "read_only"
        assert "--api-key-env" in response.json()["detail"]
    assert api.get("/api/models/penguins").json()["aliases"] == {"candidate": 2, "production": 1}


def test_bodies_must_be_small_json(api: httpx.Client) -> None:
    text = api.post(
        "/api/models/penguins/promote", content=b"version=1", headers={"content-type": "text/plain"}
    )
    assert text.status_code == 415
    huge = api.post(
        "/api/models/penguins/promote",
        content=b"{" + b" " * 70_000 + b"}",
        headers={"content-type": "application/json"},
    )
    assert huge.status_code == 413


def test_unknown_paths_and_methods(api: httpx.Client) -> None:
    assert api.get("/api/nothing").status_code == 404
    assert api.get("/nothing/here").status_code == 404
    assert api.delete("/api/runs").status_code == 405
    assert api.get("/static/../pyproject.toml").status_code == 404
