"""A self-contained HTML monitoring report: no scripts, no network, plots as inline SVG.

For each drifted feature (or every feature with `all_features`): the reference and current
distributions side by side; then, from the stored series of the version the report evaluated, the
drift share over time (against the share threshold the verdict used) and each live performance
metric over time (against the value it was registered with). One file that opens offline and can be
attached to a ticket.
"""

from __future__ import annotations

import html
import time
from collections.abc import Sequence
from typing import Any

from conveyor.metadata.monitor_store import MonitorResult

__all__ = ["render"]

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#1d2330}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0}td,th{padding:.25rem .6rem;text-align:left;
border-bottom:1px solid #eee}.bad{color:#b3261e;font-weight:600}.ok{color:#1b6e3a}
.grid{display:flex;flex-wrap:wrap;gap:1rem}.card{border:1px solid #e3e3e3;border-radius:6px;
padding:.6rem}.legend span{display:inline-block;width:.8rem;height:.8rem;margin:0 .3rem 0 .8rem}
"""
_REF, _CUR = "#8aa4c8", "#e07b39"


def _bars(labels: Sequence[str], reference: Sequence[float], current: Sequence[float]) -> str:
    """Grouped bars: reference and current share per bin or category."""
    width, height, pad = 420, 180, 24
    n = max(len(labels), 1)
    top = max([*reference, *current, 1e-9])
    slot = (width - 2 * pad) / n
    bars = []
    for i, (r, c) in enumerate(zip(reference, current, strict=True)):
        x = pad + i * slot
        for offset, value, colour in ((0.1, r, _REF), (0.5, c, _CUR)):
            h = (height - 2 * pad) * value / top
            bars.append(
                f'<rect x="{x + offset * slot:.1f}" y="{height - pad - h:.1f}" '
                f'width="{slot * 0.4:.1f}" height="{h:.1f}" fill="{colour}"/>'
            )
    step = max(1, n // 8)
    ticks = [
        f'<text x="{pad + (i + 0.5) * slot:.1f}" y="{height - 6}" font-size="10" '
        f'text-anchor="middle">{html.escape(labels[i][:10])}</text>'
        for i in range(0, n, step)
    ]
    return (
        f'<svg width="{width}" height="{height}" role="img">'
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" '
        f'stroke="#999"/>{"".join(bars)}{"".join(ticks)}</svg>'
    )


def _line(
    points: Sequence[tuple[float, float]], threshold: float | None = None, label: str = "threshold"
) -> str:
    width, height, pad = 520, 160, 28
    if not points:
        return "<p>no history yet</p>"
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    y1 = max([*ys, threshold or 0, 1e-9])
    y0 = min([*ys, threshold if threshold is not None else 0.0, 0.0])

    def sx(x: float) -> float:
        return pad + (width - 2 * pad) * (x - x0) / (x1 - x0)

    def sy(y: float) -> float:
        return height - pad - (height - 2 * pad) * (y - y0) / (y1 - y0)

    path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in points)
    dots = "".join(
        f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{_CUR}"/>' for x, y in points
    )
    line = ""
    if threshold is not None:
        line = (
            f'<line x1="{pad}" x2="{width - pad}" y1="{sy(threshold):.1f}" '
            f'y2="{sy(threshold):.1f}" stroke="#b3261e" stroke-dasharray="4 3"/>'
            f'<text x="{width - pad}" y="{sy(threshold) - 3:.1f}" font-size="10" '
            f'text-anchor="end" fill="#b3261e">{html.escape(label)} {threshold:.3g}</text>'
        )
    return (
        f'<svg width="{width}" height="{height}" role="img">{line}'
        f'<polyline points="{path}" fill="none" stroke="{_CUR}" stroke-width="2"/>{dots}'
        f'<text x="{pad}" y="14" font-size="10">max {y1:.3g}</text>'
        f'<text x="{pad}" y="{height - 8}" font-size="10">{time.ctime(x0)}</text>'
        f'<text x="{width - pad}" y="{height - 8}" font-size="10" text-anchor="end">'
        f"{time.ctime(x1)}</text></svg>"
    )


def _number(value: float) -> str:
    """A short axis label: whole numbers from a thousand up, 3 significant digits below."""
    return f"{value:.0f}" if 1e3 <= abs(value) < 1e7 else f"{value:.3g}"


def _feature_card(feature: dict[str, Any]) -> str:
    hist = feature.get("histogram") or {}
    if "edges" in hist:
        edges = hist["edges"]
        labels = [_number(edges[i]) for i in range(len(edges) - 1)]
    else:
        labels = hist.get("categories", [])
    plot = _bars(labels, hist.get("reference", []), hist.get("current", [])) if labels else ""
    stats = ", ".join(f"{k} = {v:.4g}" for k, v in feature["statistics"].items())
    verdict = (
        '<span class="bad">drifted</span>' if feature["drifted"] else '<span class="ok">ok</span>'
    )
    return (
        f'<div class="card"><b>{html.escape(feature["feature"])}</b> ({feature["kind"]}) '
        f"{verdict}<br><small>{html.escape(stats)}</small><br>{plot}</div>"
    )


def _over_time(report: dict[str, Any], history: Sequence[MonitorResult]) -> str:
    """The drift share and each performance metric over time, of the report's version only."""
    mine = [r for r in history if r.version == report["version"] and r.feature is None]
    share = [
        (r.at, r.value or 0.0) for r in mine if r.kind == "drift" and r.metric == "drift_share"
    ]
    line = (report.get("thresholds") or {}).get("share", 0.5)
    parts = [f"<h2>Drift share over time</h2>{_line(share, line, 'dataset drift at')}"]
    registered = (report.get("performance") or {}).get("registered") or {}
    metrics = sorted({r.metric for r in mine if r.kind == "performance"})
    for metric in metrics:
        points = [
            (r.at, r.value)
            for r in mine
            if r.kind == "performance" and r.metric == metric and r.value is not None
        ]
        base = registered.get(metric)
        base = base if isinstance(base, (int, float)) else None
        parts.append(
            f"<h2>Live {html.escape(metric)} over time</h2>{_line(points, base, 'registered')}"
        )
    return "".join(parts)


