"""The graph as a value: validation, and `version()` that follows structure and code, not params."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import pytest

import conveyor as cv
from conveyor.core.graph import Graph, Literal, Node, Ref
from conveyor.exceptions import DefinitionError, GraphError


@cv.step
def inc(x: int) -> int:
    return x + 1


def _node(name: str, source: Ref | Literal) -> Node:
    return Node(name=name, step=inc, inputs=(("x", source),))


def test_a_cycle_is_rejected_naming_the_pipeline_and_steps() -> None:
    nodes = {"a": _node("a", Ref("b", "output")), "b": _node("b", Ref("a", "output"))}
    with pytest.raises(GraphError) as err:
        Graph(pipeline="loop", nodes=nodes, outputs={}, params={})
    assert "'loop'" in str(err.value)
    assert "a" in str(err.value) and "b" in str(err.value)


def test_a_reference_to_an_unknown_step_is_rejected() -> None:
    with pytest.raises(GraphError, match="'ghost'"):
        Graph(pipeline="p", nodes={"a": _node("a", Ref("ghost", "output"))}, outputs={}, params={})


def test_a_reference_to_an_unknown_output_lists_the_outputs() -> None:
    nodes = {"a": _node("a", Literal(1)), "b": _node("b", Ref("a", "missing"))}
    with pytest.raises(GraphError) as err:
        Graph(pipeline="p", nodes=nodes, outputs={}, params={})
    assert "'missing'" in str(err.value) and "'output'" in str(err.value)


def test_a_graph_is_read_only(chain: cv.Pipeline) -> None:
    graph = chain.trace()
    with pytest.raises(TypeError):
        graph.nodes["extra"] = graph.nodes["_inc"]  # type: ignore[index]
    with pytest.raises(TypeError):
        graph.params["x"] = 5  # type: ignore[index]


def test_version_is_stable_and_ignores_parameter_values(diamond: cv.Pipeline) -> None:
    assert diamond.trace(x=1).version() == diamond.trace(x=1).version()
    assert diamond.trace(x=1).version() == diamond.trace(x=99).version()


def test_version_follows_structure(chain: cv.Pipeline, fan_out_fan_in: cv.Pipeline) -> None:
    assert chain.trace(n=3).version() != chain.trace(n=4).version()
    assert fan_out_fan_in.trace(n=2).version() != fan_out_fan_in.trace(n=3).version()


_PIPELINE = """
import conveyor as cv

@cv.step
def prepare(x: int) -> int:
    return x + 1

@cv.step
def finish(x: int) -> int:
    return {finish}

@cv.pipeline
def flow(x: int = 1):
    return finish(prepare(x))
"""


def test_version_follows_code_and_not_formatting(make_module: Callable[..., ModuleType]) -> None:
    base = make_module(_PIPELINE.format(finish="x * 2")).flow.trace().version()
    reformatted = make_module(_PIPELINE.format(finish="(x*2)  # doubled")).flow.trace().version()
    edited = make_module(_PIPELINE.format(finish="x * 3")).flow.trace().version()
    assert base == reformatted
    assert base != edited


def test_a_step_check_refuses_known_arguments_when_traced() -> None:
    seen: list[dict[str, object]] = []

    def positive(**known: object) -> None:
        seen.append(known)
        if float(known.get("rate", 1)) <= 0:  # type: ignore[arg-type]
            raise ValueError(f"rate= must be > 0, got {known['rate']!r}")

    @cv.step
    def make(n: int) -> int:
        return n

    @cv.step(check=positive)
    def scale(x: int, rate: float = 1.0) -> float:
        return x * rate

    @cv.pipeline
    def flow(rate: float = 1.0) -> float:
        return scale(make(3), rate=rate)

    flow.trace(rate=2)
    assert seen == [{"rate": 2.0}]  # the upstream output is not known yet: not passed
    with pytest.raises(GraphError, match=r"step 'scale': rate= must be > 0, got -1\.0"):
        flow.trace(rate=-1)
    with pytest.raises(DefinitionError, match="check must be callable"):
        cv.step(check=3)(make.fn)  # type: ignore[arg-type]
