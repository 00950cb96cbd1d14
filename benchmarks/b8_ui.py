"""B8: `conveyor ui` on a store of 100,000 runs — time to first render, in a real browser.

    .venv/bin/python benchmarks/b8_ui.py                 # 100,000 runs, 7 loads per page, ~1 min
    .venv/bin/python benchmarks/b8_ui.py --runs 1000000 --loads 3

A temporary project's SQLite store is filled with `--runs` runs (bulk inserts, as B2 does: 7
pipelines, 90% succeeded, 8% failed, 2% interrupted, parameters as canonical JSON, start times
over 100 days) and one run with a 200-step DAG (20 layers of 10 steps, each reading two outputs
of the layer before, recorded through `MetadataStore.record_steps` with its artifacts, lineage and
a metric per step), the newest. It and the 3-step baseline run store their traced graph with
their pipeline version (`MetadataStore.start_run(graph=...)`), as every run since schema 0007
does, so the run page measured is the one real runs get, not the lineage rebuild of older runs.
`conveyor ui` serves the store from its own process on 127.0.0.1, and headless Chromium (Debian's
package, driven by Playwright) loads each page `--loads` times.

Time to first render is when the page has drawn the data it fetched (the dashboard marks
`conveyor:rendered:PAGE` with `performance.mark`), measured from the start of the navigation: the
HTML shell, its ES modules, the API calls, the JSON and the DOM, all included. The first load
(cold: nothing cached) and the median of the others (warm: the browser revalidates its cached
modules) are reported. Baselines in the same run: the runs list of an empty store (a second
`conveyor ui` on an empty project) — the fixed cost of the shell and its scripts — and the page of
a 3-step run in the same large store. API latency (wall time of one GET from Python, median of 20)
shows the server's share.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import statistics
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

CONVEYOR = Path(sys.executable).with_name("conveyor")
CHROMIUM = "/usr/bin/chromium"
PIPELINES = [f"pipeline_{i}" for i in range(7)]


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def fill(root: Path, count: int) -> dict[str, str]:
    """`count` runs in bulk, a 3-step run and a 200-step run; returns their ids."""
    store = MetadataStore(f"sqlite:///{root / '.conveyor' / 'conveyor.db'}")
    rng = random.Random(8)
    now = time.time()
    rows = []
    for i in range(count):
        roll = rng.random()
        status = "succeeded" if roll < 0.9 else "failed" if roll < 0.98 else "interrupted"
        started = now - 100 * 86400 * (i + 1) / count
        params = {"C": rng.choice([0.01, 0.1, 1.0, 10.0]), "seed": i % 1000, "solver": "lbfgs"}
        rows.append(
            (uuid.uuid4().hex, PIPELINES[i % 7], "v1", status, _dumps(params), 1, started,
             started + 1.5, 1.5, "bench-host", 1, started + 1.5, "0" * 40)
        )  # fmt: skip
    conn = store.write_conn
    with conn.begin():
        conn.exec_driver_sql(
            "INSERT INTO runs (id, pipeline, pipeline_version, status, params, cache, started_at, "
            "ended_at, duration_s, host, pid, heartbeat_at, git_commit) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
        conn.exec_driver_sql(
            "INSERT INTO pipelines (id, name, version, created_at) VALUES (?,?,?,?)",
            [(uuid.uuid4().hex, name, "v1", now) for name in PIPELINES],
        )
    small = _dag_run(store, "three_steps", layers=3, width=1, started=now - 1)
    large = _dag_run(store, "two_hundred_steps", layers=20, width=10, started=now)
    store.close()
    return {"small": small, "large": large}


def _dag_run(store: MetadataStore, name: str, layers: int, width: int, started: float) -> str:
    run_id = uuid.uuid4().hex
    record = RunRecord(
        run_id, name, "v1", "running", {"layers": layers, "width": width}, True, started,
        host="bench-host", pid=1,
    )  # fmt: skip
    previous: list[str] = []
    batch = []
    graph = []  # the traced DAG, stored with the pipeline version as every run since 0007
    for layer in range(layers):
        for j in range(width):
            above = {f"step_{layer - 1:02d}_{j}", f"step_{layer - 1:02d}_{(j + 1) % width}"}
            upstream = sorted(above) if layer else []
            graph.append([f"step_{layer:02d}_{j}", "bench.work", upstream, None])
    store.start_run(record, graph=lambda: graph)
    for layer in range(layers):
        current = []
        for j in range(width):
            artifact = uuid.uuid4().hex * 2
            inputs = (
                {"a": previous[j], "b": previous[(j + 1) % width]} if previous else {}
            )  # two upstream steps each
            step = StepRunRecord(
                id=uuid.uuid4().hex, run_id=run_id, name=f"step_{layer:02d}_{j}",
                step="bench.work", position=layer * width + j, status="succeeded",
                cached=j % 3 == 0, started_at=started, ended_at=started + 0.01,
                duration_s=0.01, attempts=1, inputs=inputs, outputs={"output": artifact},
            )  # fmt: skip
            row = {
                "id": artifact, "type_name": "builtins.dict", "materializer": "json",
                "materializer_version": 1, "safe": True, "size": 64, "uri": f"file:///x/{artifact}",
                "summary": '{"value": {}}', "producer_id": step.id, "created_at": started,
            }  # fmt: skip
            batch.append(
                StepFacts(step, artifacts=[row], metrics=[("loss", 1 / (layer + 1), None)])
            )
            current.append(artifact)
        previous = current
    store.record_steps(batch)
    store.finish_run(run_id, "succeeded", started + 2, None)
    return run_id


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Dashboard:
    """`conveyor ui` in its own process, on a free port."""

    def __init__(self, root: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
        self.proc = subprocess.Popen(
            [str(CONVEYOR), "ui", "--port", str(self.port)],
            cwd=root,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import httpx

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/api/info", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("conveyor ui did not start")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def render_times(browser: Any, url: str, ready: str, loads: int) -> dict[str, float]:
    """First render of `url` in a fresh tab: the cold first load, and the warm loads' median."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    firsts, contents = [], []
    for _ in range(loads):
        page.goto(url)
        page.wait_for_selector(f"main[data-ready='{ready}']", timeout=120_000)
        timing = page.evaluate(
            f"""() => ({{
              render: performance.getEntriesByName('conveyor:rendered:{ready}')[0].startTime,
              dom: performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd,
            }})"""
        )
        firsts.append(timing["render"])
        contents.append(timing["dom"])
    nodes = page.locator("main *").count()
    context.close()
    warm = firsts[1:] or firsts
    return {
        "cold_ms": firsts[0],
        "warm_ms": statistics.median(warm),
        "dom_ms": statistics.median(contents[1:] or contents),
        "elements": nodes,
    }


