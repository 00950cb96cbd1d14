"""The JSON the pages ask for, built from the stores: one function per page (blocking)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from conveyor.exceptions import ArtifactError, NotFoundError
from conveyor.metadata import schema as t
from conveyor.metadata.model_store import ModelStore
from conveyor.metadata.trigger_store import TriggerStore
from conveyor.run.capture import live_log_path
from conveyor.ui import dag, queries
from conveyor.ui.monitoring import latest_report, monitored_models
from conveyor.ui.preview import column_profile
from conveyor.workspace import Workspace, load_recorded

__all__ = [
    "artifact_detail",
    "compare",
    "model_detail",
    "models",
    "monitoring_model",
    "monitoring_overview",
    "run_detail",
    "step_detail",
]

#: the most a step page shows of a live log or a captured stream (the tail)
MAX_TEXT = 200_000


def _tail(text: str | None) -> str | None:
    if text is None or len(text) <= MAX_TEXT:
        return text
    return "…(earlier output not shown)\n" + text[-MAX_TEXT:]


def _live_logs(ws: Workspace, run_id: str) -> dict[str, Path]:
    folder = ws.settings.home / "logs" / run_id
    if not folder.is_dir():
        return {}
    return {path.stem: path for path in folder.glob("*.log")}


# -- runs ----------------------------------------------------------------------------------------


@dataclasses.dataclass
class _Graph:
    """A run's steps by name (recorded or not, with their states) and the edges between them."""

    steps: dict[str, dict[str, Any]]
    edges: set[tuple[str, str]]
    traced: bool  # from the graph stored with the pipeline version (schema 0007 on)
    template: str | None  # else, while live: the earlier run whose graph fills the gaps

    def upstream(self, name: str) -> list[str]:
        return sorted(a for a, b in self.edges if b == name)


def _run_graph(ws: Workspace, record: Any, steps: list[dict[str, Any]]) -> _Graph:
    """Every step of a run with its state: recorded ones as recorded; the others running,
    interrupted, ready, pending or not run (see `_mark_ready`)."""
    meta = ws.metadata
    live = record.status == "running"
    template = None
    by_name = {s["name"]: s for s in steps}
    graph = meta.pipeline_graph(record.pipeline, record.pipeline_version)
    if graph is not None:  # the traced graph, stored with the run (schema 0007 on)
        for position, (name, *_rest) in enumerate(graph):
            by_name.setdefault(name, _unrecorded(name, position))
        busy = set(record.running) | set(_live_logs(ws, record.id))
        for name in sorted(busy):  # map items are not in the graph: they appear once running
            parent = by_name.get(dag.item_of(name) or "")
            by_name.setdefault(name, _unrecorded(name, parent["position"] if parent else None))
            if by_name[name]["id"] is None:
                by_name[name]["status"] = "running" if live else "interrupted"
        edges = dag.graph_edges(graph, by_name)
        _mark_maps(meta, graph, by_name, live)
        _mark_ready(by_name, edges, live)
    elif live:  # an older run: the graph of an earlier run of the same version
        edges = set(dag.run_edges(steps))
        template = queries.template_run(meta, record.pipeline, record.pipeline_version, record.id)
        if template is not None:
            known = queries.run_steps(meta, template)
            edges |= set(dag.run_edges(known))
            for step in known:
                by_name.setdefault(step["name"], _unrecorded(step["name"], step["position"]))
        for name in _live_logs(ws, record.id):
            by_name.setdefault(name, _unrecorded(name, None))
            if by_name[name]["id"] is None:
                by_name[name]["status"] = "running"
        _mark_ready(by_name, edges, live)
    else:
        edges = set(dag.run_edges(steps))
        if record.status == "interrupted":  # a step that was running when the runner died
            for name in _live_logs(ws, record.id):
                if name not in by_name:
                    by_name[name] = {**_unrecorded(name, None), "status": "interrupted"}
    return _Graph(by_name, edges, graph is not None, template)


