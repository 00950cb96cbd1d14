"""SIGKILL the runner at random moments; the store must stay consistent and every run resumable."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from conveyor.artifacts.store import artifact_id
from conveyor.config import Settings
from conveyor.workspace import close_workspaces, open_workspace

PIPELINE = """
import time
import numpy as np
import pandas as pd
import conveyor as cv

@cv.step
def make(rows: int, salt: int) -> pd.DataFrame:
    rng = np.random.default_rng(salt)
    return pd.DataFrame({"a": rng.normal(size=rows), "b": rng.integers(0, 9, rows)})

@cv.step
def enrich(df: pd.DataFrame) -> pd.DataFrame:
    time.sleep(0.1)
    return df.assign(c=df.a * df.b, kind=pd.Categorical(df.b % 3))

@cv.step(outputs=("left", "right"))
def split(df: pd.DataFrame):
    time.sleep(0.1)
    half = len(df) // 2
    return df.iloc[:half], df.iloc[half:]

@cv.step
def summarize(left: pd.DataFrame, right: pd.DataFrame) -> dict:
    time.sleep(0.1)
    return {"left": float(left.c.sum()), "right": float(right.c.sum())}

@cv.pipeline
def chaos(rows: int = 20000, salt: int = 0):
    left, right = split(enrich(make(rows, salt)))
    return summarize(left, right)
"""

DRIVER = """
import pathlib, sys
sys.path.insert(0, {folder!r})
import conveyor as cv
from chaos import chaos

class Started(cv.RunObserver):
    def run_started(self, run, graph):
        pathlib.Path(sys.argv[2]).write_text(run.id)

chaos.run(salt=int(sys.argv[1]), observer=Started())
"""

KILLS = 30


def test_sigkill_at_random_moments_leaves_a_consistent_resumable_store(
    tmp_path: Path, figures: Callable[[str], None]
) -> None:
    (tmp_path / "chaos.py").write_text(PIPELINE)
    (tmp_path / "driver.py").write_text(textwrap.dedent(DRIVER.format(folder=str(tmp_path))))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    rng = random.Random(20261126)

    def start(salt: int) -> tuple[subprocess.Popen[bytes], float]:
        """Start a run; return it once its run row exists, with the time that happened."""
        marker = tmp_path / f"started-{salt}"
        proc = subprocess.Popen(
            [sys.executable, "driver.py", str(salt), str(marker)], cwd=tmp_path, env=env
        )
        while not marker.exists():
            assert proc.poll() is None, "the driver died before starting its run"
            time.sleep(0.005)
        return proc, time.monotonic()

    # How long a run takes once started, so kills spread over every step and the final writes.
    proc, began = start(1000)
    assert proc.wait(timeout=120) == 0
    span = time.monotonic() - began
    for salt in range(KILLS):
        proc, _ = start(salt)
        time.sleep(rng.uniform(0, span))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)

    settings = Settings.load(tmp_path)
    ws = open_workspace(settings)
    corrupt = 0
    for blob in ws.artifacts.listing():  # every file that has a blob's name must hold its bytes
        if blob.id is None:
            continue
        data = (Path(settings.artifacts) / blob.key).read_bytes()
        encodings = {f"{m}@1" for m in ("pandas.parquet", "json", "numpy.npy", "cloudpickle")}
        if not any(artifact_id(enc, data) == blob.id for enc in encodings):
            corrupt += 1
    report_missing = [a.id for a in ws.metadata.artifacts() if not ws.artifacts.exists(a.id)]
    with ws.metadata.engine.connect() as conn:
        dangling_edges = conn.execute(
            sa.text(
                "SELECT count(*) FROM lineage WHERE artifact_id NOT IN (SELECT id FROM artifacts)"
            )
        ).scalar()
        dangling_cache = conn.execute(
            sa.text(
                "SELECT count(*) FROM cache_entries "
                "WHERE step_run_id NOT IN (SELECT id FROM step_runs)"
            )
        ).scalar()
    runs = ws.metadata.list_runs("chaos", limit=1000)
    unfinished = [r for r in runs if r.status != "succeeded"]
    assert all(r.status in ("interrupted", "failed") for r in unfinished), {
        r.status for r in unfinished
    }
    import conveyor as cv

    resumed_ok = sum(cv.resume(r.id, settings=settings).status == "succeeded" for r in unfinished)
    verify = __import__("conveyor.run.maintenance", fromlist=["x"]).verify_artifacts(ws)
    close_workspaces()
    dangling = len(report_missing) + dangling_edges + dangling_cache
    figures(
        f"fault injection: kills={KILLS} runs_recorded={len(runs)} interrupted={len(unfinished)} "
        f"corrupt_artifacts={corrupt} dangling_rows={dangling} "
        f"resumed_completed={resumed_ok}/{len(unfinished)} verify_ok={verify.ok}"
    )
    assert corrupt == 0
    assert dangling == 0
    assert resumed_ok == len(unfinished)
    assert verify.ok
    assert len(unfinished) >= KILLS // 2  # the kills really landed mid-run
