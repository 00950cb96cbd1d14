"""`@pipeline` tracing: node names and order, sub-pipelines, outputs, and the errors users hit."""

from __future__ import annotations

from typing import Literal, Optional

import pytest

import conveyor as cv
from conveyor.core.graph import Collection, Graph
from conveyor.core.graph import Literal as LiteralInput
from conveyor.exceptions import DefinitionError, GraphError, ParameterError


@cv.step
def inc(x: int) -> int:
    return x + 1


@cv.step
def add(a: int, b: int) -> int:
    return a + b


@cv.step
def total(values: list) -> int:
    return sum(values)


@cv.step
def load(n: int) -> list:
    return list(range(n))


@cv.step(outputs=("train", "test"))
def split(rows: list, ratio: float = 0.5) -> tuple[list, list]:
    cut = int(len(rows) * ratio)
    return rows[:cut], rows[cut:]


@cv.step
def size(rows: list) -> int:
    return len(rows)


@cv.step
def halve(x: float) -> float:
    return x / 2


@cv.step
def shout(text: str) -> str:
    return text.upper()


def _assert_topological(graph: Graph) -> None:
    order = graph.order()
    assert sorted(order) == sorted(graph.nodes)
    for node in graph.nodes.values():
        for up in node.upstream:
            assert order.index(up) < order.index(node.name), (up, node.name)


# -- shapes ------------------------------------------------------------------------------------


def test_chain_names_repeated_steps_uniquely_in_call_order(chain: cv.Pipeline) -> None:
    graph = chain.trace()
    assert list(graph.nodes) == ["_inc", "_inc_1", "_inc_2"]
    assert graph.order() == ["_inc", "_inc_1", "_inc_2"]
    assert graph.nodes["_inc_2"].upstream == {"_inc_1"}
    assert dict(graph.outputs) == {"output": graph.outputs["output"]}
    assert graph.outputs["output"].node == "_inc_2"


def test_chain_length_follows_its_parameter(chain: cv.Pipeline) -> None:
    assert list(chain.trace(n=5).nodes) == ["_inc", "_inc_1", "_inc_2", "_inc_3", "_inc_4"]


def test_diamond_joins_two_branches(diamond: cv.Pipeline) -> None:
    graph = diamond.trace()
    assert list(graph.nodes) == ["_inc", "_inc_1", "_inc_2", "_add"]
    assert graph.nodes["_add"].upstream == {"_inc", "_inc_2"}
    assert graph.nodes["_inc_2"].upstream == {"_inc_1"}
    assert graph.order()[-1] == "_add"
    _assert_topological(graph)
    assert graph.descendants("_inc_1") == {"_inc_2", "_add"}
    assert graph.downstream()["_inc"] == {"_add"}


def test_fan_out_fan_in_collects_a_list_of_outputs(fan_out_fan_in: cv.Pipeline) -> None:
    graph = fan_out_fan_in.trace()
    assert list(graph.nodes) == ["_inc", "_inc_1", "_inc_2", "_inc_3", "_total"]
    fan_in = graph.nodes["_total"]
    assert fan_in.upstream == {"_inc", "_inc_1", "_inc_2", "_inc_3"}
    (arg, source), *_ = fan_in.inputs
    assert arg == "values"
    assert isinstance(source, Collection)
    assert source.kind == "list"
    assert [ref.node for ref in source.refs()] == ["_inc", "_inc_1", "_inc_2", "_inc_3"]
    assert graph.order()[-1] == "_total"
    _assert_topological(graph)


def test_order_is_stable_across_traces(diamond: cv.Pipeline) -> None:
    assert diamond.trace().order() == diamond.trace().order()


def test_tracing_runs_no_step() -> None:
    calls = []

    @cv.step
    def record(x: int) -> int:
        calls.append(x)
        return x

    @cv.pipeline
    def p(x: int = 1):
        return record(x)

    p.trace()
    assert calls == []


def test_literal_arguments_and_defaults_are_recorded() -> None:
    @cv.pipeline
    def p(n: int = 4):
        return split(load(n), ratio=0.25)

    graph = p.trace(n=8)
    assert dict(graph.params) == {"n": 8}
    assert dict(graph.nodes["load"].inputs) == {"n": LiteralInput(8)}
    assert dict(graph.nodes["split"].inputs)["ratio"] == LiteralInput(0.25)


# -- sub-pipelines -------------------------------------------------------------------------------


@cv.pipeline
def twice(x: int):
    return inc(inc(x))


def test_sub_pipeline_nodes_are_prefixed_with_its_name() -> None:
    @cv.pipeline
    def outer(x: int = 0):
        return add(twice(inc(x)), 1)

    graph = outer.trace()
    assert list(graph.nodes) == ["inc", "twice.inc", "twice.inc_1", "add"]
    assert graph.nodes["twice.inc"].upstream == {"inc"}
    assert graph.nodes["add"].upstream == {"twice.inc_1"}


