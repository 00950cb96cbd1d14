"""Shared output helpers: consoles, JSON, times, and turning errors into exit codes."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sys
from collections.abc import Iterator
from typing import Any

import typer
from rich.console import Console

from conveyor.exceptions import (
    ConfigError,
    ConveyorError,
    GraphError,
    MetadataError,
    NotFoundError,
    ParameterError,
    PipelineLoadError,
    RunStateError,
)

__all__ = [
    "EXIT_FAILED",
    "EXIT_USAGE",
    "err",
    "fail",
    "out",
    "print_json",
    "reported_errors",
    "steps_print_to_stderr",
]

EXIT_FAILED = 1
EXIT_USAGE = 2

# Bound to the real streams now: during a run sys.stdout is a router that echoes step output
# through rich's live display, which must not write back into the router.
out = Console(file=sys.stdout, highlight=False, soft_wrap=True)
err = Console(file=sys.stderr, highlight=False, soft_wrap=True)

_USAGE_ERRORS = (
    ParameterError,
    GraphError,
    PipelineLoadError,
    NotFoundError,
    ConfigError,
    RunStateError,
)


def print_json(value: Any) -> None:
    """Write `value` as JSON to stdout (plain, never styled)."""
    sys.stdout.write(json.dumps(value, indent=2, default=str, allow_nan=True) + "\n")
    sys.stdout.flush()


def steps_print_to_stderr(as_json: bool) -> contextlib.AbstractContextManager[object]:
    """In --json mode stdout carries only the JSON; what steps print goes to stderr."""
    return contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext()


def fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
    return typer.Exit(code)


@contextlib.contextmanager
def reported_errors(failed: int = EXIT_FAILED) -> Iterator[None]:
    """Turn Conveyor errors into one readable line and an exit code (2 usage, else `failed`:
    1, unless the command gives exit 1 a meaning of its own, as `conveyor monitor` does)."""
    try:
        yield
    except _USAGE_ERRORS as error:
        raise fail(_escape(str(error)), EXIT_USAGE) from None
    except (MetadataError, ConveyorError) as error:
        raise fail(_escape(str(error)), failed) from None


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def when(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return dt.datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M:%S")


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 120:
        return f"{value:.2f} s"
    return f"{value / 60:.1f} min"


def size(value: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value} B"


STATUS_STYLE = {
    "succeeded": "green",
    "failed": "red",
    "skipped": "yellow",
    "running": "cyan",
    "interrupted": "magenta",
    "timed_out": "red",
}


def status(text: str, cached: bool = False) -> str:
    label = "cached" if cached else text
    style = "blue" if cached else STATUS_STYLE.get(text, "white")
    return f"[{style}]{label}[/]"
