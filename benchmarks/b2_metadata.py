"""B2 — the metadata store: step runs recorded per second, and `conveyor runs list` at 100,000 runs.

    .venv/bin/python benchmarks/b2_metadata.py [--steps 3000] [--runs 100000]

Write throughput is measured through `MetadataStore.record_steps` (what the runner's background
recorder calls), one step per transaction and in batches of 100, on SQLite and on the local
PostgreSQL, against the raw driver (sqlite3 / psycopg) inserting the same rows in the same
transactions: the ratio is what SQLAlchemy and Conveyor add. `runs list` latency is the wall time
of the real command against a store holding 100,000 runs, next to `conveyor --version` (the CLI's
own start-up) as baseline.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from _common import REPO, describe_machine, fmt_ms, fmt_ratio, load_note, save_results, table

sys.path.insert(0, str(REPO / "src"))

from conveyor.metadata.records import RunRecord, StepFacts, StepRunRecord
from conveyor.metadata.store import MetadataStore

PG_ADMIN = os.environ.get("CONVEYOR_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
CONVEYOR = Path(sys.executable).with_name("conveyor")


def facts(run_id: str, i: int) -> StepFacts:
    artifact = uuid.uuid4().hex * 2
    step = StepRunRecord(
        id=uuid.uuid4().hex,
        run_id=run_id,
        name=f"step_{i}",
        step="bench.step",
        position=i,
        status="succeeded",
        cached=False,
        cache_key=uuid.uuid4().hex * 2,
        started_at=time.time(),
        ended_at=time.time(),
        duration_s=0.001,
        attempts=1,
        outputs={"output": artifact},
    )
    row = {
        "id": artifact,
        "type_name": "builtins.int",
        "materializer": "json",
        "materializer_version": 1,
        "safe": True,
        "size": 2,
        "uri": f"file:///x/{artifact}",
        "summary": '{"value": 1}',
        "producer_id": step.id,
        "created_at": time.time(),
    }
    return StepFacts(step, artifacts=[row], cache_outputs={"output": {"id": artifact}})


def conveyor_rate(url: str, steps: int, batch: int) -> float:
    store = MetadataStore(url)
    run_id = uuid.uuid4().hex
    store.start_run(
        RunRecord(run_id, "bench", "v", "running", {}, True, time.time(), pid=os.getpid())
    )
    items = [facts(run_id, i) for i in range(steps)]
    began = time.perf_counter()
    for start in range(0, steps, batch):
        store.record_steps(items[start : start + batch])
    elapsed = time.perf_counter() - began
    store.close()
    return steps / elapsed


def raw_rows(i: int) -> tuple[tuple[Any, ...], tuple[Any, ...], tuple[Any, ...], tuple[Any, ...]]:
    sid, art = uuid.uuid4().hex, uuid.uuid4().hex * 2
    now = time.time()
    return (
        (art, "builtins.int", "json", 1, True, 2, "file:///x", "{}", sid, now),
        (sid, "run", f"s{i}", "bench.step", i, "succeeded", False, art, None, now, now, 0.0, 1),
        (sid, "out", "output", art),
        (art, sid, "{}", now),
    )


RAW_SQL = [
    "INSERT INTO artifacts VALUES ({})".format(",".join(["{p}"] * 10)),
    "INSERT INTO step_runs (id, run_id, node, step, position, status, cached, cache_key, "
    "origin_id, started_at, ended_at, duration_s, attempts) VALUES ({})".format(
        ",".join(["{p}"] * 13)
    ),
    "INSERT INTO lineage VALUES ({p},{p},{p},{p})",
    "INSERT INTO cache_entries VALUES ({p},{p},{p},{p})",
]


def raw_rate(connect: Any, placeholder: str, steps: int, batch: int) -> float:
    conn = connect()
    cur = conn.cursor()
    cur.execute(
        "INSERT INTO runs (id, pipeline, pipeline_version, status, params, cache, started_at) "
        f"VALUES ({','.join([placeholder] * 7)})",
        ("run", "bench", "v", "running", "{}", True, time.time()),
    )
    conn.commit()
    sql = [s.format(p=placeholder) for s in RAW_SQL]
    rows = [raw_rows(i) for i in range(steps)]
    began = time.perf_counter()
    for start in range(0, steps, batch):
        chunk = rows[start : start + batch]
        for statement, index in zip(sql, range(4), strict=True):
            cur.executemany(statement, [r[index] for r in chunk])
        conn.commit()
    elapsed = time.perf_counter() - began
    conn.close()
    return steps / elapsed


def fresh_pg() -> tuple[str, str]:
    import psycopg

    name = f"conveyor_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0]
    return name, f"{base}/{name}"


def drop_pg(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def throughput(steps: int) -> list[list[str]]:
    rows = []
    for batch in (1, 100):
        with tempfile.TemporaryDirectory() as tmp:
            ours = conveyor_rate(f"sqlite:///{tmp}/c.db", steps, batch)
            MetadataStore(f"sqlite:///{tmp}/raw.db").close()  # same schema for the raw driver

            def connect(path: str = f"{tmp}/raw.db") -> sqlite3.Connection:
                conn = sqlite3.connect(path)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                return conn

            raw = raw_rate(connect, "?", steps, batch)
        rows.append(["SQLite", batch, f"{ours:,.0f}", f"{raw:,.0f}", fmt_ratio(raw / ours)])
        try:
            import psycopg

            name, url = fresh_pg()
            try:
                ours = conveyor_rate(
                    url.replace("postgresql://", "postgresql+psycopg://"), steps, batch
                )
            finally:
                drop_pg(name)
            name, url = fresh_pg()
            try:
                MetadataStore(url.replace("postgresql://", "postgresql+psycopg://")).close()
                raw = raw_rate(lambda u=url: psycopg.connect(u), "%s", steps, batch)
            finally:
                drop_pg(name)
            rows.append(["PostgreSQL", batch, f"{ours:,.0f}", f"{raw:,.0f}", fmt_ratio(raw / ours)])
        except Exception as err:  # PostgreSQL down: say so, keep the SQLite figures
            rows.append(["PostgreSQL", batch, f"unavailable: {err}", "—", "—"])
    return rows


def runs_list_latency(count: int, repeats: int = 7) -> list[list[str]]:
    with tempfile.TemporaryDirectory() as tmp:
        store = MetadataStore(f"sqlite:///{tmp}/.conveyor/conveyor.db")
        now = time.time()
        conn = store.write_conn
        with conn.begin():
            conn.exec_driver_sql(
                "INSERT INTO runs (id, pipeline, pipeline_version, status, params, cache, "
                "started_at, ended_at, duration_s, host, pid) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (
                        uuid.uuid4().hex,
                        f"p{i % 7}",
                        "v",
                        "succeeded",
                        '{"C": 0.5}',
                        1,
                        now - i,
                        now - i + 1,
                        1.0,
                        "bench",
                        1,
                    )
                    for i in range(count)
                ],
            )
        store.close()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}

        def wall(*args: str) -> float:
            times = []
            for _ in range(repeats):
                began = time.perf_counter()
                subprocess.run(
                    [str(CONVEYOR), *args], cwd=tmp, env=env, check=True, capture_output=True
                )
                times.append(time.perf_counter() - began)
            return min(times)

        baseline = wall("--version")
        listing = wall("runs", "list")
        filtered = wall("runs", "list", "--pipeline", "p3", "--limit", "50")
        as_json = wall("runs", "list", "--json")
    return [
        ["conveyor --version (baseline)", fmt_ms(baseline * 1000), "1.00x"],
        ["conveyor runs list", fmt_ms(listing * 1000), fmt_ratio(listing / baseline)],
        [
            "conveyor runs list --pipeline p3 --limit 50",
            fmt_ms(filtered * 1000),
            fmt_ratio(filtered / baseline),
        ],
        ["conveyor runs list --json", fmt_ms(as_json * 1000), fmt_ratio(as_json / baseline)],
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=100_000)
    args = parser.parse_args()
    print(f"B2 metadata store on {describe_machine()}{load_note()}")
    write = throughput(args.steps)
    print(f"\nstep runs recorded per second ({args.steps} step runs each)\n")
    print(table(["backend", "per transaction", "Conveyor", "raw driver", "raw / Conveyor"], write))
    latency = runs_list_latency(args.runs)
    print(f"\nruns list with {args.runs:,} runs in the store (wall, best of 7)\n")
    print(table(["command", "ms", "vs --version"], latency))
    save_results("b2_metadata", {"write": write, "runs_list": latency, "runs": args.runs})


if __name__ == "__main__":
    main()
