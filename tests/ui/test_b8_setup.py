"""Benchmark B8's store, filled small: its DAG runs are laid out from their stored graph, as real
runs since schema 0007 are (the path the benchmark must measure), not rebuilt from lineage."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from conveyor.config import Settings
from conveyor.ui.views import run_detail
from conveyor.workspace import close_workspaces, open_workspace

BENCHMARKS = Path(__file__).parents[2] / "benchmarks"


def test_b8_fills_runs_that_store_their_graph(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("CONVEYOR_DB", "CONVEYOR_ARTIFACTS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    b8 = importlib.import_module("b8_ui")
    try:
        ids = b8.fill(tmp_path, 20)
        ws = open_workspace(Settings.load(tmp_path))
        large = run_detail(ws, ids["large"])
        small = run_detail(ws, ids["small"])
    finally:
        sys.modules.pop("b8_ui", None)
        close_workspaces()
    assert large["dag"]["traced"] and small["dag"]["traced"]
    assert len(large["steps"]) == 200 and {s["status"] for s in large["steps"]} == {"succeeded"}
    assert len(large["dag"]["edges"]) == 19 * 10 * 2  # two upstream steps each, past layer 0
    assert max(s["layer"] for s in large["steps"]) == 19
    assert [s["name"] for s in small["steps"]] == ["step_00_0", "step_01_0", "step_02_0"]
