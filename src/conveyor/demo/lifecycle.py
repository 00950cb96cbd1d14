"""The lifecycle demo: train → serve → traffic → drift → detection → retrain → gate → swap.

Every stage uses the real parts a user would: `conveyor run`, `conveyor serve` and `conveyor
watch` as processes, HTTP on 127.0.0.1, the embedded SQLite store of a fresh project folder.
The "world" drifts as a new colony is measured: its penguins are bigger and heavier, so the
production model starts to err; fresh labelled data arrives; the drift trigger retrains on it;
the gate compares the candidate with production on the fresh test set and promotes it; the server
swaps models; the drift report is written.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["run_demo"]

FEATURES = ["island", "sex", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
TRIGGERS = '''"""The demo's trigger: retrain on the fresh data when the live inputs drift."""

from conveyor.automation import Drift, Trigger

retrain = Trigger(
    "retrain-on-drift",
    "pipeline.py:training",
    Drift("penguins@production", threshold=0.3, window="300", min_rows=200),
    params={"source": "data/fresh.csv", "policy": "warn"},
    cooldown_s=600,
    check_every_s=1.0,
)
'''


def _example() -> Path:
    """The penguins project: in the wheel, or the repository's examples/ in a source checkout."""
    here = Path(__file__).resolve()
    for candidate in (here.parent / "penguins", here.parents[3] / "examples" / "penguins"):
        if (candidate / "pipeline.py").is_file():
            return candidate
    raise FileNotFoundError("the bundled penguins project is missing from this installation")


def _conveyor() -> list[str]:
    beside = Path(sys.executable).with_name("conveyor")
    return [str(beside)] if beside.exists() else [sys.executable, "-m", "conveyor.cli"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Demo:
    def __init__(self, folder: Path, echo: Callable[[str], None]) -> None:
        self.folder = folder
        self.echo = echo
        self.started = time.monotonic()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
        self.port = _free_port()
        self.processes: list[subprocess.Popen[bytes]] = []

    # -- plumbing ----------------------------------------------------------------------------------

    def stage(self, number: int, title: str) -> None:
        self.echo(f"\n[{time.monotonic() - self.started:5.1f}s] {number}/9 {title}")

    def say(self, text: str) -> None:
        self.echo(f"        {text}")

    def conveyor(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*_conveyor(), *args], cwd=self.folder, env=self.env, capture_output=True,
            text=True, timeout=300, check=False,
        )  # fmt: skip

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = open(self.folder / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            [*_conveyor(), *args], cwd=self.folder, env=self.env, stdout=log, stderr=log,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()

    def request(self, method: str, path: str, body: Any = None) -> Any:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            payload = None if body is None else json.dumps(body)
            headers = {"content-type": "application/json"} if body is not None else {}
            conn.request(method, path, payload, headers)
            response = conn.getresponse()
            data = json.loads(response.read() or b"null")
            if response.status >= 400:
                raise RuntimeError(f"{method} {path} answered {response.status}: {data}")
            return data
        finally:
            conn.close()

    def wait_for(self, what: str, check: Callable[[], Any], timeout: float) -> Any:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with contextlib.suppress(OSError, RuntimeError, ValueError):
                value = check()
                if value:
                    return value
            time.sleep(0.25)
        raise TimeoutError(f"gave up waiting for {what} after {timeout:.0f}s")

    # -- the world ---------------------------------------------------------------------------------

    def rows(self, path: Path) -> list[dict[str, Any]]:
        import pandas as pd

        frame = pd.read_csv(path).dropna(subset=["species"])
        frame = frame.astype(object).where(frame.notna(), None)
        return frame.to_dict("records")

    def drifted(self, source: Path, target: Path) -> None:
        """A new colony: bigger bills and flippers, heavier birds (labels still known)."""
        import numpy as np
        import pandas as pd

        rng = np.random.default_rng(7)
        frame = pd.read_csv(source)
        frame["bill_length_mm"] = frame["bill_length_mm"] + 6 + rng.normal(0, 0.5, len(frame))
        frame["flipper_length_mm"] = frame["flipper_length_mm"] + 12
        frame["body_mass_g"] = (frame["body_mass_g"] * 1.25).round()
        frame.to_csv(target, index=False)

    def steady_traffic(self, rows: list[dict[str, Any]], stop: threading.Event) -> dict[str, Any]:
        """Send one-row predictions until `stop` is set; count what was answered, by which
        version, and what failed (an error answer or a refused connection)."""
        rng = random.Random(0)
        seen: dict[str, Any] = {"sent": 0, "failed": 0, "versions": {}, "errors": []}
        while not stop.is_set():
            row = rng.choice(rows)
            seen["sent"] += 1
            try:
                answer = self.request(
                    "POST", "/predict", {"instances": [{k: row[k] for k in FEATURES}]}
                )
            except (OSError, RuntimeError, ValueError) as error:
                seen["failed"] += 1
                seen["errors"] = [*seen["errors"], str(error)][-3:]
                continue
            version = answer["model"]["version"]
            seen["versions"][version] = seen["versions"].get(version, 0) + 1
            time.sleep(0.05)  # a steady trickle; the retraining shares the machine
        return seen

    def traffic(self, rows: list[dict[str, Any]], count: int, labels: bool) -> tuple[int, int]:
        """Send `count` one-row predictions (and their true labels); return (answered, correct)."""
        rng = random.Random(count)
        correct = 0
        for _ in range(count):
            row = rng.choice(rows)
            answer = self.request(
                "POST", "/predict", {"instances": [{k: row[k] for k in FEATURES}]}
            )
            correct += answer["predictions"][0] == row["species"]
            if labels:
                self.request(
                    "POST",
                    "/feedback",
                    {"request_id": answer["request_id"], "label": row["species"]},
                )
        return count, correct

    # -- the stages --------------------------------------------------------------------------------

    def run(self) -> None:
        example = _example()
        self.folder.mkdir(parents=True, exist_ok=True)
        for name in ("pipeline.py", "model.py", "schema.json"):
            shutil.copy(example / name, self.folder / name)
        (self.folder / "data").mkdir(exist_ok=True)
        shutil.copy(example / "data" / "penguins.csv", self.folder / "data" / "penguins.csv")
        (self.folder / "triggers.py").write_text(TRIGGERS)

        self.stage(1, "train, validate, evaluate, gate and register a penguin classifier")
        first = self.conveyor("run", "pipeline.py:training", "--json")
        if first.returncode != 0:
            raise RuntimeError(f"training failed:\n{first.stdout}\n{first.stderr}")
        result = json.loads(first.stdout)
        models = json.loads(self.conveyor("models", "list", "--json").stdout)
        production = next(m for m in models if "production" in m["aliases"])
        self.say(f"run {result['run_id'][:12]}: {len(result['steps'])} steps {result['status']}")
        self.say(
            f"penguins:{production['version']} is @production, test accuracy "
            f"{production['metrics']['accuracy']:.3f}"
        )

        self.stage(2, "a worse candidate (always the most common species) meets the gate")
        worse = self.conveyor("run", "pipeline.py:training", "-p", "classifier=majority")
        refused = [line for line in worse.stdout.splitlines() if "gate FAILED" in line]
        self.say(refused[0] if refused else "gate: (no decision printed)")
        models = json.loads(self.conveyor("models", "list", "--json").stdout)
        still = next(m for m in models if "production" in m["aliases"])
        self.say(f"refused: the registry still has penguins:{still['version']} @production")

        self.stage(3, f"serve penguins@production on http://127.0.0.1:{self.port}")
        self.start(
            "serve", "serve", "penguins@production", "--port", str(self.port), "--poll", "0.5",
            "--flush", "0.5",
        )  # fmt: skip
        ready = self.wait_for("the server", lambda: self.request("GET", "/ready"), 60)
        self.say(f"ready: {ready['model']}:{ready['version']} (docs at /docs, metrics at /metrics)")

        self.stage(4, "traffic from the world the model knows, with the true labels fed back")
        answered, correct = self.traffic(
            self.rows(self.folder / "data" / "penguins.csv"), 300, True
        )
        self.say(f"{answered} predictions, {correct / answered:.1%} correct")

        self.stage(5, "the world drifts: a new colony, bigger and heavier birds")
        fresh = self.folder / "data" / "fresh.csv"
        self.drifted(self.folder / "data" / "penguins.csv", fresh)
        answered, correct = self.traffic(self.rows(fresh), 400, True)
        self.say(f"{answered} predictions, only {correct / answered:.1%} correct now")
        self.say("fresh labelled data from the colony arrives in data/fresh.csv")

        self.stage(6, "monitoring detects the drift; the trigger retrains on the fresh data")
        self.start("watch", "watch", "triggers.py", "--interval", "0.5")
        event = self.wait_for("the drift trigger", self.firing, 90)
        self.say(f"fired: {event['reason']}")

        self.stage(7, "the retraining run's own gate compares the candidate with production")
        self.say("meanwhile, traffic goes on: one request after another, through the swap")
        stop = threading.Event()
        during: dict[str, Any] = {}
        sender = threading.Thread(
            target=lambda: during.update(self.steady_traffic(self.rows(fresh), stop)),
            name="demo-traffic",
            daemon=True,
        )
        sender.start()
        try:
            event = self.wait_for("the retraining run", lambda: self.firing(finished=True), 180)
            decision = self.gate_of(event["run_id"])
            self.say(f"run {event['run_id'][:12]} {event['status']}")
            for reason in decision.get("reasons", []):
                self.say(f"gate: {reason}")

            self.stage(8, "promotion moves the alias; the server swaps models without a pause")
            self.wait_for(
                "the swap",
                lambda: self.request("GET", "/metadata")["version"] > production["version"],
                30,
            )
            time.sleep(1.0)  # requests after the swap, too
        finally:
            stop.set()
            sender.join(timeout=30)
        versions = ", ".join(
            f"{n} by penguins:{v}" for v, n in sorted(during.get("versions", {}).items())
        )
        self.say(
            f"{during.get('sent', 0)} requests while it retrained and swapped: {versions}; "
            f"{during.get('failed', 0)} failed"
        )
        for error in during.get("errors", []):
            self.say(f"failed: {error}")
        meta = self.request("GET", "/metadata")
        answered, correct = self.traffic(self.rows(fresh), 100, False)
        version = meta["version"]
        self.say(f"now serving penguins:{version}: {correct / answered:.1%} correct on the colony")

        self.stage(9, "the drift report")
        report = self.folder / "drift-report.html"
        shown = self.conveyor(
            "monitor", f"penguins:{production['version']}", "--window", "700", "--html", str(report)
        )
        for line in shown.stdout.splitlines()[:1]:
            self.say(line)
        self.say(f"written to {report}")

    def firing(self, finished: bool = False) -> dict[str, Any] | None:
        history = json.loads(self.conveyor("triggers", "history", "--json").stdout)
        for event in history:
            if event["kind"] != "firing" or event["status"] == "skipped":
                continue
            if not finished or event["status"] in ("succeeded", "failed"):
                return event
        return None

    def gate_of(self, run_id: str | None) -> dict[str, Any]:
        """The gate decision the retraining run recorded."""
        if not run_id:
            return {}
        from conveyor.config import Settings
        from conveyor.workspace import load_recorded, open_workspace

        ws = open_workspace(Settings.load(self.folder))
        gate = next((s for s in ws.metadata.step_runs(run_id) if s.name == "gate"), None)
        if gate is None or "output" not in gate.outputs:
            return {}
        return load_recorded(ws, gate.outputs["output"], trust=False)


def run_demo(folder: Path, echo: Callable[[str], None] = print) -> None:
    """Run the demo in `folder` (created; an existing demo there is replaced)."""
    if (folder / ".conveyor").exists():
        shutil.rmtree(folder / ".conveyor")
    demo = _Demo(folder, echo)
    try:
        demo.run()
    finally:
        demo.stop_all()
    elapsed = time.monotonic() - demo.started
    echo(f"\nDone in {elapsed:.0f}s. Look at:")
    for line in (
        f"  {folder / 'drift-report.html'}      the drift report (open it in a browser)",
        f"  cd {folder} && conveyor runs list        the training and retraining runs",
        f"  cd {folder} && conveyor models show penguins@production",
        f"  cd {folder} && conveyor triggers history  why it retrained",
        f"  cd {folder} && conveyor predictions penguins --limit 5",
    ):
        echo(line)
