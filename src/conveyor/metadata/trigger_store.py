"""Trigger firings and checks in SQL, shared by every watcher of the store.

A firing is claimed by inserting its (trigger, key) row — unique — so two watchers, or one
restarted, never fire the same event twice; the row then follows the run. A check's problems (an
error, or warnings about the data) are kept as a row each time they change, so `conveyor
triggers list|history` shows them after the watcher that saw them has stopped, from any machine.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from conveyor.metadata import schema as t
from conveyor.metadata.store import MetadataStore

__all__ = ["TriggerCheck", "TriggerEvent", "TriggerStore"]


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
    run_id: str | None  # the run it launches, chosen before the launch
    pid: int | None
    host: str | None  # the watcher's machine, which launches the run
    finished_at: float | None


@dataclasses.dataclass(frozen=True)
class TriggerCheck:
    """A change of a trigger's problems: from `at` on, its checks failed with `error`, or ran
    with `warnings`; neither: the problems ended."""

    id: int
    trigger: str
    at: float
    error: str | None
    warnings: list[str]
    host: str | None


class TriggerStore:
    def __init__(self, store: MetadataStore) -> None:
        self.store = store

    # -- firings -----------------------------------------------------------------------------------

    def claim(
        self,
        trigger: str,
        key: str,
        reason: str,
        pipeline: str,
        params: dict[str, Any],
        *,
        status: str = "started",
        run_id: str | None = None,
        host: str | None = None,
    ) -> TriggerEvent | None:
        """Record a firing in one insert; None when this (trigger, key) already fired.

        Args:
            status: "started" for a firing that launches `run_id`; "skipped" for one that
                launches nothing (a baseline), finished as it is recorded.
            run_id: the id the launched run will have, recorded before it is launched.
            host: the machine that launches it.
        """
        if (status, run_id is None) not in (("started", False), ("skipped", True)):
            raise ValueError(
                f"claim {trigger!r}/{key!r}: a firing is started with a run id or skipped "
                f"without one, not {status!r} with run id {run_id!r}"
            )
        now = time.time()
        row = {
            "trigger": trigger,
            "key": key,
            "fired_at": now,
            "reason": reason,
            "status": status,
            "pipeline": pipeline,
            "params": json.dumps(params, sort_keys=True, default=str),
            "run_id": run_id,
            "host": host,
            "finished_at": None if status == "started" else now,
        }
        conn = self.store.write_conn
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

    # -- checks ------------------------------------------------------------------------------------

    def record_check(
        self,
        trigger: str,
        at: float,
        error: str | None,
        warnings: Sequence[str],
        host: str | None = None,
    ) -> TriggerCheck | None:
        """Note what `trigger`'s check at `at` found wrong; the new row if that changed its
        problems (as any watcher last recorded them), else None — a row per change, not per
        check."""
        warnings = list(warnings)
        if _same(self._current(self.store.conn, trigger), error, warnings):
            return None  # the usual case, answered by a read
        conn = self.store.write_conn
        with conn.begin():
            if _same(self._current(conn, trigger), error, warnings):
                return None  # another watcher recorded the same change meanwhile
            found = conn.execute(
                t.trigger_checks.insert(),
                {
                    "trigger": trigger,
                    "at": at,
                    "error": error,
                    "warnings": json.dumps(warnings),
                    "host": host,
                },
            )
            (check_id,) = found.inserted_primary_key
        return TriggerCheck(check_id, trigger, at, error, warnings, host)

    def checks(self) -> dict[str, TriggerCheck]:
        """Each trigger's problems now: its latest recorded change."""
        c = t.trigger_checks.c
        latest = sa.select(sa.func.max(c.id)).group_by(c.trigger)
        rows = self.store.conn.execute(sa.select(t.trigger_checks).where(c.id.in_(latest))).all()
        return {row.trigger: _check(row) for row in rows}

    def check_history(self, trigger: str | None = None, limit: int = 100) -> list[TriggerCheck]:
        """Changes of the triggers' problems, newest first."""
        c = t.trigger_checks.c
        query = sa.select(t.trigger_checks).order_by(c.at.desc(), c.id.desc()).limit(limit)
        if trigger is not None:
            query = query.where(c.trigger == trigger)
        return [_check(row) for row in self.store.conn.execute(query).all()]

    @staticmethod
    def _current(conn: sa.Connection, trigger: str) -> TriggerCheck | None:
        c = t.trigger_checks.c
        query = sa.select(t.trigger_checks).where(c.trigger == trigger).order_by(c.id.desc())
        row = conn.execute(query.limit(1)).first()
        return None if row is None else _check(row)


def _same(check: TriggerCheck | None, error: str | None, warnings: list[str]) -> bool:
    if check is None:  # nothing recorded: no problems
        return error is None and not warnings
    return check.error == error and check.warnings == warnings


def _event(row: Any) -> TriggerEvent:
    data = dict(row._mapping)
    data["params"] = json.loads(data["params"] or "{}")
    return TriggerEvent(**data)


def _check(row: Any) -> TriggerCheck:
    data = dict(row._mapping)
    data["warnings"] = json.loads(data["warnings"])
    return TriggerCheck(**data)
