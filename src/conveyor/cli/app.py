"""The Typer application. A command's module is imported, and its click command built, only when
that command runs (or a help page lists it): building every command up front cost ~40 ms of each
`conveyor` invocation, more than the command itself for `runs list` or `--version`.
"""

from __future__ import annotations

import importlib
from typing import Annotated, Any, NamedTuple

import typer

from conveyor._version import __version__
from conveyor.cli._typer import MARKUP, Group

__all__ = ["COMMANDS", "app", "run_app"]


class Command(NamedTuple):
    """Where a command lives: `conveyor.cli.<module>.<attr>`, a function or a Typer group."""

    module: str
    attr: str
    no_args_is_help: bool = False


#: every command, in the order `conveyor --help` lists them
COMMANDS: dict[str, Command] = {
    "run": Command("run_cmd", "run", no_args_is_help=True),
    "resume": Command("replay", "resume", no_args_is_help=True),
    "reproduce": Command("replay", "reproduce", no_args_is_help=True),
    "logs": Command("logs", "logs", no_args_is_help=True),
    "lineage": Command("artifacts", "lineage", no_args_is_help=True),
    "gc": Command("maintenance", "gc"),
    "serve": Command("serve", "serve", no_args_is_help=True),
    "predict": Command("serve", "predict", no_args_is_help=True),
    "predictions": Command("serve", "predictions", no_args_is_help=True),
    "monitor": Command("monitor", "monitor", no_args_is_help=True),
    "watch": Command("watch", "watch"),
    "demo": Command("watch", "demo"),
    "ui": Command("ui", "ui"),
    "triggers": Command("watch", "app"),
    "runs": Command("runs", "app"),
    "artifacts": Command("artifacts", "app"),
    "models": Command("models", "app"),
    "db": Command("db", "app"),
}


def load_command(name: str) -> Any:
    """The click command for `name`, built from its module (imported now)."""
    import typer.main

    spec = COMMANDS[name]
    target = getattr(importlib.import_module(f"conveyor.cli.{spec.module}"), spec.attr)
    if isinstance(target, typer.Typer):
        group = typer.main.get_group(target)
        group.name = name
        return group
    single = typer.Typer(add_completion=False, rich_markup_mode=MARKUP)
    single.command(name, no_args_is_help=spec.no_args_is_help)(target)
    return typer.main.get_command(single)


class LazyGroup(Group):
    """Lists every command by name; builds one only when it is looked up."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in COMMANDS:
            return None
        if cmd_name not in self.commands:
            self.commands[cmd_name] = load_command(cmd_name)
        return self.commands[cmd_name]


app = typer.Typer(
    name="conveyor",
    cls=LazyGroup,
    rich_markup_mode=MARKUP,
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


def run_app() -> None:
    app()
