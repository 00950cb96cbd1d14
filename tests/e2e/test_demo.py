"""End to end: `conveyor demo`, the product's headline, runs the whole lifecycle in a fresh folder.

It is part of the normal suite on purpose (about 40 s): train → a worse model refused → serve →
traffic → drift → the watcher retrains → the gate passes → promotion → the server swaps → report.
"""

from __future__ import annotations

import os
import re
import subprocess

import pytest
from tests.e2e.conftest import CONVEYOR, Cli

from conveyor.config import Settings
from conveyor.predictions import read_log
from conveyor.workspace import close_workspaces, open_workspace

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]


def test_the_demo_closes_the_loop(cli: Cli) -> None:
    folder = cli.root / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env["COLUMNS"] = "200"
    shown = subprocess.run(
        [CONVEYOR, "demo", str(folder)],
        cwd=cli.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    logs = {name: folder / f"{name}.log" for name in ("serve", "watch")}
    detail = "\n".join(
        [shown.stdout, shown.stderr]
        + [f"--- {p.name}\n{p.read_text()}" for p in logs.values() if p.exists()]
    )
    assert shown.returncode == 0, detail
    stages = re.findall(r"\] (\d)/9 ", shown.stdout)
    assert stages == [str(n) for n in range(1, 10)], detail
    assert "gate FAILED" in shown.stdout  # stage 2: the worse candidate is refused
    assert "now serving penguins:2" in shown.stdout
    assert "Done in" in shown.stdout
    # traffic went on through the swap, answered by both versions, and none of it failed
    [during] = re.findall(
        r"(\d+) requests while it retrained and swapped: (.*); (\d+) failed", shown.stdout
    )
    assert int(during[0]) > 0 and during[2] == "0", detail
    assert "by penguins:1" in during[1] and "by penguins:2" in during[1], detail

    report = folder / "drift-report.html"
    assert report.is_file() and report.read_text().lstrip().lower().startswith("<!doctype html")

    demo = Cli(folder)
    models = demo.json("models", "list")
    production = [m for m in models if "production" in m["aliases"]]
    assert [(m["name"], m["version"]) for m in production] == [("penguins", 2)]

    history = demo.json("triggers", "history")
    firings = [e for e in history if e["kind"] == "firing" and e["status"] != "skipped"]
    [firing] = firings
    assert firing["trigger"] == "retrain-on-drift" and firing["status"] == "succeeded"
    assert firing["run_id"] and "drift_share" in firing["reason"]
    assert demo.json("runs", "show", firing["run_id"])["status"] == "succeeded"

    try:
        log = read_log(open_workspace(Settings.load(folder)), "penguins")
        assert set(log["version"].astype(int)) == {1, 2}  # served before and after the swap
    finally:
        close_workspaces()
