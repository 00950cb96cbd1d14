"""`@pipeline`: a Python function whose step calls are traced into a `Graph`.

Parameters are checked and coerced against the function's signature before tracing, so unknown,
missing or ill-typed parameters fail before any step runs. A pipeline called inside another is
inlined, its nodes named `inner.step`; called outside any pipeline it simply runs as Python.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from conveyor.core import _tracing
from conveyor.core.coerce import CoercionError, coerce, type_hints
from conveyor.core.graph import Graph, Ref
from conveyor.exceptions import ConveyorError, DefinitionError, GraphError, ParameterError

if TYPE_CHECKING:
    from conveyor.run.views import Run

__all__ = ["Pipeline", "pipeline"]


@dataclasses.dataclass(frozen=True)
class Pipeline:
    """A named pipeline function. Build its graph with `trace`, execute it with `run`."""

    fn: Callable[..., Any]
    name: str

    def __post_init__(self) -> None:
        for param in inspect.signature(self.fn).parameters.values():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.POSITIONAL_ONLY):
                raise DefinitionError(
                    f"pipeline {self.name!r}: parameter {param.name!r} must be passable by name"
                )

    @property
    def parameters(self) -> dict[str, inspect.Parameter]:
        """Parameter name → `inspect.Parameter` (default and annotation)."""
        return dict(inspect.signature(self.fn).parameters)

    def check_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Validate and coerce `params`, filling defaults. Raises ParameterError."""
        declared = self.parameters
        unknown = sorted(set(params) - set(declared))
        if unknown:
            raise ParameterError(
                f"pipeline {self.name!r}: unknown parameter(s) {unknown}; "
                f"it takes {sorted(declared) or 'no parameters'}"
            )
        hints = type_hints(self.fn)
        result: dict[str, Any] = {}
        missing = []
        for name, param in declared.items():
            if name in params:
                value = params[name]
            elif param.default is not inspect.Parameter.empty:
                value = param.default
            else:
                missing.append(name)
                continue
            if name in hints:
                try:
                    value = coerce(value, hints[name])
                except CoercionError as err:
                    raise ParameterError(
                        f"pipeline {self.name!r} parameter {name!r}: {err}"
                    ) from None
            result[name] = value
        if missing:
            raise ParameterError(f"pipeline {self.name!r}: missing required parameter(s) {missing}")
        return result

    def trace(self, **params: Any) -> Graph:
        """Build the graph for these parameter values, without running anything."""
        checked = self.check_params(params)
        tracer = _tracing.Tracer()
        with _tracing.tracing(tracer):
            try:
                returned = self.fn(**checked)
            except ConveyorError:
                raise
            except Exception as err:  # the pipeline's own code refused these parameters
                raise GraphError(
                    f"pipeline {self.name!r} raised while its graph was built{_where(err)}: "
                    f"{type(err).__name__}: {err}"
                ) from err
        outputs = _outputs(returned, self.name)
        if not tracer.nodes:
            raise GraphError(f"pipeline {self.name!r} calls no step")
        return Graph(pipeline=self.name, nodes=tracer.nodes, outputs=outputs, params=checked)

    def run(
        self,
        params: Mapping[str, Any] | None = None,
        /,
        *,
        cache: bool = True,
        trust: bool | None = None,
        settings: Any = None,
        observer: Any = None,
        executor: Any = None,
        **kwargs: Any,
    ) -> Run:
        """Run the pipeline and record it; returns the finished `Run` (failed runs too).

        Parameters go as keywords, or in the `params` mapping when a name clashes with an option.
        `executor`: "local" (default, in this process), "process", "ray", or an Executor.
        """
        from conveyor.run.runner import run_pipeline

        merged = {**(params or {}), **kwargs}
        return run_pipeline(
            self,
            merged,
            cache=cache,
            trust=trust,
            settings=settings,
            observer=observer,
            executor=executor,
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        tracer = _tracing.current()
        if tracer is None:  # plain Python: steps run eagerly
            return self.fn(*args, **kwargs)
        try:
            bound = inspect.signature(self.fn).bind(*args, **kwargs)
        except TypeError as err:
            raise GraphError(f"pipeline {self.name!r}: {err}") from None
        bound.apply_defaults()
        hints = type_hints(self.fn)
        values = dict(bound.arguments)
        for name, value in values.items():
            if name in hints and not isinstance(value, (Ref, _tracing.StepOutputs)):
                try:
                    values[name] = coerce(value, hints[name])
                except CoercionError as err:
                    raise GraphError(f"pipeline {self.name!r} argument {name!r}: {err}") from None
        with tracer.scope(self.name):
            return self.fn(**values)

    def __repr__(self) -> str:
        return f"<Pipeline {self.name}>"


def _outputs(returned: Any, name: str) -> dict[str, Ref]:
    if returned is None:
        return {}
    if isinstance(returned, _tracing.StepOutputs):
        return dict(zip(returned._names, returned, strict=True))
    if isinstance(returned, Ref):
        return {"output": returned}
    if isinstance(returned, Mapping):
        items = list(returned.items())
    elif isinstance(returned, (list, tuple)):
        items = [(f"output_{i}", value) for i, value in enumerate(returned)]
    else:
        raise GraphError(
            f"pipeline {name!r} returned {type(returned).__name__}; return step outputs "
            "(one, a tuple, or a dict of them) or None"
        )
    for key, value in items:
        if not isinstance(value, Ref):
            raise GraphError(f"pipeline {name!r} output {key!r} is not a step output: {value!r}")
    return {str(key): value for key, value in items}


@overload
def pipeline(fn: Callable[..., Any], /) -> Pipeline: ...


@overload
def pipeline(*, name: str | None = None) -> Callable[[Callable[..., Any]], Pipeline]: ...


def pipeline(
    fn: Callable[..., Any] | None = None, /, *, name: str | None = None
) -> Pipeline | Callable[[Callable[..., Any]], Pipeline]:
    """Make a function a pipeline: `@pipeline` or `@pipeline(name="training")`."""

    def wrap(func: Callable[..., Any]) -> Pipeline:
        if not callable(func) or isinstance(func, Pipeline):
            raise DefinitionError(f"@pipeline needs a function, got {func!r}")
        result = Pipeline(fn=func, name=name or func.__name__)
        for attr in ("__module__", "__qualname__", "__doc__"):
            object.__setattr__(result, attr, getattr(func, attr, None))
        object.__setattr__(result, "__wrapped__", func)
        return result

    return wrap(fn) if fn is not None else wrap


def _where(err: BaseException) -> str:
    """` (file.py:LINE)`: the innermost frame of the user's code that raised `err`."""
    import traceback

    package = str(Path(__file__).resolve().parents[1])
    frames = [
        f for f in traceback.extract_tb(err.__traceback__) if not f.filename.startswith(package)
    ]
    if not frames:
        return ""
    return f" ({Path(frames[-1].filename).name}:{frames[-1].lineno})"
