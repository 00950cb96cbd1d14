"""Calling a step in a child process, so a timeout can stop anything — a hung C extension too.

The function and its arguments travel to a spawned child with cloudpickle; the child runs the call
with the step's context (seed, metrics, captured output) and sends back the outcome. On timeout the
child is killed (SIGTERM, then SIGKILL), which threads in the runner's own process cannot do.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
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


def call_in_child(
    fn: Callable[..., Any], kwargs: dict[str, Any], ctx: StepContext, timeout: float
) -> ChildOutcome:
    """Run `fn(**kwargs)` in a spawned process; raise StepTimeout after `timeout` seconds."""
    import cloudpickle

    mp = multiprocessing.get_context("spawn")
    receiver, sender = mp.Pipe(duplex=False)
    payload = cloudpickle.dumps((fn, kwargs, ctx))
    child = mp.Process(target=_child_main, args=(payload, sender), daemon=True)
    child.start()
    sender.close()
    try:
        if not receiver.poll(timeout):
            raise StepTimeout(f"the call took longer than its timeout of {timeout:g} s")
        return cloudpickle.loads(receiver.recv_bytes())
    except EOFError:
        code = child.exitcode if child.exitcode is not None else child.join(5) or child.exitcode
        return ChildOutcome(
            ok=False,
            error_type="ChildProcessError",
            error_message=f"the step's process died (exit code {code})",
        )
    finally:
        receiver.close()
        if child.is_alive():
            child.terminate()
            child.join(1)
            if child.is_alive():
                child.kill()
        child.join(5)


def _child_main(payload: bytes, sender: Any) -> None:
    import random
    import sys

    import cloudpickle

    fn, kwargs, ctx = cloudpickle.loads(payload)
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
    sender.send_bytes(cloudpickle.dumps(outcome))
    sender.close()


def qualname(err: BaseException) -> str:
    """The exception's class name as users know it: `ValueError`, `mypkg.errors.BadInput`."""
    type_name = getattr(err, "type_name", None)  # an error carried back from a child process
    if type_name:
        return type_name
    cls = type(err)
    return (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )
