"""`conveyor watch`: evaluate triggers, launch pipeline runs, record every firing.

Each firing is claimed in the metadata store before its run starts (`TriggerStore.claim`, unique
per trigger and event key), so duplicate events and restarts never fire twice. Runs are separate
`conveyor run` processes: a crashing pipeline cannot take the watcher down, and each run is an
ordinary recorded run — its own gate decides whether the model it trains is promoted, and a
promotion moves the alias that `conveyor serve` follows.

The watcher chooses each run's id and records it in the claim, so a restarted watcher finds the
run by its id. Until the run has recorded itself, a lock tells whether its process lives: the
watcher takes `<home>/triggers/<run id>.lock` (`flock`) before the claim and hands the descriptor
to the `conveyor run` it starts, which holds the lock until it exits, crash or not. The steps of
a firing, and what a restart does after a crash between two of them:

    a baseline: claimed as skipped, in one insert        → nothing to do
    run id chosen, lock taken ─ claimed with the run id  → no run, lock free, no output: launched
    `conveyor run --run-id` started ─ its pid recorded   → lock held: adopted; lock free, with
                                                           output or a pid: it ended before
                                                           recording its run (failed)
    the run records itself … and ends                    → the run exists: adopted (recorded at
                                                           once if it ended)
    its outcome recorded                                 → finished: nothing to do

What each check found wrong (an error, or warnings such as a column gone from the live data) is
said once and recorded in the store (`TriggerStore.record_check`) when it changes.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from conveyor.automation.triggers import CheckContext, Trigger
from conveyor.exceptions import ConveyorError, NotFoundError
from conveyor.metadata.records import RunRecord
from conveyor.metadata.trigger_store import TriggerCheck, TriggerEvent, TriggerStore
from conveyor.workspace import Workspace, open_workspace

__all__ = ["Watcher"]


@dataclasses.dataclass
class _Child:
    event: TriggerEvent
    process: subprocess.Popen[bytes] | _Adopted


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
            self._record_check(name, time.time(), problem, [])
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
        running = sum(1 for c in self._children if c.event.trigger == trigger.name)
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
            self._record_check(trigger.name, now, message, [])
            return None
        self.faulty.pop(trigger.name, None)
        if self._record_check(trigger.name, now, None, ctx.warnings) is not None:
            for warning in ctx.warnings:  # said once, when they change
                self.echo(f"trigger {trigger.name!r}: warning: {warning}")
        if ctx.notes != self._notes.get(trigger.name):  # said once, not at every check
            for note in ctx.notes:
                self.echo(f"trigger {trigger.name!r}: {note}")
        self._notes[trigger.name] = ctx.notes
        if firing is None:
            return None
        claim = (trigger.name, firing.key, firing.reason, trigger.pipeline, dict(trigger.params))
        if firing.baseline:  # finished as it is recorded: no crash leaves a baseline started
            self.store.claim(*claim, status="skipped", host=self.host)
            return None
        lock = _Lock(self._logs, uuid.uuid4().hex)
        lock.acquire()  # a new name: free. Held from before the claim, so no restarting watcher
        try:  # takes the claimed firing for one never launched
            event = self.store.claim(*claim, run_id=lock.run_id, host=self.host)
            if event is None:
                lock.remove()
                return None  # this event already fired (a duplicate, or before a restart)
            self.echo(f"trigger {trigger.name!r} fired: {firing.reason}")
            self._launch(event, lock)
        finally:
            lock.release()
        return event

    def _record_check(
        self, trigger: str, at: float, error: str | None, warnings: list[str]
    ) -> TriggerCheck | None:
        return self.store.record_check(trigger, at, error, warnings, host=self.host)

    def _last_firing(self, name: str) -> TriggerEvent | None:
        return next((e for e in self.store.history(name, limit=20) if e.status != "skipped"), None)

    # -- runs --------------------------------------------------------------------------------------

    def _log(self, event: TriggerEvent) -> Path:
        """What the run's process printed (both streams)."""
        return self._logs / f"{event.id}.log"

    def _launch(self, event: TriggerEvent, lock: _Lock) -> None:
        """Start `conveyor run --run-id` for a claimed firing; the process inherits `lock`."""
        assert event.run_id is not None and lock.fd is not None
        params = self._logs / f"{event.id}.params.json"
        params.write_text(json.dumps(event.params))
        pipeline = event.pipeline or ""
        command = [*_conveyor(), "run", pipeline, "--params", str(params), "--run-id", event.run_id]
        with open(self._log(event), "wb") as log:
            process = subprocess.Popen(  # a session of its own: Ctrl-C stops the watcher only
                command,
                cwd=self.root,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                pass_fds=(lock.fd,),
            )
        self.store.update(event.id, pid=process.pid)
        self._children.append(_Child(dataclasses.replace(event, pid=process.pid), process))

    def _reap(self) -> None:
        for child in list(self._children):
            if child.process.poll() is None:
                continue
            self._children.remove(child)
            event = child.event
            if isinstance(child.process, _Adopted) and self._run(event.run_id) is None:
                # what held the lock ended with no run: a run process that died, or the watcher
                # that claimed the firing, dead before the launch: decided as after a restart
                now = self.store.get(event.trigger, event.key)
                if now is not None and now.status == "started":
                    self._resume(now)
            else:
                self._finish(event)

    def _run(self, run_id: str | None) -> RunRecord | None:
        try:
            return None if run_id is None else self.ws.metadata.get_run(run_id)
        except NotFoundError:
            return None

    def _finish(self, event: TriggerEvent) -> None:
        """Record how the firing's run ended, from the run's own record."""
        run = self._run(event.run_id)
        if run is None:  # its process ended before recording the run: there is none
            self.store.update(event.id, status="failed", run_id=None, finished_at=time.time())
            self.echo(
                f"trigger {event.trigger!r}: the run failed before it was recorded "
                f"(see {self._log(event)})"
            )
        else:
            status = _ended(run.status)
            values = {"status": status, "finished_at": time.time(), "pid": event.pid or run.pid}
            self.store.update(event.id, **values)
            self.echo(f"trigger {event.trigger!r}: run {run.id[:12]} {status}")
        _Lock(self._logs, event.run_id or "").remove()

    def recover(self) -> None:
        """After a restart: follow each firing not seen to end, by the run id it recorded."""
        for event in self.store.unfinished():
            self._resume(event)

    def _resume(self, event: TriggerEvent) -> None:
        """Adopt the firing's run if it exists or its process lives; record it if its process
        ended before recording the run; launch it only if it never started."""
        assert event.run_id is not None  # a started firing is claimed with its run id
        if self.ws.metadata.has_run(event.run_id):
            self._adopt(event)  # launched: followed through the run's record, from any host
            return
        if event.host != self.host:
            self.echo(
                f"trigger {event.trigger!r}: the firing {event.id} is launched on {event.host}; "
                "a watcher there starts or follows it"
            )
            return
        lock = _Lock(self._logs, event.run_id)
        if not lock.acquire():
            self._adopt(event)  # its process lives and has yet to record the run
            return
        try:
            if self.ws.metadata.has_run(event.run_id):  # recorded just now
                self._adopt(event)
            elif event.pid is not None or _wrote(self._log(event)):
                self._finish(event)  # it started, and ended before recording the run
            else:
                self.echo(
                    f"trigger {event.trigger!r}: launching the firing claimed before a restart"
                )
                self._launch(event, lock)
        finally:
            lock.release()

    def _adopt(self, event: TriggerEvent) -> None:
        assert event.run_id is not None
        said = f"adopting run {event.run_id[:12]}, launched before a restart"
        self.echo(f"trigger {event.trigger!r}: {said}")
        adopted = _Adopted(lambda: self._run(event.run_id), _Lock(self._logs, event.run_id))
        self._children.append(_Child(event, adopted))


