"""`conveyor resume` and `conveyor reproduce`: continue or re-check a recorded run."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from conveyor.cli._output import (
    EXIT_FAILED,
    out,
    print_json,
    reported_errors,
    status,
    steps_print_to_stderr,
)


def _observer(as_json: bool) -> Any:
    from conveyor.cli._progress import LiveProgress, PlainProgress

    if as_json:
        return None
    return LiveProgress(out) if out.is_terminal else PlainProgress(out)


def resume(
    run_id: Annotated[
        str, typer.Argument(help="The failed or interrupted run (id, prefix, latest).")
    ],
    trust: Annotated[
        bool, typer.Option("--trust", help="Allow loading pickled artifacts.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the new run as JSON.")] = False,
    executor: Annotated[str, typer.Option(help="local, process or ray.")] = "local",
    workers: Annotated[int | None, typer.Option(min=1, help="Parallel workers.")] = None,
    ray_address: Annotated[str | None, typer.Option(help="Ray cluster address.")] = None,
) -> None:
    """Continue a failed or interrupted run: same parameters, completed steps reused.

    Example: conveyor resume 3fa2c9 --executor ray --ray-address auto
    """
    from conveyor.cli.run_cmd import finish_run_command
    from conveyor.run.executors import make_executor
    from conveyor.run.replay import resume as resume_run

    with reported_errors(), steps_print_to_stderr(as_json):
        runner = make_executor(executor, workers=workers, ray_address=ray_address)
        result = resume_run(
            run_id, observer=_observer(as_json), trust=trust or None, executor=runner
        )
    finish_run_command(result, as_json)


def reproduce(
    run_id: Annotated[str, typer.Argument(help="The run to re-execute (id, prefix, latest).")],
    trust: Annotated[
        bool, typer.Option("--trust", help="Allow loading pickled artifacts.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
) -> None:
    """Re-execute a run without the cache and compare every output bit for bit.

    Exits 0 when every step reproduced its outputs exactly, 1 otherwise.

    Example: conveyor reproduce latest
    """
    from conveyor.run.replay import reproduce as reproduce_run

    with reported_errors(), steps_print_to_stderr(as_json):
        result = reproduce_run(run_id, observer=_observer(as_json), trust=trust or None)
    if as_json:
        print_json(
            {
                "original_run_id": result.original.id,
                "run_id": result.run.id,
                "reproducible": result.reproducible,
                "first_difference": result.first_difference,
                "code_changed": result.code_changed,
                "steps": [
                    {
                        "name": s.name,
                        "matches": s.matches,
                        "original": s.original,
                        "reproduced": s.reproduced,
                    }
                    for s in result.steps
                ],
            }
        )
    else:
        table = Table(
            box=None, title=f"reproducing run {result.original.id[:12]}", title_justify="left"
        )
        for column in ("step", "outputs", "same bytes"):
            table.add_column(column)
        for s in result.steps:
            ids = ", ".join(f"{k}={v[:10]}" for k, v in s.reproduced.items())
            table.add_row(s.name, ids, "[green]yes[/]" if s.matches else "[red]no[/]")
        out.print(table)
        if result.code_changed:
            out.print(
                "[yellow]note: the code (git commit or uncommitted changes) differs "
                "from the original run[/]"
            )
        if result.reproducible:
            out.print(f"run {result.run.id[:12]} {status('succeeded')}: bit-for-bit reproducible")
        elif result.run.status != "succeeded":
            out.print(f"run {result.run.id[:12]} {status(result.run.status)}: {result.run.error}")
        else:
            out.print(
                f"[red]not reproducible[/]: step {result.first_difference!r} is the first to differ"
            )
    if not result.reproducible:
        raise typer.Exit(EXIT_FAILED)
