"""`conveyor logs RUN [STEP]`: what steps printed, streamed while they run."""

from __future__ import annotations

import sys
import time
from typing import Annotated

import typer

from conveyor.cli._output import out, reported_errors


def logs(
    run_id: Annotated[str, typer.Argument(help="Run id, unique prefix, or 'latest'.")],
    step: Annotated[str | None, typer.Argument(help="Only this step.")] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing until the run ends.")
    ] = False,
) -> None:
    """Print the captured stdout/stderr of a run's steps (of a running step: so far).

    Examples:

      conveyor logs latest

      conveyor logs 3fa2c9 train --follow
    """
    from conveyor.run.capture import live_log_path
    from conveyor.workspace import open_workspace

    with reported_errors():
        ws = open_workspace()
        meta = ws.metadata
        run = meta.get_run(meta.resolve_run_id(run_id))
        if step is not None and step not in {s.name for s in meta.step_runs(run.id)}:
            live = live_log_path(ws.settings.home, run.id, step)
            if run.status != "running" and not live.exists():
                from conveyor.exceptions import NotFoundError

                raise NotFoundError(f"run {run.id[:12]} has no step {step!r}")
    printed: dict[str, int] = {}
    while True:
        steps = {s.name: s for s in meta.step_runs(run.id)}
        names = [step] if step else list(steps)
        for name in names:
            record = steps.get(name)
            if record is not None:
                text = (record.stdout or "") + (record.stderr or "")
            else:
                live = live_log_path(ws.settings.home, run.id, name)
                text = live.read_text(errors="replace") if live.exists() else ""
            done = printed.get(name, 0)
            if len(text) > done:
                if done == 0 and not step:
                    out.print(f"[bold]── {name} ──[/]")
                sys.stdout.write(text[done:])
                sys.stdout.flush()
                printed[name] = len(text)
        if not follow or meta.get_run(run.id).status != "running":
            return
        if step is None:  # a running step's live log: show it as it grows
            home = ws.settings.home / "logs" / run.id
            for live in sorted(home.glob("*.log")) if home.is_dir() else ():
                name = live.stem
                text = live.read_text(errors="replace")
                if name not in steps and len(text) > printed.get(name, 0):
                    if printed.get(name, 0) == 0:
                        out.print(f"[bold]── {name} (running) ──[/]")
                    sys.stdout.write(text[printed.get(name, 0) :])
                    printed[name] = len(text)
        time.sleep(0.5)