def render(
    report: dict[str, Any], history: Sequence[MonitorResult], all_features: bool = False
) -> str:
    """The report page for one evaluation (`MonitorReport.to_json()`) and its history (the stored
    results of the model; those of other versions are left out)."""
    drift = report["drift"]
    window = report["window"]
    shown = [f for f in report["features"] if f["drifted"] or all_features]
    rows = "".join(
        f"<tr><td>{html.escape(f['feature'])}</td><td>{f['kind']}</td><td>"
        + ", ".join(f"{k}={v:.3g}" for k, v in f["statistics"].items())
        + f'</td><td class="{"ok" if f["statistics"] and not f["drifted"] else "bad"}">'
        + ("drifted" if f["drifted"] else "ok" if f["statistics"] else "not compared")
        + "</td></tr>"
        for f in report["features"]
    )
    compared = {f["feature"] for f in report["features"]}
    rows += "".join(
        f'<tr><td>{html.escape(name)}</td><td>-</td><td></td><td class="bad">missing</td></tr>'
        for name in drift.get("lost_features") or []
        if name not in compared
    )
    quality = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{html.escape(_quality_text(entry))}</td></tr>"
        for name, entry in report["quality"].items()
    )
    perf = report.get("performance")
    perf_html = "<p>No feedback labels in this window yet.</p>"
    if perf:
        cells = "".join(
            f"<tr><td>{k}</td><td>{v:.4g}</td>"
            f"<td>registered {_value(perf['registered'].get(k))}</td></tr>"
            for k, v in perf["metrics"].items()
        )
        perf_html = f"<table>{cells}</table><p>{perf['rows']} labelled rows.</p>"
    prediction = report.get("prediction")
    pred_html = (
        _feature_card(prediction) if prediction else "<p>No prediction distribution to compare.</p>"
    )
    status = report.get("status", "drift" if drift["drifted"] else "ok")
    verdict = {"drift": "DRIFT", "lost_features": "FEATURES LOST"}.get(status, "no dataset drift")
    name = f"{html.escape(report['model'])}:{report['version']}"
    css_class = "ok" if status == "ok" else "bad"
    lost = drift.get("lost_features") or []
    served = f" served by {html.escape(window['served_by'])}" if window.get("served_by") else ""
    span = f" ({html.escape(window['span'])})" if window.get("span") else ""
    summary = (
        f"{drift['share']:.0%} of {drift['features']} features drifted"
        + (f" or lost ({len(lost)} lost: {html.escape(', '.join(lost))})" if lost else "")
        + f" · {window['rows']} rows{served} from the {html.escape(str(window['source']))}{span}"
        + f" · evaluated {time.ctime(report['at'])}"
    )
    warnings = "".join(f'<p class="bad">{html.escape(w)}</p>' for w in report["warnings"])
    cards = "".join(_feature_card(f) for f in shown) or "<p>None.</p>"
    legend = (
        f'<p class="legend"><span style="background:{_REF}"></span>reference'
        f'<span style="background:{_CUR}"></span>current</p>'
    )
    header = "<tr><th>feature</th><th>kind</th><th>statistics</th><th>verdict</th></tr>"
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Conveyor monitoring: {name}</title><style>{_CSS}</style></head><body>
<h1>{name} — <span class="{css_class}">{verdict}</span></h1>
<p>{summary}</p>{warnings}
<h2>Drifted features: reference vs current</h2>{legend}<div class="grid">{cards}</div>
{_over_time(report, history)}
<h2>All features</h2><table>{header}{rows}</table>
<h2>Predictions</h2>{pred_html}
<h2>Data quality</h2><table>{quality}</table>
<h2>Performance</h2>{perf_html}
</body></html>
"""


def _value(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, (int, float)) else "-"


def _quality_text(entry: dict[str, Any]) -> str:
    if entry.get("missing_column"):
        return "column missing from the live data: not compared, counted as drifted"
    parts = [
        f"missing {entry['missing_rate']:.1%} (reference {entry['reference_missing_rate']:.1%})"
    ]
    if entry.get("out_of_range"):
        parts.append(f"{entry['out_of_range']} values outside the reference range")
    if entry.get("not_numeric"):
        parts.append(f"{entry['not_numeric']} values that are not numbers")
    if entry.get("new_categories"):
        parts.append(f"new categories {entry['new_categories']}")
    if entry.get("not_compared"):
        parts.append("no usable value: not compared, counted as drifted")
    return "; ".join(parts)
