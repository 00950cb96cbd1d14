"""How Conveyor's Typer apps are built: plain help pages, each command's summary in full.

Typer's boxed help needs `typer.rich_utils`, whose imports (Markdown, tracebacks, syntax
highlighting) cost ~90 ms before the first line of help or of a usage error: a third of
`conveyor --help`. The plain pages say the same, as most command lines do.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

__all__ = ["MARKUP", "Group", "group"]

#: no Rich markup in help: plain click pages
MARKUP = None


class Group(TyperGroup):
    """A group whose command list wraps each summary instead of cutting it at the line's end."""

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=300)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def group(help: str) -> typer.Typer:
    """A command group (`conveyor runs ...`) built as every Conveyor group is."""
    return typer.Typer(
        help=help, cls=Group, no_args_is_help=True, add_completion=False, rich_markup_mode=MARKUP
    )
