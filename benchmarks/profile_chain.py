"""Where Conveyor's per-step time goes: B1's chain of 1000 steps under cProfile (or pyinstrument).

    .venv/bin/python benchmarks/profile_chain.py            # 1000 steps, cold then cached
    .venv/bin/python benchmarks/profile_chain.py --steps 300 --pyinstrument

Runs in the peers environment (pyinstrument is installed there, not in the project's .venv). The
cold run and the fully cached run of a fresh project are each timed without a profiler, then
profiled; the table gives each component's share of the profiled time and that share of the
unprofiled wall time per step, so the profiler's own overhead does not inflate the numbers.
Threads that the run starts (the metadata recorder) are profiled too and their functions marked
[bg]: their time overlaps the main thread's, and with the GIL each thread's wall-clock times include
waiting for the other, so shares add up to more than 100%. The what-if runs at the end settle what
each cost really is: the cold run again with one part patched out (in this process only).
Full reports go to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

from _common import RESULTS, describe_machine, load_note, save_results, table

# (label, file fragment, function name): inclusive ("cumulative") time of these functions. They
# nest (a step's record includes its SQL), so the rows are a breakdown to read, not a sum.
COMPONENTS = [
    ("whole run: Pipeline.run", "core/pipeline.py", "run"),
    ("  trace the graph", "core/pipeline.py", "trace"),
    ("  open workspace (new DB, migrations)", "conveyor/workspace.py", "open_workspace"),
    ("  capture environment (git, packages)", "run/environment.py", "capture_environment"),
    ("  git subprocesses", "run/environment.py", "_git_state"),
    ("  pipeline version hash (Graph.version)", "core/graph.py", "version"),
    ("  start run row", "metadata/store.py", "start_run"),
    ("  runner._start (key, cache lookup, submit)", "run/runner.py", "_start"),
    ("    cache key: step fingerprint", "run/runner.py", "_step_fingerprint"),
    ("    cache key: cache_key()", "core/fingerprint.py", "cache_key"),
    ("    cache lookup (SQL SELECT + COMMIT)", "metadata/store.py", "cache_lookup"),
    ("    serve from cache (lookup + exists)", "run/runner.py", "_serve_from_cache"),
    ("    artifact exists() check", "artifacts/store.py", "exists"),
    ("    executor.submit → Task()", "run/executors/local.py", "submit"),
    ("      Task.__call__", "run/task.py", "__call__"),
    ("        save output: save_value", "artifacts/values.py", "save_value"),
    ("          materializer.save (JSON)", "artifacts/materializers.py", "save"),
    ("          materializer.describe", "artifacts/materializers.py", "describe"),
    ("          ArtifactStore.put", "artifacts/store.py", "put"),
    ("            blob write (tmp + rename)", "artifacts/store.py", "write_atomic"),
    ("        capture stdout/stderr", "run/capture.py", "capture_step"),
    ("  runner._finish", "run/runner.py", "_finish"),
    ("  runner._record (build the step's facts)", "run/runner.py", "_record"),
    ("  wait for the recorder at the end", "run/recording.py", "close"),
    ("  finish run row", "metadata/store.py", "finish_run"),
    ("  build the Run view", "run/views.py", "__init__"),
    ("[bg] recorder: record_steps (batches)", "metadata/store.py", "record_steps"),
    ("[bg]   rows to SQL: executemany", "sqlalchemy/engine/default.py", "do_executemany"),
    ("[bg]   recorder transaction COMMIT", "sqlalchemy/engine/base.py", "_commit_impl"),
    ("all SQLAlchemy Connection.execute", "sqlalchemy/engine/base.py", "execute"),
    ("  SQL compile (cache misses)", "sqlalchemy/sql/elements.py", "_compiler"),
    ("  sqlite3 cursor.execute", "sqlalchemy/engine/default.py", "do_execute"),
    ("all COMMITs (sqlite3)", "sqlalchemy/engine/default.py", "do_commit"),
    ("all blake3 digests", "core/hashing.py", "digest"),
    ("all uuid4()", "uuid.py", "uuid4"),
    ("all time.time()", "~", "<built-in method time.time>"),
]


#: Built-ins whose time is a thread waiting, not working.
IDLE = {
    "<method 'get' of '_queue.SimpleQueue' objects>",
    "<method 'acquire' of '_thread.lock' objects>",
}


@contextlib.contextmanager
def count_batches() -> Iterator[list[int | None]]:
    """Count `MetadataStore.record_steps` calls (the recorder's transactions), if it exists."""
    from conveyor.metadata.store import MetadataStore

    counted: list[int | None] = [None]
    original = getattr(MetadataStore, "record_steps", None)
    if original is None:
        yield counted
        return
    counted[0] = 0

    def counting(self: Any, batch: Any) -> Any:
        counted[0] = (counted[0] or 0) + 1
        return original(self, batch)

    MetadataStore.record_steps = counting  # type: ignore[method-assign]
    try:
        yield counted
    finally:
        MetadataStore.record_steps = original  # type: ignore[method-assign]


def chain_pipeline(n: int) -> Any:
    import conveyor as cv

    @cv.step
    def inc(x: int) -> int:
        return x + 1

    @cv.pipeline(name=f"chain{n}")
    def chain(x: int = 0) -> Any:
        for _ in range(n):
            x = inc(x)
        return x

    return chain


def inclusive(stats: pstats.Stats, fragment: str, name: str) -> tuple[float, int]:
    """Cumulative time and primitive calls of the function matching (file fragment, name).

    When several match (same-named methods of nested classes, e.g. `ArtifactStore.exists` calling
    its backend's `exists`), the outermost one — the largest cumulative time — counts.
    """
    best = (0.0, 0)
    for (filename, _line, func), (cc, _nc, _tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        if func == name and (fragment == "~" or filename.replace(os.sep, "/").endswith(fragment)):
            best = max(best, (ct, cc))
    return best


def profile_run(label: str, run: Any, n: int) -> dict[str, Any]:
    """Profile `run()` in this thread and in every thread it starts (cProfile is per thread)."""
    background: list[cProfile.Profile] = []
    original_run = threading.Thread.run

    def profiled_run(thread: threading.Thread) -> None:
        profiler = cProfile.Profile()
        background.append(profiler)
        profiler.runcall(original_run, thread)

    threading.Thread.run = profiled_run  # type: ignore[method-assign]
    profiler = cProfile.Profile()
    try:
        profiler.enable()
        start = time.perf_counter()
        run()
        profiled_s = time.perf_counter() - start
        profiler.disable()
    finally:
        threading.Thread.run = original_run  # type: ignore[method-assign]
    main_stats = pstats.Stats(profiler)
    bg_stats = [pstats.Stats(p) for p in background]
    stats = pstats.Stats(profiler)
    for extra in bg_stats:
        stats.add(extra)
    out = io.StringIO()
    for title, st in (("main thread", main_stats), *(("background thread", b) for b in bg_stats)):
        out.write(f"==== {title} ====\n")
        st.stream = out  # type: ignore[attr-defined]
        st.sort_stats("cumulative").print_stats(60)
        st.sort_stats("tottime").print_stats(30)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"profile_chain_{label}.txt").write_text(out.getvalue())
    bg_funcs = {key for b in bg_stats for key in b.stats}  # type: ignore[attr-defined]
    main_funcs = set(main_stats.stats)  # type: ignore[attr-defined]
    rows = []
    for name, fragment, func in COMPONENTS:
        cum, calls = inclusive(stats, fragment, func)
        if calls:
            rows.append({"component": name, "cum_s": cum, "calls": calls})
    own: list[dict[str, Any]] = []
    for key, (cc, _nc, tt, _ct, _c) in sorted(
        stats.stats.items(),  # type: ignore[attr-defined]
        key=lambda item: -item[1][2],
    )[:15]:
        filename, line, func = key
        short = "/".join(Path(filename).parts[-2:]) if filename != "~" else ""
        where = " [bg]" if key in bg_funcs and key not in main_funcs else ""
        if func in IDLE:
            where += " (idle wait)"
        own.append({"function": f"{short}:{line}({func}){where}", "tottime_s": tt, "calls": cc})
    return {"profiled_s": profiled_s, "components": rows, "own": own}


def print_profile(title: str, wall_s: float, prof: dict[str, Any], n: int) -> None:
    scale = wall_s / prof["profiled_s"]
    print(
        f"\n{title}: {wall_s:.3f} s unprofiled ({wall_s / n * 1e3:.3f} ms/step), "
        f"{prof['profiled_s']:.3f} s under cProfile"
    )
    rows = [
        [
            r["component"],
            str(r["calls"]),
            f"{r['cum_s'] / prof['profiled_s'] * 100:.1f}%",
            f"{r['cum_s'] * scale / n * 1e6:.0f}",
        ]
        for r in prof["components"]
    ]
    print(table(["component (inclusive)", "calls", "share", "µs per step (est.)"], rows))
    print("\nTop functions by own time:")
    rows = [
        [o["function"], str(o["calls"]), f"{o['tottime_s'] / prof['profiled_s'] * 100:.1f}%"]
        for o in prof["own"][:10]
    ]
    print(table(["function", "calls", "own share"], rows))


def _no_blob_files() -> Any:
    from conveyor.artifacts.store import ArtifactStore, StoredBlob, artifact_id

    def put(self: Any, encoding: str, data: bytes, *args: Any, **kwargs: Any) -> Any:
        return StoredBlob(artifact_id(encoding, data), "memory://", len(data))

    return mock.patch.object(ArtifactStore, "put", put)


def _no_cache_lookup() -> Any:
    from conveyor.metadata.store import MetadataStore

    def cache_lookup(self: Any, *args: Any, **kwargs: Any) -> None:
        return None

    return mock.patch.object(MetadataStore, "cache_lookup", cache_lookup)


def _no_step_records() -> Any:
    from conveyor.run.recording import Recorder

    def add(self: Any, *args: Any, **kwargs: Any) -> None:
        return None

    return mock.patch.object(Recorder, "add", add)


#: What-if variants: each removes one cost from the cold run, by patching Conveyor's internals in
#: this process only. They measure how much a change there could save at most; they are not modes
#: Conveyor has. A patch whose target no longer exists is reported as n/a.
ABLATIONS: dict[str, list[Any]] = {
    "as is": [],
    "without the cache look-up (SELECT)": [_no_cache_lookup],
    "without blob files (ids only)": [_no_blob_files],
    "without step records (recorder)": [_no_step_records],
    "without all three": [_no_cache_lookup, _no_blob_files, _no_step_records],
}


def ablation(chain: Any, n: int, repeat: int = 3) -> dict[str, float | None]:
    import conveyor as cv
    from conveyor.workspace import close_workspaces

    found: dict[str, float | None] = {}
    for label, patches in ABLATIONS.items():
        times = []
        try:
            with contextlib.ExitStack() as stack:
                for make_patch in patches:
                    stack.enter_context(make_patch())
                for _ in range(repeat):
                    with tempfile.TemporaryDirectory() as tmp:
                        settings = cv.Settings.load(Path(tmp))
                        start = time.perf_counter()
                        run = chain.run(x=0, settings=settings)
                        times.append(time.perf_counter() - start)
                        close_workspaces()
                    if run.status != "succeeded":
                        raise RuntimeError(run.status)
        except (ImportError, AttributeError, TypeError, RuntimeError) as err:
            print(f"  ablation {label!r}: n/a ({type(err).__name__}: {err})")
            found[label] = None
            continue
        found[label] = statistics.median(times)
    base = found["as is"]
    rows = []
    for label, wall in found.items():
        if wall is None or base is None:
            rows.append([label, "n/a", "n/a", "n/a"])
            continue
        rows.append(
            [
                label,
                f"{wall / n * 1e3:.3f}",
                f"{(base - wall) / n * 1e3:+.3f}" if label != "as is" else "",
                f"{wall / base:.2f}x",
            ]
        )
    print(f"\nWhat-if: cold run of {n} steps with one cost removed (median of {repeat}):")
    print(table(["variant", "ms per step", "saves ms/step", "ratio vs as is"], rows))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description="profile Conveyor on the B1 chain")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--pyinstrument", action="store_true", help="also a pyinstrument tree")
    parser.add_argument("--no-ablation", action="store_true", help="skip the what-if runs")
    args = parser.parse_args()

    import peers

    if Path(sys.prefix).resolve() != peers.VENV.resolve():
        py = peers.ensure()
        env = peers.quiet_env()
        os.execve(str(py), [str(py), __file__, *sys.argv[1:]], env)

    import conveyor as cv
    from conveyor.workspace import close_workspaces

    n = args.steps
    print(f"Profile: Conveyor chain of {n} steps; machine: {describe_machine()}{load_note()}")
    with tempfile.TemporaryDirectory() as tmp:  # warm-up: lazy imports, as in B1
        chain_pipeline(1).run(x=0, settings=cv.Settings.load(Path(tmp)))
        close_workspaces()
    chain = chain_pipeline(n)
    results: dict[str, Any] = {"steps": n}
    for label in ("cold", "cached"):
        # Timed without the profiler (median of 3), then profiled; each in a fresh project.
        walls, batches = [], []
        for attempt in range(4):
            with tempfile.TemporaryDirectory() as tmp:
                settings = cv.Settings.load(Path(tmp))
                if label == "cached":
                    chain.run(x=0, settings=settings)
                if attempt == 3:
                    prof = profile_run(label, lambda s=settings: chain.run(x=0, settings=s), n)
                else:
                    with count_batches() as counted:
                        start = time.perf_counter()
                        chain.run(x=0, settings=settings)
                        walls.append(time.perf_counter() - start)
                    batches.append(counted[0])
                close_workspaces()
        wall = statistics.median(walls)
        results[label] = {"wall_s": wall, "walls_s": walls, "recorder_batches": batches, **prof}
        print_profile(f"{label} run", wall, prof, n)
        if any(b is not None for b in batches):
            print(
                f"Unprofiled {label} runs wrote their {n} steps' facts in {batches} recorder "
                "transactions (group commit)."
            )

    if not args.no_ablation:
        results["ablation"] = ablation(chain, n)

    if args.pyinstrument:
        from pyinstrument import Profiler

        with tempfile.TemporaryDirectory() as tmp:
            settings = cv.Settings.load(Path(tmp))
            profiler = Profiler(interval=0.0005)
            profiler.start()
            chain.run(x=0, settings=settings)
            profiler.stop()
            close_workspaces()
        text = profiler.output_text(unicode=True, color=False, show_all=False)
        path = RESULTS / "profile_chain_pyinstrument.txt"
        path.write_text(text)
        print(f"\npyinstrument tree of the cold run: {path}")
    save_results(
        "profile_chain",
        {"command": "python benchmarks/profile_chain.py " + " ".join(sys.argv[1:]), **results},
    )


if __name__ == "__main__":
    main()
