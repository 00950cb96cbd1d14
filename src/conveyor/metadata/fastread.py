"""The CLI's hottest read, `conveyor runs list`, on the raw sqlite3 driver.

Importing SQLAlchemy costs more than the whole query; for the embedded SQLite store this module
answers the run listing with the standard library alone. Anything else — another backend, a schema
at another revision, a missing database — returns None and the caller uses `MetadataStore`.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from conveyor.metadata.liveness import run_record
from conveyor.metadata.records import RunRecord
from conveyor.metadata.revision import SCHEMA_REVISION as _EXPECTED_REVISION

__all__ = ["list_runs"]


def list_runs(url: str, pipeline: str | None, limit: int) -> list[RunRecord] | None:
    """The newest runs, or None when this fast path does not apply to `url`."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or "?" in url:
        return None
    path = Path(url[len(prefix) :])
    if not path.is_file():
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error:
        return None
    try:
        conn.row_factory = sqlite3.Row
        revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        if revision is None or revision[0] != _EXPECTED_REVISION:
            return None
        if pipeline is None:
            rows = conn.execute(
                "SELECT * FROM runs ORDER BY started_at DESC LIMIT ?", (limit,)
            ).fetchall()
        else:
            rows = conn.execute(
                "SELECT * FROM runs WHERE pipeline = ? ORDER BY started_at DESC LIMIT ?",
                (pipeline, limit),
            ).fetchall()
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    return [run_record(dict(zip(row.keys(), row, strict=True))) for row in rows]