def api_times(url: str, paths: list[tuple[str, str, dict[str, Any]]], repeat: int = 20) -> list:
    import httpx

    rows = []
    with httpx.Client(base_url=url, timeout=120) as client:
        for label, path, params in paths:
            times = []
            for _ in range(repeat):
                began = time.perf_counter()
                response = client.get(path, params=params)
                times.append(time.perf_counter() - began)
                response.raise_for_status()
            rows.append(
                [label, fmt_ms(statistics.median(times) * 1000), f"{len(response.content):,}"]
            )
    return rows


PAGES = [  # (label, path, page mark) on the big store; {small}/{large}: the DAG runs
    ("runs list, {runs} runs", "/runs", "runs"),
    ("runs list, pipeline + status filter", "/runs?pipeline=pipeline_3&status=failed", "runs"),
    ("runs list, parameter search", "/runs?params=C%3D0.1%20seed%3D7", "runs"),
    ("run page, 3 steps (baseline)", "/runs/{small}", "run"),
    ("run page, 200-step DAG", "/runs/{large}", "run"),
]


def browser_table(full: Dashboard, blank: Dashboard, ids: dict, runs: int, loads: int) -> list:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        flags = ["--no-sandbox"] if os.geteuid() == 0 else []
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=flags)
        measured = [
            (
                "runs list, empty store (baseline)",
                render_times(browser, f"{blank.url}/runs", "runs", loads),
            )
        ]
        for label, path, mark in PAGES:
            url = full.url + path.format(**ids)
            measured.append(
                (label.format(runs=f"{runs:,}"), render_times(browser, url, mark, loads))
            )
        browser.close()
    base = {"runs": measured[0][1]["warm_ms"], "run": measured[4][1]["warm_ms"]}
    rows = []
    for label, m in measured:
        ref = base["run"] if label.startswith("run page") else base["runs"]
        rows.append(
            [
                label,
                fmt_ms(m["cold_ms"]),
                fmt_ms(m["warm_ms"]),
                fmt_ms(m["dom_ms"]),
                f"{m['elements']:,}",
                fmt_ratio(m["warm_ms"] / ref),
            ]
        )
    return rows


