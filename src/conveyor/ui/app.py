"""The dashboard's ASGI app: the pages (one HTML shell and static modules) and the JSON API.

Everything the browser loads comes from this package — no CDN, no build step: plain ES modules,
CSS and SVG drawn by the scripts. Pages build their DOM with `textContent` and attribute setters
only, never by parsing HTML with data in it, and the shell is served with a Content-Security-
Policy that allows scripts and styles from this origin alone, so even a missed escape could not
run an injected script. The door is the model server's (`conveyor.serving.guard.Guard`): POST
bodies must be small JSON; in front of it, `HostCheck` refuses a foreign `Host` header (DNS
rebinding) and says how to allow one (`--allow-host`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import json
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from conveyor._version import __version__
from conveyor.config import Settings
from conveyor.exceptions import (
    ConveyorError,
    NotFoundError,
    ParameterError,
    RunStateError,
)
from conveyor.serving.guard import Guard
from conveyor.ui.api import router
from conveyor.ui.state import Refused, UiState
from conveyor.workspace import open_workspace

__all__ = ["PAGES", "HostCheck", "UiConfig", "create_app"]

STATIC = Path(__file__).parent / "static"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")
WILDCARDS = ("0.0.0.0", "::", "")
#: the page routes: each serves the same shell, whose scripts render the page from the API
PAGES = (
    "/",
    "/runs",
    "/runs/{run_id}",
    "/runs/{run_id}/steps/{name}",
    "/artifacts/{artifact_id}",
    "/compare",
    "/models",
    "/models/{name}",
    "/monitoring",
    "/monitoring/{model}",
    "/api-docs",
)
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
_SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",
}


@dataclasses.dataclass(frozen=True)
class UiConfig:
    """How `conveyor ui` was started."""

    root: str | None = None
    host: str = "127.0.0.1"
    api_key_env: str | None = None
    allowed_hosts: tuple[str, ...] = ()

    @property
    def wildcard(self) -> bool:
        """Bound to every interface: reached by this machine's addresses and names."""
        return self.host in WILDCARDS

    def hosts(self) -> set[str]:
        """The Host names accepted; bound to a wildcard, also this machine's names (and any IP
        address, see `HostCheck`)."""
        hosts = set(LOCAL_HOSTS) | {h.lower() for h in self.allowed_hosts}
        if self.wildcard:
            hosts |= _machine_names()
        else:
            hosts.add(self.host.lower() if ":" not in self.host else f"[{self.host.lower()}]")
        return hosts

    def api_key(self) -> str | None:
        if self.api_key_env is None:
            return None
        key = os.environ.get(self.api_key_env)
        if not key:
            raise ConveyorError(
                f"--api-key-env {self.api_key_env}: that environment variable is not set or empty"
            )
        return key


def _machine_names() -> set[str]:
    """This machine's host name (short and qualified) and the addresses it resolves to."""
    names = {socket.gethostname().lower()}
    with contextlib.suppress(OSError):
        names.add(socket.getfqdn().lower())
    for name in list(names):
        with contextlib.suppress(OSError, UnicodeError):
            for info in socket.getaddrinfo(name, None):
                address = str(info[4][0])
                names.add(f"[{address}]" if ":" in address else address)
    names.discard("")
    return names