def test_a_sub_pipeline_called_twice_gets_unique_node_names() -> None:
    @cv.pipeline
    def outer(x: int = 0):
        return add(twice(x), twice(x))

    graph = outer.trace()
    assert len(graph.nodes) == 5
    assert all(name.startswith("twice") for name in graph.nodes if name != "add")
    assert len(graph.nodes["add"].upstream) == 2
    _assert_topological(graph)


def test_sub_pipeline_called_outside_a_pipeline_is_plain_python() -> None:
    assert twice(1) == 3


def test_sub_pipeline_literal_arguments_are_coerced() -> None:
    @cv.pipeline
    def outer():
        return twice("5")

    graph = outer.trace()
    assert dict(graph.nodes["twice.inc"].inputs) == {"x": LiteralInput(5)}


def test_sub_pipeline_bad_literal_names_the_sub_pipeline_and_argument() -> None:
    @cv.pipeline
    def outer():
        return twice("five")

    with pytest.raises(GraphError, match=r"twice.*'x'"):
        outer.trace()


# -- multi-output steps --------------------------------------------------------------------------


def test_multi_output_step_unpacks() -> None:
    @cv.pipeline
    def p(n: int = 10):
        train, test = split(load(n))
        return add(size(train), size(test))

    graph = p.trace()
    assert [ref.output for ref in graph.nodes["size"].refs()] == ["train"]
    assert [ref.output for ref in graph.nodes["size_1"].refs()] == ["test"]


def test_multi_output_by_attribute_and_key() -> None:
    @cv.pipeline
    def p(n: int = 10):
        parts = split(load(n))
        return {"a": size(parts.test), "b": size(parts["train"])}

    graph = p.trace()
    assert [ref.output for ref in graph.nodes["size"].refs()] == ["test"]
    assert [ref.output for ref in graph.nodes["size_1"].refs()] == ["train"]
    assert set(graph.outputs) == {"a", "b"}


def test_returning_a_multi_output_step_exposes_each_output() -> None:
    @cv.pipeline
    def p(n: int = 10):
        return split(load(n))

    outputs = p.trace().outputs
    assert {name: (ref.node, ref.output) for name, ref in outputs.items()} == {
        "train": ("split", "train"),
        "test": ("split", "test"),
    }


@pytest.mark.parametrize("access", ["attribute", "key"])
def test_unknown_output_name_names_the_step_and_lists_outputs(access: str) -> None:
    @cv.pipeline
    def p(n: int = 10):
        parts = split(load(n))
        return size(parts.valid if access == "attribute" else parts["valid"])

    with pytest.raises(GraphError) as err:
        p.trace()
    message = str(err.value)
    assert "'split'" in message
    assert "'valid'" in message
    assert "train" in message and "test" in message


def test_passing_all_outputs_of_a_multi_output_step_is_an_error() -> None:
    @cv.pipeline
    def p(n: int = 10):
        return size(split(load(n)))

    with pytest.raises(GraphError) as err:
        p.trace()
    assert "'split'" in str(err.value)
    assert "'rows'" in str(err.value)


# -- misuse of symbolic outputs ----------------------------------------------------------------


def test_using_an_output_as_a_condition_is_an_error() -> None:
    @cv.pipeline
    def p(n: int = 3):
        rows = load(n)
        if rows:
            return size(rows)
        return None

    with pytest.raises(GraphError, match="'load'"):
        p.trace()


def test_looping_over_an_output_is_an_error() -> None:
    @cv.pipeline
    def p(n: int = 3):
        return [inc(v) for v in load(n)]

    with pytest.raises(GraphError, match="'load'"):
        p.trace()


def test_indexing_an_output_is_an_error() -> None:
    @cv.pipeline
    def p(n: int = 3):
        return inc(load(n)[0])

    with pytest.raises(GraphError, match="'load'"):
        p.trace()


def test_a_pipeline_must_return_step_outputs() -> None:
    @cv.pipeline
    def p(n: int = 3):
        load(n)
        return 42

    with pytest.raises(GraphError, match="'p'"):
        p.trace()


def test_a_pipeline_must_call_a_step() -> None:
    @cv.pipeline
    def p(n: int = 3):
        return None

    with pytest.raises(GraphError, match="'p'"):
        p.trace()


# -- step arguments ------------------------------------------------------------------------------


def test_missing_step_argument_names_the_step() -> None:
    @cv.pipeline
    def p():
        return add(1)

    with pytest.raises(GraphError) as err:
        p.trace()
    assert "'add'" in str(err.value)
    assert "'b'" in str(err.value)


def test_unexpected_step_argument_names_the_step() -> None:
    @cv.pipeline
    def p():
        return inc(1, y=2)

    with pytest.raises(GraphError, match="'inc'"):
        p.trace()


def test_repeated_step_error_names_the_unique_node() -> None:
    @cv.pipeline
    def p():
        return add(add(1, 2))

    with pytest.raises(GraphError, match="'add_1'"):
        p.trace()


def test_literal_that_cannot_be_coerced_names_step_and_argument() -> None:
    @cv.pipeline
    def p():
        return halve("abc")

    with pytest.raises(GraphError) as err:
        p.trace()
    assert "'halve'" in str(err.value)
    assert "'x'" in str(err.value)


