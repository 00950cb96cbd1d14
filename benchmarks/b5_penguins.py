"""B5: the penguins example end to end — whole-process wall time of `conveyor run`.

    .venv/bin/python benchmarks/b5_penguins.py              # best of 3 rounds
    .venv/bin/python benchmarks/b5_penguins.py --rounds 5

`conveyor run pipeline.py:training` of `examples/penguins` (ingest → infer/validate schema →
statistics → split → train → evaluate → gate → register), each round in a fresh temporary copy of
the example (its data, schema and code; no `.conveyor/`), so the first run starts from an empty
project: it creates the database, trains, registers version 1 and promotes it to `production`.
The runs that follow, in the same copy:

- 2nd run: every step up to `evaluate` comes from the cache; `gate` and `register` run again,
  because their cache keys include the registry's state, which the first run changed (a
  `production` model now exists to compare with);
- 3rd run: nothing has changed since the 2nd, so every step is served from the cache.

Baselines, as whole processes of the same interpreter:

- `python -c "import sklearn, pandas"`: the floor any run of this pipeline pays;
- `python -c "import model"`: the example's own imports (`model.py` imports the parts of
  scikit-learn it builds from), which `conveyor run` pays when it loads `pipeline.py`;
- a plain Python script doing the same work without Conveyor: read the CSV, a stratified split,
  fit `model.build()` of the example, score its accuracy on the test set;
- `conveyor --version`: the CLI's own start-up.

Every command runs `--warmup` times untimed first (which also writes the bytecode caches a user's
installation has), then the best of `--rounds` is kept, rounds interleaved. The time each run
prints for itself ("succeeded in N ms": trace to the end of the run, in-process) is reported too;
the rest of the wall time is the process start, imports and loading the pipeline's file.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import REPO, describe_machine, fmt_ratio, fmt_s, load_note, save_results, table
from startup import bench_env

EXAMPLE = REPO / "examples" / "penguins"
PIPELINE = "pipeline.py:training"
STEPS = 9

PLAIN = """\
import pandas as pd
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split

from model import NUMERIC, CATEGORICAL, build

