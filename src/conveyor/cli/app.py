"""The Typer application: one module per command group, imported when the CLI starts."""

from __future__ import annotations

from typing import Annotated

import typer

from conveyor._version import __version__
from conveyor.cli import (
    artifacts,
    db,
    logs,
    maintenance,
    models,
    monitor,
    replay,
    run_cmd,
    runs,
    serve,
    ui,
    watch,
)

app = typer.Typer(
    name="conveyor",
    help=(
        "Conveyor: machine-learning pipelines as plain Python, cached and tracked.\n\n"
        "Examples:\n\n"
        "  conveyor run pipeline.py:training -p C=0.5\n\n"
        "  conveyor runs list\n\n"
        "  conveyor runs show latest\n\n"
        "  conveyor artifacts show 3fa2c9\n\n"
        "Settings: conveyor.toml (walking up from here), CONVEYOR_DB, CONVEYOR_ARTIFACTS."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"conveyor {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Conveyor's command line."""


app.command("run", no_args_is_help=True)(run_cmd.run)
app.command("resume", no_args_is_help=True)(replay.resume)
app.command("reproduce", no_args_is_help=True)(replay.reproduce)
app.command("logs", no_args_is_help=True)(logs.logs)
app.command("lineage", no_args_is_help=True)(artifacts.lineage)
app.command("gc")(maintenance.gc)
app.command("serve", no_args_is_help=True)(serve.serve)
app.command("predict", no_args_is_help=True)(serve.predict)
app.command("predictions", no_args_is_help=True)(serve.predictions)
app.command("monitor", no_args_is_help=True)(monitor.monitor)
app.command("watch")(watch.watch)
app.command("demo")(watch.demo)
app.command("ui")(ui.ui)
app.add_typer(watch.app, name="triggers")
artifacts.app.command("verify")(maintenance.verify)
app.add_typer(runs.app, name="runs")
app.add_typer(artifacts.app, name="artifacts")
app.add_typer(models.app, name="models")
app.add_typer(db.app, name="db")


def run_app() -> None:
    app()
