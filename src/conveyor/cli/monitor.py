"""`conveyor monitor`: drift, data quality and live performance of a served model."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from conveyor.cli._output import fail, out, print_json, reported_errors

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _window(text: str | None) -> tuple[float | None, bool]:
    """`500` → the last 500 rows; `30m` → the last 30 minutes of rows."""
    if text is None:
        return None, False
    if text.isdigit() and int(text) > 0:
        return int(text), False
    match = _DURATION.match(text)
    if match is None:
        raise fail(f"--window {text!r}: give a row count (500) or a duration (30m, 2h, 1d)")
    return float(match.group(1)) * _UNIT[match.group(2)], True


def monitor(
    ref: Annotated[str, typer.Argument(help="NAME, NAME@ALIAS or NAME:VERSION.")],
    since: Annotated[
        str | None, typer.Option(help="Only live rows since: seconds ago (3600) or an ISO time.")
    ] = None,
    window: Annotated[
        str | None, typer.Option(help="The last N rows, or a duration like 30m / 2h / 1d.")
    ] = None,
    data: Annotated[
        Path | None, typer.Option(help="Compare this CSV/Parquet file instead of the live log.")
    ] = None,
    html: Annotated[
        Path | None, typer.Option(help="Also write a self-contained HTML report.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Compare live data (the prediction log, or --data) with the model's training reference:
    drift per feature (PSI and KS; chi-squared and Jensen-Shannon), prediction drift, data
    quality and, once feedback labels arrive, live metrics. Results are stored as a time series.
    Exits 1 when the dataset drifted.

    Examples:

      conveyor monitor penguins@production --since 3600 --html drift.html

      conveyor monitor churn --data new_customers.parquet --json
    """
    from conveyor.cli.serve import _since

    count, in_seconds = _window(window)
    with reported_errors():
        from conveyor.monitoring.monitor import monitor as evaluate

        frame = None
        if data is not None:
            from conveyor.components._ingest import read_source

            frame, _ = read_source(str(data))
        report = evaluate(
            ref, data=frame, since=_since(since), window=count, window_in_seconds=in_seconds
        )
        if html is not None:
            from conveyor.metadata.monitor_store import MonitorStore
            from conveyor.monitoring.html import render
            from conveyor.workspace import open_workspace

            history = MonitorStore(open_workspace().metadata).series(report.model, "drift_share")
            html.write_text(render(report.to_json(), history), encoding="utf-8")
    if as_json:
        print_json(report.to_json() | ({"html": str(html)} if html else {}))
    else:
        _print(report)
        if html is not None:
            out.print(f"report written to {html}")
    if report.drift["drifted"]:
        raise typer.Exit(1)


def _print(report: Any) -> None:
    from rich.table import Table

    drift = report.drift
    verdict = "[bold red]DRIFT[/]" if drift["drifted"] else "[green]no dataset drift[/]"
    out.print(
        f"[bold]{escape(report.model)}:{report.version}[/] {verdict}: "
        f"{drift['share']:.0%} of {drift['features']} features drifted, "
        f"{report.window['rows']} rows from the {report.window['source']}"
    )
    table = Table(box=None, pad_edge=False)
    for column in ("feature", "kind", "statistics", "verdict", "quality"):
        table.add_column(column)
    for feature in report.features:
        stats = ", ".join(f"{k}={v:.3g}" for k, v in feature["statistics"].items())
        quality = report.quality.get(feature["feature"], {})
        notes = [f"missing {quality.get('missing_rate', 0):.1%}"]
        if quality.get("out_of_range"):
            notes.append(f"{quality['out_of_range']} out of range")
        if quality.get("not_numeric"):
            notes.append(f"{quality['not_numeric']} not numbers")
        if quality.get("new_categories"):
            notes.append(f"new {quality['new_categories'][:3]}")
        table.add_row(
            escape(feature["feature"]),
            feature["kind"],
            stats,
            "[red]drifted[/]"
            if feature["drifted"]
            else ("ok" if feature["statistics"] else "not compared"),
            escape(", ".join(notes)),
        )
    out.print(table)
    if report.prediction:
        state = "drifted" if report.prediction["drifted"] else "stable"
        js = report.prediction["statistics"].get("js", 0.0)
        out.print(f"predictions: {state} (JS {js:.3g})")
    if report.performance:
        perf = report.performance
        numbers = ", ".join(
            f"{k} {v:.3g} ({perf['change'].get(k, 0):+.3g} vs registered)"
            for k, v in perf["metrics"].items()
        )
        out.print(f"performance on {perf['rows']} labelled rows: {numbers}")
    for warning in report.warnings:
        out.print(f"[yellow]warning:[/] {escape(warning)}")
