"""Shared fixtures: an isolated workspace per test, and named DAG shapes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import conveyor as cv
from conveyor.config import Settings
from conveyor.run.workspace import Workspace, close_workspaces, open_workspace


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh project directory as the working directory, with no CONVEYOR_* overrides."""
    for var in ("CONVEYOR_DB", "CONVEYOR_ARTIFACTS", "CONVEYOR_TRUST_PICKLE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    close_workspaces()


@pytest.fixture
def settings(project: Path) -> Settings:
    return Settings.load(project)


@pytest.fixture
def workspace(settings: Settings) -> Workspace:
    return open_workspace(settings)


@cv.step
def _inc(x: int) -> int:
    return x + 1


@cv.step
def _add(a: int, b: int) -> int:
    return a + b


@cv.step
def _total(values: list) -> int:
    return sum(values)


@pytest.fixture
def chain() -> cv.Pipeline:
    """x → inc → inc → inc."""

    @cv.pipeline
    def chain(x: int = 0, n: int = 3):
        for _ in range(n):
            x = _inc(x)
        return x

    return chain


@pytest.fixture
def diamond() -> cv.Pipeline:
    """x → (left, right) → add."""

    @cv.pipeline
    def diamond(x: int = 1):
        left = _inc(x)
        right = _inc(_inc(x))
        return _add(left, right)

    return diamond


@pytest.fixture
def fan_out_fan_in() -> cv.Pipeline:
    """x → n × inc → total."""

    @cv.pipeline
    def fan_out_fan_in(x: int = 0, n: int = 4):
        return _total([_inc(x + i) for i in range(n)])

    return fan_out_fan_in
