"""Load a pipeline from a `FILE.py:PIPELINE` reference, as the CLI, resume and reproduce do."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

from conveyor.core.pipeline import Pipeline
from conveyor.exceptions import PipelineLoadError

__all__ = ["load_pipeline"]


def load_pipeline(reference: str) -> Pipeline:
    """Import FILE.py and return its pipeline NAME (or its only pipeline when NAME is omitted)."""
    path_text, _, name = reference.partition(":")
    path = Path(path_text).expanduser()
    if path.suffix != ".py":
        raise PipelineLoadError(
            f"{reference!r}: expected FILE.py:PIPELINE, e.g. pipeline.py:training"
        )
    if not path.is_file():
        raise PipelineLoadError(f"{path}: no such file")
    module = _import_file(path.resolve())
    pipelines = {k: v for k, v in vars(module).items() if isinstance(v, Pipeline)}
    if not name:
        if len(pipelines) == 1:
            return next(iter(pipelines.values()))
        raise PipelineLoadError(
            f"{path}: name the pipeline to run, one of {sorted(pipelines)}"
            if pipelines
            else f"{path}: defines no @pipeline"
        )
    found = getattr(module, name, None)
    if found is None:
        raise PipelineLoadError(
            f"{path}: no pipeline named {name!r}; it defines {sorted(pipelines) or 'none'}"
        )
    if not isinstance(found, Pipeline):
        raise PipelineLoadError(f"{path}: {name!r} is a {type(found).__name__}, not a @pipeline")
    return found


def _import_file(path: Path) -> Any:
    for module in list(sys.modules.values()):  # already imported (or the running script): reuse
        file = getattr(module, "__file__", None)
        if file and Path(file).resolve() == path:
            return module
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)  # the pipeline's own imports of sibling modules work
    module_name = path.stem if path.stem not in sys.modules else f"conveyor_user_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise PipelineLoadError(f"{path}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as error:
        sys.modules.pop(module_name, None)
        raise PipelineLoadError(f"{path}:{error.lineno}: syntax error: {error.msg}") from None
    except Exception as error:
        sys.modules.pop(module_name, None)
        raise PipelineLoadError(
            f"{path}: importing it raised {type(error).__name__}: {error}"
        ) from error
    return module
