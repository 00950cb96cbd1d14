"""The schema: created by Alembic, at the revision the code expects, equal to `schema.metadata`."""

from __future__ import annotations

import contextlib
import gc
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

import conveyor.metadata.store as store_module
from conveyor.exceptions import MetadataError
from conveyor.metadata.schema import SCHEMA_REVISION, metadata
from conveyor.metadata.store import MetadataStore

MIGRATIONS = Path(store_module.__file__).parent / "migrations"


def _reflect(engine: sa.Engine, schema: str | None = None) -> dict[str, Any]:
    """Tables → columns (type, nullable), primary key, foreign keys and indexes, as the database
    reports them."""
    inspector = sa.inspect(engine)
    result: dict[str, Any] = {}
    for table in inspector.get_table_names(schema=schema):
        if table == "alembic_version":
            continue
        result[table] = {
            "columns": {
                c["name"]: (str(c["type"]), c["nullable"])
                for c in inspector.get_columns(table, schema=schema)
            },
            "primary_key": sorted(
                inspector.get_pk_constraint(table, schema=schema)["constrained_columns"]
            ),
            "foreign_keys": sorted(
                (
                    tuple(fk["constrained_columns"]),
                    fk["referred_table"],
                    tuple(fk["referred_columns"]),
                )
                for fk in inspector.get_foreign_keys(table, schema=schema)
            ),
            "indexes": sorted(
                (ix["name"], tuple(ix["column_names"]), bool(ix["unique"]))
                for ix in inspector.get_indexes(table, schema=schema)
            ),
        }
    return result


def test_a_new_database_is_at_the_expected_revision(store: MetadataStore) -> None:
    assert store.revision() == SCHEMA_REVISION


def test_schema_revision_is_the_head_of_the_migrations() -> None:
    heads = ScriptDirectory(str(MIGRATIONS)).get_heads()
    assert heads == [SCHEMA_REVISION]


@pytest.fixture
def migrated(metadata_url: str) -> Iterator[MetadataStore]:
    """A database built by replaying every Alembic migration (`conveyor db upgrade`)."""
    built = MetadataStore(metadata_url, check_schema=False)
    built.upgrade()
    yield built
    built.close()


def test_a_new_store_and_the_migrations_build_the_same_database(
    migrated: MetadataStore, tmp_path: Path
) -> None:
    """A new store creates the schema directly; it must equal what the migrations produce."""
    fresh = MetadataStore(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        assert fresh.revision() == migrated.revision() == SCHEMA_REVISION
        if migrated.engine.dialect.name == "sqlite":
            assert _reflect(fresh.engine) == _reflect(migrated.engine)
    finally:
        fresh.close()


def test_migrations_create_exactly_the_declared_schema(
    migrated: MetadataStore, tmp_path: Path
) -> None:
    store = migrated
    migrated_tables = _reflect(store.engine)
    if store.engine.dialect.name == "postgresql":
        with store.engine.begin() as conn:
            conn.execute(sa.text("CREATE SCHEMA expected"))
            metadata.create_all(conn.execution_options(schema_translate_map={None: "expected"}))
        declared = _reflect(store.engine, schema="expected")
    else:
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'declared.db'}")
        metadata.create_all(engine)
        declared = _reflect(engine)
        engine.dispose()
    assert set(migrated_tables) == set(metadata.tables)
    assert migrated_tables == declared


def test_alembic_sees_no_difference_between_migrations_and_schema(
    migrated: MetadataStore,
) -> None:
    with migrated.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


def test_reopening_keeps_the_data_and_the_revision(metadata_url: str) -> None:
    first = MetadataStore(metadata_url)
    with first.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO cache_entries VALUES ('k', 's', '{}', 1.0)"))
    first.close()
    second = MetadataStore(metadata_url, create=False)
    try:
        assert second.revision() == SCHEMA_REVISION
        assert second.cache_lookup("k") == ("s", {})
    finally:
        second.close()


def _stamp(url: str, revision: str) -> None:
    MetadataStore(url).close()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    engine.dispose()


