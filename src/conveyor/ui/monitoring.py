"""The monitoring page's data: drift per feature over time, the latest report, its histograms.

Monitoring stores one row per evaluation, feature and metric (`MonitorStore`), and since schema
0006 a report also stores the distributions it compared: a `histogram` row per feature whose
`details` hold the reference and current shares. The latest report's histograms are read from
there (`source` "report"). Reports written before 0006 stored numbers only; for those the
histograms are rebuilt: when the report was computed on a window of the prediction log, that
window is read again and evaluated with the same code (`conveyor.monitoring.monitor`, nothing
stored, and only the rows the monitored version served, as the report counted them) — `source`
"log"; when it was computed on a frame given directly, that data is gone and the page shows the
reference distributions captured at registration, and says so — `source` "reference".

A report's `drift_share` row keeps the thresholds it was judged by (`details`); each plotted point
carries its own report's, so a threshold line is drawn where it was at each point (reports stored
without them were judged by the defaults, `DriftThresholds()`). `warning` rows are a report's
messages: listed with the latest report, never plotted.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections import OrderedDict
from typing import Any

import sqlalchemy as sa

from conveyor.metadata import schema as t
from conveyor.metadata.model_store import ModelStore
from conveyor.metadata.monitor_store import MonitorStore
from conveyor.metadata.store import MetadataStore
from conveyor.monitoring.drift import DriftThresholds
from conveyor.workspace import Workspace

__all__ = ["histograms", "latest_report", "monitored_models", "series", "thresholds_of"]

_CACHE: OrderedDict[str, dict[str, Any]] = OrderedDict()
_LOCK = threading.Lock()
#: the thresholds of reports stored without theirs (before they were kept with the report)
DEFAULTS: dict[str, Any] = dataclasses.asdict(DriftThresholds())
#: the metric each kind of feature is judged by (its threshold has the same name)
PRIMARY = ("psi", "js")


def monitored_models(meta: MetadataStore) -> list[dict[str, Any]]:
    """Models with monitoring results: evaluations, the last one's time and verdict."""
    c = t.monitor_results.c
    rows = meta.conn.execute(
        sa.select(c.model, sa.func.count(sa.distinct(c.report_id)), sa.func.max(c.at))
        .group_by(c.model)
        .order_by(c.model)
    ).all()
    found = []
    for model, reports, last in rows:
        share = meta.conn.execute(
            sa.select(c.value, c.drifted, c.version)
            .where(c.model == model, c.metric == "drift_share", c.feature.is_(None))
            .order_by(c.at.desc(), c.id.desc())
            .limit(1)
        ).first()
        found.append(
            {
                "model": model,
                "reports": int(reports),
                "last_at": last,
                "version": share.version if share else None,
                "drift_share": share.value if share else None,
                "drifted": bool(share.drifted) if share and share.drifted is not None else None,
            }
        )
    return found


def thresholds_of(row: Any) -> dict[str, Any]:
    """The thresholds a report was judged by, from its `drift_share` row (`details`); the
    defaults for a report stored without them."""
    try:
        stored = json.loads(row.details or "{}").get("thresholds") or {}
    except (ValueError, AttributeError):
        stored = {}
    return {**DEFAULTS, **stored}


def series(meta: MetadataStore, model: str, since: float | None = None) -> dict[str, Any]:
    """Every stored number of `model` as time series, grouped for plotting.

    Each drift point carries the threshold its report was judged by (`threshold`), so a plot
    draws the line where it was for each report, even when the thresholds changed.
    """
    rows = MonitorStore(meta).series(model, since=since)
    judged = {
        r.report_id: thresholds_of(r)
        for r in rows
        if r.kind == "drift" and r.feature is None and r.metric == "drift_share"
    }
    dataset: list[dict[str, Any]] = []
    features: dict[str, dict[str, Any]] = {}
    other: dict[str, dict[str, list[list[Any]]]] = {}
    for r in rows:
        if r.kind in ("histogram", "warning"):
            continue  # distributions and messages, not numbers over time: see latest_report
        limits = judged.get(r.report_id, DEFAULTS)
        if r.kind == "drift" and r.feature is None:
            dataset.append(
                {
                    "at": r.at,
                    "value": r.value,
                    "drifted": r.drifted,
                    "version": r.version,
                    "threshold": limits["share"],
                }
            )
        elif r.kind == "drift":
            entry = features.setdefault(r.feature, {"primary": None, "metrics": {}})
            threshold = limits.get(r.metric) if r.metric in PRIMARY else None
            point = [r.at, r.value, r.drifted, r.version, r.report_id, threshold]
            entry["metrics"].setdefault(r.metric, []).append(point)
            if r.metric in PRIMARY:
                entry["primary"] = r.metric
        else:
            point = [r.at, r.value, r.drifted, r.version, r.report_id, None]
            label = r.kind if r.feature is None else f"{r.kind}: {r.feature}"
            other.setdefault(label, {}).setdefault(r.metric, []).append(point)
    for entry in features.values():  # the latest report's, for a single line
        points = entry["metrics"].get(entry["primary"]) or []
        entry["threshold"] = points[-1][5] if points else None
    return {"model": model, "drift_share": dataset, "features": features, "other": other}


