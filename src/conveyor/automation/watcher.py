"""`conveyor watch`: evaluate triggers, launch pipeline runs, record every firing.

Each firing is claimed in the metadata store before its run starts (`TriggerStore.claim`, unique
per trigger and event key), so duplicate events and restarts never fire twice. Runs are separate
`conveyor run` processes: a crashing pipeline cannot take the watcher down, and each run is an
ordinary recorded run — its own gate decides whether the model it trains is promoted, and a
promotion moves the alias that `conveyor serve` follows. When the watcher restarts it adopts the
runs still going, finishes the records of those that ended, and starts firings it had claimed but
not yet launched.

The steps of a firing, and what a restart does after a crash between two of them:

    claim (status started) ─ a baseline: marked skipped          → a baseline is marked skipped
    host recorded ─ `conveyor run` started ─ its pid recorded    → a run going is adopted (found
                                                                   by the parameters file in its
                                                                   command line), one that ended
                                                                   is recorded from its output;
                                                                   only a firing never launched
                                                                   is launched
    the run ends ─ its outcome recorded                           → recorded from its output

What each check found wrong (an error, or warnings such as a column gone from the live data) is
said once and kept in the trigger's `CheckJournal`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from conveyor.automation.journal import CheckJournal
from conveyor.automation.triggers import BASELINE, CheckContext, Trigger
from conveyor.exceptions import ConveyorError
from conveyor.metadata.trigger_store import TriggerEvent, TriggerStore
from conveyor.workspace import Workspace, open_workspace

__all__ = ["Watcher"]


@dataclasses.dataclass
class _Child:
    event: TriggerEvent
    trigger: str
    process: subprocess.Popen[bytes]
    out: Path


class Watcher:
    """Runs `triggers` against one workspace. `tick()` is one pass; `run()` loops."""

    def __init__(
        self,
        triggers: Sequence[Trigger],
        *,
        workspace: Workspace | None = None,
        max_runs: int = 2,
        echo: Callable[[str], None] | None = None,
    ) -> None:
        self.ws = workspace or open_workspace()
        self.root = Path(self.ws.settings.root)
        self.store = TriggerStore(self.ws.metadata)
        self.max_runs = max_runs
        self.echo = echo or (lambda message: None)
        self.started_at = time.time()
        self.host = socket.gethostname()
        self.triggers: list[Trigger] = []
        self.faulty: dict[str, str] = {}  # trigger name → why it is not watched / last failure
        self._children: list[_Child] = []
        self._next_check: dict[str, float] = {}
        self._notes: dict[str, list[str]] = {}
        self._state: dict[str, dict[str, Any]] = {}  # each trigger's CheckContext.state
        self._waiting: set[str] = set()  # held back by max_runs at their last check
        self._logs = self.ws.settings.home / "triggers"
        self.journal = CheckJournal(self._logs)
        names = [t.name for t in triggers]
        for trigger in triggers:
            problem = self._problem(trigger, names)
            if problem is None:
                self.triggers.append(trigger)
            else:
                self.faulty[trigger.name] = problem
                said = problem.removeprefix(f"trigger {trigger.name!r}: ")
                self.echo(f"trigger {trigger.name!r} is not watched: {said}")

    def _problem(self, trigger: Trigger, names: list[str]) -> str | None:
        if names.count(trigger.name) > 1:
            return "another trigger has the same name"
        try:
            trigger.validate(self.root)
            from conveyor.run.loading import load_pipeline

            file, _, name = trigger.pipeline.rpartition(":")
            path = Path(file) if Path(file).is_absolute() else self.root / file
            load_pipeline(f"{path}:{name}")
        except ConveyorError as err:
            return str(err)
        except Exception as err:  # importing the user's pipeline file raised
            return f"pipeline {trigger.pipeline!r} cannot be loaded: {type(err).__name__}: {err}"
        return None

    # -- the loop ----------------------------------------------------------------------------------

    def run(
        self,
        *,
        interval: float = 1.0,
        stop: threading.Event | None = None,
        duration: float | None = None,
    ) -> None:
        """Tick every `interval` s until `stop` is set or `duration` s have passed; then wait for
        the runs it started (they are recorded either way)."""
        stop = stop or threading.Event()
        deadline = None if duration is None else time.monotonic() + duration
        for name, problem in self.faulty.items():  # not watched: kept for `triggers list`
            self.journal.record(name, time.time(), problem, [])
        self.recover()
        while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
            self.tick()
            stop.wait(interval)
        self.wait()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the runs this watcher started, and record how they ended."""
        end = None if timeout is None else time.monotonic() + timeout
        while self._children and (end is None or time.monotonic() < end):
            self._reap()
            time.sleep(0.2)

    def tick(self, now: float | None = None) -> list[TriggerEvent]:
        """One pass: record finished runs, check each due trigger, launch what fired."""
        now = time.time() if now is None else now
        self._reap()
        fired = []
        # the ones held back by --max-runs go first: no trigger starves the others
        for trigger in sorted(self.triggers, key=lambda t: t.name not in self._waiting):
            if now < self._next_check.get(trigger.name, 0.0):
                continue
            self._next_check[trigger.name] = now + trigger.check_every_s
            event = self._check(trigger, now)
            if event is not None:
                fired.append(event)
        return fired

    def _check(self, trigger: Trigger, now: float) -> TriggerEvent | None:
        running = sum(1 for c in self._children if c.trigger == trigger.name)
        if running >= trigger.max_concurrent:
            return None
        if len(self._children) >= self.max_runs:
            self._waiting.add(trigger.name)
            return None
        self._waiting.discard(trigger.name)
        last = self.store.last(trigger.name)
        fired = self._last_firing(trigger.name)
        if fired is not None and now - fired.fired_at < trigger.cooldown_s:
            return None
        ctx = CheckContext(
            now=now,
            started_at=self.started_at,
            last_key=last.key if last else None,
            last_fired_at=fired.fired_at if fired else None,
            cooldown_s=trigger.cooldown_s,
            workspace=self.ws,
            state=self._state.setdefault(trigger.name, {}),
        )
        try:
            firing = trigger.condition.check(ctx)
        except Exception as err:  # a broken trigger is reported and recorded; the others go on
            message = f"{type(err).__name__}: {err}"
            if self.faulty.get(trigger.name) != message:
                self.echo(f"trigger {trigger.name!r} failed its check: {message}")
            self.faulty[trigger.name] = message
            self.journal.record(trigger.name, now, message, [])
            return None
        self.faulty.pop(trigger.name, None)
        if self.journal.record(trigger.name, now, None, ctx.warnings) is not None:
            for warning in ctx.warnings:  # said once, when they change
                self.echo(f"trigger {trigger.name!r}: warning: {warning}")
        if ctx.notes != self._notes.get(trigger.name):  # said once, not at every check
            for note in ctx.notes:
                self.echo(f"trigger {trigger.name!r}: {note}")
        self._notes[trigger.name] = ctx.notes
        if firing is None:
            return None
        reason = firing.reason
        if firing.baseline and not reason.startswith(BASELINE):
            reason = BASELINE + reason  # how a restart tells a baseline that a crash left started
        event = self.store.claim(
            trigger.name, firing.key, reason, trigger.pipeline, dict(trigger.params)
        )
        if event is None:
            return None  # this event already fired (a duplicate, or before a restart)
        if firing.baseline:
            self.store.update(event.id, status="skipped", finished_at=time.time())
            return None
        self.echo(f"trigger {trigger.name!r} fired: {firing.reason}")
        self._launch(event, trigger.name)
        return event

    def _last_firing(self, name: str) -> TriggerEvent | None:
        return next((e for e in self.store.history(name, limit=20) if e.status != "skipped"), None)

    # -- runs --------------------------------------------------------------------------------------

    def _params_file(self, event: TriggerEvent) -> Path:
        """The run's parameters; its path in the run's command line names the firing."""
        return self._logs / f"{event.id}.params.json"

    def _launch(self, event: TriggerEvent, trigger: str) -> None:
        self._logs.mkdir(parents=True, exist_ok=True)
        params = self._params_file(event)
        params.write_text(json.dumps(event.params))
        out = self._logs / f"{event.id}.json"
        command = [*_conveyor(), "run", event.pipeline or "", "--params", str(params), "--json"]
        # A host and no pid: launched, maybe. A restart then looks for the process before
        # launching again (see recover).
        self.store.update(event.id, host=self.host)
        with open(out, "wb") as stdout, open(self._logs / f"{event.id}.log", "wb") as stderr:
            process = subprocess.Popen(  # a session of its own: Ctrl-C stops the watcher only
                command,
                cwd=self.root,
                stdout=stdout,
                stderr=stderr,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.store.update(event.id, pid=process.pid, host=self.host)
        self._children.append(_Child(event, trigger, process, out))

    def _reap(self) -> None:
        for child in list(self._children):
            code = child.process.poll()
            if code is None:
                continue
            self._children.remove(child)
            self._finish(child.event, child.out, code)

    def _finish(self, event: TriggerEvent, out: Path, code: int | None) -> None:
        run_id, status = self._outcome(event, out)
        if status is None:
            status = "succeeded" if code == 0 else "failed"
        self.store.update(event.id, status=status, run_id=run_id, finished_at=time.time())
        self.echo(f"trigger {event.trigger!r}: run {run_id[:12] if run_id else '?'} {status}")

    def _outcome(self, event: TriggerEvent, out: Path) -> tuple[str | None, str | None]:
        found = _printed(out)
        if found is not None:
            return found
        run = self._run_of(event)
        return (run.id, _ended(run.status)) if run is not None else (None, None)

    def _launched(self, event: TriggerEvent) -> int | None:
        """The pid of a live `conveyor run` of this firing (its command line names the firing's
        parameters file), or None. Linux: read from /proc; elsewhere always None."""
        marker = str(self._params_file(event)).encode()
        proc = Path("/proc")
        if not proc.is_dir():
            return None
        for entry in proc.iterdir():
            if not entry.name.isdigit():
                continue
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if marker in argv and _alive(int(entry.name)):
                return int(entry.name)
        return None

    def _run_of(self, event: TriggerEvent) -> Any:
        """The run a firing's process started, found by its pid (after a watcher restart)."""
        if event.pid is None:
            return None
        for run in self.ws.metadata.list_runs(limit=200):
            if run.pid == event.pid and run.host == event.host and run.started_at >= event.fired_at:
                return run
        return None

    def recover(self) -> None:
        """After a restart: adopt live runs, record ended ones, launch claimed-but-unlaunched."""
        for event in self.store.unfinished():
            if event.pid is None and event.reason.startswith(BASELINE):
                self.store.update(event.id, status="skipped", finished_at=time.time())
            elif event.pid is None and event.host not in (None, self.host):
                self.echo(
                    f"trigger {event.trigger!r}: the firing {event.id} was being launched on "
                    f"{event.host}; a watcher there records it"
                )
            elif event.pid is None:
                self._relaunch(event)
            elif event.host == self.host and _alive(event.pid):
                self._children.append(
                    _Child(
                        event, event.trigger, _Adopted(event.pid), self._logs / f"{event.id}.json"
                    )  # type: ignore[arg-type]
                )
            else:
                self._finish(event, self._logs / f"{event.id}.json", None)

    def _relaunch(self, event: TriggerEvent) -> None:
        """A firing claimed, perhaps launched, whose pid was never recorded: adopt its run if
        one is going, record it if it ended, launch it only if it never started."""
        out = self._logs / f"{event.id}.json"
        if event.host == self.host:
            pid = self._launched(event)
            if pid is not None:
                self.store.update(event.id, pid=pid)
                self.echo(f"trigger {event.trigger!r}: adopting the run launched before a restart")
                adopted = dataclasses.replace(event, pid=pid)
                child = _Child(adopted, event.trigger, _Adopted(pid), out)  # type: ignore[arg-type]
                self._children.append(child)
                return
            if _printed(out) is not None:
                self._finish(event, out, None)
                return
        self.echo(f"trigger {event.trigger!r}: launching the firing claimed before a restart")
        self._launch(event, event.trigger)


def _printed(out: Path) -> tuple[str | None, str | None] | None:
    """The run id and status a finished `conveyor run --json` printed, or None."""
    try:
        result = json.loads(out.read_text())
        return result.get("run_id"), result.get("status")
    except (OSError, ValueError, AttributeError):
        return None


class _Adopted:
    """A run process started by an earlier watcher: polled by pid."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def poll(self) -> int | None:
        return None if _alive(self.pid) else -1


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie of ours is not alive
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except OSError:
        return True


def _ended(status: str) -> str:
    return "succeeded" if status == "succeeded" else "failed"


def _conveyor() -> list[str]:
    beside = Path(sys.executable).with_name("conveyor")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("conveyor")
    return [found] if found else [sys.executable, "-m", "conveyor.cli"]
