"""`conveyor runs list|show`: what ran, when, and how it went."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from conveyor.cli._output import out, print_json, reported_errors, seconds, status, when
from conveyor.cli._typer import group

app = group("List and inspect recorded runs.")


@app.command("list")
def list_runs(
    pipeline: Annotated[str | None, typer.Option(help="Only runs of this pipeline.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="How many runs, newest first.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List recent runs, newest first.

    Example: conveyor runs list --pipeline training --limit 5
    """
    from conveyor.config import Settings
    from conveyor.metadata import fastread

    with reported_errors():
        records = fastread.list_runs(Settings.load().db, pipeline, limit)
        if records is None:  # not the embedded SQLite store: the full metadata store
            from conveyor.workspace import open_workspace

            records = open_workspace().metadata.list_runs(pipeline, limit)
    if as_json:
        print_json([_run_summary(r) for r in records])
        return
    if not records:
        out.print("no runs yet: start one with `conveyor run FILE.py:PIPELINE`")
        return
    table = Table(box=None)
    widths = {
        "run": 12,
        "pipeline": max(len(r.pipeline) for r in records),
        "status": max(len(r.status) for r in records),
        "started": 19,
        "duration": 8,
    }
    for column, width in widths.items():
        table.add_column(column, no_wrap=True, min_width=max(width, len(column)))
    table.add_column("params", overflow="ellipsis", no_wrap=True)  # the one that gives way
    for r in records:
        params = ", ".join(f"{k}={v}" for k, v in r.params.items())
        table.add_row(
            r.id[:12],
            r.pipeline,
            status(r.status),
            when(r.started_at),
            seconds(r.duration_s),
            escape(params[:60]),
        )
    out.print(table)


@app.command("show")
def show(
    run_id: Annotated[str, typer.Argument(help="Run id, unique prefix, or 'latest'.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a run: params, environment, steps, metrics; for failures the traceback and output.

    Example: conveyor runs show latest
    """
    from conveyor.workspace import open_workspace

    with reported_errors():
        meta = open_workspace().metadata
        record = meta.get_run(meta.resolve_run_id(run_id))
        steps = meta.step_runs(record.id)
        metrics = meta.metrics(record.id)
        params = meta.step_params(record.id)
    names = {s.id: s.name for s in steps}
    if as_json:
        data = _run_summary(record)
        data["steps"] = [dataclasses.asdict(s) for s in steps]
        for step in data["steps"]:
            step["params"] = params.get(step["id"], {})
            step["attempt_log"] = [dataclasses.asdict(a) for a in meta.attempts(step["id"])]
        data["installed_packages"] = (
            meta.environment(record.environment_id) if record.environment_id else {}
        )
        data["metrics"] = [
            {"step": names.get(m.step_run_id), "name": m.name, "value": m.value, "index": m.step}
            for m in metrics
        ]
        print_json(data)
        return
    _print_run(record, steps, metrics, names)


def _run_summary(r: Any) -> dict[str, Any]:
    return {
        "run_id": r.id,
        "pipeline": r.pipeline,
        "pipeline_version": r.pipeline_version,
        "status": r.status,
        "params": r.params,
        "started_at": r.started_at,
        "ended_at": r.ended_at,
        "duration_s": r.duration_s,
        "error": r.error,
        "outputs": r.outputs,
        "git_commit": r.git_commit,
        "git_dirty": r.git_dirty,
        "python_version": r.python_version,
        "packages": r.packages,
        "host": r.host,
        "pid": r.pid,
        "resumed_from": r.resumed_from,
        "pipeline_ref": r.pipeline_ref,
        "environment_id": r.environment_id,
    }


def _print_run(record: Any, steps: list[Any], metrics: list[Any], names: dict[str, str]) -> None:
    out.print(f"[bold]run {record.id}[/]  {record.pipeline}  {status(record.status)}")
    out.print(f"  started {when(record.started_at)}, took {seconds(record.duration_s)}")
    if record.params:
        out.print("  params: " + escape(", ".join(f"{k}={v!r}" for k, v in record.params.items())))
    git = record.git_commit[:12] if record.git_commit else "not a git checkout"
    dirty = " (+ uncommitted changes)" if record.git_dirty else ""
    out.print(f"  code: {git}{dirty}; python {record.python_version} on {record.host}")
    if record.error:
        out.print(f"  [red]{escape(record.error)}[/]")
    table = Table(box=None, title="steps", title_justify="left")
    for column in ("step", "status", "time", "attempts", "outputs"):
        table.add_column(column)
    for s in steps:
        outputs = ", ".join(f"{k}={v[:10]}" for k, v in s.outputs.items())
        table.add_row(
            escape(s.name),
            status(s.status, s.cached),
            seconds(s.duration_s),
            str(s.attempts),
            escape(outputs),
        )
    out.print(table)
    if metrics:
        mt = Table(box=None, title="metrics", title_justify="left")
        for column in ("step", "metric", "value", "index"):
            mt.add_column(column)
        for m in metrics:
            mt.add_row(
                escape(names.get(m.step_run_id, "?")),
                escape(m.name),  # per-slice names look like markup: accuracy[island=Biscoe]
                f"{m.value:.6g}",
                "" if m.step is None else str(m.step),
            )
        out.print(mt)
    for s in steps:
        if s.status not in ("failed", "timed_out"):
            continue
        out.print(
            f"\n[bold red]step {escape(s.name)} failed[/]: "
            f"{escape(s.error_type or '')}: {escape(s.error_message or '')}"
        )
        if s.attempts > 1:
            out.print(f"  {s.attempts} attempts")
        if s.traceback:
            out.print(escape(s.traceback.rstrip()), markup=True)
        for stream in ("stdout", "stderr"):
            text = getattr(s, stream)
            if text:
                out.print(f"[dim]--- captured {stream} ---[/]")
                out.print(escape(text.rstrip()))