@contextlib.contextmanager
def _finalizer_reports() -> Iterator[list[str]]:
    """Collect what finalizers report (e.g. connections deleted while open) inside the block
    and when it ends, instead of letting it surface in whichever test the garbage collector
    happens to run next."""
    reported: list[str] = []
    previous = sys.unraisablehook
    sys.unraisablehook = lambda info: reported.append(f"{info.exc_type.__name__}: {info.exc_value}")
    try:
        yield reported
        gc.collect()
    finally:
        sys.unraisablehook = previous


def test_a_database_at_another_revision_is_refused(metadata_url: str) -> None:
    _stamp(metadata_url, "9999")
    with _finalizer_reports():  # leaks are the business of the test below
        with pytest.raises(MetadataError) as err:
            MetadataStore(metadata_url)
        message = str(err.value)
        del err
    assert "9999" in message
    assert SCHEMA_REVISION in message


def test_another_applications_database_is_refused_untouched(metadata_url: str) -> None:
    engine = sa.create_engine(metadata_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE runs (theirs INTEGER)"))
    with _finalizer_reports(), pytest.raises(MetadataError, match="no Conveyor schema revision"):
        MetadataStore(metadata_url)
    with engine.connect() as conn:
        assert set(sa.inspect(conn).get_table_names()) == {"runs"}  # nothing half-created
    engine.dispose()


def test_an_empty_database_is_not_created_when_told_not_to(metadata_url: str) -> None:
    with _finalizer_reports(), pytest.raises(MetadataError):
        MetadataStore(metadata_url, create=False)


def test_a_store_that_fails_to_open_releases_its_connections(metadata_url: str) -> None:
    _stamp(metadata_url, "9999")
    with _finalizer_reports() as reported:
        for _ in range(2):
            with pytest.raises(MetadataError):
                MetadataStore(metadata_url)
    assert reported == []


@pytest.mark.parametrize("url", ["not a url", "nosuchdialect://host/db"])
def test_an_unusable_url_is_a_metadata_error(url: str) -> None:
    with pytest.raises(MetadataError):
        MetadataStore(url)


def test_an_unreachable_server_is_a_metadata_error_without_the_password() -> None:
    url = "postgresql+psycopg://user:s3cret@127.0.0.1:1/none?connect_timeout=2"
    with pytest.raises(MetadataError) as err:
        MetadataStore(url)
    assert "s3cret" not in str(err.value)


_OPEN = """
import sys
from conveyor.metadata.store import MetadataStore
store = MetadataStore(sys.argv[1])
print(store.revision())
store.close()
"""


def test_processes_opening_a_new_database_at_once_agree(metadata_url: str) -> None:
    """Two `conveyor run` started together on a fresh project must both get a usable store."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _OPEN, metadata_url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    results = [proc.communicate(timeout=120) for proc in procs]
    assert [
        (proc.returncode, out.strip()) for proc, (out, _) in zip(procs, results, strict=True)
    ] == [(0, SCHEMA_REVISION)] * 3, [err for _, err in results]


def test_creating_a_store_waits_for_another_writer(tmp_path: Path) -> None:
    """SQLite: while another process holds the write lock (say, it is creating the schema
    itself), opening a new store waits for it (busy timeout) instead of failing."""
    path = tmp_path / "metadata.db"
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("PRAGMA journal_mode=WAL")
    other.execute("BEGIN IMMEDIATE")
    other.execute("CREATE TABLE written_by_another_process (x)")
    outcome: dict[str, object] = {}

    def open_store() -> None:
        try:
            opened = MetadataStore(f"sqlite:///{path}")
            outcome["revision"] = opened.revision()
            opened.close()
        except Exception as err:  # reported by the assertion below
            outcome["error"] = f"{type(err).__name__}: {err}"

    thread = threading.Thread(target=open_store)
    thread.start()
    time.sleep(0.5)
    other.execute("COMMIT")
    other.close()
    thread.join(timeout=60)
    assert outcome == {"revision": SCHEMA_REVISION}
