"""End to end: `conveyor watch` fires a NewData trigger of conveyor.toml when the file changes,
survives being killed mid-run, and `conveyor triggers list|history` report what it did."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.conftest import CONVEYOR, Cli

from conveyor.config import Settings
from conveyor.metadata.trigger_store import TriggerEvent, TriggerStore
from conveyor.workspace import close_workspaces, open_workspace

pytestmark = pytest.mark.e2e

FLOW = """
import os, time
import conveyor as cv

@cv.step
def work(n: int, hold: str) -> int:
    end = time.monotonic() + 60
    while hold and not os.path.exists(hold):  # the test lets it end by writing the file
        if time.monotonic() > end:
            raise TimeoutError(f"{hold} never appeared")
        time.sleep(0.05)
    return n * 2

@cv.pipeline
def flow(n: int = 1, hold: str = ""):
    return work(n, hold)
"""

FRESH = """
[[triggers]]
name = "fresh"
pipeline = "flow.py:flow"
new_data = "data.csv"
params = { n = 21 }
cooldown = 0
check_every = 0.2
"""


def wait_until(what: str, check: Callable[[], Any], timeout: float = 60) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what} after {timeout:.0f}s")


class Watch:
    """`conveyor watch ARGS` as a background process of the test; its output in watch.log."""

    def __init__(self, cli: Cli) -> None:
        self.cli = cli
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        """In a process group of its own, as in a terminal: Ctrl-C is `os.killpg(pid, SIGINT)`."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
        with open(self.cli.root / "watch.log", "ab") as log:
            process = subprocess.Popen(
                [CONVEYOR, "watch", "--interval", "0.2", *args],
                cwd=self.cli.root,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.processes.append(process)
        return process

    @property
    def log(self) -> str:
        return (self.cli.root / "watch.log").read_text()

    def events(self, trigger: str = "fresh") -> list[TriggerEvent]:
        """The trigger's firings, oldest first, read from the project's store."""
        store = TriggerStore(open_workspace(Settings.load(self.cli.root)).metadata)
        return list(reversed(store.history(trigger)))

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=60)
        close_workspaces()


@pytest.fixture
def watch(cli: Cli) -> Iterator[Watch]:
    cli.write("flow.py", FLOW)
    cli.write("data.csv", "x\n1\n")
    started = Watch(cli)
    yield started
    started.stop()


def test_watch_fires_when_the_data_changes_and_stops_cleanly(cli: Cli, watch: Watch) -> None:
    cli.write("conveyor.toml", FRESH)
    process = watch.start()
    wait_until("the baseline", lambda: watch.events())
    assert "watching fresh: new data in data.csv" in watch.log
    cli.write("data.csv", "x\n1\n2\n")
    wait_until("the run", lambda: watch.events()[-1].status == "succeeded")
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0
    assert "trigger 'fresh' fired: data.csv changed (content " in watch.log

    baseline, event = cli.json("triggers", "history")[::-1]
    assert baseline["status"] == "skipped" and baseline["run_id"] is None
    assert event["status"] == "succeeded" and event["params"] == {"n": 21}
    run = cli.json("runs", "show", event["run_id"])
    assert run["status"] == "succeeded" and run["params"]["n"] == 21
    shown = cli("triggers", "history", "--trigger", "fresh").stdout
    assert "succeeded" in shown and event["run_id"][:12] in shown and "skipped" in shown
    assert cli.json("triggers", "history", "--trigger", "other") == []
    [row] = cli.json("triggers", "list")["triggers"]
    assert row["error"] is None and row["last"]["id"] == event["id"]


