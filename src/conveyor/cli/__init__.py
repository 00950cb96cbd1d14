"""The `conveyor` command line: thin Typer commands over the packages below it."""

from __future__ import annotations

__all__ = ["main"]


def main() -> None:
    """Console-script entry point."""
    from conveyor.cli.app import run_app

    run_app()
