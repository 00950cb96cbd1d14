"""The door of the server, as plain ASGI (no per-request framework overhead).

In order: a foreign `Host` header is refused (DNS rebinding: a web page must not reach a server
on 127.0.0.1 through a name it controls); every endpoint but `/health` needs the API key when one
is set; request bodies over the size limit are refused before they are read (413), and bodies
that are not JSON are refused by content type (415).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

__all__ = ["Guard"]

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

OPEN_PATHS = frozenset({"/health"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class Guard:
    def __init__(
        self,
        app: Any,
        *,
        allowed_hosts: Iterable[str] | None,
        api_key: str | None = None,
        max_body: int = 10 * 1024 * 1024,
        on_reject: Callable[[str], None] | None = None,
    ) -> None:
        self.app = app
        # None: the Host header is checked in front of this guard (the dashboard's HostCheck)
        self.allowed_hosts = None if allowed_hosts is None else {h.lower() for h in allowed_hosts}
        self.api_key = api_key.encode() if api_key else None
        self.max_body = max_body
        self.on_reject = on_reject or (lambda kind: None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if self.allowed_hosts is not None:
            host = headers.get(b"host", b"").decode("latin-1").lower()
            hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if hostname.startswith("[") and "]" in hostname:
                hostname = hostname[: hostname.index("]") + 1]
            if hostname not in self.allowed_hosts:
                await self._reject(send, 400, "host", f"host {host!r} is not allowed")
                return
        path = scope["path"]
        if self.api_key is not None and path not in OPEN_PATHS:
            auth = headers.get(b"authorization", b"")
            scheme, _, token = auth.partition(b" ")
            if scheme.lower() != b"bearer" or not hmac.compare_digest(token.strip(), self.api_key):
                await self._reject(
                    send, 401, "auth", "missing or wrong API key (Authorization: Bearer KEY)",
                    extra=[(b"www-authenticate", b"Bearer")],
                )  # fmt: skip
                return
        if scope["method"] in BODY_METHODS:
            length = headers.get(b"content-length")
            if length is not None:
                try:
                    size = int(length)
                except ValueError:
                    await self._reject(send, 400, "body", "content-length is not a number")
                    return
                if size > self.max_body:
                    await self._reject(
                        send, 413, "too_large", f"body of {size} bytes exceeds {self.max_body}"
                    )
                    return
            kind = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            if kind != b"application/json":
                shown = kind.decode("latin-1") or "none"
                await self._reject(
                    send, 415, "media_type", f"content type {shown!r}: send application/json"
                )
                return
            receive = self._limited(receive, send)
        await self.app(scope, receive, send)

    def _limited(self, receive: Receive, send: Send) -> Receive:
        """A chunked body without a length is counted as it arrives."""
        seen = 0
        limit = self.max_body

        async def wrapped() -> dict[str, Any]:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        return wrapped

    async def _reject(
        self,
        send: Send,
        status: int,
        kind: str,
        message: str,
        extra: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        self.on_reject(kind)
        body = b'{"error":"' + kind.encode() + b'","detail":' + _json_str(message) + b"}"
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    *(extra or []),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"body exceeds {limit} bytes")
        self.limit = limit


def _json_str(text: str) -> bytes:
    import json

    return json.dumps(text).encode()