def _last_seen(record: Any, steps: list[dict[str, Any]]) -> dict[str, Any] | None:
    """When a run that died was last known alive: its last heartbeat or step end, the later."""
    if record.status != "interrupted" or record.ended_at is not None:
        return None
    ends = [s["ended_at"] for s in steps if s.get("ended_at") is not None]
    candidates = [(record.heartbeat_at, "heartbeat"), (max(ends, default=None), "step")]
    found = [(at, by) for at, by in candidates if at is not None and at >= record.started_at]
    if not found:
        return None
    at, by = max(found)
    return {"at": at, "by": by, "duration_s": at - record.started_at}


def run_detail(ws: Workspace, run_id: str) -> dict[str, Any]:
    """A run, its steps laid out as a DAG, and its metrics."""
    meta = ws.metadata
    record = meta.get_run(queries.run_id(meta, run_id))
    steps = queries.run_steps(meta, record.id)
    live = record.status == "running"
    found = _run_graph(ws, record, steps)
    ordered = sorted(
        found.steps.values(),
        key=lambda s: (s["position"] if s["position"] is not None else 1 << 30, s["name"]),
    )
    placed = dag.layout([s["name"] for s in ordered], found.edges)
    names = {s["id"]: s["name"] for s in steps}
    metrics = [
        {
            "step_run_id": m.step_run_id,
            "step": names.get(m.step_run_id),
            "name": m.name,
            "value": m.value,
            "index": m.step,
            "logged_at": m.logged_at,
        }
        for m in meta.metrics(record.id)
    ]
    summary = {f: getattr(record, f) for f in _SUMMARY_FIELDS}
    return {
        "run": summary,
        "live": live,
        "host": record.host,
        "python_version": record.python_version,
        "environment_id": record.environment_id,
        "source_file": record.source_file,
        "outputs": record.outputs,
        "steps": [
            {
                **s,
                "x": placed.positions[s["name"]][0],
                "y": placed.positions[s["name"]][1],
                "layer": placed.layers[s["name"]],
            }
            for s in ordered
        ],
        "dag": {
            "width": placed.width,
            "height": placed.height,
            "node_width": dag.NODE_W,
            "node_height": dag.NODE_H,
            "edges": placed.edges,
            "complete": not live,
            "traced": found.traced,
        },
        "metrics": metrics,
        "template_run": found.template,
        "last_seen": _last_seen(record, steps),
    }


_SUMMARY_FIELDS = (
    "id", "pipeline", "pipeline_version", "status", "params", "cache", "started_at", "ended_at",
    "duration_s", "error", "git_commit", "git_dirty", "resumed_from", "pipeline_ref",
)  # fmt: skip


def _mark_ready(
    by_name: dict[str, dict[str, Any]], edges: set[tuple[str, str]], live: bool
) -> None:
    """Steps without a record: `ready` when a live run has everything they need, else
    `pending`; in an ended run they were never run (`--to`, a failure upstream, a crash)."""
    upstream: dict[str, set[str]] = {}
    for a, b in edges:
        upstream.setdefault(b, set()).add(a)
    for name, step in by_name.items():
        if step["status"] != "pending":
            continue
        if not live:
            step["status"] = "not-run"
        elif all(by_name.get(u, {}).get("status") == "succeeded" for u in upstream.get(name, ())):
            step["status"] = "ready"


def _mark_maps(
    meta: Any, graph: list[list[Any]], by_name: dict[str, dict[str, Any]], live: bool
) -> None:
    """A map node without a record whose items have started is running (interrupted, once the
    run died), with `items`: how many have ended, started, and are due (`total`, when its
    input list's length is recorded)."""
    maps = {row[0]: row for row in graph if row[3] and by_name.get(row[0], {}).get("id") is None}
    if not maps:
        return
    items: dict[str, list[dict[str, Any]]] = {}
    for name, step in by_name.items():
        parent = dag.item_of(name)
        if parent in maps:
            items.setdefault(parent, []).append(step)
    for parent, started in items.items():
        node = by_name[parent]
        node["status"] = "running" if live else "interrupted"
        node["items"] = {
            "done": sum(1 for s in started if s["id"] is not None),
            "started": len(started),
            "total": _list_length(meta, [by_name[u] for u in maps[parent][2] if u in by_name]),
        }