def test_watch_for_a_duration_fires_a_change_made_while_it_was_down(cli: Cli, watch: Watch) -> None:
    cli.write("conveyor.toml", FRESH)
    first = watch.start("--duration", "0.5")  # sees data.csv, then stops by itself
    assert first.wait(timeout=60) == 0
    assert [e.status for e in watch.events()] == ["skipped"]
    cli.write("data.csv", "x\n3\n")
    second = watch.start("--duration", "5")
    assert second.wait(timeout=120) == 0  # ends by itself, after the run it started
    assert [e.status for e in watch.events()] == ["skipped", "succeeded"]
    assert watch.log.count("fired: data.csv changed") == 1


def test_a_watcher_killed_mid_run_is_replaced_without_a_second_run(cli: Cli, watch: Watch) -> None:
    hold = cli.root / "release"
    cli.write("conveyor.toml", FRESH.replace("{ n = 21 }", f'{{ n = 21, hold = "{hold}" }}'))
    killed = watch.start()
    wait_until("the baseline", lambda: watch.events())
    cli.write("data.csv", "x\n1\n2\n")
    event = wait_until("the launch", lambda: next((e for e in watch.events() if e.pid), None))
    killed.kill()  # SIGKILL: no chance to wait for its run or to record it
    killed.wait(timeout=60)
    os.kill(event.pid, 0)  # the run goes on without its watcher

    replaced = watch.start()
    wait_until("the restart", lambda: watch.log.count("watching fresh") == 2)
    hold.touch()
    wait_until("the adopted run", lambda: watch.events()[-1].status == "succeeded")
    replaced.send_signal(signal.SIGTERM)
    assert replaced.wait(timeout=60) == 0
    [_, done] = watch.events()
    assert done.id == event.id and done.pid == event.pid and done.run_id == event.run_id
    assert watch.log.count(f"trigger 'fresh': run {done.run_id[:12]} succeeded") == 1
    runs = cli.json("runs", "list")
    assert [r["run_id"] for r in runs] == [done.run_id]


def test_ctrl_c_lets_the_running_pipeline_finish(cli: Cli, watch: Watch) -> None:
    hold = cli.root / "release"
    cli.write("conveyor.toml", FRESH.replace("{ n = 21 }", f'{{ n = 21, hold = "{hold}" }}'))
    process = watch.start()
    wait_until("the baseline", lambda: watch.events())
    cli.write("data.csv", "x\n1\n2\n")
    wait_until("the launch", lambda: any(e.pid for e in watch.events()))
    os.killpg(process.pid, signal.SIGINT)  # Ctrl-C reaches the terminal's whole process group
    wait_until("the watcher to notice", lambda: "stopping: waiting for" in watch.log)
    hold.touch()
    assert process.wait(timeout=60) == 0
    [_, event] = watch.events()
    assert event.status == "succeeded" and event.run_id
    assert cli.json("runs", "show", event.run_id)["status"] == "succeeded"


def test_triggers_list_reports_errors_and_faulty_triggers(cli: Cli) -> None:
    cli.write("flow.py", FLOW)
    cli.write(
        "conveyor.toml",
        """
        [[triggers]]
        name = "nightly"
        pipeline = "flow.py:flow"
        schedule = "0 3 * * *"

        [[triggers]]
        name = "bad-cron"
        pipeline = "flow.py:flow"
        schedule = "61 3 * * *"

        [[triggers]]
        name = "no-file"
        pipeline = "nope.py:flow"
        schedule = "0 3 * * *"

        [[triggers]]
        name = "no-name"
        pipeline = "flow.py:training"
        new_data = "data.csv"

        [[triggers]]
        name = "confused"
        pipeline = "flow.py:flow"
        schedule = "0 3 * * *"
        drift = "penguins@production"
        """,
    )
    listed = cli.json("triggers", "list")
    rows = {row["name"]: row for row in listed["triggers"]}
    assert list(rows) == ["nightly", "bad-cron", "no-file", "no-name"]
    assert rows["nightly"]["error"] is None and rows["nightly"]["last"] is None
    assert rows["nightly"]["when"] == "schedule 0 3 * * *"
    assert "schedule '61 3 * * *' is not a cron expression" in rows["bad-cron"]["error"]
    assert "pipeline file 'nope.py' does not exist" in rows["no-file"]["error"]
    assert "no pipeline named 'training'" in rows["no-name"]["error"]
    [error] = listed["errors"]
    assert error.startswith("conveyor.toml: trigger 'confused' needs exactly one of")
    table = cli("triggers", "list").stdout
    assert "faulty: trigger 'bad-cron'" in table and "error: conveyor.toml: trigger" in table


