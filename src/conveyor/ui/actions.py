"""What the dashboard can change, when it was started with an API key: aliases and new runs.

Promotion and rollback go through `ModelRegistry`, so they are recorded (by "conveyor ui", with
the reason given) exactly like `conveyor models promote|rollback`. A re-run is a new
`conveyor run FILE.py:PIPELINE --params FILE` process in the project root with the recorded
run's parameters and options (`--no-cache` for a run made without the cache) — the dashboard
never imports user code — and is found by its process id once
its runner has recorded the run; a resume is `conveyor resume RUN` the same way.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from conveyor.exceptions import RunStateError
from conveyor.metadata import schema as t
from conveyor.registry import ModelRegistry
from conveyor.workspace import Workspace

__all__ = ["ACTOR", "promote", "relaunch", "rollback"]

ACTOR = "conveyor ui"


def promote(
    ws: Workspace, name: str, version: int, alias: str, reason: str | None
) -> dict[str, Any]:
    event = ModelRegistry(ws).promote(name, version, alias, by=ACTOR, reason=reason)
    return _event(event)


def rollback(ws: Workspace, name: str, alias: str, reason: str | None) -> dict[str, Any]:
    event = ModelRegistry(ws).rollback(name, alias, by=ACTOR, reason=reason)
    return _event(event)


def _event(event: Any) -> dict[str, Any]:
    return {
        "name": event.name,
        "alias": event.alias,
        "action": event.action,
        "version": event.version,
        "previous_version": event.previous_version,
        "at": event.at,
        "by": event.by,
        "reason": event.reason,
    }


def relaunch(ws: Workspace, run_id: str, mode: str, wait_s: float = 15.0) -> dict[str, Any]:
    """Start `conveyor run` again with a run's parameters and cache setting ("rerun"), or
    `conveyor resume` it."""
    meta = ws.metadata
    record = meta.get_run(run_id)
    if not record.pipeline_ref:
        raise RunStateError(
            f"run {record.id[:12]} did not record where its pipeline lives (FILE.py:NAME); "
            "only runs started from a file can be re-run"
        )
    folder = ws.settings.home / "ui" / "runs"
    folder.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:12]
    if mode == "resume":
        if record.status not in ("failed", "interrupted"):
            raise RunStateError(
                f"run {record.id[:12]} is {record.status}; only failed or interrupted runs resume"
            )
        command = [*_conveyor(), "resume", record.id, "--json"]
    else:
        params = folder / f"{token}.params.json"
        params.write_text(json.dumps(record.params))
        command = [*_conveyor(), "run", record.pipeline_ref, "--params", str(params), "--json"]
        if not record.cache:
            command.append("--no-cache")
    started = time.time()
    log = folder / f"{token}.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            command,
            cwd=ws.settings.root,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # outlives a restart of the dashboard
        )
    threading.Thread(target=process.wait, daemon=True).start()  # reap it: no zombie
    new_id = _run_of(ws, process, started, wait_s)
    code = process.poll()
    return {
        "pid": process.pid,
        "run_id": new_id,
        "command": command[len(_conveyor()) :],
        "log": str(log),
        "exit_code": code,
        "output": log.read_text(errors="replace")[-2000:] if code else None,
    }


def _run_of(ws: Workspace, process: subprocess.Popen[bytes], since: float, wait_s: float) -> Any:
    """The id of the run the process recorded, once it has (None if not within `wait_s`)."""
    c = t.runs.c
    host = socket.gethostname()
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        found = ws.metadata.conn.execute(
            sa.select(c.id).where(c.started_at >= since - 1, c.pid == process.pid, c.host == host)
        ).scalar()
        if found is not None or process.poll() is not None:
            return found
        time.sleep(0.1)
    return None


def _conveyor() -> list[str]:
    beside = Path(sys.executable).with_name("conveyor")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("conveyor")
    return [found] if found else [sys.executable, "-m", "conveyor.cli"]
