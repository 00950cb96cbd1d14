"""B1: a chain of N trivial steps (int → int + 1): what each tool costs per step.

    .venv/bin/python benchmarks/b1_chain.py                  # 100 and 1000 steps, all tools
    .venv/bin/python benchmarks/b1_chain.py --repeat 5 --prefect-budget 120

Measured in one run, each measurement in a fresh process of the peers environment
(`benchmarks/.venv-peers`, built on first use by `peers.py`). Imports are excluded, and every
worker first runs a 1-step warm-up (lazy imports; Prefect's API start-up), timed apart:

- plain: the same function called N times in a loop (the baseline every ratio starts from);
- conveyor: `pipeline.run()` with full tracking on SQLite in a fresh temporary project (cold: it
  also creates the database), then the same run again, served entirely from the cache;
- kedro: a `Pipeline` of N nodes over `MemoryDataset`s run by `SequentialRunner` (Kedro's per-node
  INFO logging silenced, as Conveyor prints nothing per step; once more with its default logging);
- prefect: a Prefect 3 `@flow` calling a `@task` N times directly, against the ephemeral API that
  Prefect starts itself (INFO logging off, as for Kedro). A larger chain runs only when the
  smaller one predicts it fits in `--prefect-budget` seconds.

Per-step overhead = (tool's total − plain total) / N. Medians over `--repeat` fresh processes.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import (
    REPO,
    WorkerError,
    describe_machine,
    emit,
    fmt_ms,
    fmt_ratio,
    fmt_s,
    load_note,
    median,
    run_worker,
    save_results,
    table,
)

SIZES = (100, 1000)
TOOLS = ("plain", "conveyor", "kedro", "kedro-log")
LABELS = {
    "plain": "plain Python",
    "conveyor": "Conveyor (cold, SQLite)",
    "conveyor-cached": "Conveyor (2nd run, cached)",
    "kedro": "Kedro SequentialRunner",
    "kedro-log": "Kedro, default INFO logging",
    "prefect": "Prefect 3 (ephemeral API)",
}


def inc(x: int) -> int:
    return x + 1


# -- workers: one measurement each, in a fresh process, result as JSON on stdout ----------------


def work_plain(n: int) -> dict[str, Any]:
    loops = max(1, 200_000 // n)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(loops):
            x = 0
            for _ in range(n):
                x = inc(x)
        best = min(best, (time.perf_counter() - start) / loops)
    assert x == n
    return {"total_s": best}


def conveyor_chain(n: int) -> Any:
    import conveyor as cv

    step = cv.step(inc)

    @cv.pipeline(name=f"chain{n}")
    def chain(x: int = 0) -> Any:
        for _ in range(n):
            x = step(x)
        return x

    return chain


def work_conveyor(n: int) -> dict[str, Any]:
    import conveyor as cv
    from conveyor.workspace import close_workspaces, open_workspace

    chain = conveyor_chain(n)
    # The first run in a process also pays lazy imports (SQLAlchemy, Alembic, ...): measured
    # apart, in a project of its own, like the other tools' warm-up runs.
    with tempfile.TemporaryDirectory(prefix="conveyor-b1-") as tmp:
        start = time.perf_counter()
        conveyor_chain(1).run(x=0, settings=cv.Settings.load(Path(tmp)))
        first_run_s = time.perf_counter() - start
        close_workspaces()
    with tempfile.TemporaryDirectory(prefix="conveyor-b1-") as tmp:
        settings = cv.Settings.load(Path(tmp))
        start = time.perf_counter()
        cold = chain.run(x=0, settings=settings)
        cold_s = time.perf_counter() - start
        if cold.status != "succeeded" or cold.output() != n:
            raise SystemExit(f"cold run: {cold.status}, output {cold.output()!r}")
        start = time.perf_counter()
        warm = chain.run(x=0, settings=settings)
        cached_s = time.perf_counter() - start
        hits = sum(s.cached for s in warm.steps)
        if warm.status != "succeeded" or hits != n or warm.output() != n:
            raise SystemExit(f"cached run: {warm.status}, {hits}/{n} cached")
        in_steps_s = sum(s.duration_s for s in cold.steps)
        start = time.perf_counter()
        chain.trace(x=0)
        trace_s = time.perf_counter() - start
        close_workspaces()
    with tempfile.TemporaryDirectory(prefix="conveyor-b1-") as tmp:
        start = time.perf_counter()
        open_workspace(cv.Settings.load(Path(tmp)))  # a new project: create the database
        open_s = time.perf_counter() - start
        close_workspaces()
    return {
        "total_s": cold_s,
        "cached_s": cached_s,
        "trace_s": trace_s,
        "open_s": open_s,
        "in_steps_s": in_steps_s,
        "first_run_s": first_run_s,
    }


def kedro_run(n: int) -> Any:
    from kedro.io import DataCatalog, MemoryDataset
    from kedro.pipeline import Pipeline, node
    from kedro.runner import SequentialRunner

    pipe = Pipeline([node(inc, f"x{i}", f"x{i + 1}", name=f"inc_{i}") for i in range(n)])
    catalog = DataCatalog({"x0": MemoryDataset(0)})
    out = SequentialRunner().run(pipe, catalog)
    value = out[f"x{n}"]
    return value.load() if hasattr(value, "load") else value


def work_kedro(n: int, *, logging_on: bool) -> dict[str, Any]:
    import logging

    start = time.perf_counter()
    kedro_run(1)  # warm-up, as for every tool
    first_run_s = time.perf_counter() - start
    if not logging_on:  # after the imports: importing Kedro applies its own logging config
        logging.getLogger("kedro").setLevel(logging.WARNING)
    start = time.perf_counter()
    value = kedro_run(n)
    total_s = time.perf_counter() - start
    if value != n:
        raise SystemExit(f"kedro returned {value!r}")
    return {"total_s": total_s, "first_run_s": first_run_s}


def work_prefect(n: int) -> dict[str, Any]:
    from prefect import flow, task

    step = task(inc)

    @flow
    def chain(n: int) -> int:
        x = 0
        for _ in range(n):
            x = step(x)
        return x

    start = time.perf_counter()
    if chain(1) != 1:  # warm-up; it starts the ephemeral API
        raise SystemExit("prefect warm-up failed")
    startup_s = time.perf_counter() - start
    start = time.perf_counter()
    result = chain(n)
    total_s = time.perf_counter() - start
    if result != n:
        raise SystemExit(f"prefect returned {result!r}")
    return {"total_s": total_s, "startup_s": startup_s, "first_run_s": startup_s}


def worker(tool: str, n: int) -> None:
    if tool == "plain":
        emit(work_plain(n))
    elif tool == "conveyor":
        emit(work_conveyor(n))
    elif tool in ("kedro", "kedro-log"):
        emit(work_kedro(n, logging_on=tool == "kedro-log"))
    elif tool == "prefect":
        emit(work_prefect(n))
    else:
        raise SystemExit(f"unknown tool {tool!r}")


# -- the benchmark --------------------------------------------------------------------------------


def measure(py: Path, tool: str, n: int, timeout: float) -> dict[str, Any]:
    import peers

    cmd = [py, Path(__file__).resolve(), "--worker", tool, "--steps", str(n)]
    if tool != "prefect":
        env = peers.quiet_env()
        for var in ("CONVEYOR_DB", "CONVEYOR_ARTIFACTS", "CONVEYOR_TRUST_PICKLE"):
            env.pop(var, None)
        return run_worker(cmd, env=env, timeout=timeout, cwd=REPO)
    home = Path(tempfile.mkdtemp(prefix="prefect-home-"))
    try:
        return run_worker(cmd, env=peers.prefect_env(home), timeout=timeout, cwd=home)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def summarize(samples: list[dict[str, Any]]) -> dict[str, Any]:
    keys = samples[0].keys()
    return {k: median([s[k] for s in samples]) for k in keys} | {"samples": len(samples)}


def main() -> None:
    parser = argparse.ArgumentParser(description="B1: per-step overhead on a chain of steps")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes per measurement")
    parser.add_argument("--prefect-repeat", type=int, default=3)
    parser.add_argument(
        "--prefect-budget",
        type=float,
        default=300,
        help="run Prefect's larger chains only if predicted to take less (seconds)",
    )
    parser.add_argument("--no-prefect", action="store_true")
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.steps[0])
        return

    import peers

    py = peers.ensure()
    versions = peers.versions()
    sizes = sorted(args.steps)
    print(f"B1 chain: {sizes} steps; machine: {describe_machine()}{load_note()}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    started = time.perf_counter()

    results: dict[str, dict[int, dict[str, Any]]] = {}
    notes: list[str] = []
    for rep in range(args.repeat):
        for tool in TOOLS:
            if tool == "kedro-log" and rep > 0:
                continue  # slow by design, once is enough
            for n in sizes:
                sample = measure(py, tool, n, timeout=600)
                results.setdefault(tool, {}).setdefault(n, {"samples": []})["samples"].append(
                    sample
                )
                print(
                    f"  [{rep + 1}/{args.repeat}] {tool:9} {n:5} steps: {sample['total_s']:.4f} s"
                )

    if not args.no_prefect:
        prefect: dict[int, dict[str, Any]] = {}
        per_task_s: float | None = None
        for n in sizes:
            if per_task_s is not None:
                predicted = per_task_s * n * 1.5  # a margin: Prefect's timings are noisy
                if predicted > args.prefect_budget:
                    notes.append(
                        f"Prefect at {n} tasks skipped: predicted {predicted:.0f} s "
                        f"> budget {args.prefect_budget:.0f} s"
                    )
                    continue
            for rep in range(args.prefect_repeat):
                try:
                    sample = measure(py, "prefect", n, timeout=args.prefect_budget + 120)
                except WorkerError as err:
                    notes.append(f"Prefect at {n} tasks failed: {str(err).splitlines()[0]}")
                    print(f"  prefect {n}: {err}", file=sys.stderr)
                    break
                prefect.setdefault(n, {"samples": []})["samples"].append(sample)
                print(
                    f"  [{rep + 1}/{args.prefect_repeat}] prefect   {n:5} tasks: "
                    f"{sample['total_s']:.3f} s (API start-up {sample['startup_s']:.1f} s)"
                )
            if n in prefect:
                per_task_s = median([s["total_s"] for s in prefect[n]["samples"]]) / n
        results["prefect"] = prefect

    summary = {
        tool: {n: summarize(v["samples"]) for n, v in by_n.items()}
        for tool, by_n in results.items()
    }
    report(summary, sizes, notes)
    save_results(
        "b1_chain",
        {
            "command": "python benchmarks/b1_chain.py " + " ".join(sys.argv[1:]),
            "versions": versions,
            "summary": summary,
            "notes": notes,
            "wall_s": time.perf_counter() - started,
        },
    )
    print(f"\nB1 took {time.perf_counter() - started:.0f} s")


def report(summary: dict[str, Any], sizes: list[int], notes: list[str]) -> None:
    plain = {n: summary["plain"][n]["total_s"] for n in sizes}
    conveyor = summary["conveyor"]
    rows = []

    def overhead_ms(total: float, n: int) -> float:
        return (total - plain[n]) / n * 1e3

    def row(label: str, n: int, total: float | None) -> list[str]:
        if total is None:
            return [label, str(n), "—", "—", "—", "—"]
        return [
            label,
            str(n),
            fmt_s(total),
            fmt_ms(total / n * 1e3),
            fmt_ms(overhead_ms(total, n)) if label != LABELS["plain"] else "0",
            fmt_ratio(total / conveyor[n]["total_s"]),
        ]

    for n in sizes:
        rows.append(row(LABELS["plain"], n, plain[n]))
        rows.append(row(LABELS["conveyor"], n, conveyor[n]["total_s"]))
        rows.append(row(LABELS["conveyor-cached"], n, conveyor[n]["cached_s"]))
        for tool in ("kedro", "kedro-log", "prefect"):
            found = summary.get(tool, {}).get(n)
            if found is not None or tool == "prefect":
                rows.append(row(LABELS[tool], n, found["total_s"] if found else None))
    print()
    print(
        table(
            [
                "tool",
                "steps",
                "total s",
                "per-step ms",
                "overhead/step ms",
                "ratio vs Conveyor cold",
            ],
            rows,
        )
    )

    print("\nConveyor's cold run, decomposed (medians):")
    parts = []
    for n in sizes:
        c = conveyor[n]
        parts.append(
            [
                str(n),
                fmt_s(c["total_s"]),
                fmt_s(c["open_s"]),
                fmt_s(c["trace_s"]),
                fmt_s(c["in_steps_s"]),
                fmt_ms(c["in_steps_s"] / n * 1e3),
                fmt_ms(c["cached_s"] / n * 1e3),
            ]
        )
    print(
        table(
            [
                "steps",
                "cold total s",
                "new DB s",
                "trace s",
                "inside tasks s",
                "inside tasks ms/step",
                "cached ms/step",
            ],
            parts,
        )
    )
    warmups = []
    for tool in ("conveyor", "kedro", "prefect"):
        firsts = [v["first_run_s"] for v in summary.get(tool, {}).values()]
        if firsts:
            warmups.append(f"{tool} {fmt_s(median(firsts))} s")
    print(
        "\nWarm-up run of 1 step in each worker process, excluded above (lazy imports; for "
        "Prefect, starting its ephemeral API): " + ", ".join(warmups)
    )

    lo, hi = sizes[0], sizes[-1]
    print("\nTargets:")
    if hi != lo:
        linear = conveyor[hi]["total_s"] / conveyor[lo]["total_s"]
        marginal = (conveyor[hi]["total_s"] - conveyor[lo]["total_s"]) / (hi - lo) * 1e3
        cached_linear = conveyor[hi]["cached_s"] / conveyor[lo]["cached_s"]
        print(
            f"  linearity: Conveyor cold total {hi}/{lo} = {linear:.2f}x (ideal {hi / lo:.0f}x; "
            f"less = fixed costs, more = superlinear); cached {cached_linear:.2f}x"
        )
        print(f"  marginal cost of one more step (cold, ({hi} − {lo}) steps): {marginal:.3f} ms")
    over = overhead_ms(conveyor[hi]["total_s"], hi)
    verdict = "met" if over < 1 else "MISSED"
    print(f"  < 1 ms per tracked, persisted step ({hi} steps, cold): {over:.3f} ms — {verdict}")
    kedro = summary.get("kedro", {})
    for n in sizes:
        if n in kedro:
            k_over = overhead_ms(kedro[n]["total_s"], n)
            c_over = overhead_ms(conveyor[n]["total_s"], n)
            verdict = "met" if c_over <= k_over else f"MISSED ({c_over / k_over:.1f}x Kedro's)"
            print(
                f"  ≤ Kedro's per-node overhead at {n}: Conveyor {c_over:.3f} ms vs Kedro "
                f"{k_over:.3f} ms — {verdict}"
            )
    prefect = summary.get("prefect", {})
    for n in sizes:
        if n in prefect:
            p_over = overhead_ms(prefect[n]["total_s"], n)
            c_over = overhead_ms(conveyor[n]["total_s"], n)
            ratio = p_over / c_over
            verdict = "met" if ratio >= 10 else "MISSED"
            print(
                f"  ≥10x below Prefect's per-task overhead at {n}: Prefect {p_over:.2f} ms / "
                f"Conveyor {c_over:.3f} ms = {ratio:.1f}x — {verdict}"
            )
    for note in notes:
        print(f"  note: {note}")


if __name__ == "__main__":
    main()
