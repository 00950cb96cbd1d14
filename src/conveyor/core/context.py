"""What a running step can reach: `log_metric`, `log_param`, `current_step`.

The runner opens a `StepContext` around each call; these functions write into it and the runner
records its contents with the step run. Outside a run (a step called as plain Python, e.g. in a
unit test) they do nothing, so instrumented steps stay testable.

Steps that work on the stores themselves (the registry components) also find there the run's
settings, the artifact ids of their inputs, and `sync`, which writes the facts the runner still
buffers so that the metadata they read is complete.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import math
import numbers
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from conveyor.core.hashing import canonical
from conveyor.exceptions import ParameterError

__all__ = [
    "Metric",
    "StepContext",
    "current_step",
    "log_metric",
    "log_param",
    "seed",
    "step_context",
]

#: What `seed()` returns outside a run, so a step called as plain Python is deterministic too.
DEFAULT_SEED = 0


@dataclasses.dataclass(frozen=True)
class Metric:
    name: str
    value: float
    step: int | None = None


@dataclasses.dataclass
class StepContext:
    """Collects what a step logs while it runs."""

    run_id: str
    node: str
    seed: int = DEFAULT_SEED
    metrics: list[Metric] = dataclasses.field(default_factory=list)
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: artifact id of each input that came from an upstream step, by argument (`arg[key]` inside
    #: a list or dict argument)
    inputs: Mapping[str, str] = dataclasses.field(default_factory=dict)
    #: the run's `conveyor.config.Settings` (typed loosely: core does no I/O)
    settings: Any = None
    #: writes the step facts the runner still buffers; None where nothing is buffered
    sync: Callable[[], None] | None = dataclasses.field(default=None, compare=False, repr=False)

    def sync_metadata(self) -> None:
        """Make everything recorded before this step visible to reads of the metadata store."""
        if self.sync is not None:
            self.sync()


_CURRENT: contextvars.ContextVar[StepContext | None] = contextvars.ContextVar(
    "conveyor_step", default=None
)


@contextlib.contextmanager
def step_context(ctx: StepContext) -> Iterator[StepContext]:
    token = _CURRENT.set(ctx)
    try:
        yield ctx
    finally:
        _CURRENT.reset(token)


def current_step() -> StepContext | None:
    """The context of the step running now, or None outside a run."""
    return _CURRENT.get()


def log_metric(name: str, value: float, step: int | None = None) -> None:
    """Record a numeric metric on the current step run (e.g. accuracy, loss at epoch `step`)."""
    ctx = _CURRENT.get()
    if not isinstance(name, str) or not name:
        raise ParameterError(f"log_metric: name must be a non-empty str, got {name!r}")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ParameterError(f"log_metric {name!r}: value must be a number, got {value!r}")
    number = float(value)
    if math.isnan(number):
        raise ParameterError(f"log_metric {name!r}: value is NaN")
    if ctx is not None:
        ctx.metrics.append(Metric(name, number, step))


def log_param(name: str, value: Any) -> None:
    """Record a parameter (any JSON-able value) on the current step run."""
    if not isinstance(name, str) or not name:
        raise ParameterError(f"log_param: name must be a non-empty str, got {name!r}")
    ctx = _CURRENT.get()
    if ctx is not None:
        canonical(value)  # fail now, in the step, for values that cannot be recorded
        ctx.params[name] = value


def seed() -> int:
    """The deterministic seed of the running step (derived from its cache key).

    Conveyor seeds `random` (and numpy's global generator, when numpy is imported) with it before
    each call; use it for your own generators: `np.random.default_rng(cv.seed())`. A re-execution
    with the same code and inputs gets the same seed, so `conveyor reproduce` can compare outputs.
    """
    ctx = _CURRENT.get()
    return DEFAULT_SEED if ctx is None else ctx.seed
