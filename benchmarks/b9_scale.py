"""B9: scaling out — parallel speed-up, Ray's per-step overhead, and the cost of one map item.

    .venv/bin/python benchmarks/b9_scale.py                 # everything, ~4-6 minutes on 2 cores
    .venv/bin/python benchmarks/b9_scale.py --repeat 1 --only fanout

Three measurements, each in fresh processes (medians over `--repeat` of them); imports, Ray's
start-up and a small warm-up run of each tool are excluded, timed apart:

- fanout: two CPU-bound steps (a pure-Python loop calibrated to ~1 s each on this machine) and a
  join. Wall time of plain Python (the two loops one after the other: the baseline), Conveyor's
  local, process (2 workers) and ray (a local Ray with 2 CPUs) executors, Kedro's SequentialRunner
  and ParallelRunner (2 workers), and Prefect 3 with its ProcessPoolTaskRunner (2 workers) and its
  default ThreadPoolTaskRunner; peers run in `benchmarks/.venv-peers`. Speed-up = plain / tool.
  Conveyor's runs are cold (a new project each): every step executes, stores and records.
  A process pool (Conveyor's, Kedro's, Prefect's) is created by each run, so its start-up counts.
- ray: 1,000 independent no-op steps on Ray. The floor is the same 1,000 no-op Ray tasks called
  directly (all submitted at once, and with at most as many in flight as Conveyor allows);
  Conveyor's local executor on the same graph gives its own bookkeeping cost.
- map: `square.map(numbers(500))` against a plain list comprehension, cold, then fully cached,
  with the local and process executors (and Ray's, in the Ray worker).

The Ray cluster is started in the measuring process (`ray.init`, 2 CPUs, 127.0.0.1, a token of
its own) and stopped before it exits.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import (
    REPO,
    WorkerError,
    busy_fraction,
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

PARTS = ("fanout", "ray", "map")
FANOUT = ("plain", "conveyor-local", "conveyor-process", "conveyor-ray")
PEERS = ("kedro-sequential", "kedro-parallel", "prefect-process", "prefect-threads")
LABELS = {
    "plain": "plain Python, one loop after the other",
    "conveyor-local": "Conveyor, local executor",
    "conveyor-process": "Conveyor, process executor (2 workers)",
    "conveyor-ray": "Conveyor, ray executor (2 CPUs)",
    "kedro-sequential": "Kedro SequentialRunner",
    "kedro-parallel": "Kedro ParallelRunner (2 workers)",
    "prefect-process": "Prefect 3, ProcessPoolTaskRunner (2)",
    "prefect-threads": "Prefect 3, ThreadPoolTaskRunner (default)",
}
RAY_STEPS = 1000
MAP_ITEMS = 500
WORKERS = 2


# -- the work, shared by every tool --------------------------------------------------------------


def burn(seed: int, loops: int) -> int:
    """CPU-bound pure Python: holds the GIL throughout."""
    x = seed
    for i in range(loops):
        x = (x * 1103515245 + 12345 + i) & 0x7FFFFFFF
    return x


def burn_a(loops: int) -> int:
    return burn(1, loops)


def burn_b(loops: int) -> int:
    return burn(2, loops)


def combine(a: int, b: int) -> int:
    return a ^ b


def noop(i: int) -> int:
    return i


def square(x: int) -> int:
    return x * x


def numbers(n: int) -> list:
    return list(range(n))


def calibrate(target_s: float = 1.0) -> int:
    loops = 200_000
    while True:
        start = time.perf_counter()
        burn(0, loops)
        took = time.perf_counter() - start
        if took > 0.2:
            return int(loops * target_s / took)
        loops *= 2


# -- workers: one measurement each, in a fresh process, result as JSON on stdout ----------------


def _conveyor_fanout() -> Any:
    import conveyor as cv

    work = cv.step(burn)
    join = cv.step(combine)

    @cv.pipeline(name="b9_fanout")
    def fanout(loops: int = 1000) -> Any:
        return join(work(1, loops), work(2, loops))

    return fanout


def _timed_run(pipeline: Any, executor: Any, **params: Any) -> tuple[float, Any, Any]:
    """Run `pipeline` in a new project; its wall time, the run, and its output (if any)."""
    import conveyor as cv
    from conveyor.workspace import close_workspaces

    with tempfile.TemporaryDirectory(prefix="conveyor-b9-") as tmp:
        settings = cv.Settings.load(Path(tmp))
        start = time.perf_counter()
        run = pipeline.run(settings=settings, executor=executor(), **params)
        took = time.perf_counter() - start
        if run.status != "succeeded":
            raise SystemExit(f"{pipeline.name}: {run.status}: {run.error}")
        output = run.output() if run.output_ids else None
        close_workspaces()
    return took, run, output


def _start_ray() -> Any:
    os.environ.update(
        {
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN": secrets.token_hex(32),  # this cluster's own; ~/.ray untouched
            "RAY_USAGE_STATS_ENABLED": "0",
        }
    )
    import ray  # after the environment: Ray reads its auth mode on import

    ray.init(
        num_cpus=WORKERS,
        num_gpus=0,
        object_store_memory=100_000_000,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        log_to_driver=False,
        configure_logging=False,
    )
    return ray


def _executor(name: str) -> Any:
    from conveyor.run.executors import make_executor

    return lambda: make_executor(name, workers=WORKERS)


def work_fanout(tool: str, loops: int) -> dict[str, Any]:
    if tool == "plain":
        start = time.perf_counter()
        value = combine(burn(1, loops), burn(2, loops))
        return {"total_s": time.perf_counter() - start, "value": value}
    if tool.startswith("kedro"):
        return work_kedro(tool, loops)
    if tool.startswith("prefect"):
        return work_prefect(tool, loops)
    kind = tool.removeprefix("conveyor-")
    ray = _start_ray() if kind == "ray" else None
    try:
        pipeline = _conveyor_fanout()
        first_run_s, _, _ = _timed_run(pipeline, _executor(kind), loops=1000)  # warm-up
        total_s, run, value = _timed_run(pipeline, _executor(kind), loops=loops)
        steps = {s.name: s for s in run.steps}
        a, b = steps["burn"], steps["burn_1"]
        overlap = max(0.0, min(a.ended_at, b.ended_at) - max(a.started_at, b.started_at))
        return {
            "total_s": total_s,
            "first_run_s": first_run_s,
            "value": value,
            "overlap_s": overlap,
        }
    finally:
        if ray is not None:
            ray.shutdown()


def work_kedro(tool: str, loops: int) -> dict[str, Any]:
    import logging

    from kedro.io import DataCatalog, MemoryDataset
    from kedro.pipeline import Pipeline, node
    from kedro.runner import ParallelRunner, SequentialRunner

    logging.getLogger("kedro").setLevel(logging.WARNING)

    def run(n: int) -> Any:
        pipe = Pipeline(
            [
                node(burn_a, "loops", "a", name="burn_a"),
                node(burn_b, "loops", "b", name="burn_b"),
                node(combine, ["a", "b"], "out", name="combine"),
            ]
        )
        if tool == "kedro-parallel":
            from kedro.io import SharedMemoryDataCatalog

            catalog: Any = SharedMemoryDataCatalog({"loops": MemoryDataset(n)})
            runner: Any = ParallelRunner(max_workers=WORKERS)
        else:
            catalog = DataCatalog({"loops": MemoryDataset(n)})
            runner = SequentialRunner()
        out = runner.run(pipe, catalog)["out"]
        return out.load() if hasattr(out, "load") else out

    start = time.perf_counter()
    run(1000)
    first_run_s = time.perf_counter() - start
    start = time.perf_counter()
    value = run(loops)
    return {"total_s": time.perf_counter() - start, "first_run_s": first_run_s, "value": value}


def work_prefect(tool: str, loops: int) -> dict[str, Any]:
    from prefect import flow, task
    from prefect.task_runners import ProcessPoolTaskRunner, ThreadPoolTaskRunner

    runner = (
        ProcessPoolTaskRunner(max_workers=WORKERS)
        if tool == "prefect-process"
        else ThreadPoolTaskRunner()
    )
    work = task(burn)
    join = task(combine)

    @flow(task_runner=runner)
    def fanout(loops: int) -> int:
        a = work.submit(1, loops)
        b = work.submit(2, loops)
        return join.submit(a, b).result()

    start = time.perf_counter()
    fanout(1000)  # warm-up: starts Prefect's ephemeral API
    first_run_s = time.perf_counter() - start
    start = time.perf_counter()
    value = fanout(loops)
    return {"total_s": time.perf_counter() - start, "first_run_s": first_run_s, "value": value}


def work_ray(n: int, items: int) -> dict[str, Any]:
    """1,000 no-op steps on Ray against Ray called directly; a map on Ray."""
    import conveyor as cv
    from conveyor.run.executors.ray import RayExecutor

    started = time.perf_counter()
    ray = _start_ray()
    ray_start_s = time.perf_counter() - started
    try:
        remote = ray.remote(num_cpus=1)(noop)
        ray.get([remote.remote(i) for i in range(50)])  # warm-up: the workers exist now
        start = time.perf_counter()
        ray.get([remote.remote(i) for i in range(n)])
        direct_s = time.perf_counter() - start

        window = RayExecutor().max_in_flight
        start = time.perf_counter()
        pending: list[Any] = []
        for i in range(n):
            if len(pending) >= window:
                _, pending = ray.wait(pending, num_returns=1)
            pending.append(remote.remote(i))
        ray.get(pending)
        windowed_s = time.perf_counter() - start

        step = cv.step(noop)

        @cv.pipeline(name="b9_many")
        def many(n: int = 10) -> None:
            for i in range(n):
                step(i)

        _timed_run(many, lambda: RayExecutor(), n=20)  # warm-up
        conveyor_s, _, _ = _timed_run(many, lambda: RayExecutor(), n=n)
        local_s, _, _ = _timed_run(many, _executor("local"), n=n)
        mapped = map_runs(items, lambda: RayExecutor())
        return {
            "ray_start_s": ray_start_s,
            "direct_s": direct_s,
            "windowed_s": windowed_s,
            "window": window,
            "conveyor_s": conveyor_s,
            "local_s": local_s,
            "map": mapped,
        }
    finally:
        ray.shutdown()


def map_runs(items: int, executor: Any) -> dict[str, Any]:
    import conveyor as cv
    from conveyor.workspace import close_workspaces

    listed = cv.step(numbers)
    squared = cv.step(square)

    @cv.pipeline(name="b9_map")
    def mapped(n: int = 10) -> Any:
        return squared.map(listed(n))

    start = time.perf_counter()
    plain = [square(i) for i in range(items)]
    plain_s = time.perf_counter() - start
    _timed_run(mapped, executor, n=10)  # warm-up
    with tempfile.TemporaryDirectory(prefix="conveyor-b9-") as tmp:
        settings = cv.Settings.load(Path(tmp))
        start = time.perf_counter()
        cold = mapped.run(n=items, settings=settings, executor=executor())
        cold_s = time.perf_counter() - start
        start = time.perf_counter()
        cached = mapped.run(n=items, settings=settings, executor=executor())
        cached_s = time.perf_counter() - start
        hits = sum(s.cached for s in cached.steps)
        if cold.output() != plain or cached.output() != plain or hits != items + 2:
            raise SystemExit(f"map: wrong output or {hits}/{items + 2} cached")
        close_workspaces()
    return {"plain_s": plain_s, "cold_s": cold_s, "cached_s": cached_s}


def worker(part: str, tool: str, loops: int) -> None:
    if part == "fanout":
        emit(work_fanout(tool, loops))
    elif part == "ray":
        emit(work_ray(RAY_STEPS, MAP_ITEMS))
    elif part == "map":
        emit(map_runs(MAP_ITEMS, _executor(tool)))
    else:
        raise SystemExit(f"unknown part {part!r}")


# -- the benchmark --------------------------------------------------------------------------------


def wait_quiet(limit_s: float) -> None:
    """Wait (up to `limit_s`) for other processes to leave the CPUs at least 85% idle: the
    fan-out measures parallelism, which a busy neighbour takes away first."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        busy = busy_fraction(0.5)
        if busy is None or busy < 0.15:
            return


