"""Live per-step progress in a terminal; a quiet plain log otherwise."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from conveyor.cli._output import seconds, status
from conveyor.core.graph import Graph
from conveyor.metadata.records import RunRecord, StepRunRecord
from conveyor.run.events import RunObserver

__all__ = ["LiveProgress", "PlainProgress"]


class PlainProgress(RunObserver):
    """One line per finished step, for logs and pipes."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def run_started(self, run: RunRecord, graph: Graph) -> None:
        self.console.print(f"run {run.id[:12]} {run.pipeline}: {len(graph.nodes)} steps")

    def step_finished(self, step: StepRunRecord) -> None:
        mark = {
            "succeeded": "ok",
            "failed": "FAILED",
            "skipped": "skipped",
            "timed_out": "TIMEOUT",
        }.get(step.status, step.status)
        if step.cached:
            mark = "cached"
        line = f"  {mark:<8} {step.name} ({seconds(step.duration_s)})"
        if step.status in ("failed", "timed_out"):
            first = (step.error_message or "").strip().splitlines()
            line += f": {step.error_type}: {first[0] if first else ''}"
        self.console.print(line, markup=False)


class LiveProgress(RunObserver):
    """A live table of steps with their status and duration."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.rows: dict[str, list[Any]] = {}
        self.live: Live | None = None

    def run_started(self, run: RunRecord, graph: Graph) -> None:
        self.title = f"run {run.id[:12]} · {run.pipeline}"
        self.rows = {name: ["[dim]pending[/]", ""] for name in graph.nodes}
        self.live = Live(self._table(), console=self.console, refresh_per_second=8, transient=False)
        self.live.start()

    def step_started(self, name: str) -> None:
        self.rows[name] = ["[cyan]running[/]", ""]
        self._refresh()

    def step_finished(self, step: StepRunRecord) -> None:
        self.rows[step.name] = [status(step.status, step.cached), seconds(step.duration_s)]
        self._refresh()

    def run_finished(self, run: RunRecord) -> None:
        if self.live is not None:
            self.live.update(self._table())
            self.live.stop()

    def _refresh(self) -> None:
        if self.live is not None:
            self.live.update(self._table())

    def _table(self) -> Table:
        table = Table(title=getattr(self, "title", None), title_justify="left", box=None)
        table.add_column("step")
        table.add_column("status")
        table.add_column("time", justify="right")
        for name, (state, took) in self.rows.items():
            table.add_row(name, state, took)
        return table
