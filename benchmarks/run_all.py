"""Run every benchmark, one after the other: `make bench`.

    .venv/bin/python benchmarks/run_all.py            # the full set, ~8-10 minutes on 2 cores
    .venv/bin/python benchmarks/run_all.py --quick    # fewer repetitions, ~5 minutes
    .venv/bin/python benchmarks/run_all.py b1 startup # a subset

Order: start-up first (it is the most sensitive to a busy machine), then B3, then B1 (which builds
`benchmarks/.venv-peers` on first use, ~1-2 minutes more), then B2 (the metadata store on SQLite
and PostgreSQL), then B4 (schema inference and validation, against pandas and pandera), then B5
(the penguins example end to end, whole processes), then B6 (`conveyor serve` under HTTP load
against MLflow, BentoML and a bare FastAPI app; it builds `benchmarks/.venv-mlflow` on first use,
~1 minute more, and wants `wrk` installed), then B7 (drift against Evidently, in its own
`benchmarks/.venv-evidently`), B8 (the dashboard's first render in Chromium on 100,000 runs), B9
(process and Ray executors, map items), then the profile of B1's chain. Before each, it waits
up to `--wait-quiet` seconds for other processes to leave the CPUs idle (then runs anyway, and the
benchmark prints a warning). The console output is also written to
`benchmarks/results/latest.md`, with each benchmark's command, for updating the tables in
benchmarks/README.md; JSON results are beside it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from _common import BENCH, RESULTS, busy_fraction, describe_machine, load_note, source_state

FULL = {
    "startup": ["startup.py"],
    "b3": ["b3_breast_cancer.py"],
    "b1": ["b1_chain.py"],
    "b2": ["b2_metadata.py"],
    "b4": ["b4_schema.py"],
    "b5": ["b5_penguins.py"],
    "b6": ["b6_serving.py"],
    "b7": ["b7_drift.py"],
    "b8": ["b8_ui.py"],
    "b9": ["b9_scale.py"],
    "profile": ["profile_chain.py"],
}
QUICK = {
    "startup": ["startup.py", "--runs", "5"],
    "b3": ["b3_breast_cancer.py", "--rounds", "3"],
    "b1": ["b1_chain.py", "--repeat", "1", "--prefect-repeat", "1"],
    "b2": ["b2_metadata.py", "--steps", "1000", "--runs", "100000"],
    "b4": ["b4_schema.py", "--repeat", "1"],
    "b5": ["b5_penguins.py", "--rounds", "1"],
    "b6": ["b6_serving.py", "--duration", "3"],
    "b7": ["b7_drift.py", "--repeat", "1"],
    "b8": ["b8_ui.py", "--loads", "3"],
    "b9": ["b9_scale.py", "--repeat", "1"],
    "profile": ["profile_chain.py"],
}
TIMEOUT_S = 15 * 60  # for each benchmark; the whole set stays well under this


def wait_quiet(limit_s: float) -> None:
    """Wait (up to `limit_s`) until other processes leave the CPUs at least 85% idle."""
    if limit_s <= 0:
        return
    deadline = time.monotonic() + limit_s
    busy = busy_fraction()
    if busy is None or busy < 0.15:
        return
    print(f"(CPUs {busy:.0%} busy: waiting up to {limit_s:.0f} s) ", end="", flush=True)
    while time.monotonic() < deadline and busy is not None and busy >= 0.15:
        time.sleep(4)
        busy = busy_fraction()
    print(f"CPUs {busy or 0:.0%} busy now", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description="run all benchmarks")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=30,
        metavar="S",
        help="before each benchmark, wait up to S seconds for the machine to be idle (default 30)",
    )
    parser.add_argument("only", nargs="*", help=f"a subset of {list(FULL)}, e.g. b1 startup")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    names = args.only or list(plan)
    unknown = set(names) - set(plan)
    if unknown:
        parser.error(f"unknown benchmark(s) {sorted(unknown)}; choose from {list(plan)}")
    RESULTS.mkdir(exist_ok=True)
    started = time.perf_counter()
    header = (
        f"Benchmarks of Conveyor {source_state()} on {describe_machine()}{load_note()}; "
        f"{time.strftime('%F %T')}"
    )
    print(header, flush=True)
    log = [f"# {header}\n"]
    failed = []
    for name in names:
        cmd = [sys.executable, str(BENCH / plan[name][0]), *plan[name][1:]]
        shown = "python benchmarks/" + " ".join(plan[name])
        wait_quiet(args.wait_quiet)
        print(f"\n=== {name}: {shown}\n", flush=True)
        log.append(f"\n## {name}\n\n    {shown}\n\n```")
        t0 = time.perf_counter()
        with subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=BENCH.parent
        ) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                print(line, end="", flush=True)
                log.append(line.rstrip("\n"))
            try:
                code = proc.wait(timeout=TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = -1
        log.append("```")
        took = time.perf_counter() - t0
        print(f"\n=== {name}: {'ok' if code == 0 else f'FAILED ({code})'} in {took:.0f} s")
        if code != 0:
            failed.append(name)
    total = time.perf_counter() - started
    log.append(f"\nAll benchmarks: {total:.0f} s; failed: {', '.join(failed) or 'none'}\n")
    (RESULTS / "latest.md").write_text("\n".join(log))
    print(f"\nAll benchmarks took {total:.0f} s; output in {RESULTS / 'latest.md'}")
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