def _list_length(meta: Any, upstream: list[dict[str, Any]]) -> int | None:
    """The length of the one list among the outputs of `upstream` (what a map maps over)."""
    ids = [a for step in upstream for a in step["outputs"].values()]
    lengths = [n for n in queries.list_lengths(meta, ids).values() if n is not None]
    return lengths[0] if len(lengths) == 1 else None


def _unrecorded(name: str, position: int | None) -> dict[str, Any]:
    return {
        "id": None,
        "name": name,
        "step": None,
        "position": position,
        "status": "pending",
        "cached": False,
        "attempts": 0,
        "inputs": {},
        "outputs": {},
    }


def step_detail(ws: Workspace, run_id: str, name: str) -> dict[str, Any]:
    """One step of a run: parameters, inputs and outputs, metrics, output, error.

    A step without a record has not ended, and says why (`state`): `running`, `ready` (its
    inputs are done), `pending` (`waits_for` the steps it needs) while the run is in progress;
    once it is over, `interrupted` (it was running when the runner died: what it printed is
    all there is) or `not-run` (the run ended before it). A name that is not a step of the run
    (in its stored graph, its records, its running map items) is a 404.
    """
    meta = ws.metadata
    record = meta.get_run(queries.run_id(meta, run_id))
    live = record.status == "running"  # the store says "interrupted" once the runner is dead
    row = queries.step_by_name(meta, record.id, name)
    if row is None:
        found = _run_graph(ws, record, queries.run_steps(meta, record.id))
        node = found.steps.get(name)
        path = live_log_path(ws.settings.home, record.id, name)
        printed = path.is_file()
        if node is None and not printed:
            raise NotFoundError(f"run {record.id[:12]} has no step {name!r}")
        state = node["status"] if node else ("running" if live else "interrupted")
        waits_for = [
            up
            for up in found.upstream(name)
            if found.steps.get(up, {}).get("status") != "succeeded"
        ]
        return {
            "run_id": record.id,
            "name": name,
            "recorded": False,
            "live": live,
            "state": state,
            "waits_for": waits_for if state in ("pending", "not-run") else [],
            "items": (node or {}).get("items"),
            "run_status": record.status,
            "origin": None,
            "step": None,
            "params": {},
            "inputs": [],
            "outputs": [],
            "metrics": [],
            "attempts": [],
            "live_log": _tail(path.read_text(errors="replace")) if printed else None,
        }
    edges = meta.edges(step_run_id=row["id"])
    types = queries.artifacts_by_id(meta, [e.artifact_id for e in edges])

    def refs(direction: str) -> list[dict[str, Any]]:
        return [
            {
                "label": e.name,
                "artifact_id": e.artifact_id,
                "type_name": types.get(e.artifact_id, {}).get("type_name"),
                "size": types.get(e.artifact_id, {}).get("size"),
            }
            for e in sorted(edges, key=lambda e: e.name)
            if e.direction == direction
        ]

    metrics = [
        {
            "step_run_id": m.step_run_id,
            "step": name,
            "name": m.name,
            "value": m.value,
            "index": m.step,
            "logged_at": m.logged_at,
        }
        for m in meta.metrics(record.id)
        if m.step_run_id == row["id"]
    ]
    texts = {key: row.pop(key) for key in ("stdout", "stderr", "traceback")}
    row["arguments"] = json.loads(row.get("arguments") or "{}")
    return {
        "run_id": record.id,
        "name": name,
        "recorded": True,
        "live": live,
        "state": None,
        "run_status": record.status,
        "origin": queries.step_origin(meta, row["origin_id"]) if row["origin_id"] else None,
        "step": row,
        "params": meta.step_params(record.id).get(row["id"], {}),
        "inputs": refs("in"),
        "outputs": refs("out"),
        "metrics": metrics,
        "attempts": [dataclasses.asdict(a) for a in meta.attempts(row["id"])],
        "stdout": _tail(texts["stdout"]),
        "stderr": _tail(texts["stderr"]),
        "traceback": texts["traceback"],
        "error_type": row.get("error_type"),
        "error_message": row.get("error_message"),
        "live_log": None,
    }


