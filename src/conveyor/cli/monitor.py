"""`conveyor monitor`: drift, data quality and live performance of a served model."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from conveyor.cli._output import EXIT_USAGE, fail, out, print_json, reported_errors

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _window(text: str | None) -> tuple[float | None, bool]:
    """`500` → the newest 500 rows; `30m` → the rows of the last 30 minutes (before now)."""
    if text is None:
        return None, False
    if text.isdigit() and int(text) > 0:
        return int(text), False
    match = _DURATION.match(text)
    if match is None:
        raise fail(f"--window {text!r}: give a row count (500) or a duration (30m, 2h, 1d)")
    return float(match.group(1)) * _UNIT[match.group(2)], True


EXIT_DRIFT = 1
EXIT_LOST_FEATURES = 3
EXIT_EMPTY_WINDOW = 4


def monitor(
    ref: Annotated[str, typer.Argument(help="NAME, NAME@ALIAS or NAME:VERSION.")],
    since: Annotated[
        str | None, typer.Option(help="Only live rows since: seconds ago (3600) or an ISO time.")
    ] = None,
    window: Annotated[
        str | None,
        typer.Option(help="The newest N rows, or a duration before now like 30m / 2h / 1d."),
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
    quality and, once feedback labels arrive, live metrics. From the log, only the rows served
    by the version monitored count. Results are stored as a time series.

    Exit codes: 0 no drift; 1 the dataset drifted; 2 bad usage (or the --html file cannot be
    written); 3 no dataset drift, but a feature could not be compared (missing from the live
    data, or without a usable value: a data-quality failure); 4 the window has no rows.

    Examples:

      conveyor monitor penguins@production --since 3600 --html drift.html

      conveyor monitor churn --data new_customers.parquet --json
    """
    from conveyor.cli.serve import _since

    count, in_seconds = _window(window)
    if html is not None:
        _check_writable(html)
    with reported_errors(failed=EXIT_USAGE):  # exit 1 means "drifted" here
        from conveyor.exceptions import EmptyWindowError
        from conveyor.monitoring.monitor import monitor as evaluate

        frame = None
        if data is not None:
            from conveyor.components._ingest import read_source

            frame, _ = read_source(str(data))
        try:
            report = evaluate(
                ref, data=frame, since=_since(since), window=count, window_in_seconds=in_seconds
            )
        except EmptyWindowError as error:
            raise fail(escape(str(error)), EXIT_EMPTY_WINDOW) from None
        if html is not None:
            from conveyor.metadata.monitor_store import MonitorStore
            from conveyor.monitoring.html import render
            from conveyor.workspace import open_workspace

            history = MonitorStore(open_workspace().metadata).series(report.model)
            try:
                html.write_text(render(report.to_json(), history), encoding="utf-8")
            except OSError as error:
                raise fail(
                    f"--html {escape(str(html))}: cannot write the report: {error}"
                ) from None
    if as_json:
        print_json(report.to_json() | ({"html": str(html)} if html else {}))
    else:
        _print(report)
        if html is not None:
            out.print(f"report written to {escape(str(html))}")
    if report.status == "drift":
        raise typer.Exit(EXIT_DRIFT)
    if report.status == "lost_features":
        raise typer.Exit(EXIT_LOST_FEATURES)


def _check_writable(path: Path) -> None:
    """Refuse an --html path that cannot be written before anything is evaluated or stored."""
    import os

    problem = None
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        problem = "it is a directory"
    elif not parent.is_dir():
        problem = f"the directory {str(parent)!r} does not exist"
    elif not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        problem = "permission denied"
    if problem is not None:
        raise fail(f"--html {escape(str(path))}: cannot write the report file: {problem}")


def _print(report: Any) -> None:
    from rich.table import Table

    drift = report.drift
    verdict = {
        "drift": "[bold red]DRIFT[/]",
        "lost_features": "[bold red]FEATURES LOST[/] (a data-quality failure)",
    }.get(report.status, "[green]no dataset drift[/]")
    window = report.window
    lost = drift["lost_features"]
    served = f" served by {escape(window['served_by'])}" if window.get("served_by") else ""
    span = f" ({escape(window['span'])})" if window.get("span") else ""
    out.print(
        f"[bold]{escape(report.model)}:{report.version}[/] {verdict}: "
        f"{drift['share']:.0%} of {drift['features']} features drifted"
        + (f" or lost ({len(lost)} lost)" if lost else "")
        + f", {window['rows']} rows{served} from the {window['source']}{span}"
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
            else ("ok" if feature["statistics"] else "[red]not compared[/]"),
            escape(", ".join(notes)),
        )
    compared = {f["feature"] for f in report.features}
    for name in lost:
        if name not in compared:
            table.add_row(escape(name), "-", "", "[red]missing[/]", "column missing")
    out.print(table)
    if report.prediction:
        state = "drifted" if report.prediction["drifted"] else "stable"
        numbers = ", ".join(f"{k} {v:.3g}" for k, v in report.prediction["statistics"].items())
        out.print(f"predictions: {state} ({numbers})")
    if report.performance:
        perf = report.performance
        numbers = ", ".join(
            f"{k} {v:.3g} ({perf['change'].get(k, 0):+.3g} vs registered"
            + (", worse" if k in perf["worse"] else "")
            + ")"
            for k, v in perf["metrics"].items()
        )
        out.print(f"performance on {perf['rows']} labelled rows: {numbers}")
    for warning in report.warnings:
        out.print(f"[yellow]warning:[/] {escape(warning)}")
