"""Graphs for the pages: a run's DAG, and a layered layout.

A run's edges come from the traced graph stored with its pipeline version (`graph_edges`), plus
the items of its maps (`fit[0]`, `fit[1]`), which exist only at run time. Runs recorded before
schema 0007 have no stored graph; their edges are rebuilt from lineage (`run_edges`): a step
that read artifact X depends on the step of the same run that wrote X. Two rules fill the gaps
lineage leaves: a skipped step names the upstream step that did not succeed in its message, and
the items of a map (`fit[0]`, `fit[1]`) feed their map node (`fit`). While a run is in progress,
the steps not yet recorded come from the latest finished run of the same pipeline version (the
same graph, by construction of the version hash).

The layout is the classic layered one (Sugiyama, simplified): each node's layer is its longest
path from a source, nodes within a layer are ordered by a few barycenter sweeps to cut edge
crossings, and coordinates follow from layer and rank. Pure computation: the pages draw it.
"""

from __future__ import annotations

import dataclasses
import graphlib
import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["Layout", "back_edges", "graph_edges", "item_of", "layout", "run_edges"]

NODE_W, NODE_H = 150, 46
GAP_X, GAP_Y = 40, 18
PAD = 12

_SKIPPED = re.compile(r"upstream step '([^']+)' did not succeed")
_ITEM = re.compile(r"^(.*)\[(\d+)\]$")


def item_of(name: str) -> str | None:
    """The map node an item belongs to (`fit[2]` → `fit`), or None for a plain step."""
    found = _ITEM.match(name)
    return found.group(1) if found else None


def graph_edges(graph: Sequence[Sequence[Any]], steps: Iterable[str]) -> set[tuple[str, str]]:
    """Edges of a stored graph (`[[node, step, [upstream], map_over], ...]`), with the items of
    its maps among `steps`: each item reads what its map node reads and feeds it."""
    edges = {(up, row[0]) for row in graph for up in row[2]}
    upstream = {row[0]: row[2] for row in graph if row[3]}  # the map nodes
    for name in steps:
        item = _ITEM.match(name)
        if item and item.group(1) in upstream:
            edges.add((name, item.group(1)))
            edges |= {(up, name) for up in upstream[item.group(1)]}
    return edges


