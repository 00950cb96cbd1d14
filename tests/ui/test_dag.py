"""A run's DAG from its lineage, and the layered layout the pages draw."""

from __future__ import annotations

import itertools

import pytest

from conveyor.ui.dag import NODE_H, NODE_W, back_edges, layout, run_edges


def step(name, position, inputs=(), outputs=(), status="succeeded", error=None):
    return {
        "name": name,
        "position": position,
        "inputs": dict(inputs),
        "outputs": dict(outputs),
        "status": status,
        "error_message": error,
    }


def test_edges_follow_the_artifacts_steps_read_and_wrote() -> None:
    steps = [
        step("load", 0, outputs={"output": "A"}),
        step("split", 1, inputs={"df": "A"}, outputs={"train": "B", "test": "C"}),
        step("fit", 2, inputs={"train": "B"}, outputs={"output": "D"}),
        step("score", 3, inputs={"model": "D", "test": "C"}, outputs={"output": "E"}),
    ]
    assert run_edges(steps) == [
        ("fit", "score"),
        ("load", "split"),
        ("split", "fit"),
        ("split", "score"),
    ]


def test_equal_bytes_from_two_steps_link_every_earlier_writer() -> None:
    """inc(1) and inc_2(1) both write the artifact "2": a reader depends on either."""
    steps = [
        step("inc", 0, outputs={"output": "two"}),
        step("inc_2", 1, outputs={"output": "two"}),
        step("inc_3", 2, inputs={"x": "two"}, outputs={"output": "three"}),
        step("add", 3, inputs={"a": "two", "b": "three"}),
    ]
    edges = run_edges(steps)
    assert ("inc_3", "add") in edges
    assert {("inc", "inc_3"), ("inc_2", "inc_3")} <= set(edges)
    assert all(a != b for a, b in edges)


def test_a_skipped_step_hangs_below_the_step_that_failed() -> None:
    steps = [
        step("load", 0, outputs={"output": "A"}),
        step("explode", 1, inputs={"data": "A"}, status="failed"),
        step("after", 2, status="skipped", error="upstream step 'explode' did not succeed"),
    ]
    assert run_edges(steps) == [("explode", "after"), ("load", "explode")]


def test_map_items_feed_their_map_node() -> None:
    steps = [
        step("items", 0, outputs={"output": "L"}),
        step("fit[0]", 1, outputs={"output": "a"}),
        step("fit[1]", 1, outputs={"output": "b"}),
        step("fit", 1, inputs={}, outputs={"output": "ab"}),
        step("best", 2, inputs={"models": "ab"}),
    ]
    edges = set(run_edges(steps))
    assert {("fit[0]", "fit"), ("fit[1]", "fit"), ("fit", "best")} <= edges


def _boxes_overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return abs(a[0] - b[0]) < NODE_W and abs(a[1] - b[1]) < NODE_H


def test_layout_puts_each_node_after_its_inputs_without_overlaps() -> None:
    names = [f"n{i}" for i in range(12)]
    edges = [(f"n{i}", f"n{i + 1}") for i in range(11)] + [("n0", "n5"), ("n2", "n9")]
    placed = layout(names, edges)
    for a, b in edges:
        assert placed.layers[a] < placed.layers[b]
        assert placed.positions[a][0] < placed.positions[b][0]
    for a, b in itertools.combinations(names, 2):
        assert not _boxes_overlap(placed.positions[a], placed.positions[b]), (a, b)
    assert placed.width >= max(x for x, _ in placed.positions.values()) + NODE_W
    assert placed.height >= max(y for _, y in placed.positions.values()) + NODE_H


def test_long_edges_get_a_slot_in_every_layer_they_cross() -> None:
    placed = layout(["a", "b", "c", "d"], [("a", "b"), ("b", "c"), ("c", "d"), ("a", "d")])
    routes = {(a, b): points for a, b, points in placed.edges}
    assert routes[("a", "b")] == []
    waypoints = routes[("a", "d")]
    assert len(waypoints) == 2  # through layers 1 and 2, beside b and c
    for point, node in zip(waypoints, ("b", "c"), strict=True):
        assert point[0] == placed.positions[node][0]
        assert not _boxes_overlap(point, placed.positions[node])


def test_barycenter_sweeps_untangle_crossings() -> None:
    """Two chains given interleaved: the layout keeps each chain on one row."""
    names = ["a1", "b1", "a2", "b2", "b3", "a3"]
    edges = [("a1", "a2"), ("a2", "a3"), ("b1", "b2"), ("b2", "b3")]
    placed = layout(names, edges)
    rows = {name: placed.positions[name][1] for name in names}
    assert rows["a1"] == rows["a2"] == rows["a3"]
    assert rows["b1"] == rows["b2"] == rows["b3"]


def test_layout_is_deterministic_and_survives_a_cycle() -> None:
    names = [f"s{i}" for i in range(30)]
    edges = [(f"s{i}", f"s{j}") for i in range(30) for j in (i + 1, i + 3) if j < 30]
    assert layout(names, edges) == layout(list(names), list(reversed(edges)))
    cyclic = layout(["x", "y", "z"], [("x", "y"), ("y", "z"), ("z", "x")])
    assert {a for a, _, _ in cyclic.edges} <= {"x", "y"}  # the back edge is dropped
    assert cyclic.cut == [("z", "x")]
    assert len(set(cyclic.positions.values())) == 3


def test_a_cycle_loses_its_back_edge_and_nothing_else() -> None:
    """A lineage graph lists its nodes as it walks (the artifact first, then who made it):
    breaking the loop artifact → validate → artifact must not cut the edges that merely go
    against that order, such as ingest → artifact."""
    names = ["artifact", "ingest", "validate", "split", "train"]
    edges = [
        ("ingest", "artifact"),
        ("artifact", "validate"),
        ("validate", "artifact"),  # validate wrote back what it read
        ("artifact", "split"),
        ("split", "train"),
    ]
    placed = layout(names, edges)
    assert placed.cut == [("validate", "artifact")]
    kept = {(a, b) for a, b, _ in placed.edges}
    assert kept == set(edges) - {("validate", "artifact")}
    for a, b in kept:
        assert placed.positions[a][0] < placed.positions[b][0], (a, b)
    assert [placed.layers[n] for n in names] == [1, 0, 2, 2, 3]


def test_back_edges_of_an_acyclic_graph_are_none_in_any_order() -> None:
    names = ["d", "c", "b", "a"]  # listed against the edges' direction
    edges = [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]
    assert back_edges(names, edges) == set()
    assert layout(names, edges).layers == {"a": 0, "b": 1, "c": 1, "d": 2}
    chain = [f"n{i}" for i in range(5000)]  # deep: no recursion limit
    loop = [*itertools.pairwise(chain), ("n4999", "n0")]
    assert back_edges(chain, loop) == {("n4999", "n0")}


@pytest.mark.parametrize("size", [1, 200])
def test_a_wide_fan_out_stacks_in_one_column(size: int) -> None:
    names = ["source"] + [f"leaf{i}" for i in range(size)]
    placed = layout(names, [("source", f"leaf{i}") for i in range(size)])
    assert {placed.layers[f"leaf{i}"] for i in range(size)} == {1}
    assert len({placed.positions[f"leaf{i}"] for i in range(size)}) == size
