"""Group commit: step facts are buffered briefly and written many per transaction.

Writing each step's facts in its own transaction costs more than a trivial step itself, so the
runner hands facts to a `Recorder`, which writes them in one transaction when:

- the oldest buffered facts are `window_s` old (50 ms), or `max_batch` are waiting;
- a step is about to be executed after a slow one (≥ `slow_step_s`): slow steps are followed
  by slow steps, and nothing should wait for them unwritten;
- the runner is about to block on running steps, or the run ends.

A small background thread flushes facts older than `window_s` while the runner is busy inside a
long step, and refreshes the run's heartbeat, with the steps that have been executing for
`window_s` or more (what a live view shows as running; faster steps are never written).
Otherwise writes happen in the runner's own thread (a writer thread working all the time would
fight it for the GIL). The thread starts with the first executed step, or once facts have waited
`window_s`: a run served from the cache in a few milliseconds has nothing to wait for. Batches
are written in order, one at a time. A crash thus loses at most the facts of the last
`window_s` — never leaves a row pointing at missing bytes, since bytes are written before facts
are handed over.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping

from conveyor.metadata.records import StepFacts
from conveyor.metadata.store import MetadataStore

__all__ = ["HEARTBEAT_S", "Recorder"]

logger = logging.getLogger(__name__)

#: How often a live runner refreshes its run's heartbeat; a run silent for 6x this is dead.
HEARTBEAT_S = 5.0


class Recorder:
    """Buffers `StepFacts` and writes them in batches. Use as a context manager."""

    def __init__(
        self,
        store: MetadataStore,
        *,
        heartbeat_run: str | None = None,
        busy: Mapping[str, float] | None = None,
        window_s: float = 0.05,
        slow_step_s: float = 0.01,
        max_batch: int = 1000,
    ) -> None:
        self.store = store
        self.heartbeat_run = heartbeat_run
        self.busy = busy if busy is not None else {}  # step → time.monotonic() it started
        self.window_s = window_s
        self.slow_step_s = slow_step_s
        self.max_batch = max_batch
        self._buffer: list[StepFacts] = []
        self._since = 0.0
        self._last_duration = 0.0
        self._buffer_lock = threading.Lock()  # guards the buffer
        self._write_lock = threading.Lock()  # one batch at a time, in order
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._background, name="conveyor-recorder", daemon=True
        )

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(self, facts: StepFacts, duration_s: float = 0.0) -> None:
        """Queue a finished step's facts; `duration_s` is how long the step ran."""
        if self._error is not None:
            self.flush()  # raises the background thread's error
        with self._buffer_lock:
            if not self._buffer:
                self._since = time.monotonic()
            self._buffer.append(facts)
            full = len(self._buffer) >= self.max_batch
            old = time.monotonic() - self._since >= self.window_s
        if not facts.step_run.cached:
            self._last_duration = duration_s
        if full or old:
            self._start_thread()
            self.flush()

    def before_step(self, *, flush: bool = False) -> None:
        """The runner is about to execute a step: write what waits if the last step was slow
        (or if `flush`: the step runs where it cannot ask for a flush itself)."""
        self._start_thread()
        if self._buffer and (flush or self._last_duration >= self.slow_step_s):
            self.flush()

    def flush(self, older_than: float | None = None) -> None:
        """Write everything buffered (only if older than `older_than` s), in one transaction."""
        with self._write_lock:
            if self._error is not None:
                error, self._error = self._error, None
                raise error
            with self._buffer_lock:
                if not self._buffer:
                    return
                if older_than is not None and time.monotonic() - self._since < older_than:
                    return
                batch, self._buffer = self._buffer, []
            self.store.record_steps(batch)

    def close(self) -> None:
        """Write what is left and stop the background thread."""
        self._stop_thread()
        self.flush()

    def drain(self) -> list[StepFacts]:
        """Stop the background thread and hand back what it has not written, for the caller to
        write in its own transaction (`MetadataStore.finish_run(steps=...)`)."""
        self._stop_thread()
        with self._write_lock:
            if self._error is not None:
                error, self._error = self._error, None
                raise error
            with self._buffer_lock:
                batch, self._buffer = self._buffer, []
        return batch

    def _start_thread(self) -> None:
        if self._thread.ident is None and not self._stop.is_set():
            self._thread.start()

    def _stop_thread(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _background(self) -> None:
        last_beat = time.monotonic()
        shown: list[str] = []  # the running steps as last written
        try:
            while not self._stop.wait(self.window_s):
                try:
                    self.flush(older_than=self.window_s)
                except Exception as err:  # handed to the runner on its next add/flush
                    self._error = err
                    return
                now = time.monotonic()
                running = sorted(
                    name for name, since in list(self.busy.items()) if now - since >= self.window_s
                )
                if self.heartbeat_run and (running != shown or now - last_beat >= HEARTBEAT_S):
                    last_beat = now
                    try:
                        self.store.heartbeat(self.heartbeat_run, running=running)
                        shown = running
                    except Exception as err:  # the next write reports a broken database
                        logger.debug("heartbeat failed: %s", err)
        finally:
            self.store.release_thread()
