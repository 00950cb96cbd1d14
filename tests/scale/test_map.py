"""`step.map(items)`: one task per item of a list known at run time, on every executor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import conveyor as cv
from conveyor.config import Settings
from conveyor.exceptions import GraphError

from . import _steps as s


@cv.pipeline
def squares(n: int = 3):
    return s.total(s.square.map(s.numbers(n)))


@cv.pipeline
def listed(n: int = 3):
    return s.square.map(s.numbers(n))


def _items(run: cv.Run, step: str) -> list[cv.StepRun]:
    return [r for r in run.steps if r.name.startswith(f"{step}[")]


def test_map_runs_one_cached_task_per_item(settings: Settings, executor: Callable[[], Any]) -> None:
    first = listed.run(n=3, settings=settings, executor=executor())
    assert first.status == "succeeded", first.error
    assert first.output() == [0, 1, 4]
    assert [r.name for r in _items(first, "square")] == ["square[0]", "square[1]", "square[2]"]
    assert not any(r.cached for r in _items(first, "square"))

    grown = listed.run(n=5, settings=settings, executor=executor())
    assert grown.status == "succeeded", grown.error
    assert grown.output() == [0, 1, 4, 9, 16]
    assert [r.cached for r in _items(grown, "square")] == [True, True, True, False, False]
    assert not grown.step("numbers").cached  # its list changed: the map ran again, per item

    again = listed.run(n=5, settings=settings, executor=executor())
    assert all(r.cached for r in again.steps)
    assert again.output_ids == grown.output_ids


def test_map_keeps_the_items_order_whatever_order_they_finish_in(
    settings: Settings, executor: Callable[[], Any]
) -> None:
    @cv.pipeline
    def staggered():
        items = [{"x": x, "delay": 0.4 - 0.1 * x} for x in range(4)]
        return s.delayed.map(items)  # a literal list: the later items finish first

    run = staggered.run(settings=settings, executor=executor())

    assert run.status == "succeeded", run.error
    assert run.output() == [0, 1, 2, 3]
    assert [r.name for r in _items(run, "delayed")] == [f"delayed[{i}]" for i in range(4)]


def test_map_over_an_empty_list_gives_an_empty_list(
    settings: Settings, executor: Callable[[], Any]
) -> None:
    run = squares.run(n=0, settings=settings, executor=executor())

    assert run.status == "succeeded", run.error
    assert run.output() == 0
    assert run.step("square").status == "succeeded"
    assert _items(run, "square") == []


def test_a_failing_item_fails_the_map_step_naming_the_item(
    settings: Settings, executor: Callable[[], Any]
) -> None:
    @cv.pipeline
    def breaks(n: int = 4):
        return s.total(s.fragile.map(s.numbers(n)))

    run = breaks.run(settings=settings, executor=executor())

    assert run.status == "failed"
    assert run.step("fragile[2]").status == "failed"
    assert run.step("fragile[2]").error_type == "ValueError"
    assert [run.step(f"fragile[{i}]").status for i in (0, 1, 3)] == ["succeeded"] * 3
    mapped = run.step("fragile")
    assert mapped.status == "failed"
    assert "fragile[2]" in (mapped.error_message or "")
    assert "bad item 2" in (mapped.error_message or "")
    assert run.step("total").status == "skipped"
    assert "fragile[2]" in (run.error or "")

    # the items that succeeded are cached: fixing the input re-runs only what failed before
    fixed = breaks.run(n=2, settings=settings, executor=executor())
    assert fixed.status == "succeeded"
    assert [r.cached for r in _items(fixed, "fragile")] == [True, True]


def test_map_needs_a_list(settings: Settings) -> None:
    @cv.step
    def not_a_list(n: int) -> dict:
        return {"n": n}

    @cv.pipeline
    def wrong():
        return s.square.map(not_a_list(1))

    run = wrong.run(settings=settings)
    assert run.status == "failed"
    assert "needs a list" in (run.step("square").error_message or "")

    @cv.pipeline
    def literal():
        return s.square.map(3)

    with pytest.raises(GraphError, match="argument 'x': map\\(\\) needs a list"):
        literal.trace()