def test_literals_are_coerced_to_the_argument_type() -> None:
    @cv.pipeline
    def p():
        return halve("0.5")

    assert dict(p.trace().nodes["halve"].inputs) == {"x": LiteralInput(0.5)}


def test_output_type_mismatch_names_both_steps() -> None:
    @cv.pipeline
    def p():
        return inc(shout("a"))

    with pytest.raises(GraphError) as err:
        p.trace()
    message = str(err.value)
    assert "'inc'" in message and "'x'" in message and "'shout'" in message


def test_multi_output_type_mismatch_is_detected() -> None:
    @cv.pipeline
    def p():
        return inc(split(load(4)).train)

    with pytest.raises(GraphError, match="'split'"):
        p.trace()


def test_compatible_annotations_are_accepted() -> None:
    @cv.pipeline
    def p():
        return halve(inc(1))  # int output into a float argument

    assert list(p.trace().nodes) == ["inc", "halve"]


# -- pipeline parameters -------------------------------------------------------------------------


@cv.pipeline
def configured(
    n: int,
    rate: float = 0.1,
    verbose: bool = False,
    limit: Optional[int] = None,  # noqa: UP045 - the typing spelling must work too
    cap: int | None = None,
    mode: Literal["fast", "exact"] = "fast",
    level: Literal[1, 2, 3] = 1,
    label: str = "x",
):
    return inc(n)


def test_unknown_parameter_names_pipeline_and_parameter() -> None:
    with pytest.raises(ParameterError) as err:
        configured.trace(n=1, nn=2)
    assert "'configured'" in str(err.value)
    assert "nn" in str(err.value)


def test_missing_parameter_names_pipeline_and_parameter() -> None:
    with pytest.raises(ParameterError) as err:
        configured.trace()
    assert "'configured'" in str(err.value)
    assert "'n'" in str(err.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("n", "abc"),
        ("n", "1.5"),
        ("n", True),
        ("rate", "fast"),
        ("verbose", "maybe"),
        ("limit", "lots"),
        ("cap", "lots"),
        ("mode", "slow"),
        ("level", "4"),
        ("label", ["a"]),
    ],
)
def test_bad_parameter_value_names_pipeline_and_parameter(name: str, value: object) -> None:
    params = {"n": 1, name: value}
    with pytest.raises(ParameterError) as err:
        configured.trace(**params)
    assert "'configured'" in str(err.value)
    assert f"'{name}'" in str(err.value)


@pytest.mark.parametrize(
    ("name", "given", "expected"),
    [
        ("n", "3", 3),
        ("n", " 1_000 ", 1000),
        ("n", 2.0, 2),
        ("rate", "0.5", 0.5),
        ("rate", 2, 2.0),
        ("verbose", "true", True),
        ("verbose", "False", False),
        ("verbose", "1", True),
        ("limit", "3", 3),
        ("limit", None, None),
        ("cap", "7", 7),
        ("mode", "exact", "exact"),
        ("level", "2", 2),
        ("label", 5, "5"),
    ],
)
def test_parameters_are_coerced_to_their_annotation(
    name: str, given: object, expected: object
) -> None:
    params = {"n": 1, name: given}
    checked = configured.trace(**params).params
    assert checked[name] == expected
    assert type(checked[name]) is type(expected)


def test_defaults_are_filled_in() -> None:
    assert dict(configured.trace(n="2").params) == {
        "n": 2,
        "rate": 0.1,
        "verbose": False,
        "limit": None,
        "cap": None,
        "mode": "fast",
        "level": 1,
        "label": "x",
    }


def test_coerced_parameters_reach_the_steps() -> None:
    assert dict(configured.trace(n="41").nodes["inc"].inputs) == {"x": LiteralInput(41)}


def test_pipeline_parameters_must_be_passable_by_name() -> None:
    def positional_only(x: int, /):
        return inc(x)

    def variadic(*xs: int):
        return inc(xs[0])

    for fn in (positional_only, variadic):
        with pytest.raises(DefinitionError, match=fn.__name__):
            cv.pipeline(fn)


def test_pipeline_name_and_identity() -> None:
    named = cv.pipeline(name="training")(twice.fn)
    assert named.name == "training"
    assert twice.name == "twice"
    assert twice.__doc__ == twice.fn.__doc__
    assert cv.pipeline(twice.fn) == twice


def test_an_error_in_the_pipeline_body_names_the_pipeline_and_the_line() -> None:
    @cv.step
    def one(x: int) -> int:
        return x

    @cv.pipeline
    def picky(kind: str = "a"):
        if kind != "a":
            raise ValueError(f"kind must be 'a', got {kind!r}")
        return one(1)

    with pytest.raises(GraphError) as caught:
        picky.trace(kind="b")
    message = str(caught.value)
    assert message.startswith(
        "pipeline 'picky' raised while its graph was built (test_pipeline.py:"
    )
    assert message.endswith("ValueError: kind must be 'a', got 'b'")
    assert isinstance(caught.value.__cause__, ValueError)  # kept for Python callers