class _Lock:
    """`<folder>/<run id>.lock`: held by whoever launches the run, then by the run's process,
    which inherits the descriptor. `flock` locks belong to the open file, so the lock is free
    once every process holding it has ended, however it ended."""

    def __init__(self, folder: Path, run_id: str) -> None:
        self.run_id = run_id
        self.path = folder / f"{run_id}.lock"
        self.fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock without waiting; False when a process of the firing holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self.fd = fd
        return True

    def release(self) -> None:
        """Close this process's descriptor (a run process started with it keeps the lock)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def held(self) -> bool:
        """Whether a process of the firing holds the lock."""
        if not self.acquire():
            return True
        self.release()
        return False

    def remove(self) -> None:
        self.release()
        self.path.unlink(missing_ok=True)


class _Adopted:
    """A run launched before a restart, polled like a process: going while its run is running,
    or, before the run is recorded, while its process holds the firing's lock."""

    def __init__(self, run: Callable[[], RunRecord | None], lock: _Lock) -> None:
        self._run = run
        self._lock = lock

    def poll(self) -> int | None:
        if self._run() is None and self._lock.held():
            return None  # started, not recorded yet
        run = self._run()
        return None if run is not None and run.status == "running" else 0


def _wrote(log: Path) -> bool:
    """Whether a run process wrote to its log (it started)."""
    try:
        return log.stat().st_size > 0
    except OSError:
        return False


def _ended(status: str) -> str:
    return "succeeded" if status == "succeeded" else "failed"


def _conveyor() -> list[str]:
    beside = Path(sys.executable).with_name("conveyor")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("conveyor")
    return [found] if found else [sys.executable, "-m", "conveyor.cli"]
