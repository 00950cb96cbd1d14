"""Trigger firings in SQL. A firing is claimed by inserting its (trigger, key) row — unique — so
two watchers, or one restarted, never fire the same event twice; the row then follows the run."""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

import sqlalchemy as sa

from conveyor.metadata import schema as t
from conveyor.metadata.store import MetadataStore

__all__ = ["TriggerEvent", "TriggerStore"]


@dataclasses.dataclass(frozen=True)
class TriggerEvent:
    id: int
    trigger: str
    key: str
    fired_at: float
    reason: str
    status: str  # started | succeeded | failed | skipped
    pipeline: str | None
    params: dict[str, Any]
    run_id: str | None
    pid: int | None
    host: str | None
    finished_at: float | None


class TriggerStore:
    def __init__(self, store: MetadataStore) -> None:
        self.store = store

    def claim(
        self, trigger: str, key: str, reason: str, pipeline: str, params: dict[str, Any]
    ) -> TriggerEvent | None:
        """Record a firing; None when this (trigger, key) already fired (a duplicate event)."""
        conn = self.store.write_conn
        row = {
            "trigger": trigger,
            "key": key,
            "fired_at": time.time(),
            "reason": reason,
            "status": "started",
            "pipeline": pipeline,
            "params": json.dumps(params, sort_keys=True, default=str),
        }
        try:
            with conn.begin():
                conn.execute(t.trigger_events.insert(), row)
        except sa.exc.IntegrityError:
            return None
        return self.get(trigger, key)

    def get(self, trigger: str, key: str) -> TriggerEvent | None:
        c = t.trigger_events.c
        found = self.store.conn.execute(
            sa.select(t.trigger_events).where(c.trigger == trigger, c.key == key)
        ).first()
        return None if found is None else _event(found)

    def update(self, event_id: int, **values: Any) -> None:
        conn = self.store.write_conn
        with conn.begin():
            conn.execute(t.trigger_events.update().where(t.trigger_events.c.id == event_id), values)

    def history(self, trigger: str | None = None, limit: int = 100) -> list[TriggerEvent]:
        """Firings, newest first."""
        c = t.trigger_events.c
        query = sa.select(t.trigger_events).order_by(c.fired_at.desc(), c.id.desc()).limit(limit)
        if trigger is not None:
            query = query.where(c.trigger == trigger)
        return [_event(row) for row in self.store.conn.execute(query).all()]

    def last(self, trigger: str) -> TriggerEvent | None:
        found = self.history(trigger, limit=1)
        return found[0] if found else None

    def unfinished(self) -> list[TriggerEvent]:
        """Firings whose run has not been seen to end (the watcher stopped meanwhile)."""
        c = t.trigger_events.c
        rows = self.store.conn.execute(
            sa.select(t.trigger_events).where(c.status == "started").order_by(c.id)
        ).all()
        return [_event(row) for row in rows]


def _event(row: Any) -> TriggerEvent:
    data = dict(row._mapping)
    data["params"] = json.loads(data["params"] or "{}")
    return TriggerEvent(**data)