def latest_report(meta: MetadataStore, model: str) -> dict[str, Any] | None:
    """The most recent evaluation of `model`: its window, verdict, the thresholds it was
    judged by, per-feature numbers and the warnings it raised."""
    rows = MonitorStore(meta).latest(model)
    if not rows:
        return None
    first = rows[0]
    features: dict[str, dict[str, Any]] = {}
    report: dict[str, Any] = {
        "report_id": first.report_id,
        "version": first.version,
        "at": first.at,
        "rows": first.rows,
        "window_start": first.window_start,
        "window_end": first.window_end,
        "drift_share": None,
        "drifted": None,
        "thresholds": None,
        "prediction": {},
        "performance": {},
        "quality": {},
        "warnings": [],
    }
    for r in rows:
        if r.kind == "histogram":
            continue
        if r.kind == "warning":
            try:
                message = json.loads(r.details or "{}").get("message")
            except (ValueError, AttributeError):
                message = None
            report["warnings"].append({"feature": r.feature, "message": message or r.details})
        elif r.kind == "drift" and r.feature is None:
            report["drift_share"], report["drifted"] = r.value, r.drifted
            report["thresholds"] = thresholds_of(r)
        elif r.kind == "drift":
            entry = features.setdefault(r.feature, {"feature": r.feature, "statistics": {}})
            entry["statistics"][r.metric] = r.value
            entry["drifted"] = r.drifted
        elif r.kind == "quality":
            report["quality"].setdefault(r.feature or "", {})[r.metric] = r.value
        else:  # prediction | performance (and kinds this version does not know)
            report.setdefault(r.kind, {})[r.metric] = r.value
    report["features"] = list(features.values())
    return report


def histograms(ws: Workspace, model: str) -> dict[str, Any]:
    """Reference and current distributions per feature of the latest report (see the module)."""
    rows = MonitorStore(ws.metadata).latest(model)
    if not rows:
        return {"report_id": None, "source": None, "note": "no monitoring results", "features": []}
    first = rows[0]
    with _LOCK:
        if first.report_id in _CACHE:
            return _CACHE[first.report_id]
    result = _stored(rows)
    if result is None and first.window_start is not None and first.window_end is not None:
        result = _recomputed(ws, model, first)
    if result is None:
        result = _reference_only(ws, model, first)
    with _LOCK:
        _CACHE[first.report_id] = result
        while len(_CACHE) > 16:
            _CACHE.popitem(last=False)
    return result


def _stored(rows: list[Any]) -> dict[str, Any] | None:
    """The histograms the report stored with its numbers (reports since schema 0006)."""
    kept = [r for r in rows if r.kind == "histogram" and r.details]
    if not kept:
        return None
    features = []
    for r in kept:
        histogram = json.loads(r.details)
        features.append(
            {
                "feature": r.feature,
                "kind": histogram.pop("kind", "numeric"),
                "drifted": bool(r.drifted),
                **_bins(histogram),
            }
        )
    return {
        "report_id": rows[0].report_id,
        "source": "report",
        "note": f"The distributions the latest report compared ({rows[0].rows} live rows).",
        "features": features,
    }


def _recomputed(ws: Workspace, model: str, first: Any) -> dict[str, Any] | None:
    from conveyor.monitoring.monitor import monitor
    from conveyor.predictions import INPUT, read_log

    # the rows the monitored version served, as the report counted them
    frame = read_log(ws, model, since=first.window_start, version=first.version)
    frame = frame[frame["at"] <= first.window_end]
    if frame.empty:
        return None
    frame = frame.rename(columns=lambda c: c[len(INPUT) :] if c.startswith(INPUT) else c)
    report = monitor(f"{model}:{first.version}", data=frame, ws=ws, store=False)
    return {
        "report_id": first.report_id,
        "source": "log",
        "note": (
            "Recomputed from the prediction-log window of the latest report "
            f"({len(frame)} rows): the report predates stored histograms (schema 0006)."
        ),
        "features": [
            {
                "feature": f["feature"],
                "kind": f["kind"],
                "drifted": bool(f["drifted"]),
                **_bins(f["histogram"]),
            }
            for f in report.features
        ],
    }


def _bins(histogram: dict[str, Any]) -> dict[str, Any]:
    """Labels and shares of a drift histogram (numeric edges or categories)."""
    if "categories" in histogram:
        labels = list(histogram["categories"])
    else:
        edges = histogram.get("edges") or []
        labels = [f"{_edge(edges[i])}–{_edge(edges[i + 1])}" for i in range(len(edges) - 1)]
    return {
        "labels": labels,
        "reference": histogram.get("reference") or [],
        "current": histogram.get("current"),
    }


def _edge(value: float) -> str:
    """A bin edge for a label: 3 significant digits, no exponent below a million."""
    return f"{value:.0f}" if 1e3 <= abs(value) < 1e6 else f"{value:.3g}"


def _reference_only(ws: Workspace, model: str, first: Any) -> dict[str, Any]:
    found = ModelStore(ws.metadata).reference(model, first.version) if first.version else None
    features = []
    if found is not None:
        for name, spec in found[0].get("columns", {}).items():
            if "histogram" in spec:
                edges, counts = spec["histogram"]["edges"], spec["histogram"]["counts"]
                labels = [f"{_edge(edges[i])}–{_edge(edges[i + 1])}" for i in range(len(counts))]
                kind = "numeric"
            elif "top" in spec:
                labels, counts, kind = list(spec["top"]), list(spec["top"].values()), "categorical"
            else:
                continue
            total = sum(counts) or 1
            features.append(
                {
                    "feature": name,
                    "kind": kind,
                    "drifted": None,
                    "labels": labels,
                    "reference": [c / total for c in counts],
                    "current": None,
                }
            )
    return {
        "report_id": first.report_id,
        "source": "reference",
        "note": (
            "The latest report predates stored histograms (schema 0006) and was computed on "
            "data given directly (not the prediction log): shown are the reference "
            "distributions captured at registration. Drift per feature over time is plotted "
            "below."
        ),
        "features": features,
    }
