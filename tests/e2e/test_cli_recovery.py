"""End to end: retries, timeouts, resume, partial runs, kills, logs, gc, verify, reproduce."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
from tests.e2e.conftest import CONVEYOR, Cli

pytestmark = pytest.mark.e2e

FLOW = """
import os, random, time
import conveyor as cv

@cv.step
def start(n: int) -> list:
    return list(range(n))

@cv.step(retries=2, retry_delay=0.01)
def flaky(xs: list) -> list:
    count = int(open("attempts.txt").read()) if os.path.exists("attempts.txt") else 0
    open("attempts.txt", "w").write(str(count + 1))
    if count < int(os.environ.get("FLAKY_FAILURES", "0")):
        raise RuntimeError(f"flaky attempt {count + 1}")
    return [x * 2 for x in xs]

@cv.step
def draw(xs: list) -> float:
    return random.random() * cv.seed() + sum(xs)

@cv.step(timeout=2)
def bounded(xs: list, spin: bool = False) -> int:
    while spin:  # pure Python: holds the GIL, only killing its process stops it
        pass
    return len(xs)

@cv.step
def gate(xs: list) -> int:
    print("checking the gate")
    if os.environ.get("FAIL_GATE"):
        raise ValueError("gate closed")
    return sum(xs)

@cv.step
def report(total: int, size: int) -> dict:
    return {"total": total, "size": size}

@cv.pipeline
def flow(n: int = 4, spin: bool = False):
    doubled = flaky(start(n))
    return {
        "draw": draw(doubled),
        "report": report(gate(doubled), bounded(doubled, spin)),
    }
"""


def run_env(cli: Cli, **env: str) -> Cli:
    class WithEnv(Cli):
        def __call__(self, *args: str, check: int | None = 0) -> subprocess.CompletedProcess[str]:
            saved = {k: os.environ.get(k) for k in env}
            os.environ.update(env)
            try:
                return super().__call__(*args, check=check)
            finally:
                for k, v in saved.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v

    return WithEnv(cli.root)


def steps(result: dict) -> dict[str, dict]:
    return {s["name"]: s for s in result["steps"]}


def test_retries_are_recorded_attempt_by_attempt(cli: Cli) -> None:
    cli.write("flow.py", FLOW)
    run_env(cli, FLAKY_FAILURES="2").json("run", "flow.py:flow")
    shown = steps(cli.json("runs", "show", "latest"))
    flaky = shown["flaky"]
    assert flaky["status"] == "succeeded"
    assert flaky["attempts"] == 3
    log = flaky["attempt_log"]
    assert [a["status"] for a in log] == ["failed", "failed", "succeeded"]
    assert log[0]["error_type"] == "RuntimeError"
    assert log[1]["error_message"] == "flaky attempt 2"
    assert log[1]["started_at"] - log[0]["ended_at"] >= 0.01  # backoff waited


def test_retries_exhausted_fail_the_step(cli: Cli) -> None:
    cli.write("flow.py", FLOW)
    proc = run_env(cli, FLAKY_FAILURES="5")("run", "flow.py:flow", check=1)
    assert "flaky attempt 3" in proc.stderr
    assert steps(cli.json("runs", "show", "latest"))["flaky"]["attempts"] == 3


def test_a_step_past_its_timeout_is_killed_and_recorded_timed_out(cli: Cli) -> None:
    cli.write("flow.py", FLOW)
    began = time.monotonic()
    cli("run", "flow.py:flow", "-p", "spin=true", check=1)
    assert time.monotonic() - began < 30
    shown = steps(cli.json("runs", "show", "latest"))
    assert shown["bounded"]["status"] == "timed_out"
    assert shown["bounded"]["error_type"] == "StepTimeout"
    assert shown["report"]["status"] == "skipped"
    assert shown["gate"]["status"] == "succeeded"


def test_resume_reuses_completed_steps_and_links_the_runs(cli: Cli) -> None:
    cli.write("flow.py", FLOW)
    failed = run_env(cli, FAIL_GATE="1").json("run", "flow.py:flow", check=1)
    assert steps(failed)["gate"]["status"] == "failed"
    assert steps(failed)["report"]["status"] == "skipped"
    resumed = cli.json("resume", failed["run_id"][:10])
    assert resumed["status"] == "succeeded"
    executed = {s["name"] for s in resumed["steps"] if not s["cached"]}
    assert executed == {"gate", "report"}
    shown = cli.json("runs", "show", resumed["run_id"])
    assert shown["resumed_from"] == failed["run_id"]
    assert shown["params"] == failed["params"]
    proc = cli("resume", resumed["run_id"], check=2)
    assert "only failed or interrupted runs resume" in proc.stderr


def test_resume_reuses_even_steps_that_never_cache(cli: Cli) -> None:
    cli.write("flow.py", FLOW.replace("@cv.step\ndef draw", "@cv.step(cache=False)\ndef draw"))
    failed = run_env(cli, FAIL_GATE="1").json("run", "flow.py:flow", check=1)
    resumed = cli.json("resume", failed["run_id"])
    assert steps(resumed)["draw"]["cached"]
    assert steps(resumed)["draw"]["outputs"] == steps(failed)["draw"]["outputs"]


def test_from_and_to_run_part_of_the_pipeline(cli: Cli) -> None:
    cli.write("flow.py", FLOW)
    missing = cli.json("run", "flow.py:flow", "--from", "gate", check=1)
    assert "no cached result" in steps(missing)["start"]["error_message"]
    assert steps(missing)["flaky"]["status"] == "skipped"
    cli.json("run", "flow.py:flow")
    partial = cli.json("run", "flow.py:flow", "--from", "gate", "--no-cache")
    ran = steps(partial)
    assert set(ran) == {"start", "flaky", "gate", "report", "bounded"}
    assert ran["start"]["cached"]
    assert ran["flaky"]["cached"]
    assert not ran["gate"]["cached"]
    assert not ran["report"]["cached"]
    assert ran["bounded"]["cached"]  # upstream of report, outside the selection: from cache
    to = cli.json("run", "flow.py:flow", "--to", "flaky", "-p", "n=9")
    assert [s["name"] for s in to["steps"]] == ["start", "flaky"]
    proc = cli("run", "flow.py:flow", "--from", "nope", check=2)
    assert "--from 'nope': no such step" in proc.stderr


SLOW = """
import time
import conveyor as cv