def compare(ws: Workspace, run_ids: list[str]) -> dict[str, Any]:
    """Runs side by side: parameters, the last value of each metric, and stepped series."""
    meta = ws.metadata
    runs = []
    for run_id in run_ids:
        record = meta.get_run(queries.run_id(meta, run_id))
        points = meta.metrics(record.id)
        logged_by: dict[str, set[str]] = {}
        for m in points:
            logged_by.setdefault(m.name, set()).add(m.step_run_id)
        steps = (
            {s["id"]: s["name"] for s in queries.run_steps(meta, record.id)}
            if any(len(v) > 1 for v in logged_by.values())
            else {}
        )
        last: dict[str, float | None] = {}
        series: dict[str, list[tuple[int, float | None]]] = {}
        for m in points:  # in logging order: the last value wins
            key = m.name
            if len(logged_by[m.name]) > 1:  # several steps log it: name them
                key = f"{steps.get(m.step_run_id, '?')}.{m.name}"
            last[key] = m.value
            if m.step is not None:
                series.setdefault(key, []).append((m.step, m.value))
        runs.append(
            {
                "id": record.id,
                "pipeline": record.pipeline,
                "status": record.status,
                "started_at": record.started_at,
                "params": record.params,
                "metrics": last,
                "series": series,
            }
        )
    names = sorted({k for r in runs for k in r["params"]})
    differing = [
        k for k in names if len({_canonical(r["params"].get(k, _MISSING)) for r in runs}) > 1
    ]
    return {
        "runs": runs,
        "params": differing + [k for k in names if k not in differing],
        "differing": differing,
        "metrics": sorted({k for r in runs for k in r["metrics"]}),
    }


_MISSING = object()


def _canonical(value: Any) -> str:
    return "\0missing" if value is _MISSING else json.dumps(value, sort_keys=True, default=str)


# -- artifacts -----------------------------------------------------------------------------------


def artifact_detail(ws: Workspace, artifact_id: str) -> dict[str, Any]:
    """An artifact: record, summary, producer, how often it was read, statistics, model uses."""
    meta = ws.metadata
    record = meta.get_artifact(queries.artifact_id(meta, artifact_id))
    producer = None
    if record.producer_id is not None:
        s, r = t.step_runs.c, t.runs.c
        row = meta.conn.execute(
            sa.select(s.id, s.run_id, s.node, s.step, r.pipeline, r.git_commit)
            .join(t.runs, r.id == s.run_id)
            .where(s.id == record.producer_id)
        ).first()
        if row is not None:
            producer = {
                "step_run_id": row.id,
                "run_id": row.run_id,
                "step": row.node,
                "code": row.step,
                "pipeline": row.pipeline,
                "git_commit": row.git_commit,
            }
    lin = t.lineage.c
    consumers = meta.conn.execute(
        sa.select(sa.func.count()).where(lin.artifact_id == record.id, lin.direction == "in")
    ).scalar()
    try:
        profile = column_profile(ws, record)
    except ArtifactError as err:  # bytes gone or corrupted: show the record anyway
        profile = {"columns": {}, "note": f"not computed: {err}"}
    uses = [
        {
            "model": use.version.name,
            "version": use.version.version,
            "role": use.role,  # "model", a data key ("train.data"), or "upstream of train.data"
            "aliases": list(use.version.aliases),
        }
        for use in ModelStore(meta).uses_of_artifact(record.id)
    ]
    data = dataclasses.asdict(record)
    data.pop("producer_id")
    return {
        **data,
        "value": _json_value(ws, record),
        "producer": producer,
        "consumers": int(consumers or 0),
        "profile": profile,
        "models": uses,
    }


