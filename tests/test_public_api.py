"""The public face: a curated, sorted `__all__` that resolves, and an import that stays light."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import conveyor
import conveyor.exceptions

HEAVY = ("sqlalchemy", "alembic", "pandas", "numpy", "sklearn", "pyarrow", "typer", "rich")


def test_all_is_sorted_and_unique() -> None:
    assert conveyor.__all__ == sorted(conveyor.__all__)
    assert len(set(conveyor.__all__)) == len(conveyor.__all__)


def test_every_public_name_resolves() -> None:
    for name in conveyor.__all__:
        assert getattr(conveyor, name) is not None, name
    assert set(conveyor.__all__) <= set(dir(conveyor))


def test_unknown_attributes_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        conveyor.no_such_name  # type: ignore[attr-defined]  # noqa: B018


def test_the_sketch_of_design_md_is_the_api() -> None:
    for name in ("step", "pipeline", "Run", "StepRun", "get_run", "list_runs", "load_artifact"):
        assert name in conveyor.__all__, name
    assert isinstance(conveyor.__version__, str) and conveyor.__version__


def test_every_error_is_a_conveyor_error() -> None:
    for name in conveyor.exceptions.__all__:
        error = getattr(conveyor.exceptions, name)
        assert issubclass(error, conveyor.ConveyorError), name
    assert conveyor.exceptions.__all__ == sorted(conveyor.exceptions.__all__)


def test_import_conveyor_does_not_import_heavy_libraries() -> None:
    code = (
        "import json, sys\n"
        "import conveyor\n"
        "from conveyor import step, pipeline, log_metric, log_param, ConveyorError\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(proc.stdout) == []


def test_defining_a_pipeline_does_not_import_heavy_libraries() -> None:
    code = (
        "import json, sys\n"
        "import conveyor as cv\n"
        "@cv.step\n"
        "def double(x: int) -> int:\n"
        "    return 2 * x\n"
        "@cv.pipeline\n"
        "def demo(x: int = 2):\n"
        "    return double(x)\n"
        "demo.trace(x=3).version()\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(proc.stdout) == []
