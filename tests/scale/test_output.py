"""What a step prints is captured, streamed while it runs and recorded, on every executor."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conveyor.config import Settings
from conveyor.workspace import open_workspace

from . import _steps as s


def test_what_a_step_prints_is_recorded(executor: Callable[[], Any], settings: Settings) -> None:
    run = s.chat.run(x=7, settings=settings, executor=executor())
    assert run.status == "succeeded", run.error
    (record,) = open_workspace(settings).metadata.step_runs(run.id)
    assert record.stdout == "to stdout 7\n"
    assert record.stderr == "to stderr 7\n"


def test_what_a_running_step_printed_can_be_read_before_it_ends(
    executor: Callable[[], Any], settings: Settings, tmp_path: Path
) -> None:
    marker = tmp_path / "go"
    runs: list[Any] = []
    runner = threading.Thread(
        target=lambda: runs.append(
            s.waiting.run(marker=str(marker), settings=settings, executor=executor())
        )
    )
    runner.start()
    try:
        logs = settings.home / "logs"
        deadline = time.monotonic() + 60
        streamed = ""
        while time.monotonic() < deadline and "waiting for the marker" not in streamed:
            found = list(logs.glob("*/waits_for.log")) if logs.exists() else []
            streamed = found[0].read_text() if found else ""
            time.sleep(0.05)
        assert "waiting for the marker" in streamed
    finally:
        marker.touch()
        runner.join(timeout=120)
    (run,) = runs
    assert run.status == "succeeded", run.error
    (record,) = open_workspace(settings).metadata.step_runs(run.id)
    assert record.stdout == "waiting for the marker\n"
    assert not list(logs.glob("*/waits_for.log"))  # the record holds it now
