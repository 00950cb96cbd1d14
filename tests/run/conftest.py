"""Run tests: call counters reset per test, and a settings matrix over metadata backends."""

from __future__ import annotations

import collections
from pathlib import Path

import pytest

from conveyor.config import Settings

from . import _steps


@pytest.fixture(autouse=True)
def calls() -> collections.Counter[str]:
    """How often each counting step in `_steps` ran during this test."""
    _steps.CALLS.clear()
    _steps.FAIL.clear()
    return _steps.CALLS


@pytest.fixture
def backend_settings(project: Path, metadata_url: str) -> Settings:
    """Settings for the project with its metadata on each backend (SQLite file, PostgreSQL)."""
    return Settings.load(project, db=metadata_url)
