"""Rows of the `runs` table as `RunRecord`s, with dead runners' runs shown as interrupted.

Kept free of SQLAlchemy so the CLI's fast read path (`fastread`) shares it.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Mapping
from typing import Any

from conveyor.metadata.records import RunRecord

__all__ = ["STALE_AFTER_S", "alive", "run_record"]

#: A run whose heartbeat is older than this is dead, whatever its recorded status says.
STALE_AFTER_S = 30.0


def run_record(row: Mapping[str, Any]) -> RunRecord:
    """A `RunRecord` from a `runs` row (JSON columns decoded, liveness applied)."""
    data = dict(row)
    if data["status"] == "running" and not alive(data):
        data["status"] = "interrupted"
    data["params"] = json.loads(data["params"])
    data["packages"] = json.loads(data["packages"] or "{}")
    data["outputs"] = json.loads(data["outputs"] or "{}")
    data["running"] = json.loads(data.get("running") or "[]")
    data["cache"] = bool(data["cache"])
    return RunRecord(**data)


def alive(run: Mapping[str, Any]) -> bool:
    """Whether the process that runs `run` still lives (pid on this host, heartbeat elsewhere)."""
    if run.get("host") == socket.gethostname() and run.get("pid"):
        try:
            os.kill(run["pid"], 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    beat = run.get("heartbeat_at") or run.get("started_at") or 0.0
    return time.time() - beat <= STALE_AFTER_S