def api_table(full: Dashboard, ids: dict) -> list:
    import httpx

    cursor = None
    for _ in range(4):  # four pages in: the cursor of page 5
        page = httpx.get(f"{full.url}/api/runs", params={"after": cursor, "count": False})
        cursor = page.json()["next"]
    day = 86400
    now = time.time()
    return api_times(
        full.url,
        [
            ("GET /api/runs (50 runs + total count)", "/api/runs", {}),
            ("GET /api/runs?count=false", "/api/runs", {"count": False}),
            ("  pipeline filter", "/api/runs", {"pipeline": "pipeline_3"}),
            ("  status=failed (no index on status)", "/api/runs", {"status": "failed"}),
            ("  parameter search C=0.1 seed=7", "/api/runs", {"params": "C=0.1 seed=7"}),
            (
                "  one day, 50 days ago",
                "/api/runs",
                {"since": now - 50 * day, "until": now - 49 * day},
            ),
            ("  page 5 by cursor", "/api/runs", {"after": cursor, "count": False}),
            ("  the oldest day's runs", "/api/runs", {"until": now - 99 * day, "count": False}),
            ("GET /api/runs/{id} (200-step DAG laid out)", f"/api/runs/{ids['large']}", {}),
            ("GET /api/runs/{id} (3 steps)", f"/api/runs/{ids['small']}", {}),
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--loads", type=int, default=7)
    args = parser.parse_args()
    print(f"B8 dashboard on {describe_machine()}{load_note()}")
    tmp = Path(tempfile.mkdtemp(prefix="conveyor-b8-"))
    servers: list[Dashboard] = []
    try:
        big, empty = tmp / "big", tmp / "empty"
        big.mkdir()
        empty.mkdir()
        began = time.perf_counter()
        ids = fill(big, args.runs)
        print(f"filled {args.runs:,} runs + a 200-step run in {time.perf_counter() - began:.1f} s")
        MetadataStore(f"sqlite:///{empty / '.conveyor' / 'conveyor.db'}").close()
        servers = [Dashboard(big), Dashboard(empty)]
        render = browser_table(servers[0], servers[1], ids, args.runs, args.loads)
        warm = args.loads - 1
        print(
            f"\ntime to first render in Chromium, ms (the cold first load; median of {warm} warm)\n"
        )
        headers = ["page", "cold", "warm", "DOMContentLoaded", "elements", "warm vs baseline"]
        print(table(headers, render))
        api = api_table(servers[0], ids)
        print(f"\nAPI latency with {args.runs:,} runs (one GET from Python, median of 20)\n")
        print(table(["request", "ms", "bytes"], api))
        save_results("b8_ui", {"runs": args.runs, "render": render, "api": api})
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
