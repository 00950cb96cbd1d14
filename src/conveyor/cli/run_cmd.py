"""`conveyor run FILE.py:PIPELINE`: run a pipeline with parameters and show its progress."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from conveyor.cli._output import (
    EXIT_FAILED,
    err,
    out,
    print_json,
    reported_errors,
    seconds,
    status,
    steps_print_to_stderr,
)

__all__ = ["run"]


def run(
    target: Annotated[
        str, typer.Argument(help="FILE.py:PIPELINE (PIPELINE may be omitted if the file has one).")
    ],
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="A parameter as key=value; repeat for more."),
    ] = None,
    params_file: Annotated[
        Path | None,
        typer.Option("--params", help="Parameters from a .yaml, .toml or .json file (-p wins)."),
    ] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Execute every step.")] = False,
    trust: Annotated[
        bool, typer.Option("--trust", help="Allow loading pickled (unsafe) artifacts.")
    ] = False,
    from_step: Annotated[
        str | None,
        typer.Option("--from", help="Run this step and everything below it; upstream from cache."),
    ] = None,
    to_step: Annotated[
        str | None, typer.Option("--to", help="Run this step and what it needs, nothing below.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the run as one JSON object.")
    ] = False,
    executor: Annotated[
        str, typer.Option(help="local (in this process), process (parallel) or ray.")
    ] = "local",
    workers: Annotated[
        int | None, typer.Option(min=1, help="Parallel workers (process), tasks in flight (ray).")
    ] = None,
    ray_address: Annotated[
        str | None, typer.Option(help="Ray cluster: auto, or ray://host:port.")
    ] = None,
    run_id: Annotated[
        str | None,
        typer.Option(
            "--run-id",
            help="The run's id (32 hex digits), chosen by a tool that launches runs and must "
            "find them again; an id that exists is refused.",
        ),
    ] = None,
) -> None:
    """Run a pipeline, reusing cached steps, and record everything.

    Examples:

      conveyor run pipeline.py:training -p C=0.5

      conveyor run pipeline.py:training --params params.yaml --no-cache --json

      conveyor run pipeline.py:training --from fit --to evaluate

      conveyor run pipeline.py:sweep --executor process --workers 2
    """
    from conveyor.cli._loading import load_params, load_pipeline, parse_assignments
    from conveyor.cli._progress import LiveProgress, PlainProgress
    from conveyor.run.executors import make_executor
    from conveyor.run.runner import run_pipeline

    with reported_errors():
        pipeline = load_pipeline(target)
        runner = make_executor(executor, workers=workers, ray_address=ray_address)
        values: dict[str, Any] = load_params(params_file) if params_file else {}
        values.update(parse_assignments(param or []))
        if as_json:
            observer = None
        elif out.is_terminal:
            observer = LiveProgress(out)
        else:
            observer = PlainProgress(out)
        with steps_print_to_stderr(as_json):
            result = run_pipeline(
                pipeline,
                values,
                cache=not no_cache,
                trust=trust or None,
                observer=observer,
                from_step=from_step,
                to_step=to_step,
                executor=runner,
                run_id=run_id,
            )
    finish_run_command(result, as_json)


def finish_run_command(result: Any, as_json: bool) -> None:
    """Print a finished run (summary or JSON) and exit 1 if it did not succeed."""
    if as_json:
        print_json(run_json(result))
    else:
        _summary(result)
    if result.status != "succeeded":
        raise typer.Exit(EXIT_FAILED)


def run_json(result: Any) -> dict[str, Any]:
    """The `--json` face of a run, shared by `run` and `runs show`."""
    return {
        "run_id": result.id,
        "pipeline": result.pipeline,
        "status": result.status,
        "params": result.params,
        "duration_s": result.duration_s,
        "error": result.error,
        "steps": [
            {
                "name": s.name,
                "status": s.status,
                "cached": s.cached,
                "duration_s": s.duration_s,
                "outputs": s.outputs,
                "error_type": s.error_type,
                "error_message": s.error_message,
            }
            for s in result.steps
        ],
        "outputs": dict(result.output_ids),
    }


def _summary(result: Any) -> None:
    steps = result.steps
    cached = sum(1 for s in steps if s.cached)
    executed = sum(1 for s in steps if not s.cached and s.status in ("succeeded", "failed"))
    line = (
        f"run [bold]{result.id[:12]}[/] {status(result.status)} in {seconds(result.duration_s)}: "
        f"{len(steps)} steps, {executed} executed, {cached} cached"
    )
    out.print(line)
    for name, artifact in result.output_ids.items():
        out.print(f"  output {name}: {artifact[:12]}")
    if result.status != "succeeded":
        from rich.markup import escape

        err.print(f"[bold red]error:[/] {escape(result.error or 'run failed')}")
        err.print(f"  details: conveyor runs show {result.id[:12]}")