data = pd.read_csv("data/penguins.csv")
train, test = train_test_split(data, test_size=0.25, random_state=0, stratify=data["species"])
features = CATEGORICAL + NUMERIC
model = build("logistic", 1.0).fit(train[features], train["species"])
print(accuracy_score(test["species"], model.predict(test[features])))
"""


def fresh_copy(parent: Path) -> Path:
    """The example's files in a new folder of `parent`, without its `.conveyor/`."""
    target = Path(tempfile.mkdtemp(prefix="penguins-", dir=parent))
    for item in EXAMPLE.iterdir():
        if item.name in (".conveyor", "__pycache__"):
            continue
        if item.is_dir():
            shutil.copytree(item, target / item.name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(item, target / item.name)
    return target


def timed(cmd: list[str], cwd: Path) -> tuple[float, str]:
    """(wall seconds, stdout) of one process; its failure stops the benchmark."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=bench_env(), cwd=cwd)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-20:])
        raise SystemExit(f"B5: exit {proc.returncode}: {' '.join(cmd)} (in {cwd})\n{tail}")
    return took, proc.stdout


def conveyor_run(conveyor: str, project: Path, executed: int | None) -> dict[str, Any]:
    """Run the pipeline once; check how many steps executed (None: do not check)."""
    wall_s, out = timed([conveyor, "run", PIPELINE], project)
    summary = re.search(r"succeeded in ([\d.]+) (ms|s): (\d+) steps, (\d+) executed", out)
    if summary is None:
        raise SystemExit(f"B5: no run summary in the output of `conveyor run`:\n{out}")
    value, unit, steps, ran = summary.groups()
    if int(steps) != STEPS or (executed is not None and int(ran) != executed):
        raise SystemExit(f"B5: expected {executed} of {STEPS} steps executed, got:\n{out}")
    in_run_s = float(value) / (1000 if unit == "ms" else 1)
    return {"wall_s": wall_s, "in_run_s": in_run_s, "executed": int(ran)}


def one_round(python: str, conveyor: str, parent: Path) -> dict[str, Any]:
    project = fresh_copy(parent)
    (project / "plain.py").write_text(PLAIN)
    floor_s, _ = timed([python, "-c", "import sklearn, pandas"], project)
    imports_s, _ = timed([python, "-c", "import model"], project)
    plain_s, out = timed([python, "plain.py"], project)
    version_s, _ = timed([conveyor, "--version"], project)
    (project / "plain.py").unlink()
    runs = {
        "cold": conveyor_run(conveyor, project, STEPS),
        "second": conveyor_run(conveyor, project, None),
        "cached": conveyor_run(conveyor, project, 0),
    }
    shutil.rmtree(project)
    return {
        "floor_s": floor_s,
        "imports_s": imports_s,
        "plain_s": plain_s,
        "plain_accuracy": float(out.strip().splitlines()[-1]),
        "version_s": version_s,
        **{f"{name}_s": run["wall_s"] for name, run in runs.items()},
        **{f"{name}_in_run_s": run["in_run_s"] for name, run in runs.items()},
        "second_executed": runs["second"]["executed"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="B5: the penguins pipeline end to end")
    parser.add_argument("--rounds", type=int, default=3, help="best of this many")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first")
    args = parser.parse_args()
    python = sys.executable
    conveyor = str(Path(python).parent / "conveyor")
    started = time.perf_counter()
    print(
        f"B5 penguins: `conveyor run {PIPELINE}` in a fresh copy of examples/penguins, best of "
        f"{args.rounds} rounds after {args.warmup} warm-up; machine: {describe_machine()}"
        f"{load_note()}"
    )
    with tempfile.TemporaryDirectory(prefix="conveyor-b5-") as tmp:
        for _ in range(args.warmup):
            one_round(python, conveyor, Path(tmp))
        rounds = [one_round(python, conveyor, Path(tmp)) for _ in range(args.rounds)]
    best = {key: min(r[key] for r in rounds) for key in rounds[0] if key.endswith("_s")}
    floor, plain = best["floor_s"], best["plain_s"]
    second = f"2nd run ({rounds[0]['second_executed']} of {STEPS} steps executed)"
    rows = []
    for label, key in (
        ('python -c "import sklearn, pandas" (floor)', "floor"),
        ('python -c "import model" (the example\'s imports)', "imports"),
        ("plain Python script, same work (baseline)", "plain"),
        ("conveyor --version", "version"),
        ("conveyor run, cold (new project)", "cold"),
        (f"conveyor run, {second}", "second"),
        ("conveyor run, 3rd run (all cached)", "cached"),
    ):
        seconds = best[f"{key}_s"]
        in_run = best.get(f"{key}_in_run_s")
        rows.append(
            [
                label,
                fmt_s(seconds),
                fmt_s(in_run) if in_run is not None else "",
                fmt_ratio(seconds / floor),
                fmt_ratio(seconds / plain),
            ]
        )
    print()
    print(table(["command", "wall s", "in-run s", "x floor", "x plain"], rows))
    print(
        f"\nOver the floor: plain script +{fmt_s(plain - floor)} s, cold run "
        f"+{fmt_s(best['cold_s'] - floor)} s, cached run +{fmt_s(best['cached_s'] - floor)} s; "
        f"cached / cold = {best['cached_s'] / best['cold_s']:.0%} (whole process), "
        f"{best['cached_in_run_s'] / best['cold_in_run_s']:.0%} (in-run)"
    )
    save_results(
        "b5_penguins",
        {
            "command": "python benchmarks/b5_penguins.py " + " ".join(sys.argv[1:]),
            "best": best,
            "rounds": rounds,
        },
    )
    print(f"\nB5 took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
