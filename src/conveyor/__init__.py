"""Conveyor: machine-learning pipelines as plain Python — cached, tracked, reproducible.

    import conveyor as cv

    @cv.step
    def double(x: int) -> int:
        return 2 * x

    @cv.pipeline
    def demo(x: int = 2):
        return double(x)

    run = demo.run(x=3)
    assert run.output() == 6

Heavy modules (SQLAlchemy, pandas, scikit-learn) load only when a run or a command needs them, so
`import conveyor` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from conveyor._version import __version__

if TYPE_CHECKING:
    from conveyor.artifacts.materializers import Materializer, register_materializer
    from conveyor.config import Settings
    from conveyor.core.context import log_metric, log_param, seed
    from conveyor.core.pipeline import Pipeline, pipeline
    from conveyor.core.step import Step, step
    from conveyor.exceptions import ConveyorError
    from conveyor.registry import load_model
    from conveyor.run.api import get_run, list_runs, load_artifact
    from conveyor.run.events import RunObserver
    from conveyor.run.replay import reproduce, resume
    from conveyor.run.views import Run, StepRun

__all__ = [
    "ConveyorError",
    "Materializer",
    "Pipeline",
    "Run",
    "RunObserver",
    "Settings",
    "Step",
    "StepRun",
    "__version__",
    "automation",
    "components",
    "get_run",
    "list_runs",
    "load_artifact",
    "load_model",
    "log_metric",
    "log_param",
    "pipeline",
    "register_materializer",
    "reproduce",
    "resume",
    "seed",
    "step",
]

# Every name loads on first use, so the CLI's own start-up (which imports `conveyor.cli`, and so
# this package) pays only for what a command needs.
_LAZY = {
    "ConveyorError": "conveyor.exceptions",
    "log_metric": "conveyor.core.context",
    "log_param": "conveyor.core.context",
    "seed": "conveyor.core.context",
    "Pipeline": "conveyor.core.pipeline",
    "pipeline": "conveyor.core.pipeline",
    "Step": "conveyor.core.step",
    "step": "conveyor.core.step",
    "Materializer": "conveyor.artifacts.materializers",
    "register_materializer": "conveyor.artifacts.materializers",
    "Settings": "conveyor.config",
    "get_run": "conveyor.run.api",
    "list_runs": "conveyor.run.api",
    "load_artifact": "conveyor.run.api",
    "load_model": "conveyor.registry",
    "RunObserver": "conveyor.run.events",
    "reproduce": "conveyor.run.replay",
    "resume": "conveyor.run.replay",
    "Run": "conveyor.run.views",
    "StepRun": "conveyor.run.views",
}


#: subpackages reachable as attributes: `cv.components.train`, `cv.automation.Trigger`
_SUBPACKAGES = frozenset({"automation", "components"})


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        return importlib.import_module(f"conveyor.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'conveyor' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
