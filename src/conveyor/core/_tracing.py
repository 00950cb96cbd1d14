"""Turns step calls made inside a `@pipeline` function into graph nodes.

While a pipeline's function runs under a `Tracer`, calling a step binds its arguments, checks them,
adds a `Node` and returns symbolic `Ref`s. Parameters are concrete values during tracing, so plain
Python loops over them build fan-outs.
"""

from __future__ import annotations

import contextlib
import contextvars
import inspect
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from conveyor.core.coerce import CoercionError, coerce, type_hints
from conveyor.core.graph import Collection, Input, Literal, Node, Ref
from conveyor.exceptions import GraphError

if TYPE_CHECKING:
    from conveyor.core.step import Step

__all__ = ["StepOutputs", "Tracer", "current", "tracing"]

_CURRENT: contextvars.ContextVar[Tracer | None] = contextvars.ContextVar(
    "conveyor_tracer", default=None
)


def current() -> Tracer | None:
    """The tracer of the pipeline being defined, or None outside one."""
    return _CURRENT.get()


@contextlib.contextmanager
def tracing(tracer: Tracer) -> Iterator[Tracer]:
    token = _CURRENT.set(tracer)
    try:
        yield tracer
    finally:
        _CURRENT.reset(token)


class StepOutputs(tuple):
    """The outputs of a multi-output step: unpack it, or take one by `.name` or `["name"]`."""

    _step: str
    _names: tuple[str, ...]

    def __new__(cls, node: str, names: tuple[str, ...]) -> StepOutputs:
        self = super().__new__(cls, tuple(Ref(node, name) for name in names))
        self._step = node
        self._names = names
        return self

    def _get(self, name: str) -> Ref:
        if name not in self._names:
            raise GraphError(
                f"step {self._step!r} has no output {name!r}; its outputs are {list(self._names)}"
            )
        return self[self._names.index(name)]

    def __getattr__(self, name: str) -> Ref:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._get(name)

    def __getitem__(self, key: Any) -> Any:
        return self._get(key) if isinstance(key, str) else super().__getitem__(key)


class Tracer:
    """Collects nodes while a pipeline function runs."""

    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}
        self._prefix: list[str] = []
        self._next_suffix: dict[str, int] = {}

    @contextlib.contextmanager
    def scope(self, name: str) -> Iterator[None]:
        """Name nodes of a sub-pipeline `name.step`."""
        self._prefix.append(name)
        try:
            yield
        finally:
            self._prefix.pop()

    def _unique(self, base: str) -> str:
        name = ".".join([*self._prefix, base])
        if name not in self.nodes:
            return name
        i = self._next_suffix.get(name, 1)
        while f"{name}_{i}" in self.nodes:
            i += 1
        self._next_suffix[name] = i + 1
        return f"{name}_{i}"

    def add_step(
        self,
        step: Step,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        map_over: str | None = None,
    ) -> Any:
        name = self._unique(step.name)
        try:
            bound = step.signature.bind(*args, **kwargs)
        except TypeError as err:
            raise GraphError(f"step {name!r}: {err}") from None
        bound.apply_defaults()
        hints = type_hints(step.fn)
        inputs: list[tuple[str, Input]] = []
        for arg, value in bound.arguments.items():
            where = f"step {name!r} argument {arg!r}"
            source = _to_input(value, where)
            if arg == map_over:
                if isinstance(source, Literal) and not isinstance(value, (list, tuple)):
                    raise GraphError(f"{where}: map() needs a list (or a step's list output)")
                inputs.append((arg, source))
                continue
            if isinstance(source, Literal) and arg in hints:
                try:
                    source = Literal(coerce(value, hints[arg]))
                except CoercionError as err:
                    raise GraphError(f"{where}: {err}") from None
            elif isinstance(source, Ref) and arg in hints:
                _check_types(self.nodes[source.node], source.output, hints[arg], where)
            inputs.append((arg, source))
        if step.check is not None:
            known = {a: s.value for a, s in inputs if isinstance(s, Literal) and a != map_over}
            try:
                step.check(**known)
            except (ValueError, TypeError) as err:
                raise GraphError(f"step {name!r}: {err}") from None
        self.nodes[name] = Node(name=name, step=step, inputs=tuple(inputs), map_over=map_over)
        if len(step.outputs) == 1:
            return Ref(name, step.outputs[0])
        return StepOutputs(name, step.outputs)


def _to_input(value: Any, where: str) -> Input:
    if isinstance(value, StepOutputs):
        raise GraphError(
            f"{where} got all outputs {list(value._names)} of step {value._step!r}; pass one of "
            f"them, e.g. `{value._step}(...).{value._names[0]}`"
        )
    if isinstance(value, Ref):
        return value
    items: list[tuple[Any, Any]] | None = None
    if isinstance(value, (list, tuple)):
        items = list(enumerate(value))
    elif isinstance(value, dict):
        items = list(value.items())
    if items is not None and any(isinstance(v, (Ref, StepOutputs)) for _, v in items):
        kind = "dict" if isinstance(value, dict) else type(value).__name__
        if kind not in ("list", "tuple", "dict"):
            raise GraphError(f"{where}: step outputs can be passed in a list, tuple or dict only")
        return Collection(kind, tuple((k, _to_input(v, f"{where}[{k!r}]")) for k, v in items))
    return Literal(value)


def _check_types(producer: Node, output: str, expected: Any, where: str) -> None:
    produced = _output_type(producer, output)
    if not (inspect.isclass(produced) and inspect.isclass(expected)):
        return
    if expected is object or produced is object:
        return
    if issubclass(produced, expected) or issubclass(expected, produced):
        return
    if expected is float and produced is int:
        return
    raise GraphError(
        f"{where} expects {expected.__qualname__}, but output {output!r} of step "
        f"{producer.name!r} is annotated {produced.__qualname__}"
    )


def _output_type(node: Node, output: str) -> Any:
    if node.map_over is not None:
        return list
    annotation = type_hints(node.step.fn).get("return")
    outputs = node.step.outputs
    if len(outputs) == 1:
        return annotation
    import typing

    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is tuple and len(args) == len(outputs):
        return args[outputs.index(output)]
    return None
