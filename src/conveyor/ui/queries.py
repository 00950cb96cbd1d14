"""The dashboard's reads that the stores do not offer: filtered pages of runs, light step rows.

Written with SQLAlchemy Core on the metadata schema, so they run on SQLite and PostgreSQL alike,
and shaped for the indexes that exist: runs are listed newest first through `ix_runs_started_at`
(or `ix_runs_pipeline_started_at` with a pipeline filter) and paged by keyset in both directions
— older than the last row's (started_at, id), or newer than the first row's — so page 2,000 costs
what page 1 does, and a page is named by its cursor alone (a URL can be reloaded or bookmarked).
Step rows leave out the captured output and tracebacks, which can be megabytes per step; the step
page reads them one step at a time.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from conveyor.metadata import schema as t
from conveyor.metadata.liveness import alive
from conveyor.metadata.store import MetadataStore

__all__ = [
    "Cursor",
    "RunFilter",
    "RunsPage",
    "artifact_id",
    "artifacts_by_id",
    "count_newer",
    "count_runs",
    "list_lengths",
    "list_runs",
    "model_triggers",
    "param_terms",
    "pipelines",
    "run_id",
    "run_steps",
    "step_by_name",
    "step_origin",
    "template_run",
]

_RUN_COLUMNS = (
    "id", "pipeline", "pipeline_version", "status", "params", "cache", "started_at", "ended_at",
    "duration_s", "error", "host", "pid", "heartbeat_at", "git_commit", "git_dirty",
    "resumed_from", "pipeline_ref",
)  # fmt: skip
_STEP_COLUMNS = (
    "id", "node", "step", "position", "status", "cached", "origin_id", "started_at", "ended_at",
    "duration_s", "attempts", "error_type",
)  # fmt: skip

#: a place in the runs' order (newest first): a run's (started_at, id)
Cursor = tuple[float, str]


@dataclasses.dataclass(frozen=True)
class RunFilter:
    """What the runs list is filtered by; every field optional."""

    pipeline: str | None = None
    status: str | None = None
    since: float | None = None
    until: float | None = None
    params: str | None = None  # text: `key=value` terms and free words, all must match


def _full(text: str, length: int) -> bool:
    return len(text) == length and all(c in "0123456789abcdef" for c in text)


def run_id(meta: MetadataStore, text: str) -> str:
    """A run id as the pages link it (full: no lookup), or a prefix or "latest" (resolved).

    Resolving a prefix is a LIKE on the primary key, which SQLite answers by scanning every run;
    the links the dashboard draws carry full ids, so its pages never pay that.
    """
    return text if _full(text, 32) else meta.resolve_run_id(text)


def artifact_id(meta: MetadataStore, text: str) -> str:
    """An artifact id: full ids as they are, prefixes resolved."""
    return text if _full(text, 64) else meta.resolve_artifact_id(text)


def pipelines(meta: MetadataStore) -> list[str]:
    """Every pipeline name that has run (the small `pipelines` table, not the runs)."""
    c = t.pipelines.c
    return [r[0] for r in meta.conn.execute(sa.select(c.name).distinct().order_by(c.name))]


def param_terms(text: str | None) -> list[list[str]]:
    """What a parameter search looks for in the params JSON: `C=0.5 adam` → `"C":0.5` and `adam`.

    Parameters are stored as canonical JSON (sorted keys, no spaces, ASCII), so `key=value`
    becomes the exact fragment `"key":value` followed by `,` or `}` (the value as JSON if it
    parses, else a string; a whole number as int or float); other words are found anywhere.
    Every term must match one of its fragments. Fragments are plain substrings (no wildcards).
    """
    terms = []
    for term in (text or "").split():
        key, sep, raw = term.partition("=")
        if sep and key:
            try:
                value = json.loads(raw)
            except ValueError:
                value = raw
            if isinstance(value, (dict, list)):
                value = raw
            values = [value]
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if number and float(value).is_integer():  # C=1 finds 1 and 1.0
                values = [int(value), float(value)]
            fragments = [
                json.dumps(key) + ":" + json.dumps(v, separators=(",", ":")) for v in values
            ]
            terms.append([f + end for f in fragments for end in (",", "}")])
        else:
            terms.append([json.dumps(term)[1:-1]])
    return terms


def _contains(meta: MetadataStore, fragment: str) -> Any:
    """`params` contains `fragment`: a plain substring search (faster than LIKE, exact case)."""
    column = t.runs.c.params
    dialect = meta.engine.dialect.name
    if dialect == "sqlite":
        return sa.func.instr(column, fragment) > 0
    if dialect == "postgresql":
        return sa.func.strpos(column, fragment) > 0
    return column.contains(fragment, autoescape=True)


def _param_clauses(meta: MetadataStore, text: str | None) -> list[Any]:
    return [sa.or_(*(_contains(meta, fragment) for fragment in term)) for term in param_terms(text)]


def _running(meta: MetadataStore, where: Sequence[Any]) -> tuple[list[str], list[str]]:
    """Ids of recorded-as-running runs that match: (alive, dead). Few rows, whatever the size."""
    c = t.runs.c
    rows = meta.conn.execute(
        sa.select(c.id, c.host, c.pid, c.heartbeat_at, c.started_at).where(
            c.status == "running", *where
        )
    ).all()
    live, dead = [], []
    for row in rows:
        (live if alive(row._mapping) else dead).append(row.id)
    return live, dead


def _where(meta: MetadataStore, f: RunFilter) -> list[Any]:
    c = t.runs.c
    where: list[Any] = []
    if f.pipeline:
        where.append(c.pipeline == f.pipeline)
    if f.since is not None:
        where.append(c.started_at >= f.since)
    if f.until is not None:
        where.append(c.started_at < f.until)
    where += _param_clauses(meta, f.params)
    if f.status:  # a run whose runner died is shown, and filtered, as interrupted
        if f.status in ("running", "interrupted"):
            live, dead = _running(meta, where)
            if f.status == "running":
                where.append(c.id.in_(live) if live else sa.false())
            else:
                where.append(
                    sa.or_(c.status == "interrupted", c.id.in_(dead))
                    if dead
                    else c.status == "interrupted"
                )
        else:
            where.append(c.status == f.status)
    return where


@dataclasses.dataclass(frozen=True)
class RunsPage:
    """One page of runs, newest first, and the cursors of the pages beside it (None: none)."""

    runs: list[dict[str, Any]]
    older: Cursor | None  # the last row: `after=` it is the next (older) page
    newer: Cursor | None  # the first row: `before=` it is the previous (newer) page


def _key(row: dict[str, Any]) -> Cursor:
    return row["started_at"], row["id"]


def _older_than(at: float, run_id: str) -> Any:
    c = t.runs.c
    # `started_at <= at` lets the index bound the scan; the tie on started_at goes by id
    return sa.and_(c.started_at <= at, sa.or_(c.started_at < at, c.id < run_id))


def _newer_than(at: float, run_id: str) -> Any:
    c = t.runs.c
    return sa.and_(c.started_at >= at, sa.or_(c.started_at > at, c.id > run_id))


def list_runs(
    meta: MetadataStore,
    f: RunFilter,
    *,
    limit: int = 50,
    after: Cursor | None = None,
    before: Cursor | None = None,
) -> RunsPage:
    """A page of runs, newest first: the first page, the one `after` a cursor (older runs), or
    the one `before` it (newer runs; the first page once fewer than `limit` are newer).

    A cursor is the (started_at, id) of a row: the last row of a page for the next page, the
    first row for the previous one, so every page is reached from its cursor alone.
    """
    if after is not None and before is not None:
        raise ValueError("give after= or before=, not both")
    c = t.runs.c
    where = _where(meta, f)
    columns = [c[name] for name in _RUN_COLUMNS]
    if before is not None:
        query = (
            sa.select(*columns)
            .where(*where, _newer_than(*before))
            .order_by(c.started_at.asc(), c.id.asc())
            .limit(limit + 1)
        )
        rows = [_run_row(r._mapping) for r in meta.conn.execute(query)]
        if len(rows) <= limit:  # the top of the list: that is the first page
            return list_runs(meta, f, limit=limit)
        rows = rows[:limit][::-1]
        return RunsPage(rows, _key(rows[-1]), _key(rows[0]))
    if after is not None:
        where.append(_older_than(*after))
    query = (
        sa.select(*columns)
        .where(*where)
        .order_by(c.started_at.desc(), c.id.desc())
        .limit(limit + 1)
    )
    rows = [_run_row(r._mapping) for r in meta.conn.execute(query)]
    more = len(rows) > limit
    rows = rows[:limit]
    older = _key(rows[-1]) if more and rows else None
    newer = _key(rows[0]) if after is not None and rows else None
    return RunsPage(rows, older, newer)


def count_runs(meta: MetadataStore, f: RunFilter) -> int:
    """How many runs match (an index-only count without a parameter filter)."""
    query = sa.select(sa.func.count()).select_from(t.runs).where(*_where(meta, f))
    return int(meta.conn.execute(query).scalar() or 0)


def count_newer(meta: MetadataStore, f: RunFilter, cursor: Cursor) -> int:
    """How many matching runs come before `cursor` in the list: where a page starts."""
    where = [*_where(meta, f), _newer_than(*cursor)]
    query = sa.select(sa.func.count()).select_from(t.runs).where(*where)
    return int(meta.conn.execute(query).scalar() or 0)


def _run_row(row: Any) -> dict[str, Any]:
    data = dict(row)
    if data["status"] == "running" and not alive(data):
        data["status"] = "interrupted"
    beat = data["heartbeat_at"]
    dead = data["status"] == "interrupted" and data["duration_s"] is None and beat is not None
    data["seen_s"] = beat - data["started_at"] if dead else None  # ran at least this long
    data["params"] = json.loads(data["params"] or "{}")
    data["cache"] = bool(data["cache"])
    for private in ("host", "pid", "heartbeat_at"):
        data.pop(private)
    return data


def run_steps(meta: MetadataStore, run_id: str) -> list[dict[str, Any]]:
    """A run's step runs without their output and tracebacks, with inputs and outputs."""
    s, lin = t.step_runs.c, t.lineage.c
    rows = meta.conn.execute(
        sa.select(
            *(s[name] for name in _STEP_COLUMNS),
            sa.func.substr(s.error_message, 1, 400).label("error_message"),
        )
        .where(s.run_id == run_id)
        .order_by(s.position, s.started_at)
    ).all()
    edges = meta.conn.execute(
        sa.select(lin.step_run_id, lin.direction, lin.name, lin.artifact_id)
        .join(t.step_runs, s.id == lin.step_run_id)
        .where(s.run_id == run_id)
    ).all()
    io: dict[str, dict[str, dict[str, str]]] = {}
    for edge in edges:
        io.setdefault(edge.step_run_id, {"in": {}, "out": {}})[edge.direction][edge.name] = (
            edge.artifact_id
        )
    steps = []
    for row in rows:
        data = dict(row._mapping)
        data["name"] = data.pop("node")
        data["cached"] = bool(data["cached"])
        found = io.get(row.id, {"in": {}, "out": {}})
        data["inputs"], data["outputs"] = found["in"], found["out"]
        steps.append(data)
    return steps


