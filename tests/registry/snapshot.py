"""The registry's stored state, row by row, to check that a bad input changed nothing."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from conveyor.metadata import schema as t

TABLES = (t.model_versions, t.model_aliases, t.alias_events, t.model_references)


def registry_rows(db: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the registry's tables (versions, aliases, alias history, references) as
    stored — JSON text, times and all — in a stable order, from the database at URL `db`."""
    engine = sa.create_engine(db)
    try:
        with engine.connect() as conn:
            return {
                table.name: [
                    tuple(row)
                    for row in conn.execute(sa.select(table).order_by(*table.columns)).all()
                ]
                for table in TABLES
            }
    finally:
        engine.dispose()
