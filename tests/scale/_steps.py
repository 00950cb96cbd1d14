"""Steps of the scale tests, at module level in a real file as user steps are.

Whatever a step must tell the test (where it ran, whether it met another step, how often a value
was loaded) goes through files in a folder the test passes as an argument: the steps run in other
processes, on other Ray nodes, where the test's memory is out of reach.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

import conveyor as cv
from conveyor.artifacts.materializers import Materializer

#: how long a step waits for another one it expects to run beside it
MEET_TIMEOUT_S = 60.0


def _where() -> dict[str, Any]:
    ray = sys.modules.get("ray")  # imported in Ray's workers only
    found: dict[str, Any] = {"host": socket.gethostname(), "pid": os.getpid(), "node": None}
    if ray is not None and ray.is_initialized():
        context = ray.get_runtime_context()
        found["node"] = context.get_node_id()
        found["resources"] = context.get_assigned_resources()
    return found


@cv.step
def meet(tag: str, other: str, folder: str) -> dict:
    """Announce `tag`, then wait (bounded) until `other` has announced itself too.

    Two `meet` steps both finish quickly only when they run at the same time; run one after the
    other, the first waits `MEET_TIMEOUT_S` in vain.
    """
    Path(folder, f"started-{tag}").touch()
    deadline = time.monotonic() + MEET_TIMEOUT_S
    met = False
    while time.monotonic() < deadline:
        if Path(folder, f"started-{other}").exists():
            met = True
            break
        time.sleep(0.02)
    return {"tag": tag, "met": met, **_where()}


@cv.step
def busy(tag: str, folder: str, seconds: float = 0.5) -> dict:
    """Hold a 'running' marker for `seconds`; report whether any other step held one meanwhile."""
    mine = Path(folder, f"running-{tag}")
    mine.touch()
    others: set[str] = set()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        others |= {p.name for p in Path(folder).glob("running-*") if p != mine}
        time.sleep(0.01)
    mine.unlink()
    return {"tag": tag, "saw": sorted(others)}


HEAVY = busy.options(name="heavy", resources={"cpu": 2})


@cv.step
def join(values: list) -> list:
    return list(values)


@cv.step
def die_once(marker: str, value: int) -> int:
    """Kill this step's own process (SIGKILL) the first time; succeed the next time."""
    path = Path(marker)
    if not path.exists():
        path.write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(30)  # never reached: the signal is immediate
    return value * 10


@cv.step(retries=1, retry_delay=0)
def fail_once(marker: str) -> str:
    path = Path(marker)
    if not path.exists():
        path.touch()
        raise RuntimeError("first attempt fails")
    return "second attempt"


@cv.step(timeout=1)
def hang(seconds: float) -> int:
    time.sleep(seconds)
    return 1


@cv.step
def where(tag: str) -> dict:
    return {"tag": tag, **_where()}


# -- map -----------------------------------------------------------------------------------------


@cv.step
def numbers(n: int) -> list:
    return list(range(n))


@cv.step
def square(x: int) -> int:
    return x * x


@cv.step
def delayed(item: dict) -> int:
    """Items carry their own delay, so later items can finish before earlier ones."""
    time.sleep(item["delay"])
    return item["x"]


@cv.step
def fragile(x: int) -> int:
    if x == 2:
        raise ValueError(f"bad item {x}")
    return x


@cv.step
def total(values: list) -> int:
    return sum(values)


@cv.step
def inc(x: int) -> int:
    return x + 1


@cv.step
def noisy(x: int) -> float:
    """Uses the step's seed (derived from its cache key): the same on every executor."""
    return x + random.random()


@cv.step
def frame(n: int) -> Any:
    import pandas as pd

    return pd.DataFrame({"i": list(range(n)), "sq": [i * i for i in range(n)]})


@cv.step
def describe(df: Any, squares: list, noise: float) -> dict:
    return {"rows": len(df), "sum": int(df["sq"].sum()), "squares": squares, "noise": noise}


@cv.pipeline
def sweep(n: int = 4):
    """A map over a list known at run time, a literal fan-out, a DataFrame and seeded noise."""
    squares = square.map(numbers(n))
    fanned = total([inc(i) for i in range(3)])
    return describe(frame(n), squares, noisy(fanned))


# -- worker memo -------------------------------------------------------------------------------


class Box:
    """A value with a materializer of its own, which counts its loads in a file."""

    def __init__(self, value: int) -> None:
        self.value = value


class CountingMaterializer(Materializer):
    name = "test.box"

    def __init__(self, log: str) -> None:
        self.log = log

    def save(self, value: Any) -> bytes:
        return str(value.value).encode()

    def load(self, data: bytes, *, trust: bool = False) -> Any:
        with open(self.log, "a") as fh:
            fh.write(f"{os.getpid()}\n")
        return Box(int(data))


@cv.step
def make_box(n: int) -> Box:
    return Box(n)


@cv.step
def open_box(box: Box) -> int:
    return box.value + 1


@cv.step
def die_always(value: int) -> int:
    os.kill(os.getpid(), signal.SIGKILL)
    return value


@cv.step(cache=False)
def environment(name: str) -> dict:
    return {"value": os.environ.get(name), "parent": os.getppid()}


@cv.step
def chatty(x: int) -> int:
    """Prints to both streams: the run records both, whatever the executor."""
    print(f"to stdout {x}")
    print(f"to stderr {x}", file=sys.stderr)
    return x


@cv.pipeline
def chat(x: int = 1):
    return chatty(x)


@cv.step(cache=False)
def waits_for(marker: str) -> str:
    """Prints, then waits until `marker` exists: what it printed must show before it ends."""
    print("waiting for the marker", flush=True)
    deadline = time.monotonic() + MEET_TIMEOUT_S
    while not os.path.exists(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    return marker


@cv.pipeline
def waiting(marker: str):
    return waits_for(marker)