def measure(part: str, tool: str, loops: int, timeout: float) -> dict[str, Any]:
    import peers

    peer = tool.startswith(("kedro", "prefect"))
    py = peers.ensure(verbose=False) if peer else Path(sys.executable)
    cmd = [py, Path(__file__).resolve(), "--worker", part, "--tool", tool, "--loops", str(loops)]
    if not tool.startswith("prefect"):
        env = peers.quiet_env()
        for var in ("CONVEYOR_DB", "CONVEYOR_ARTIFACTS", "CONVEYOR_TRUST_PICKLE", "RAY_ADDRESS"):
            env.pop(var, None)
        return run_worker(cmd, env=env, timeout=timeout, cwd=REPO)
    home = Path(tempfile.mkdtemp(prefix="prefect-home-"))
    try:
        return run_worker(cmd, env=peers.prefect_env(home), timeout=timeout, cwd=home)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description="B9: scaling out")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--tool", help=argparse.SUPPRESS)
    parser.add_argument("--loops", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes per measurement")
    parser.add_argument(
        "--prefect-repeat", type=int, default=1, help="the same for Prefect (~1-2 min each here)"
    )
    parser.add_argument("--only", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=10,
        metavar="S",
        help="before each fan-out sample, wait up to S seconds for idle CPUs (default 10)",
    )
    parser.add_argument("--no-peers", action="store_true", help="Conveyor and plain Python only")
    parser.add_argument(
        "--step-seconds", type=float, default=1.0, help="length of each CPU-bound step (~1 s)"
    )
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.tool, args.loops)
        return

    import peers

    started = time.perf_counter()
    versions = {} if args.no_peers else peers.versions(peers.PEERS)
    import ray

    versions["ray"] = ray.__version__
    loops = calibrate(args.step_seconds)
    print(f"B9 scale: machine: {describe_machine()}{load_note()}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    print(f"work: {loops:,} loop iterations per CPU-bound step (~{args.step_seconds:g} s here)")
    summary: dict[str, Any] = {"loops": loops, "step_seconds": args.step_seconds}
    notes: list[str] = []

    if "fanout" in args.only:
        tools = FANOUT if args.no_peers else FANOUT + PEERS
        samples: dict[str, list[dict[str, Any]]] = {}
        for rep in range(max(args.repeat, args.prefect_repeat)):
            for tool in tools:
                if rep >= (args.prefect_repeat if tool.startswith("prefect") else args.repeat):
                    continue
                wait_quiet(args.wait_quiet)
                try:
                    sample = measure("fanout", tool, loops, timeout=600)
                except WorkerError as err:
                    notes.append(f"{tool} failed: {str(err).splitlines()[0]}")
                    print(f"  {tool}: {err}", file=sys.stderr)
                    continue
                samples.setdefault(tool, []).append(sample)
                print(f"  [{rep + 1}] {tool:17} {sample['total_s']:.3f} s")
        summary["fanout"] = {
            tool: {k: median([s[k] for s in runs]) for k in runs[0] if k != "value"}
            | {"best_s": min(s["total_s"] for s in runs), "samples": len(runs)}
            for tool, runs in samples.items()
        }
        values = {s["value"] for runs in samples.values() for s in runs}
        if len(values) != 1:
            notes.append(f"tools disagree on the result: {sorted(values)}")
    if "ray" in args.only:
        runs = [measure("ray", "ray", loops, timeout=900) for _ in range(args.repeat)]
        for i, sample in enumerate(runs):
            print(
                f"  [{i + 1}/{args.repeat}] ray: direct {sample['direct_s']:.3f} s, "
                f"conveyor {sample['conveyor_s']:.3f} s"
            )
        summary["ray"] = {
            k: median([s[k] for s in runs]) for k in runs[0] if k not in ("map", "window")
        } | {"window": runs[0]["window"]}
        summary["map-ray"] = {k: median([s["map"][k] for s in runs]) for k in runs[0]["map"]}
    if "map" in args.only:
        for kind in ("local", "process"):
            runs = [measure("map", kind, loops, timeout=600) for _ in range(args.repeat)]
            summary[f"map-{kind}"] = {k: median([s[k] for s in runs]) for k in runs[0]}
            print(f"  map {kind}: {summary[f'map-{kind}']['cold_s']:.3f} s cold")

    report(summary, notes)
    save_results(
        "b9_scale" if args.step_seconds == 1 else f"b9_scale_{args.step_seconds:g}s",
        {
            "command": "python benchmarks/b9_scale.py " + " ".join(sys.argv[1:]),
            "versions": versions,
            "summary": summary,
            "notes": notes,
            "wall_s": time.perf_counter() - started,
        },
    )
    print(f"\nB9 took {time.perf_counter() - started:.0f} s")


def report(summary: dict[str, Any], notes: list[str]) -> None:
    fanout = summary.get("fanout")
    if fanout:
        plain, plain_best = fanout["plain"]["total_s"], fanout["plain"]["best_s"]
        rows = []
        for tool, label in LABELS.items():
            found = fanout.get(tool)
            if found is None:
                continue
            overlap = found.get("overlap_s")
            rows.append(
                [
                    label,
                    fmt_s(found["total_s"]),
                    fmt_s(found["best_s"]),
                    fmt_ratio(plain / found["total_s"]),
                    fmt_ratio(plain_best / found["best_s"]),
                    "—" if overlap is None else fmt_s(overlap),
                    "—" if "first_run_s" not in found else fmt_s(found["first_run_s"]),
                ]
            )
        seconds = summary.get("step_seconds", 1.0)
        print(
            f"\nFan-out: 2 CPU-bound steps of ~{seconds:g} s and a join, {WORKERS} workers "
            "(medians, and the best of the samples)"
        )
        print(
            table(
                [
                    "tool",
                    "wall s",
                    "best s",
                    "speed-up vs plain",
                    "best vs best",
                    "steps overlapped s",
                    "warm-up run s",
                ],
                rows,
            )
        )
        print("\nTargets (speed-up over the same tool's sequential run; median, best):")
        for parallel, sequential in (
            ("conveyor-process", "conveyor-local"),
            ("conveyor-ray", "conveyor-local"),
            ("kedro-parallel", "kedro-sequential"),
        ):
            if parallel in fanout and sequential in fanout:
                ratio = fanout[sequential]["total_s"] / fanout[parallel]["total_s"]
                best = fanout[sequential]["best_s"] / fanout[parallel]["best_s"]
                target = "" if parallel.startswith("kedro") else " (target ≥ 1.8x)"
                verdict = "" if target == "" else (" — met" if ratio >= 1.8 else " — MISSED")
                print(
                    f"  {LABELS[parallel]} over {LABELS[sequential]}: {ratio:.2f}x, "
                    f"{best:.2f}x{target}{verdict}"
                )
        for peer in ("kedro-parallel", "prefect-process"):
            if "conveyor-process" in fanout and peer in fanout:
                ratio = fanout[peer]["total_s"] / fanout["conveyor-process"]["total_s"]
                print(f"  {LABELS[peer]}: {ratio:.2f}x the wall time of Conveyor's process one")

    ray = summary.get("ray")
    if ray:
        n = RAY_STEPS
        floor = ray["direct_s"]
        rows = [
            ("Ray tasks called directly, all at once (the floor)", floor),
            (f"Ray tasks called directly, ≤ {ray['window']} in flight", ray["windowed_s"]),
            ("Conveyor, ray executor", ray["conveyor_s"]),
            ("Conveyor, local executor (no Ray: its own bookkeeping)", ray["local_s"]),
        ]
        print(f"\n{n:,} independent no-op steps on Ray ({WORKERS} CPUs), medians")
        print(
            table(
                ["how", "total s", "per step ms", "ratio to the floor"],
                [
                    [label, fmt_s(total), fmt_ms(total / n * 1e3), fmt_ratio(total / floor)]
                    for label, total in rows
                ],
            )
        )
        over = (ray["conveyor_s"] - floor) / n * 1e3
        over_window = (ray["conveyor_s"] - ray["windowed_s"]) / n * 1e3
        print(
            f"  Conveyor's per-step overhead on Ray: {over:.2f} ms over the floor, "
            f"{over_window:.2f} ms over Ray with the same window of tasks in flight"
        )
        print(f"  Ray start-up in the measuring process, excluded: {fmt_s(ray['ray_start_s'])} s")

    rows = []
    for kind in ("local", "process", "ray"):
        found = summary.get(f"map-{kind}")
        if not found:
            continue
        per_item = (found["cold_s"] - found["plain_s"]) / MAP_ITEMS * 1e3
        rows.append(
            [
                kind,
                fmt_s(found["cold_s"]),
                fmt_ms(per_item),
                fmt_s(found["cached_s"]),
                fmt_ms(found["cached_s"] / MAP_ITEMS * 1e3),
            ]
        )
    if rows:
        print(f"\nA map over {MAP_ITEMS} items (x → x²; plain list comprehension ≈ 0), medians")
        print(
            table(["executor", "cold s", "per item ms", "all cached s", "cached per item ms"], rows)
        )
    for note in notes:
        print(f"  note: {note}")


if __name__ == "__main__":
    main()
