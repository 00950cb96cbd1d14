"""Shared fixtures: an isolated workspace per test, and named DAG shapes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import conveyor as cv
from conveyor.config import Settings
from conveyor.workspace import Workspace, close_workspaces, open_workspace


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


# -- metadata backends ---------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def metadata_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A SQLAlchemy URL of an empty metadata database: a SQLite file, or a fresh PG database.

    The PostgreSQL server is the one CI starts (override with CONVEYOR_TEST_POSTGRES); when it is
    unreachable the test fails rather than skips, so a broken CI service cannot go unnoticed.
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'metadata.db'}"
        return
    import os
    import uuid

    import psycopg
    import sqlalchemy as sa

    admin_url = os.environ.get(
        "CONVEYOR_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
    )
    name = f"conveyor_test_{uuid.uuid4().hex[:20]}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = sa.make_url(admin_url).set(drivername="postgresql+psycopg", database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        close_workspaces()  # release pooled connections before the database goes away
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