#: JSON artifacts up to this size are shown whole (their summary keeps 500 characters)
MAX_JSON_BYTES = 256 * 1024


def _json_value(ws: Workspace, record: Any) -> Any:
    """The whole value of a JSON artifact too long for its summary (`{"json": value}`), else
    None: the page pretty-prints it. JSON loads no code, so this is safe on any artifact."""
    if record.materializer != "json" or "preview" not in record.summary:
        return None
    if record.size > MAX_JSON_BYTES:
        return None
    try:
        return {"json": load_recorded(ws, record.id, trust=False)}
    except ArtifactError:  # bytes gone or corrupted: the summary's preview is all there is
        return None


# -- models --------------------------------------------------------------------------------------


def models(ws: Workspace) -> list[dict[str, Any]]:
    """Every registered model: version count, latest version, aliases."""
    store = ModelStore(ws.metadata)
    found: dict[str, dict[str, Any]] = {}
    for v in store.versions():
        entry = found.setdefault(
            v.name, {"name": v.name, "versions": 0, "aliases": {}, "updated_at": v.created_at}
        )
        entry["versions"] += 1
        entry["latest"] = v.version
        entry["metrics"] = v.metrics
        entry["updated_at"] = max(entry["updated_at"], v.created_at)
        for alias in v.aliases:
            entry["aliases"][alias] = v.version
    return list(found.values())


def model_detail(ws: Workspace, name: str) -> dict[str, Any]:
    """A model's versions (newest first) with lineage, its aliases and their history."""
    meta = ws.metadata
    store = ModelStore(meta)
    versions = store.versions(name)
    if not versions:
        raise NotFoundError(f"no model named {name!r} is registered")
    r, s, ref = t.runs.c, t.step_runs.c, t.model_references.c
    run_ids = sorted({v.run_id for v in versions if v.run_id})
    runs = {
        row.id: dict(row._mapping)
        for row in meta.conn.execute(
            sa.select(
                r.id,
                r.pipeline,
                r.status,
                r.started_at,
                r.git_commit,
                r.git_dirty,
                r.source_file,
                r.pipeline_ref,
            ).where(r.id.in_(run_ids))
        )
    }
    step_ids = sorted({v.step_run_id for v in versions if v.step_run_id})
    steps = dict(meta.conn.execute(sa.select(s.id, s.node).where(s.id.in_(step_ids))).all())
    referenced = {
        row.version
        for row in meta.conn.execute(sa.select(ref.version).where(ref.name == name)).all()
    }
    aliases: dict[str, int] = {}
    out = []
    for v in sorted(versions, key=lambda v: v.version, reverse=True):
        for alias in v.aliases:
            aliases[alias] = v.version
        out.append(
            {
                **dataclasses.asdict(v),
                "aliases": list(v.aliases),
                "run": runs.get(v.run_id) if v.run_id else None,
                "step": steps.get(v.step_run_id) if v.step_run_id else None,
                "has_reference": v.version in referenced,
            }
        )
    history = [dataclasses.asdict(e) for e in reversed(store.history(name))]
    return {"name": name, "versions": out, "aliases": aliases, "history": history}


# -- monitoring ----------------------------------------------------------------------------------


def monitoring_overview(ws: Workspace, limit: int = 100) -> dict[str, Any]:
    """Monitored models and the latest trigger firings (with the runs they started)."""
    meta = ws.metadata
    triggers = [dataclasses.asdict(e) for e in TriggerStore(meta).history(limit=limit)]
    return {"models": monitored_models(meta), "triggers": triggers}


def monitoring_model(ws: Workspace, model: str, since: float | None) -> dict[str, Any]:
    from conveyor.ui.monitoring import series

    data = series(ws.metadata, model, since)
    data["latest"] = latest_report(ws.metadata, model)
    data["triggers"] = queries.model_triggers(ws.metadata, model)
    if not data["drift_share"] and data["latest"] is None:
        raise NotFoundError(f"no monitoring results for model {model!r}")
    return data
