"""Start-up: wall time of `import conveyor` and `conveyor --help`, against `python -c pass`.

    .venv/bin/python benchmarks/startup.py             # 10 timed runs of each, after 2 warm-ups
    .venv/bin/python benchmarks/startup.py --runs 30

Like hyperfine: each command runs `--warmup` times untimed (which also writes the bytecode caches a
user's installation has), then `--runs` times timed; min and median are reported, and the net cost
over the bare interpreter. Uses the interpreter running this script and the `conveyor` console
script beside it. If `conveyor --help` fails (the CLI not there yet), that row says so and the
rest still runs. Then `python -X importtime -c "import conveyor"` (and the same for the CLI) names
the slowest imports and flags heavy libraries that should load lazily.

Targets: import < 0.15 s, --help < 0.3 s (median wall time).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import REPO, describe_machine, fmt_ratio, fmt_s, load_note, save_results, table

#: Libraries `import conveyor` should not pull in (they load when a run or command needs them).
HEAVY = (
    "sqlalchemy",
    "alembic",
    "pandas",
    "numpy",
    "pyarrow",
    "sklearn",
    "skops",
    "fsspec",
    "cloudpickle",
    "typer",
    "rich",
    "yaml",
)
HELP_SCRIPT = "import sys; sys.argv = ['conveyor', '--help']; from conveyor.cli import main; main()"


def bench_env() -> dict[str, str]:
    env = dict(os.environ)
    # This machine sets PYTHONDONTWRITEBYTECODE; a user's install has .pyc files, so allow them.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    for var in ("CONVEYOR_DB", "CONVEYOR_ARTIFACTS", "CONVEYOR_TRUST_PICKLE"):
        env.pop(var, None)
    return env


def time_command(cmd: list[str], runs: int, warmup: int, cwd: Path) -> dict[str, Any]:
    env = bench_env()
    for _ in range(warmup):
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, check=False)
        if proc.returncode != 0:
            lines = (proc.stderr or proc.stdout).strip().splitlines()
            return {"error": lines[-1] if lines else f"exit {proc.returncode}"}
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, capture_output=True, env=env, cwd=cwd, check=True)
        times.append(time.perf_counter() - start)
    return {"min_s": min(times), "median_s": statistics.median(times), "times_s": times}


def importtime(python: str, code: str, cwd: Path) -> list[tuple[str, int, int]] | None:
    """(module, self µs, cumulative µs) of every import, from `-X importtime`."""
    proc = subprocess.run(
        [python, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        env=bench_env(),
        cwd=cwd,
        check=False,
    )
    if proc.returncode != 0:
        return None
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, cum_us, name = line.split(":", 1)[1].split("|", 2)
        rows.append((name[1:].rstrip(), int(self_us), int(cum_us)))  # indent = nesting depth
    return rows


def report_importtime(title: str, rows: list[tuple[str, int, int]], top: int) -> dict[str, Any]:
    total = sum(cum for name, _, cum in rows if not name.startswith(" "))
    print(f"\n{title}: {total / 1e3:.1f} ms of imports, {len(rows)} modules")
    by_cum = sorted(rows, key=lambda r: -r[2])[:top]
    print(
        table(
            ["module (nesting shown by indent)", "cumulative ms", "self ms"],
            [[name, f"{cum / 1e3:.1f}", f"{own / 1e3:.1f}"] for name, own, cum in by_cum],
        )
    )
    by_self = sorted(rows, key=lambda r: -r[1])[:top]
    print(
        "Largest self times: " + ", ".join(f"{n.strip()} {o / 1e3:.1f} ms" for n, o, _ in by_self)
    )
    loaded = {name.strip() for name, _, _ in rows}
    heavy = [h for h in HEAVY if h in loaded]
    print("Heavy libraries imported: " + (", ".join(heavy) if heavy else "none"))
    return {
        "total_ms": total / 1e3,
        "modules": len(rows),
        "top_cumulative": [(n.strip(), c / 1e3) for n, _, c in by_cum],
        "top_self": [(n.strip(), o / 1e3) for n, o, _ in by_self],
        "heavy": heavy,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="start-up time of conveyor")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()

    python = sys.executable
    script = Path(python).parent / "conveyor"
    cwd = REPO  # the CLI looks for conveyor.toml from here; nothing is written
    print(
        f"Start-up: {args.runs} runs after {args.warmup} warm-ups; interpreter {python}; "
        f"machine: {describe_machine()}{load_note()}"
    )
    commands = {
        "python -c pass": [python, "-c", "pass"],
        "python -c 'import conveyor'": [python, "-c", "import conveyor"],
        "conveyor --help": [str(script), "--help"],
    }
    results = {
        label: time_command(cmd, args.runs, args.warmup, cwd) for label, cmd in commands.items()
    }
    base = results["python -c pass"]
    rows = []
    for label, res in results.items():
        if "error" in res:
            rows.append([label, "—", "—", "—", "—", f"fails: {res['error'][:60]}"])
            continue
        rows.append(
            [
                label,
                fmt_s(res["min_s"]),
                fmt_s(res["median_s"]),
                fmt_s(res["median_s"] - base["median_s"]),
                fmt_ratio(res["median_s"] / base["median_s"]),
                "",
            ]
        )
    print()
    print(table(["command", "min s", "median s", "net of python s", "ratio", "note"], rows))
    print("\nTargets (median wall time):")
    for label, limit in (("python -c 'import conveyor'", 0.15), ("conveyor --help", 0.3)):
        res = results[label]
        if "error" in res:
            print(f"  {label} < {limit} s: not measurable yet ({res['error'][:80]})")
        else:
            verdict = "met" if res["median_s"] < limit else "MISSED"
            print(f"  {label} < {limit} s: {res['median_s']:.3f} s — {verdict}")

    imports: dict[str, Any] = {}
    rows_import = importtime(python, "import conveyor", cwd)
    if rows_import:
        imports["import conveyor"] = report_importtime(
            "python -X importtime -c 'import conveyor'", rows_import, args.top
        )
    if "error" not in results["conveyor --help"]:
        rows_help = importtime(python, HELP_SCRIPT, cwd)
        if rows_help:
            imports["conveyor --help"] = report_importtime(
                "python -X importtime, conveyor --help", rows_help, args.top
            )
    save_results(
        "startup",
        {
            "command": "python benchmarks/startup.py " + " ".join(sys.argv[1:]),
            "results": results,
            "importtime": imports,
        },
    )


if __name__ == "__main__":
    main()
