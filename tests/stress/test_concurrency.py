"""Many processes running pipelines against one store at once lose no record and never fail."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

PROCESSES = 8
RUNS_EACH = 25

PIPELINE = """
import conveyor as cv

@cv.step
def numbers(n: int, salt: int) -> list:
    return [i * salt for i in range(n)]

@cv.step
def total(values: list) -> int:
    cv.log_metric("total", sum(values))
    return sum(values)

@cv.pipeline
def busy(n: int = 50, salt: int = 0):
    return total(numbers(n, salt))
"""

WORKER = """
import json, sys
sys.path.insert(0, {folder!r})
from busy import busy
worker = int(sys.argv[1])
outcome = {{"started": 0, "succeeded": 0, "errors": []}}
for i in range({runs}):
    # even runs are identical in every process (racing for the same cache entries),
    # odd runs are this worker's own
    salt = i if i % 2 == 0 else 1000 * (worker + 1) + i
    outcome["started"] += 1
    try:
        run = busy.run(salt=salt)
        outcome["succeeded"] += run.status == "succeeded"
    except Exception as err:
        outcome["errors"].append(f"{{type(err).__name__}}: {{err}}")
print(json.dumps(outcome))
"""


def hammer(folder: Path, env: dict[str, str], figures: Callable[[str], None], label: str) -> None:
    (folder / "busy.py").write_text(PIPELINE)
    (folder / "worker.py").write_text(
        textwrap.dedent(WORKER.format(folder=str(folder), runs=RUNS_EACH))
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "worker.py", str(w)],
            cwd=folder,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(PROCESSES)
    ]
    import json

    outcomes = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        outcomes.append(json.loads(out.strip().splitlines()[-1]))
    started = sum(o["started"] for o in outcomes)
    succeeded = sum(o["succeeded"] for o in outcomes)
    errors = [e for o in outcomes for e in o["errors"]]
    from conveyor.config import Settings
    from conveyor.metadata.store import MetadataStore

    store = MetadataStore(
        Settings.load(folder).db if "CONVEYOR_DB" not in env else env["CONVEYOR_DB"]
    )
    with store.engine.connect() as conn:
        recorded = conn.execute(sa.text("SELECT count(*) FROM runs")).scalar()
        ok = conn.execute(sa.text("SELECT count(*) FROM runs WHERE status = 'succeeded'")).scalar()
        steps = conn.execute(sa.text("SELECT count(*) FROM step_runs")).scalar()
        metrics = conn.execute(
            sa.text(
                "SELECT count(*) FROM step_runs s JOIN metrics m ON m.step_run_id = s.id "
                "WHERE s.node = 'total'"
            )
        ).scalar()
    store.close()
    lost = started - recorded
    figures(
        f"concurrency ({label}): processes={PROCESSES} runs_started={started} "
        f"runs_recorded={recorded} succeeded={ok} step_runs={steps} lost={lost} "
        f"errors={len(errors)}"
    )
    assert errors == [], errors[:3]
    assert not any("locked" in e for e in errors)
    assert lost == 0
    assert recorded == PROCESSES * RUNS_EACH
    assert ok == recorded
    assert succeeded == recorded
    assert steps == 2 * recorded
    assert metrics == recorded  # every run's `total` step carries its metric (cached ones too)


def test_eight_processes_on_one_sqlite_store(
    tmp_path: Path, figures: Callable[[str], None]
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    hammer(tmp_path, env, figures, "sqlite")


@pytest.mark.usefixtures("postgres_url")
def test_eight_processes_on_postgresql(
    tmp_path: Path, figures: Callable[[str], None], postgres_url: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env["CONVEYOR_DB"] = postgres_url
    hammer(tmp_path, env, figures, "postgresql")
