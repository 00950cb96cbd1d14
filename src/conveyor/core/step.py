"""`@step`: a typed function plus the options that say how Conveyor runs it.

A `Step` is a frozen value. Calling it outside a pipeline runs the function, so steps can be
unit-tested as plain Python; calling it while a pipeline is being traced records a node in the graph
and returns symbolic outputs instead.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import keyword
from collections.abc import Callable, Mapping
from typing import Any, overload

from conveyor.core import _tracing
from conveyor.exceptions import DefinitionError

__all__ = ["Resources", "Step", "step"]


@dataclasses.dataclass(frozen=True)
class Step:
    """A pipeline step: a function and how to run it.

    Attributes:
        fn: the user's function.
        name: the step's name; nodes in a graph are named after it.
        outputs: names of the values the function returns (a tuple of that length when >1).
        cache: reuse outputs of an earlier run with the same code and inputs.
        retries: how many times to retry a failing call.
        retry_delay: seconds before the first retry, doubling after each.
        timeout: seconds a call may take, or None.
        cache_key_fn: called with the step's literal arguments (those not produced by an upstream
            step) before the cache lookup; its result joins the cache key. Use it to fold in the
            state of something outside the pipeline, such as the bytes of a file the step reads.
            It runs in the step's context: `current_step()` has the run's settings.
        resources: what one call needs, e.g. `{"cpu": 2, "memory": "4GB", "gpu": 1}`; parallel
            executors schedule by it (Ray passes it on to its own scheduler).
        check: called when the pipeline is traced, with the arguments known then (literals and
            pipeline parameters, by keyword; not those an upstream step produces). A ValueError
            or TypeError it raises refuses the graph before anything runs, naming the step:
            a bad threshold should not wait for an hour of training to be reported.
    """

    fn: Callable[..., Any]
    name: str
    outputs: tuple[str, ...] = ("output",)
    cache: bool = True
    retries: int = 0
    retry_delay: float = 1.0
    timeout: float | None = None
    cache_key_fn: Callable[..., Any] | None = None
    resources: Any = None  # normalised by __post_init__ to a Resources value or None
    check: Callable[..., Any] | None = None

    def __post_init__(self) -> None:
        where = f"step {self.name!r}"
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise DefinitionError(f"{where}: the name must be a Python identifier")
        if not self.outputs:
            raise DefinitionError(f"{where}: outputs must name at least one value")
        for out in self.outputs:
            if not isinstance(out, str) or not out.isidentifier() or keyword.iskeyword(out):
                raise DefinitionError(f"{where}: output name {out!r} is not a valid identifier")
            if out.startswith("__"):
                raise DefinitionError(f"{where}: output names starting with '__' are reserved")
        if len(set(self.outputs)) != len(self.outputs):
            raise DefinitionError(f"{where}: output names {self.outputs} repeat")
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) or self.retries < 0:
            raise DefinitionError(f"{where}: retries must be an int >= 0, got {self.retries!r}")
        if (
            isinstance(self.retry_delay, bool)
            or not isinstance(self.retry_delay, (int, float))
            or self.retry_delay < 0
        ):
            raise DefinitionError(f"{where}: retry_delay must be >= 0, got {self.retry_delay!r}")
        if self.timeout is not None and (
            isinstance(self.timeout, bool)
            or not isinstance(self.timeout, (int, float))
            or self.timeout <= 0
        ):
            raise DefinitionError(f"{where}: timeout must be a positive number or None")
        if self.resources is not None and not isinstance(self.resources, Resources):
            object.__setattr__(self, "resources", Resources.parse(self.resources, where))
        for option in ("cache_key_fn", "check"):
            if getattr(self, option) is not None and not callable(getattr(self, option)):
                raise DefinitionError(f"{where}: {option} must be callable")
        if not isinstance(self.cache, bool):
            raise DefinitionError(f"{where}: cache must be True or False, got {self.cache!r}")
        for param in self.signature.parameters.values():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise DefinitionError(
                    f"{where}: *{param.name} / **{param.name} are not supported; "
                    "name each input so it can be tracked"
                )

    @property
    def signature(self) -> inspect.Signature:
        return _signature(self.fn)

    def options(self, **changes: Any) -> Step:
        """A copy with some options changed, e.g. `train.options(cache=False, name="train_b")`."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)} - {"fn"}
        if unknown:
            raise DefinitionError(f"step {self.name!r}: unknown option(s) {sorted(unknown)}")
        if "outputs" in changes:
            changes["outputs"] = _outputs_tuple(changes["outputs"], self.name)
        return _wrapping(dataclasses.replace(self, **changes), self.fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        tracer = _tracing.current()
        if tracer is None:
            return self.fn(*args, **kwargs)
        return tracer.add_step(self, args, kwargs)

    def map(self, items: Any, /, *args: Any, **kwargs: Any) -> Any:
        """Call the step once per item of `items` (passed as its first argument), in parallel
        where the executor allows; the result is the list of outputs, in order.

        `items` may be a step's output, known only when the run gets there. Each call is cached
        on its own, so a sweep that grows re-runs only the new items. Other arguments are the
        same for every call.
        """
        if len(self.outputs) != 1:
            raise DefinitionError(f"step {self.name!r}: map() needs a step with one output")
        params = list(self.signature.parameters)
        if not params:
            raise DefinitionError(f"step {self.name!r}: map() needs a step with an argument")
        tracer = _tracing.current()
        if tracer is None:
            return [self.fn(item, *args, **kwargs) for item in items]
        return tracer.add_step(self, (items, *args), kwargs, map_over=params[0])

    def __repr__(self) -> str:
        return f"<Step {self.name} outputs={self.outputs}>"


_UNITS = {"": 1, "B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
          "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Resources:
    """What one call of a step needs: CPUs, GPUs and memory in bytes."""

    cpu: float = 1.0
    gpu: float = 0.0
    memory: int = 0

    @classmethod
    def parse(cls, spec: Any, where: str) -> Resources:
        if not isinstance(spec, Mapping):
            raise DefinitionError(f"{where}: resources must be a dict like {{'cpu': 2}}")
        unknown = set(spec) - {"cpu", "gpu", "memory"}
        if unknown:
            raise DefinitionError(
                f"{where}: unknown resource(s) {sorted(unknown)}; use cpu, gpu, memory"
            )
        values: dict[str, Any] = {}
        for key in ("cpu", "gpu"):
            if key in spec:
                number = spec[key]
                if isinstance(number, bool) or not isinstance(number, (int, float)) or number < 0:
                    raise DefinitionError(f"{where}: resources[{key!r}] must be a number >= 0")
                values[key] = float(number)
        if "memory" in spec:
            values["memory"] = _bytes(spec["memory"], where)
        return cls(**values)


def _bytes(value: Any, where: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    text = str(value).strip().upper().replace(" ", "")
    number = text.rstrip("KMGTIB")
    unit = text[len(number) :]
    try:
        if unit not in _UNITS:
            raise ValueError(unit)
        return int(float(number) * _UNITS[unit])
    except ValueError:
        raise DefinitionError(
            f"{where}: resources['memory'] = {value!r}; write bytes or e.g. '4GB', '512MiB'"
        ) from None


@functools.lru_cache(maxsize=4096)
def _signature(fn: Callable[..., Any]) -> inspect.Signature:
    return inspect.signature(fn)


def _outputs_tuple(outputs: Any, name: str) -> tuple[str, ...]:
    if isinstance(outputs, str):
        return (outputs,)
    try:
        return tuple(outputs)
    except TypeError:
        raise DefinitionError(
            f"step {name!r}: outputs must be a str or a sequence of str"
        ) from None


@overload
def step(fn: Callable[..., Any], /) -> Step: ...


@overload
def step(
    *,
    name: str | None = None,
    outputs: str | tuple[str, ...] | list[str] = ("output",),
    cache: bool = True,
    retries: int = 0,
    retry_delay: float = 1.0,
    timeout: float | None = None,
    cache_key_fn: Callable[..., Any] | None = None,
    resources: Mapping[str, Any] | None = None,
    check: Callable[..., Any] | None = None,
) -> Callable[[Callable[..., Any]], Step]: ...


def step(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    outputs: str | tuple[str, ...] | list[str] = ("output",),
    cache: bool = True,
    retries: int = 0,
    retry_delay: float = 1.0,
    timeout: float | None = None,
    cache_key_fn: Callable[..., Any] | None = None,
    resources: Mapping[str, Any] | None = None,
    check: Callable[..., Any] | None = None,
) -> Step | Callable[[Callable[..., Any]], Step]:
    """Make a function a pipeline step: `@step` or `@step(outputs=("train", "test"), retries=2)`."""

    def wrap(func: Callable[..., Any]) -> Step:
        if isinstance(func, Step):
            raise DefinitionError(f"step {func.name!r} is already a step")
        if not callable(func):
            raise DefinitionError(f"@step needs a function, got {type(func).__name__}")
        step_name = name or getattr(func, "__name__", None)
        if not step_name or not step_name.isidentifier():
            raise DefinitionError(f"@step needs a name= for {func!r}")
        result = Step(
            fn=func,
            name=step_name,
            outputs=_outputs_tuple(outputs, step_name),
            cache=cache,
            retries=retries,
            retry_delay=retry_delay,
            timeout=timeout,
            cache_key_fn=cache_key_fn,
            resources=resources,
            check=check,
        )
        return _wrapping(result, func)

    return wrap(fn) if fn is not None else wrap


def _wrapping(result: Step, func: Callable[..., Any]) -> Step:
    """Give the Step the function's identity (docs, module, `__wrapped__` for introspection)."""
    for attr in ("__module__", "__qualname__", "__doc__"):
        object.__setattr__(result, attr, getattr(func, attr, None))
    object.__setattr__(result, "__wrapped__", func)
    return result
