"""An artifact's lineage as a graph: the steps and artifacts upstream and downstream of it.

Walked breadth-first, one level at a time with one query per kind of fact (not one per node), so
a deep graph costs a few queries per level. Upstream, each artifact has one producer (the step run
that first wrote it). Downstream, an artifact read by many runs (a dataset used by every training
run) shows one node per consuming step name — its latest step run — with the count of step runs
it stands for. The walk stops at `depth` levels each way and at `max_nodes` nodes.

A step that writes back an artifact it read (a validation step returning its input unchanged:
the same bytes, so the same id) would make a loop artifact → step → artifact; that output is
shown on the input edge instead (`passed_through`: the output's name). Any other cycle equal
bytes make is broken at its back edge (`back`), drawn apart by the page.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from conveyor.metadata import schema as t
from conveyor.metadata.store import MetadataStore
from conveyor.ui.dag import layout
from conveyor.ui.queries import artifacts_by_id

__all__ = ["artifact_lineage"]


def _steps(meta: MetadataStore, ids: list[str]) -> dict[str, dict[str, Any]]:
    if not ids:
        return {}
    s, r = t.step_runs.c, t.runs.c
    rows = meta.conn.execute(
        sa.select(
            s.id,
            s.run_id,
            s.node,
            s.step,
            s.status,
            s.cached,
            s.started_at,
            r.pipeline,
            r.git_commit,
            r.git_dirty,
        )
        .join(t.runs, r.id == s.run_id)
        .where(s.id.in_(ids))
    ).all()
    return {row.id: {**row._mapping, "cached": bool(row.cached)} for row in rows}


def _edges(meta: MetadataStore, step_ids: list[str], direction: str) -> list[Any]:
    if not step_ids:
        return []
    lin = t.lineage.c
    return list(
        meta.conn.execute(
            sa.select(lin.step_run_id, lin.name, lin.artifact_id).where(
                lin.step_run_id.in_(step_ids), lin.direction == direction
            )
        ).all()
    )


def _consumers(meta: MetadataStore, artifact: str, limit: int) -> list[tuple[str, str, int]]:
    """(latest step run id, input name, how many step runs) per step name reading `artifact`."""
    lin, s = t.lineage.c, t.step_runs.c
    groups = meta.conn.execute(
        sa.select(s.node, sa.func.count(), sa.func.max(s.started_at))
        .join(t.step_runs, s.id == lin.step_run_id)
        .where(lin.artifact_id == artifact, lin.direction == "in")
        .group_by(s.node)
        .order_by(sa.func.max(s.started_at).desc())
        .limit(limit)
    ).all()
    found = []
    for node, count, latest in groups:
        row = meta.conn.execute(
            sa.select(s.id, lin.name)
            .join(t.step_runs, s.id == lin.step_run_id)
            .where(
                lin.artifact_id == artifact,
                lin.direction == "in",
                s.node == node,
                s.started_at == latest if latest is not None else s.started_at.is_(None),
            )
            .limit(1)
        ).first()
        if row is not None:
            found.append((row.id, row.name, int(count)))
    return found


def artifact_lineage(
    meta: MetadataStore, artifact_id: str, *, depth: int = 3, max_nodes: int = 150
) -> dict[str, Any]:
    """Nodes, edges and a layout of the lineage around `artifact_id`."""
    nodes: dict[str, dict[str, Any]] = {}
    edges: set[tuple[str, str, str]] = set()  # (from, to, label)
    truncated = False

    def full() -> bool:
        return len(nodes) >= max_nodes

    nodes[f"a:{artifact_id}"] = {"kind": "artifact", "artifact_id": artifact_id, "root": True}
    # upstream: artifact ← producer step ← its inputs ← ...
    frontier = [artifact_id]
    for _ in range(depth):
        if not frontier or full():
            truncated = truncated or bool(frontier)
            break
        info = artifacts_by_id(meta, frontier)
        producers = {
            a: info[a]["producer_id"] for a in frontier if info.get(a, {}).get("producer_id")
        }
        steps = _steps(meta, sorted(set(producers.values())))
        outputs = {(e.step_run_id, e.artifact_id): e.name for e in _edges(meta, list(steps), "out")}
        for artifact, producer in producers.items():
            if producer not in steps:
                continue
            key = f"s:{producer}"
            nodes.setdefault(key, {"kind": "step", **steps[producer]})
            edges.add((key, f"a:{artifact}", outputs.get((producer, artifact), "")))
        next_frontier = []
        for edge in _edges(meta, list(steps), "in"):
            key = f"a:{edge.artifact_id}"
            if key not in nodes:
                if full():
                    truncated = True
                    continue
                nodes[key] = {"kind": "artifact", "artifact_id": edge.artifact_id}
                next_frontier.append(edge.artifact_id)
            edges.add((key, f"s:{edge.step_run_id}", edge.name))
        frontier = next_frontier
    # downstream: artifact → consuming steps → their outputs → ...
    frontier = [artifact_id]
    for _ in range(depth):
        if not frontier or full():
            truncated = truncated or bool(frontier)
            break
        consumed: list[tuple[str, str, str, int]] = []
        for artifact in frontier:
            consumed += [(artifact, *c) for c in _consumers(meta, artifact, limit=25)]
        steps = _steps(meta, sorted({c[1] for c in consumed}))
        for artifact, step_run, name, count in consumed:
            if step_run not in steps:
                continue
            key = f"s:{step_run}"
            if key not in nodes:
                if full():
                    truncated = True
                    continue
                nodes[key] = {"kind": "step", **steps[step_run], "count": count}
            edges.add((f"a:{artifact}", key, name))
        next_frontier = []
        reached = [key[2:] for key in nodes if key.startswith("s:") and key[2:] in steps]
        for edge in _edges(meta, reached, "out"):
            key = f"a:{edge.artifact_id}"
            if key not in nodes:
                if full():
                    truncated = True
                    continue
                nodes[key] = {"kind": "artifact", "artifact_id": edge.artifact_id}
                next_frontier.append(edge.artifact_id)
            edges.add((f"s:{edge.step_run_id}", key, edge.name))
        frontier = next_frontier
    info = artifacts_by_id(meta, [n["artifact_id"] for n in nodes.values() if "artifact_id" in n])
    for node in nodes.values():
        if node["kind"] == "artifact":
            found = info.get(node["artifact_id"], {})
            node["type_name"] = found.get("type_name")
            node["size"] = found.get("size")
    # a step that wrote back an artifact it read (a check returning its input unchanged) did
    # not make it: its output is drawn on its input edge, "passed through", not as a loop
    reads = {(b, a): label for a, b, label in edges if a.startswith("a:")}
    passed = {(a, b): label for a, b, label in edges if a.startswith("s:") and (a, b) in reads}
    drawn = sorted(e for e in edges if (e[0], e[1]) not in passed)
    names = list(nodes)
    placed = layout(names, [(a, b) for a, b, _ in drawn], node_w=170, node_h=42)
    routes = {(a, b): points for a, b, points in placed.edges}
    cut = set(placed.cut)
    return {
        "artifact_id": artifact_id,
        "nodes": [
            {**node, "id": key, "x": placed.positions[key][0], "y": placed.positions[key][1]}
            for key, node in nodes.items()
        ],
        "edges": [
            {
                "source": a,
                "target": b,
                "label": label,
                "points": routes.get((a, b), []),
                "passed_through": passed.get((b, a)),
                "back": (a, b) in cut,
            }
            for a, b, label in drawn
        ],
        "width": placed.width,
        "height": placed.height,
        "node_width": 170,
        "node_height": 42,
        "truncated": truncated,
    }