def step_by_name(meta: MetadataStore, run_id: str, name: str) -> dict[str, Any] | None:
    """Everything recorded about one step of a run (its latest record), or None."""
    s = t.step_runs.c
    row = meta.conn.execute(
        sa.select(t.step_runs)
        .where(s.run_id == run_id, s.node == name)
        .order_by(s.started_at.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    data = dict(row._mapping)
    data["name"] = data.pop("node")
    data["cached"] = bool(data["cached"])
    return data


def step_origin(meta: MetadataStore, step_run_id: str) -> dict[str, Any] | None:
    """Where a cached step's outputs were computed: that step run's run and name (or None)."""
    s = t.step_runs.c
    row = meta.conn.execute(sa.select(s.run_id, s.node).where(s.id == step_run_id)).first()
    if row is None:
        return None
    return {"step_run_id": step_run_id, "run_id": row.run_id, "name": row.node}


def template_run(meta: MetadataStore, pipeline: str, version: str, run_id: str) -> str | None:
    """The latest finished run of the same pipeline version: the graph a live run will have."""
    c = t.runs.c
    return meta.conn.execute(
        sa.select(c.id)
        .where(
            c.pipeline == pipeline,
            c.pipeline_version == version,
            c.id != run_id,
            c.status.in_(("succeeded", "failed")),
        )
        .order_by(c.started_at.desc())
        .limit(1)
    ).scalar()


def artifacts_by_id(meta: MetadataStore, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Type, format and size of some artifacts (no summaries), by id."""
    if not ids:
        return {}
    a = t.artifacts.c
    rows = meta.conn.execute(
        sa.select(a.id, a.type_name, a.materializer, a.size, a.safe, a.producer_id).where(
            a.id.in_(sorted(set(ids)))
        )
    ).all()
    return {r.id: {**r._mapping, "safe": bool(r.safe)} for r in rows}


_LISTS = ("builtins.list", "builtins.tuple")


def list_lengths(meta: MetadataStore, ids: Sequence[str]) -> dict[str, int | None]:
    """The lengths of the lists among some artifacts, from their recorded summaries (a short
    list's value, a long one's `length`); artifacts that are not lists are left out."""
    if not ids:
        return {}
    a = t.artifacts.c
    rows = meta.conn.execute(
        sa.select(a.id, a.summary).where(a.id.in_(sorted(set(ids))), a.type_name.in_(_LISTS))
    ).all()
    found: dict[str, int | None] = {}
    for row in rows:
        try:
            summary = json.loads(row.summary or "{}")
        except ValueError:
            summary = {}
        value = summary.get("value") if isinstance(summary, dict) else None
        length = summary.get("length") if isinstance(summary, dict) else None
        found[row.id] = len(value) if isinstance(value, list) else length
    return found


def model_triggers(meta: MetadataStore, model: str, limit: int = 100) -> list[dict[str, Any]]:
    """Firings of the triggers that watch `model` (drift, performance), newest first.

    Those firings are keyed `MODEL:VERSION:DIGEST` (what the evaluation saw), so they are found
    by their key's prefix; a schedule's or a source's firings name no model.
    """
    c = t.trigger_events.c
    rows = meta.conn.execute(
        sa.select(t.trigger_events)
        .where(c.key.startswith(f"{model}:", autoescape=True))
        .order_by(c.fired_at.desc(), c.id.desc())
        .limit(limit)
    ).all()
    found = []
    for row in rows:
        data = dict(row._mapping)
        data["params"] = json.loads(data["params"] or "{}")
        found.append(data)
    return found
