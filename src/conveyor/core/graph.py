"""The immutable DAG a pipeline traces to: nodes, their inputs, validation and ordering."""

from __future__ import annotations

import dataclasses
import graphlib
import types
from collections.abc import Iterator, Mapping
from typing import Any

from conveyor.core.fingerprint import code_fingerprint
from conveyor.core.hashing import canonical_json, digest
from conveyor.exceptions import GraphError

__all__ = ["Collection", "Graph", "Input", "Literal", "Node", "Ref"]


@dataclasses.dataclass(frozen=True)
class Ref:
    """A symbolic output of a step, as returned by calling a step inside a pipeline."""

    node: str
    output: str

    def _unknown(self, what: str) -> GraphError:
        return GraphError(
            f"output {self.output!r} of step {self.node!r} is not known while the pipeline is "
            f"being defined, so it cannot be used {what}; pass it to another step instead"
        )

    def __bool__(self) -> bool:
        raise self._unknown("as a condition")

    def __iter__(self) -> Iterator[Any]:
        raise self._unknown(
            "in a loop or unpacked (declare several outputs with @step(outputs=...))"
        )

    def __len__(self) -> int:
        raise self._unknown("with len()")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise self._unknown(f"for attribute access (.{name})")

    def __getitem__(self, key: Any) -> Any:
        raise self._unknown(f"with indexing ([{key!r}])")

    def __repr__(self) -> str:
        return f"<output {self.output!r} of step {self.node!r}>"


@dataclasses.dataclass(frozen=True)
class Literal:
    """A concrete value given to a step: a pipeline parameter, a constant or a default."""

    value: Any


@dataclasses.dataclass(frozen=True)
class Collection:
    """A list, tuple or dict whose items include step outputs (the fan-in of a fan-out)."""

    kind: str  # "list" | "tuple" | "dict"
    items: tuple[tuple[Any, Input], ...]

    def refs(self) -> Iterator[Ref]:
        for _, item in self.items:
            if isinstance(item, Ref):
                yield item


Input = Ref | Literal | Collection


@dataclasses.dataclass(frozen=True)
class Node:
    """One call of a step in the graph. `inputs` maps argument names to where values come from."""

    name: str
    step: Any  # conveyor.core.step.Step; typed loosely to avoid an import cycle
    inputs: tuple[tuple[str, Input], ...]
    #: `step.map(items)`: the argument that takes each item of its input in turn (one task each)
    map_over: str | None = None

    def refs(self) -> Iterator[Ref]:
        for _, source in self.inputs:
            if isinstance(source, Ref):
                yield source
            elif isinstance(source, Collection):
                yield from source.refs()

    @property
    def upstream(self) -> frozenset[str]:
        return frozenset(ref.node for ref in self.refs())


@dataclasses.dataclass(frozen=True)
class Graph:
    """A validated pipeline DAG. Nodes keep the order in which they were traced."""

    pipeline: str
    nodes: Mapping[str, Node]
    outputs: Mapping[str, Ref]
    params: Mapping[str, Any]

    def __post_init__(self) -> None:
        object.__setattr__(self, "nodes", types.MappingProxyType(dict(self.nodes)))
        object.__setattr__(self, "outputs", types.MappingProxyType(dict(self.outputs)))
        object.__setattr__(self, "params", types.MappingProxyType(dict(self.params)))
        for node in self.nodes.values():
            for ref in node.refs():
                self._check_ref(ref, f"step {node.name!r}")
        for name, ref in self.outputs.items():
            self._check_ref(ref, f"pipeline output {name!r}")
        self.order()  # raises on a cycle

    def _check_ref(self, ref: Ref, where: str) -> None:
        producer = self.nodes.get(ref.node)
        if producer is None:
            raise GraphError(f"{where} uses step {ref.node!r}, which is not in this pipeline")
        if ref.output not in producer.step.outputs:
            raise GraphError(
                f"{where} uses output {ref.output!r} of step {ref.node!r}, "
                f"which has outputs {list(producer.step.outputs)}"
            )

    def order(self) -> list[str]:
        """Node names in a topological order (upstream first), stable for equal graphs."""
        sorter = graphlib.TopologicalSorter({n.name: n.upstream for n in self.nodes.values()})
        try:
            return list(sorter.static_order())
        except graphlib.CycleError as err:
            cycle = " -> ".join(err.args[1])
            raise GraphError(f"pipeline {self.pipeline!r} has a cycle: {cycle}") from None

    def downstream(self) -> dict[str, set[str]]:
        """Node name → names of the nodes that consume its outputs directly."""
        result: dict[str, set[str]] = {name: set() for name in self.nodes}
        for node in self.nodes.values():
            for up in node.upstream:
                result[up].add(node.name)
        return result

    def descendants(self, name: str) -> set[str]:
        """All nodes that depend, directly or not, on node `name`."""
        below = self.downstream()
        seen: set[str] = set()
        stack = [name]
        while stack:
            for child in below[stack.pop()]:
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
        return seen

    def ancestors(self, name: str) -> set[str]:
        """All nodes that node `name` depends on, directly or not."""
        seen: set[str] = set()
        stack = [name]
        while stack:
            for parent in self.nodes[stack.pop()].upstream:
                if parent not in seen:
                    seen.add(parent)
                    stack.append(parent)
        return seen

    def version(self) -> str:
        """Hash of the pipeline's structure and code (not of its parameter values)."""
        shape = {
            name: {
                "code": code_fingerprint(node.step.fn),
                "outputs": list(node.step.outputs),
                "inputs": {arg: _shape(src) for arg, src in node.inputs},
                **({"map_over": node.map_over} if node.map_over else {}),
            }
            for name, node in self.nodes.items()
        }
        outputs = {name: [r.node, r.output] for name, r in self.outputs.items()}
        return digest(canonical_json({"nodes": shape, "outputs": outputs}).encode())


def _shape(source: Input) -> Any:
    if isinstance(source, Ref):
        return ["ref", source.node, source.output]
    if isinstance(source, Collection):
        return [source.kind, [[k, _shape(v)] for k, v in source.items]]
    return "literal"
