"""Capture what a step prints, per step, while still showing it.

`sys.stdout`/`sys.stderr` are replaced, for the length of a run, by routers that append to the
buffer of the step running in the current context (a contextvar, so threads stay apart) and echo
to the stream that was there before.
"""

from __future__ import annotations

import contextlib
import contextvars
import io
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

__all__ = ["StepOutput", "capture_step", "live_log_path", "routed_output"]


def live_log_path(home: Path, run_id: str, node: str) -> Path:
    """Where a running step's output streams to, under the project's `.conveyor/` folder."""
    return home / "logs" / run_id / f"{node}.log"


#: Captured output kept per stream and step; the tail is kept when a step prints more.
MAX_CAPTURE = 1_000_000


class _LiveLog:
    """A log file opened on the first write, so silent steps cost no file operations.

    It is a convenience beside the captured output, so it never fails the step: where the file
    cannot be written (a Ray node without the project's folder, a full disk), it stops, and the
    output is still recorded with the step when it ends.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._file: TextIO | None = None
        self._opened = False
        self._broken = False

    def write(self, text: str) -> None:
        if self.path is None or self._broken:
            return
        try:
            if self._file is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - see close()
                self._opened = True
            self._file.write(text)
            self._file.flush()
        except OSError:
            self._broken = True
            self._close_file()

    def close(self) -> None:
        self._close_file()
        if self._opened and self.path is not None:
            with contextlib.suppress(OSError):  # the step run's record holds the output now
                self.path.unlink(missing_ok=True)

    def _close_file(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None


class _Tee(io.StringIO):
    """A buffer that also appends every write to the live log (`conveyor logs` reads it)."""

    def __init__(self, live: _LiveLog) -> None:
        super().__init__()
        self._live = live

    def write(self, text: str) -> int:
        self._live.write(text)
        return super().write(text)


class StepOutput:
    def __init__(self, live: _LiveLog) -> None:
        self.stdout = _Tee(live)
        self.stderr = _Tee(live)

    @staticmethod
    def _tail(buffer: io.StringIO) -> str:
        text = buffer.getvalue()
        return text if len(text) <= MAX_CAPTURE else "…(truncated)\n" + text[-MAX_CAPTURE:]

    def text(self) -> tuple[str, str]:
        return self._tail(self.stdout), self._tail(self.stderr)


_CURRENT: contextvars.ContextVar[StepOutput | None] = contextvars.ContextVar(
    "conveyor_output", default=None
)


class _Router(io.TextIOBase):
    def __init__(self, echo: TextIO, which: str) -> None:
        self._echo = echo
        self._which = which

    def write(self, text: str) -> int:
        captured = _CURRENT.get()
        if captured is not None:
            getattr(captured, self._which).write(text)
        return self._echo.write(text)

    def flush(self) -> None:
        self._echo.flush()

    def isatty(self) -> bool:
        return self._echo.isatty()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._echo, "encoding", "utf-8")

    def fileno(self) -> int:
        return self._echo.fileno()


@contextlib.contextmanager
def routed_output() -> Iterator[None]:
    """Install the routers for the duration of a run (nested runs reuse the outer routers)."""
    if isinstance(sys.stdout, _Router):
        yield
        return
    old_out, old_err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Router(old_out, "stdout"), _Router(old_err, "stderr")
    try:
        yield
    finally:
        sys.stdout, sys.stderr = old_out, old_err


@contextlib.contextmanager
def capture_step(live_log: Path | None = None) -> Iterator[StepOutput]:
    """Capture the current context's output; with `live_log`, stream it to that file meanwhile."""
    live = _LiveLog(live_log)
    output = StepOutput(live)
    token = _CURRENT.set(output)
    try:
        yield output
    finally:
        _CURRENT.reset(token)
        live.close()
