"""Monitoring results as a time series in SQL: one row per (evaluation, feature, metric)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from conveyor.metadata import schema as t
from conveyor.metadata.store import MetadataStore

__all__ = ["MonitorResult", "MonitorStore"]


@dataclasses.dataclass(frozen=True)
class MonitorResult:
    report_id: str
    model: str
    version: int | None
    at: float
    window_start: float | None
    window_end: float | None
    rows: int
    kind: str
    feature: str | None
    metric: str
    value: float | None
    drifted: bool | None
    details: str | None = None  # JSON, for kind "histogram": the distributions compared


class MonitorStore:
    def __init__(self, store: MetadataStore) -> None:
        self.store = store

    def add(self, results: Sequence[MonitorResult]) -> None:
        if not results:
            return
        conn = self.store.write_conn
        with conn.begin():
            conn.execute(t.monitor_results.insert(), [dataclasses.asdict(r) for r in results])

    def series(
        self,
        model: str,
        metric: str | None = None,
        feature: str | None = None,
        kind: str | None = None,
        since: float | None = None,
    ) -> list[MonitorResult]:
        """Results of `model`, oldest first, filtered by metric, feature, kind and time."""
        c = t.monitor_results.c
        query = sa.select(t.monitor_results).where(c.model == model)
        for column, value in ((c.metric, metric), (c.feature, feature), (c.kind, kind)):
            if value is not None:
                query = query.where(column == value)
        if since is not None:
            query = query.where(c.at >= since)
        rows = self.store.conn.execute(query.order_by(c.at, c.id)).all()
        return [_result(row) for row in rows]

    def latest(self, model: str) -> list[MonitorResult]:
        """The results of the most recent evaluation of `model`."""
        c = t.monitor_results.c
        last = self.store.conn.execute(
            sa.select(c.report_id).where(c.model == model).order_by(c.at.desc(), c.id.desc())
        ).first()
        if last is None:
            return []
        rows = self.store.conn.execute(
            sa.select(t.monitor_results).where(c.report_id == last.report_id).order_by(c.id)
        ).all()
        return [_result(row) for row in rows]


def _result(row: Any) -> MonitorResult:
    data = {k: v for k, v in row._mapping.items() if k != "id"}
    return MonitorResult(**data)