def run_edges(steps: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """Edges (upstream, downstream) between the step runs of one run, from their lineage.

    Each step is a mapping with `name`, `position`, `inputs` and `outputs` ({label: artifact}),
    and optionally `status` and `error_message`. Content addressing means two steps can write
    the same bytes: a reader then links to every earlier writer of them.
    """
    writers: dict[str, list[tuple[int, str]]] = {}
    names = {s["name"] for s in steps}
    for step in steps:
        for artifact in step["outputs"].values():
            writers.setdefault(artifact, []).append((step["position"], step["name"]))
    edges: set[tuple[str, str]] = set()
    for step in steps:
        for artifact in step["inputs"].values():
            for position, writer in writers.get(artifact, ()):
                if writer != step["name"] and position <= step["position"]:
                    edges.add((writer, step["name"]))
        message = step.get("error_message") or ""
        if step.get("status") == "skipped":
            for upstream in _SKIPPED.findall(message):
                if upstream in names:
                    edges.add((upstream, step["name"]))
        item = _ITEM.match(step["name"])
        if item and item.group(1) in names:
            edges.add((step["name"], item.group(1)))
    return sorted(edges)


@dataclasses.dataclass(frozen=True)
class Layout:
    """Where each node goes: `positions[name] = (x, y)` of its box's top-left corner.

    `edges` are (upstream, downstream, waypoints): an edge that spans several layers passes
    through a slot of each layer between (a virtual node of the layout, so it never crosses a
    box), given as the top-left corners of those slots. `cut` are the edges left out to break
    a cycle (see `back_edges`).
    """

    positions: dict[str, tuple[float, float]]
    layers: dict[str, int]
    width: float
    height: float
    edges: list[tuple[str, str, list[tuple[float, float]]]]
    cut: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # broken cycles


def layout(
    names: Sequence[str],
    edges: Iterable[tuple[str, str]],
    *,
    sweeps: int = 4,
    node_w: float = NODE_W,
    node_h: float = NODE_H,
) -> Layout:
    """Lay out a graph left to right; `names` in a stable order (graph order) seeds the ranks.

    A cycle (content addressing lets a step write bytes an upstream step wrote) is broken at
    its back edges alone — those a depth-first walk from the sources finds closing a loop —
    which are left out of the layout and listed in `Layout.cut`.
    """
    index = {name: i for i, name in enumerate(names)}
    kept = sorted({(a, b) for a, b in edges if a in index and b in index and a != b})
    cut = back_edges(names, kept)
    kept = [edge for edge in kept if edge not in cut]
    upstream: dict[str, set[str]] = {name: set() for name in names}
    for a, b in kept:
        upstream[b].add(a)
    order = list(graphlib.TopologicalSorter({n: upstream[n] for n in names}).static_order())
    layer: dict[str, int] = {}
    for name in order:  # longest path from a source
        layer[name] = max((layer[u] + 1 for u in upstream[name]), default=0)
    # long edges pass through one virtual node per layer they cross
    slots: dict[str, int] = dict(layer)
    seed = dict(index)
    chains: dict[tuple[str, str], list[str]] = {}
    links: list[tuple[str, str]] = []
    for a, b in kept:
        chain = []
        for depth in range(layer[a] + 1, layer[b]):
            virtual = f"\0{a}\0{b}\0{depth}"
            slots[virtual] = depth
            seed[virtual] = index[a]
            chain.append(virtual)
        chains[(a, b)] = chain
        path = [a, *chain, b]
        links += list(itertools.pairwise(path))
    columns: list[list[str]] = [[] for _ in range(max(layer.values(), default=-1) + 1)]
    for name in sorted(slots, key=lambda n: (seed[n], n)):
        columns[slots[name]].append(name)
    down: dict[str, list[str]] = {name: [] for name in slots}
    up: dict[str, list[str]] = {name: [] for name in slots}
    for a, b in links:
        down[a].append(b)
        up[b].append(a)
    rank = {name: float(i) for column in columns for i, name in enumerate(column)}
    for sweep in range(sweeps):
        forward = sweep % 2 == 0
        sequence = columns[1:] if forward else columns[-2::-1]
        for column in sequence:
            for name in column:
                near = up[name] if forward else down[name]
                if near:
                    rank[name] = sum(rank[n] for n in near) / len(near)
            column.sort(key=lambda n: (rank[n], seed[n]))
            for i, name in enumerate(column):
                rank[name] = float(i)
    tallest = max((len(c) for c in columns), default=0)
    at: dict[str, tuple[float, float]] = {}
    for x, column in enumerate(columns):
        offset = (tallest - len(column)) * (node_h + GAP_Y) / 2  # centre short columns
        for y, name in enumerate(column):
            at[name] = (PAD + x * (node_w + GAP_X), PAD + offset + y * (node_h + GAP_Y))
    width = 2 * PAD + len(columns) * node_w + max(len(columns) - 1, 0) * GAP_X
    height = 2 * PAD + tallest * node_h + max(tallest - 1, 0) * GAP_Y
    return Layout(
        {name: at[name] for name in names},
        layer,
        width,
        height,
        [(a, b, [at[v] for v in chains[(a, b)]]) for a, b in kept],
        sorted(cut),
    )


def back_edges(names: Sequence[str], edges: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """The edges that close a cycle: those a depth-first walk reaches a node on its own path by.

    The walk starts at the sources (nodes nothing points to), then at any node left, each in
    `names` order, so the edge cut is the one leading back to where the graph begins; without
    them the graph is acyclic. Iterative: a 10,000-step chain does not hit the recursion limit.
    """
    index = {name: i for i, name in enumerate(names)}
    down: dict[str, list[str]] = {name: [] for name in names}
    has_upstream: set[str] = set()
    for a, b in edges:
        down[a].append(b)
        has_upstream.add(b)
    for targets in down.values():
        targets.sort(key=index.__getitem__)
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cut: set[tuple[str, str]] = set()
    starts = [n for n in names if n not in has_upstream] + list(names)
    for start in starts:
        if start in state:
            continue
        state[start] = 1
        stack = [(start, iter(down[start]))]
        while stack:
            node, rest = stack[-1]
            nxt = next(rest, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                cut.add((node, nxt))
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(down[nxt])))
    return cut
