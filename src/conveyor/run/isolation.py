"""Calling a step in a child process, so a timeout can stop anything — a hung C extension too.

The function and its arguments travel to a spawned child with cloudpickle; the child runs the call
with the step's context (seed, metrics, captured output) and sends back the outcome. On timeout the
child is killed (SIGTERM, then SIGKILL), which threads in the runner's own process cannot do.
"""

from __future__ import annotations

import dataclasses
import os
import select
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from conveyor.core.context import Metric, StepContext, step_context
from conveyor.run.capture import capture_step

__all__ = ["ChildOutcome", "StepTimeout", "call_in_child", "qualname"]


class StepTimeout(Exception):
    """The call outlived its timeout and was stopped."""


@dataclasses.dataclass
class ChildOutcome:
    ok: bool
    value: Any = None
    error_type: str | None = None
    error_message: str | None = None
    traceback: str | None = None
    metrics: list[Metric] = dataclasses.field(default_factory=list)
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    stdout: str = ""
    stderr: str = ""


_CHILD = "import sys; from conveyor.run.isolation import child_main; child_main(int(sys.argv[1]))"


def call_in_child(
    fn: Callable[..., Any], kwargs: dict[str, Any], ctx: StepContext, timeout: float
) -> ChildOutcome:
    """Run `fn(**kwargs)` in a fresh interpreter; raise StepTimeout after `timeout` seconds.

    A plain `python -c` child rather than multiprocessing's spawn: spawn re-runs the parent's
    `__main__` script in the child, which for a pipeline script means running it again.
    """
    import cloudpickle

    child_ctx = dataclasses.replace(ctx, sync=None)  # the runner flushed before a child step
    payload = cloudpickle.dumps((list(sys.path), fn, kwargs, child_ctx))
    read_end, write_end = os.pipe()
    try:
        child = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(write_end)],
            stdin=subprocess.PIPE,
            pass_fds=(write_end,),
        )
    finally:
        os.close(write_end)
    try:
        assert child.stdin is not None
        child.stdin.write(payload)
        child.stdin.close()
        data = _read_until_eof(read_end, time.monotonic() + timeout, timeout)
        if not data:
            code = child.wait(timeout=5)
            return ChildOutcome(
                ok=False,
                error_type="ChildProcessError",
                error_message=f"the step's process died (exit code {code})",
            )
        return cloudpickle.loads(data)
    finally:
        os.close(read_end)
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=1)
            except subprocess.TimeoutExpired:
                child.kill()
        child.wait(timeout=10)


def _read_until_eof(fd: int, deadline: float, timeout: float) -> bytes:
    chunks = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise StepTimeout(f"the call took longer than its timeout of {timeout:g} s")
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            continue
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def child_main(fd: int) -> None:
    """The child's side: read the call from stdin, run it, write the outcome to `fd`."""
    import random

    import cloudpickle

    payload = sys.stdin.buffer.read()
    parent_path, fn_bytes = None, payload
    try:
        parent_path, fn, kwargs, ctx = cloudpickle.loads(fn_bytes)
    except Exception as err:  # the step's code cannot be loaded here
        outcome = ChildOutcome(ok=False, error_type=qualname(err), error_message=str(err))
    else:
        sys.path[:] = list(dict.fromkeys([*parent_path, *sys.path]))
        random.seed(ctx.seed)
        if "numpy" in sys.modules:
            sys.modules["numpy"].random.seed(ctx.seed)
        from conveyor.run.capture import routed_output

        with routed_output(), capture_step() as captured, step_context(ctx):
            try:
                outcome = ChildOutcome(ok=True, value=fn(**kwargs))
            except BaseException as err:
                outcome = ChildOutcome(
                    ok=False,
                    error_type=qualname(err),
                    error_message=str(err),
                    traceback=traceback.format_exc(),
                )
        outcome.metrics, outcome.params = list(ctx.metrics), dict(ctx.params)
        outcome.stdout, outcome.stderr = captured.text()
    try:
        data = cloudpickle.dumps(outcome)
    except Exception as err:
        data = cloudpickle.dumps(
            ChildOutcome(
                ok=False,
                error_type=qualname(err),
                error_message=f"the step's return value cannot be sent back: {err}",
            )
        )
    with os.fdopen(fd, "wb") as sink:
        sink.write(data)


def qualname(err: BaseException) -> str:
    """The exception's class name as users know it: `ValueError`, `mypkg.errors.BadInput`."""
    type_name = getattr(err, "type_name", None)  # an error carried back from a child process
    if type_name:
        return type_name
    cls = type(err)
    return (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )
