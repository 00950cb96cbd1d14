"""Steps that count their calls, so tests can tell a computed step from a cached one.

They live at module level, in a real file, as user steps do: their code fingerprints come from
their source. `CALLS` is reset before every test by the autouse fixture in conftest.py; `FAIL`
makes a step fail until a test "fixes" it (neither is part of any fingerprint).
"""

from __future__ import annotations

import collections
import random
import sys

import conveyor as cv

CALLS: collections.Counter[str] = collections.Counter()
FAIL: dict[str, int] = {}


def _called(name: str) -> None:
    CALLS[name] += 1
    if FAIL.get(name, 0) > 0:
        FAIL[name] -= 1
        raise ValueError(f"{name} was told to fail")


@cv.step
def source(x: int) -> int:
    _called("source")
    return x


@cv.step
def inc(x: int) -> int:
    _called("inc")
    return x + 1


@cv.step
def double(x: int) -> int:
    _called("double")
    return 2 * x


@cv.step
def add(a: int, b: int) -> int:
    _called("add")
    return a + b


@cv.step
def total(values: list) -> int:
    _called("total")
    return sum(values)


@cv.step(cache=False)
def always(x: int) -> int:
    _called("always")
    return x


@cv.step
def flaky(x: int) -> int:
    _called("flaky")
    return x * 10


@cv.step(retries=2, retry_delay=0)
def retried(x: int) -> int:
    _called("retried")
    return x + 100


@cv.step(retries=1, retry_delay=0)
def hopeless(x: int) -> int:
    _called("hopeless")
    raise RuntimeError("never works")


@cv.step(outputs=("low", "high"))
def bounds(x: int) -> tuple[int, int]:
    _called("bounds")
    return x - 1, x + 1


@cv.step
def pair(x: int) -> tuple:
    _called("pair")
    return (x, "pickled")


@cv.step
def first(values: tuple) -> int:
    _called("first")
    return values[0]


@cv.step
def chatty(x: int) -> int:
    _called("chatty")
    print(f"stdout of chatty {x}")
    print(f"stderr of chatty {x}", file=sys.stderr)
    return x


@cv.step
def quiet(x: int) -> int:
    _called("quiet")
    return x


@cv.step
def measured(x: int) -> int:
    _called("measured")
    cv.log_param("strategy", "greedy")
    cv.log_param("layers", [8, 4])
    cv.log_metric("accuracy", 0.75)
    for epoch in range(3):
        cv.log_metric("loss", 1.0 / (epoch + 1), step=epoch)
    return x


@cv.step
def noisy(x: int) -> float:
    _called("noisy")
    return x + random.random()


@cv.step
def seeded(x: int) -> list:
    _called("seeded")
    return [cv.seed(), random.random()]


# -- pipelines -----------------------------------------------------------------------------------


@cv.pipeline
def two_branches(a: int = 1, b: int = 10):
    """a → inc ┐
    b → double ┴→ add"""
    return add(inc(source(a)), double(b))


@cv.pipeline
def with_uncached(x: int = 1):
    return inc(always(x))


@cv.pipeline
def failing_branch(x: int = 1):
    """x → flaky → inc   (fails when FAIL["flaky"]);  x → double (independent)."""
    return {"broken": inc(flaky(x)), "fine": double(x)}


@cv.pipeline
def with_retries(x: int = 1):
    return retried(x)


@cv.pipeline
def without_hope(x: int = 1):
    return hopeless(x)


@cv.pipeline
def with_bounds(x: int = 5):
    low, high = bounds(x)
    return {"low": low, "high": high, "sum": add(low, high)}


@cv.pipeline
def pickled_output(x: int = 3):
    return pair(x)


@cv.pipeline
def printing(x: int = 7):
    return quiet(chatty(x))


@cv.pipeline
def with_metrics(x: int = 1):
    return measured(x)


@cv.pipeline
def random_draw(x: int = 1):
    return noisy(x)


@cv.pipeline
def seed_report(x: int = 1):
    return seeded(x)