def test_watch_with_nothing_to_watch(cli: Cli) -> None:
    cli.write("flow.py", FLOW)
    nothing = cli("watch", "--duration", "1")
    assert "no trigger to watch" in nothing.stderr
    cli.write(
        "conveyor.toml",
        """
        [[triggers]]
        name = "bad-cron"
        pipeline = "flow.py:flow"
        schedule = "61 3 * * *"
        """,
    )
    faulty = cli("watch", "--duration", "1", check=1)
    assert "trigger 'bad-cron' is not watched: schedule '61 3 * * *'" in faulty.stdout
    assert "no trigger to watch: all are faulty" in faulty.stderr


def test_watch_takes_triggers_from_python_files(cli: Cli, tmp_path: Path) -> None:
    cli.write("flow.py", FLOW)
    cli.write(
        "triggers.py",
        """
        from conveyor.automation import Schedule, Trigger

        nightly = Trigger("nightly", "flow.py:flow", Schedule("0 3 * * *"))
        """,
    )
    shown = cli("watch", "triggers.py", "--duration", "0.5")
    assert "watching nightly: schedule 0 3 * * *" in shown.stdout
    [row] = cli.json("triggers", "list", "triggers.py")["triggers"]
    assert row["name"] == "nightly" and row["error"] is None
    assert row["last"]["status"] == "skipped"  # the watcher recorded its first start


def test_a_check_that_fails_at_runtime_is_shown_by_triggers_list_and_history(cli: Cli) -> None:
    cli.write("flow.py", FLOW)
    cli.write(
        "conveyor.toml",
        """
        [[triggers]]
        name = "on-drift"
        pipeline = "flow.py:flow"
        drift = { model = "penguins@production", threshold = 0.3 }
        check_every = 0.2
        """,
    )
    before = cli.json("triggers", "list")["triggers"][0]
    assert before["error"] is None and before["warnings"] == []  # valid: nothing known yet
    shown = cli("watch", "--duration", "1")
    assert "trigger 'on-drift' failed its check: NotFoundError" in shown.stdout
    [row] = cli.json("triggers", "list")["triggers"]  # after the watcher has stopped
    assert "model 'penguins' has no alias 'production'" in row["error"]
    assert row["problems_since"] is not None
    [entry] = cli.json("triggers", "history")
    assert entry["kind"] == "check" and entry["trigger"] == "on-drift"
    assert "has no alias 'production'" in entry["error"] and entry["warnings"] == []
    assert "faulty: NotFoundError" in cli("triggers", "list").stdout

    assert entry["host"]  # the watcher's machine: the store may be shared
    assert not (cli.root / ".conveyor" / "triggers" / "checks.jsonl").exists()  # in the store
    store = TriggerStore(open_workspace(Settings.load(cli.root)).metadata)
    gone = "column 'income' is missing from the live data: counted as drifted"
    store.record_check("on-drift", entry["at"] + 60, None, [gone], host="elsewhere")  # later
    close_workspaces()
    [row] = cli.json("triggers", "list")["triggers"]
    assert row["error"] is None and row["warnings"] == [gone]
    assert f"warning: {gone}" in cli("triggers", "list").stdout
    newest, oldest = cli.json("triggers", "history")
    assert newest["warnings"] == [gone] and newest["host"] == "elsewhere" and oldest["error"]
    table = cli("triggers", "history").stdout
    assert "warning" in table and "column 'income' is missing" in table and "error" in table