def _hostname(host: str) -> str:
    """The name part of a Host header: `[::1]:8765` → `[::1]`, `Box:80` → `box`."""
    host = host.lower()
    if host.startswith("["):
        return host[: host.index("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0]


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name[1:-1] if name.startswith("[") else name)
    except ValueError:
        return False
    return True


class HostCheck:
    """Refuse requests whose Host header is not one of the dashboard's names (DNS rebinding).

    A rebinding page reaches the dashboard through a DNS name it controls, so names are checked
    against a list; an IP address in the Host header cannot come from such a page (its origin
    is that address), so bound to every interface (`--host 0.0.0.0`) the dashboard answers to
    any address — its own, or a NAT's or a container host's forwarding to it — and to this
    machine's names. Other names need `--allow-host`, which the refusal says.
    """

    def __init__(self, app: Any, config: UiConfig) -> None:
        self.app = app
        self.names = config.hosts()
        self.any_address = config.wildcard

    def allows(self, host: str) -> bool:
        name = _hostname(host)
        return name in self.names or (self.any_address and _is_address(name))

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
            if not self.allows(host):
                await _refuse_host(send, host)
                return
        await self.app(scope, receive, send)


async def _refuse_host(send: Any, host: str) -> None:
    name = _hostname(host).strip("[]") or "(none)"
    detail = (
        f"host {host!r} is not allowed: the dashboard answers to its own names and addresses "
        f"only (DNS-rebinding protection); to reach it as {name!r}, start it with "
        f"`conveyor ui --allow-host {name}`"
    )
    body = json.dumps({"error": "host", "detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 400, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class _Static(StaticFiles):
    """Package files, revalidated on each load (so an upgrade is never half-cached)."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers.update(_SECURITY_HEADERS)
        return response


def create_app(config: UiConfig | None = None) -> Any:
    """The dashboard over the workspace of `config.root` (default: the current project)."""
    config = config or UiConfig()
    settings = Settings.load(None if config.root is None else Path(config.root))
    state = UiState(open_workspace(settings), config.api_key())

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            state.close()

    app = FastAPI(
        title="Conveyor dashboard API",
        version=__version__,
        description=(
            "Runs, steps, artifacts, lineage, models, monitoring and triggers of a Conveyor "
            "workspace, as JSON. Reads are open to whoever can reach the dashboard (it binds "
            "127.0.0.1 by default); the actions need `Authorization: Bearer KEY` and exist only "
            "when the dashboard was started with `--api-key-env VAR`."
        ),
        openapi_url="/api/openapi.json",
        docs_url=None,  # Swagger UI loads from a CDN; the dashboard's /api-docs page reads this
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.ui = state
    app.include_router(router)
    _errors(app)
    _openapi(app)
    shell = (STATIC / "index.html").read_bytes().replace(b"{{version}}", __version__.encode())

    async def page(request: Request) -> Response:
        return Response(shell, media_type="text/html; charset=utf-8", headers=_SECURITY_HEADERS)

    for path in PAGES:
        app.add_api_route(path, page, methods=["GET"], include_in_schema=False)
    app.mount("/static", _Static(directory=STATIC), name="static")
    # the Host header is checked, and explained, by HostCheck in front
    guard = Guard(app, allowed_hosts=None, api_key=None, max_body=64 * 1024)
    return HostCheck(guard, config)


def _openapi(app: FastAPI) -> None:
    """The OpenAPI description as the API behaves: an invalid parameter is a 400 `Problem` (the
    handler below), not FastAPI's default 422 `HTTPValidationError`, which is taken out."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            for operations in spec.get("paths", {}).values():
                for operation in operations.values():
                    operation.get("responses", {}).pop("422", None)
            schemas = spec.get("components", {}).get("schemas", {})
            for unused in ("HTTPValidationError", "ValidationError"):
                schemas.pop(unused, None)
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]


def _problem(status: int, kind: str, detail: str) -> JSONResponse:
    return JSONResponse({"error": kind, "detail": detail}, status_code=status)


def _errors(app: FastAPI) -> None:
    @app.exception_handler(Refused)
    async def refused(request: Request, err: Refused) -> JSONResponse:
        return _problem(err.status, err.kind, err.detail)

    @app.exception_handler(NotFoundError)
    async def not_found(request: Request, err: NotFoundError) -> JSONResponse:
        return _problem(404, "not_found", str(err))

    @app.exception_handler(RunStateError)
    async def conflict(request: Request, err: RunStateError) -> JSONResponse:
        return _problem(409, "conflict", str(err))

    @app.exception_handler(ParameterError)
    async def bad_parameter(request: Request, err: ParameterError) -> JSONResponse:
        return _problem(400, "bad_request", str(err))

    @app.exception_handler(ConveyorError)
    async def conveyor_error(request: Request, err: ConveyorError) -> JSONResponse:
        return _problem(500, type(err).__name__, str(err))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, err: RequestValidationError) -> JSONResponse:
        first = err.errors()[0] if err.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _problem(400, "bad_request", f"{where}: {first.get('msg', 'invalid')}")
