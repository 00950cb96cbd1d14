"""`conveyor watch` and `conveyor triggers list|history`: the closed loop from the command line."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from conveyor.cli._output import err, out, print_json, reported_errors, when
from conveyor.cli._typer import group

app = group("Triggers: what runs pipelines by itself, and what it did.")


def _triggers(files: list[Path] | None) -> tuple[list[Any], list[str]]:
    from conveyor.automation import from_python, from_toml

    triggers, errors = from_toml()
    for file in files or []:
        triggers += from_python(file)
    return triggers, errors


def watch(
    files: Annotated[
        list[Path] | None, typer.Argument(help="Python files defining Trigger objects.")
    ] = None,
    interval: Annotated[float, typer.Option(min=0.05, help="Seconds between passes.")] = 1.0,
    duration: Annotated[
        float | None, typer.Option(min=0, help="Stop after this many seconds (default: never).")
    ] = None,
    max_runs: Annotated[int, typer.Option(min=1, help="Runs at once, all triggers together.")] = 2,
) -> None:
    """Evaluate the triggers (from conveyor.toml and FILES) and launch their pipelines.

    Each firing is recorded with its reason and run; a run's own gate decides whether its model
    is promoted. Stop with Ctrl-C: running pipelines finish and are recorded.

    Example: conveyor watch triggers.py --interval 5
    """
    import signal
    import threading

    with reported_errors():
        from conveyor.automation import Watcher

        triggers, errors = _triggers(files)
        for message in errors:
            err.print(f"[yellow]warning:[/] {escape(message)}")
        watcher = Watcher(triggers, max_runs=max_runs, echo=lambda m: out.print(escape(m)))
        if not watcher.triggers:
            err.print("[yellow]no trigger to watch[/]" + (": all are faulty" if triggers else ""))
            raise typer.Exit(1 if triggers else 0)
        for trigger in watcher.triggers:
            out.print(f"watching {escape(trigger.name)}: {escape(trigger.describe())}")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            watcher.run(interval=interval, stop=stop, duration=duration)
        except KeyboardInterrupt:
            out.print("stopping: waiting for running pipelines")
            watcher.wait()


@app.command("list")
def list_triggers(
    files: Annotated[list[Path] | None, typer.Argument(help="Python files with triggers.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The configured triggers, whether they are valid, and their last firing."""
    with reported_errors():
        from conveyor.automation import Watcher

        triggers, errors = _triggers(files)
        watcher = Watcher(triggers)
        checked = watcher.store.checks()
        rows = []
        for trigger in triggers:
            last = watcher.store.last(trigger.name)
            seen = checked.get(trigger.name)  # its problems as last recorded, by any watcher
            since = seen.at if seen is not None and (seen.error or seen.warnings) else None
            rows.append(
                {
                    "name": trigger.name,
                    "when": trigger.describe(),
                    "pipeline": trigger.pipeline,
                    "params": dict(trigger.params),
                    "cooldown_s": trigger.cooldown_s,
                    "max_concurrent": trigger.max_concurrent,
                    # what is wrong with it now, else what its last check failed on
                    "error": watcher.faulty.get(trigger.name) or (seen.error if seen else None),
                    "warnings": seen.warnings if seen else [],
                    "problems_since": since,
                    "last": dataclasses.asdict(last) if last else None,
                }
            )
    if as_json:
        print_json({"triggers": rows, "errors": errors})
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for column in ("trigger", "when", "pipeline", "last fired", "status"):
        table.add_column(column)
    for row in rows:
        last = row["last"]
        status = last["status"] if last else "-"
        if row["error"]:
            status = f"[red]faulty: {escape(row['error'])}[/]"
        elif row["warnings"]:
            status += "".join(f"\n[yellow]warning: {escape(w)}[/]" for w in row["warnings"])
        table.add_row(
            escape(row["name"]),
            escape(row["when"]),
            escape(row["pipeline"]),
            when(last["fired_at"]) if last else "-",
            status,
        )
    out.print(table)
    for message in errors:
        out.print(f"[red]error:[/] {escape(message)}")


@app.command("history")
def history(
    trigger: Annotated[str | None, typer.Option(help="Only this trigger.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Newest first, at most this many.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every firing — when, why, which run it started and how that run ended — and every change
    of a trigger's problems (a check that failed, warnings about the live data).

    In --json, each entry has a `kind`: "firing" (the recorded event's fields) or "check"
    (`error` and `warnings` from then on; both empty: the problems ended), and a time `at`.
    """
    with reported_errors():
        from conveyor.metadata.trigger_store import TriggerStore
        from conveyor.workspace import open_workspace

        store = TriggerStore(open_workspace().metadata)
        events = store.history(trigger, limit)
        checks = store.check_history(trigger, limit)
    entries = [{"kind": "firing", "at": e.fired_at, **dataclasses.asdict(e)} for e in events]
    entries += [{"kind": "check", **dataclasses.asdict(check)} for check in checks]
    entries.sort(key=lambda e: e["at"] or 0.0, reverse=True)
    entries = entries[:limit]
    if as_json:
        print_json(entries)
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for column in ("fired", "trigger", "status", "run", "reason"):
        table.add_column(column)
    for entry in entries:
        if entry["kind"] == "check":
            status, reason = _problems(entry)
            table.add_row(when(entry["at"]), escape(entry["trigger"]), status, "-", reason)
            continue
        table.add_row(
            when(entry["at"]),
            escape(entry["trigger"]),
            entry["status"],
            entry["run_id"][:12] if entry["run_id"] else "-",
            escape(entry["reason"]),
        )
    out.print(table)


def _problems(entry: dict[str, Any]) -> tuple[str, str]:
    """A check entry's status and text in `triggers history`."""
    if entry["error"]:
        return "[red]error[/]", f"[red]{escape(entry['error'])}[/]"
    if entry["warnings"]:
        return "[yellow]warning[/]", escape("; ".join(entry["warnings"]))
    return "ok", "problems ended: the check passed"


def demo(
    folder: Annotated[
        Path, typer.Argument(help="Where to put the demo project (replaced if it exists).")
    ] = Path("conveyor-demo"),
) -> None:
    """The whole lifecycle in one command, on bundled data and the embedded defaults: train and
    register, serve, send traffic, drift, detect, retrain, gate, promote, swap, report.

    Example: conveyor demo
    """
    with reported_errors():
        from conveyor.demo.lifecycle import run_demo

        try:
            run_demo(folder.resolve(), echo=lambda line: out.print(escape(line)))
        except (RuntimeError, TimeoutError) as error:
            err.print(f"[bold red]demo stopped:[/] {escape(str(error))}")
            err.print(f"logs: {folder / 'serve.log'}, {folder / 'watch.log'}")
            raise typer.Exit(1) from None
