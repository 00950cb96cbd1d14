"""Group commit: step facts are written by a background thread, many per transaction.

When steps are fast, facts pile up while the previous transaction commits and go out together;
when steps are slow, each is written as soon as it finishes. Either way the runner never waits on
the database, and each step's facts stay atomic (a batch is one transaction). Artifact bytes are
always on disk before their facts are queued, so a crash loses at most the facts of the last
moments — never leaves a row pointing at missing bytes.
"""

from __future__ import annotations

import logging
import queue
import threading
import time

from conveyor.exceptions import MetadataError
from conveyor.metadata.records import StepFacts
from conveyor.metadata.store import MetadataStore

__all__ = ["Recorder"]

_STOP = object()
logger = logging.getLogger(__name__)

#: How often a live runner refreshes its run's heartbeat; a run silent for 6x this is dead.
HEARTBEAT_S = 5.0


class Recorder:
    """Queues `StepFacts` and writes them from one background thread. Use as a context manager."""

    def __init__(
        self, store: MetadataStore, max_batch: int = 1000, heartbeat_run: str | None = None
    ) -> None:
        self.store = store
        self.max_batch = max_batch
        self.heartbeat_run = heartbeat_run
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="conveyor-recorder", daemon=True)

    def __enter__(self) -> Recorder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(self, facts: StepFacts) -> None:
        self._raise_if_failed()
        self._queue.put(facts)

    def close(self) -> None:
        """Write everything queued, stop the thread, and raise if any write failed."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()
        self._raise_if_failed()

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise MetadataError(
                f"recording step results failed: {type(self._error).__name__}: {self._error}"
            ) from self._error

    def _loop(self) -> None:
        try:
            self._drain()
        finally:
            self.store.release_thread()

    def _drain(self) -> None:
        stopping = False
        last_beat = time.monotonic()
        while not stopping:
            try:
                batch = [self._queue.get(timeout=HEARTBEAT_S)]
            except queue.Empty:
                batch = []
            if self.heartbeat_run and time.monotonic() - last_beat >= HEARTBEAT_S:
                last_beat = time.monotonic()
                try:
                    self.store.heartbeat(self.heartbeat_run)
                except Exception as err:  # the next write will report a broken database
                    logger.debug("heartbeat failed: %s", err)
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stopping = any(item is _STOP for item in batch)
            facts = [item for item in batch if isinstance(item, StepFacts)]
            if self._error is None and facts:
                try:
                    self.store.record_steps(facts)
                except BaseException as err:  # surfaced to the runner by add() / close()
                    self._error = err
