"""Shared helpers of the benchmarks: the machine, timing statistics, tables, workers, results.

Every benchmark prints ratios against a baseline measured in the same run, and writes its numbers
as JSON to `benchmarks/results/` (gitignored) so `run_all.py` can collect them.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"


def machine() -> dict[str, Any]:
    """Cores, CPU model, OS and Python: printed with every result table."""
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "load_avg_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "busy_before": busy_fraction(0.5),
    }


def describe_machine() -> str:
    m = machine()
    return f"{m['cores']} cores ({m['cpu']}), {m['os']}, Python {m['python']}"


def busy_fraction(interval: float = 1.0) -> float | None:
    """Share of all CPUs busy during `interval` seconds (Linux /proc/stat), or None elsewhere.

    Sampled while this process sleeps, so it is what *other* processes use: a better warning of
    a shared machine than the load average, which still counts the previous benchmark.
    """

    def sample() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return idle, sum(fields[:8])

    try:
        idle0, total0 = sample()
        time.sleep(interval)
        idle1, total1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    total = total1 - total0
    return None if total <= 0 else 1 - (idle1 - idle0) / total


def load_note() -> str:
    """A warning to print with results when other processes were busy as the benchmark started."""
    busy = busy_fraction()
    if busy is None:
        return ""
    if busy > 0.2:
        return f" — WARNING: other processes kept {busy:.0%} of the CPUs busy, expect noise"
    return f"; CPUs {busy:.0%} busy before the start"


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 0.1:
        return f"{seconds:.4f}"
    return f"{seconds:.3f}" if seconds < 10 else f"{seconds:.1f}"


def fmt_ms(ms: float | None) -> str:
    if ms is None:
        return "—"
    return f"{ms:.4f}" if abs(ms) < 0.01 else f"{ms:.3f}" if abs(ms) < 10 else f"{ms:.1f}"


def fmt_ratio(ratio: float | None) -> str:
    if ratio is None:
        return "—"
    return f"{ratio:.3f}x" if ratio < 0.1 else f"{ratio:.2f}x" if ratio < 100 else f"{ratio:.0f}x"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table, aligned so it also reads well in a terminal."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:])])


def source_state() -> str:
    """The commit measured, and whether src/ had uncommitted changes (read-only git calls)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}{' + uncommitted src/ changes' if dirty else ''}"


def save_results(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    data = {
        "benchmark": name,
        "machine": machine(),
        "source": source_state(),
        "when": time.strftime("%F %T"),
        **data,
    }
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return path


class WorkerError(RuntimeError):
    """A benchmark worker subprocess failed or timed out."""


def run_worker(
    cmd: Sequence[str | os.PathLike[str]],
    *,
    env: dict[str, str] | None = None,
    timeout: float,
    cwd: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Run a worker that prints one JSON object on its last stdout line; return that object."""
    try:
        proc = subprocess.run(
            [str(c) for c in cmd],
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as err:
        raise WorkerError(f"timed out after {timeout:.0f} s: {' '.join(map(str, cmd))}") from err
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-25:])
        raise WorkerError(f"exit {proc.returncode}: {' '.join(map(str, cmd))}\n{tail}")
    try:
        return json.loads(lines[-1])
    except json.JSONDecodeError as err:
        raise WorkerError(f"no JSON result from {' '.join(map(str, cmd))}: {lines[-1]!r}") from err


def emit(result: dict[str, Any]) -> None:
    """A worker's last act: its result as one JSON line on stdout."""
    sys.stdout.write(json.dumps(result, default=str) + "\n")
    sys.stdout.flush()
