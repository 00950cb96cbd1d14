"""The prediction log's index in SQL: which segment artifacts hold which model's records.

A segment's bytes go to the artifact store first; its artifact row and its index row are then
written in one transaction, so a reader never sees a segment whose bytes are missing, and `gc`
never collects a segment that is indexed.
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

import sqlalchemy as sa

from conveyor.metadata import schema as t
from conveyor.metadata.store import MetadataStore

__all__ = ["LogSegment", "LogStore"]


@dataclasses.dataclass(frozen=True)
class LogSegment:
    id: int
    model: str
    kind: str
    artifact_id: str
    rows: int
    first_at: float
    last_at: float
    versions: tuple[int, ...]
    writer: str | None
    created_at: float


class LogStore:
    """Prediction-log index reads and writes on a `MetadataStore`'s database."""

    def __init__(self, store: MetadataStore) -> None:
        self.store = store

    def add_segment(self, artifact: dict[str, Any], segment: dict[str, Any]) -> None:
        """Record a written segment: its artifact row (if new) and its index row, atomically."""
        conn = self.store.write_conn
        with conn.begin():
            exists = conn.execute(
                sa.select(t.artifacts.c.id).where(t.artifacts.c.id == artifact["id"])
            ).first()
            if exists is None:
                conn.execute(t.artifacts.insert(), artifact)
            conn.execute(
                t.log_segments.insert(),
                {
                    **segment,
                    "artifact_id": artifact["id"],
                    "versions": json.dumps(sorted(segment["versions"])),
                    "created_at": time.time(),
                },
            )

    def segments(
        self, model: str, kind: str = "predictions", since: float | None = None
    ) -> list[LogSegment]:
        """Segments of `model` holding records at or after `since`, oldest first."""
        c = t.log_segments.c
        query = sa.select(t.log_segments).where(c.model == model, c.kind == kind)
        if since is not None:
            query = query.where(c.last_at >= since)
        rows = self.store.conn.execute(query.order_by(c.first_at, c.id)).all()
        return [
            LogSegment(**{**row._mapping, "versions": tuple(json.loads(row.versions))})
            for row in rows
        ]

    def models(self) -> list[str]:
        """Models that have logged predictions."""
        c = t.log_segments.c
        rows = self.store.conn.execute(sa.select(c.model).distinct().order_by(c.model)).all()
        return [row.model for row in rows]