@cv.step
def first(n: int) -> int:
    return n

@cv.step
def sleepy(x: int) -> int:
    print("going to sleep", flush=True)
    time.sleep(60)
    return x

@cv.pipeline
def slow(n: int = 1):
    return sleepy(first(n))
"""


def test_killed_runner_shows_interrupted_and_resumes(cli: Cli) -> None:
    cli.write("slow.py", SLOW)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    proc = subprocess.Popen(
        [CONVEYOR, "run", "slow.py:slow", "--json"],
        cwd=cli.root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    live = cli.root / ".conveyor" / "logs"
    deadline = time.monotonic() + 60
    while not list(live.glob("*/sleepy.log")) and time.monotonic() < deadline:
        time.sleep(0.1)
    run_id = next(live.iterdir()).name
    streamed = cli("logs", run_id, "sleepy").stdout
    assert "going to sleep" in streamed  # printed while the step still runs
    assert cli.json("runs", "show", run_id)["status"] == "running"
    while time.monotonic() < deadline:  # completed steps are recorded while a long one runs
        if cli.json("runs", "show", run_id)["steps"]:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    shown = cli.json("runs", "show", run_id)
    assert shown["status"] == "interrupted"
    assert {s["name"]: s["status"] for s in shown["steps"]} == {"first": "succeeded"}
    cli.write("slow.py", SLOW.replace("time.sleep(60)", "time.sleep(0)"))
    resumed = cli.json("resume", run_id)
    assert resumed["status"] == "succeeded"
    assert steps(resumed)["first"]["cached"]
    assert not steps(resumed)["sleepy"]["cached"]
    assert cli("artifacts", "verify").returncode == 0


def test_verify_finds_corruption_and_gc_keeps_what_is_referenced(cli: Cli) -> None:
    cli.write("flow.py", FLOW)
    result = cli.json("run", "flow.py:flow")
    assert cli.json("artifacts", "verify")["ok"] is True
    objects = cli.root / ".conveyor" / "artifacts" / "objects"
    stray = objects / "ab" / ("ab" + "0" * 62)
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"left over")
    tmp = cli.root / ".conveyor" / "artifacts" / "tmp" / "partial.1234.tmp"
    tmp.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_bytes(b"half written")
    recent = cli.json("gc", "--dry-run")
    assert recent["removed_blobs"] == []
    assert recent["kept_recent"] == 2  # younger than the grace period: left alone
    dry = cli.json("gc", "--dry-run", "--grace", "0")
    assert len(dry["removed_blobs"]) == 1
    assert len(dry["removed_temporary"]) == 1
    assert stray.exists()
    done = cli.json("gc", "--grace", "0")
    assert done["freed_bytes"] == len(b"left over") + len(b"half written")
    assert not stray.exists()
    assert not tmp.exists()
    assert cli.json("artifacts", "verify")["ok"] is True  # nothing referenced was touched
    target = result["outputs"]["draw"]
    blob = objects / target[:2] / target
    blob.write_bytes(b"tampered")
    report = cli.json("artifacts", "verify", check=1)
    assert report["corrupt"] == [target]
    proc = cli("artifacts", "show", "../../etc/passwd", check=2)
    assert "not an artifact id" in proc.stderr
    blob.write_bytes(b"")  # a damaged blob of a deterministic step's output (`report`) ...
    damaged = objects / result["outputs"]["report"][:2] / result["outputs"]["report"]
    damaged.write_bytes(damaged.read_bytes()[:-3])
    assert sorted(cli.json("artifacts", "verify", check=1)["corrupt"]) == sorted(
        [target, result["outputs"]["report"]]
    )
    rerun = cli.json("run", "flow.py:flow", "--no-cache")  # ... is repaired by running it again
    assert rerun["outputs"]["report"] == result["outputs"]["report"]
    assert cli.json("artifacts", "verify")["ok"] is True  # `draw` (seeded) stored the same bytes


def test_reproduce_compares_outputs_bit_for_bit(cli: Cli) -> None:
    cli.write("flow.py", FLOW)
    original = cli.json("run", "flow.py:flow")
    same = cli.json("reproduce", original["run_id"])
    assert same["reproducible"] is True
    assert same["first_difference"] is None
    assert all(s["matches"] for s in same["steps"])
    cli.write("flow.py", FLOW.replace("return len(xs)", "return len(xs) + int(time.time() * 1e6)"))
    changed = cli.json("run", "flow.py:flow")
    different = cli.json("reproduce", changed["run_id"], check=1)
    assert different["reproducible"] is False
    assert different["first_difference"] == "bounded"


def test_runs_record_code_state_and_every_installed_package(cli: Cli) -> None:
    subprocess.run(["git", "init", "-q"], cwd=cli.root, check=True)
    cli.write("flow.py", FLOW)
    untracked = cli.json("run", "flow.py:flow")
    shown = cli.json("runs", "show", untracked["run_id"])
    assert shown["git_commit"] is None  # no commit yet
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "add", "flow.py"], cwd=cli.root, check=True)
    subprocess.run([*git, "commit", "-qm", "flow"], cwd=cli.root, check=True)
    clean = cli.json("runs", "show", cli.json("run", "flow.py:flow")["run_id"])
    assert len(clean["git_commit"]) == 40
    assert clean["git_dirty"] is None
    cli.write("flow.py", FLOW + "\n# an uncommitted edit\n")
    dirty = cli.json("runs", "show", cli.json("run", "flow.py:flow")["run_id"])
    assert dirty["git_commit"] == clean["git_commit"]
    assert dirty["git_dirty"] is not None
    packages = dirty["installed_packages"]
    assert "conveyor" in packages
    assert "sqlalchemy" in packages
    assert dirty["packages"]["sqlalchemy"] == packages["sqlalchemy"]
    assert dirty["environment_id"] == clean["environment_id"]  # stored once, shared
