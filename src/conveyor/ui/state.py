"""What every request handler of the dashboard shares: the workspace, the key, the DB threads.

Reads run on a small pool of threads of their own, not on the framework's (40) worker threads:
the metadata store keeps one connection per thread, so the pool's size bounds the connections the
dashboard holds, however many browsers poll it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hmac
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from conveyor.workspace import Workspace

__all__ = ["Refused", "UiState"]

T = TypeVar("T")


class Refused(Exception):
    """A request the API answers with a 4xx problem: `{"error": kind, "detail": ...}`."""

    def __init__(self, status: int, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.detail = detail


@dataclasses.dataclass
class UiState:
    ws: Workspace
    api_key: str | None
    pool: ThreadPoolExecutor = dataclasses.field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=4, thread_name_prefix="conveyor-ui")
    )

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run blocking store work on the dashboard's own threads."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, functools.partial(fn, *args, **kwargs))

    def authorize(self, authorization: str | None) -> None:
        """Actions need `Authorization: Bearer KEY`; without a key the dashboard is read-only."""
        if self.api_key is None:
            raise Refused(
                403,
                "read_only",
                "the dashboard is read-only; start it with `conveyor ui --api-key-env VAR` to "
                "allow promote, rollback and re-run",
            )
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), self.api_key.encode()
        ):
            raise Refused(401, "auth", "missing or wrong API key (Authorization: Bearer KEY)")

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
