"""A watcher that stops mid-firing neither loses nor repeats it. The run id is chosen and recorded
with the claim, before the launch, so the next watcher finds the run by its id: it adopts a run
still going (even one whose pid was never recorded), records one that ended meanwhile, and
launches only a firing that was never launched — once, even with two watchers recovering."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest
from tests.automation.conftest import Watchers, crash

from conveyor.automation import NewData, Trigger
from conveyor.metadata.trigger_store import TriggerEvent


def on_new_data(**params) -> Trigger:
    return Trigger(
        "fresh", "flow.py:flow", NewData("data.csv"), params=params, cooldown_s=0, check_every_s=1
    )


class _Crash(Exception):
    """The watcher dies here."""


class _Launched(list):
    """Run processes started; `crashes`: errors the next launches die of, before a process
    starts."""

    def __init__(self) -> None:
        super().__init__()
        self.crashes: list[Exception] = []


@pytest.fixture
def launched(monkeypatch) -> Iterator[_Launched]:
    """The run processes watchers start (waited for at the end: a crashed watcher lost them)."""
    import conveyor.automation.watcher as module

    started = _Launched()
    real = subprocess.Popen

    def popen(*args, **kwargs):
        if started.crashes:
            raise started.crashes.pop(0)
        started.append(real(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(module.subprocess, "Popen", popen)
    yield started
    for process in started:
        process.wait(timeout=60)


def fire(project, watchers: Watchers, **params) -> tuple[object, TriggerEvent]:
    """A watcher that has just launched the run of a change to data.csv."""
    data = project / "data.csv"
    data.write_text("x\n1\n")
    watcher = watchers(on_new_data(**params))
    watcher.tick(now=watcher.started_at)
    data.write_text("x\n2\n")
    [event] = watcher.tick(now=watcher.started_at + 60)
    return watcher, watchers.store.get("fresh", event.key)


def test_the_run_id_is_recorded_before_the_launch_and_is_the_runs(
    project, flow_file, watchers, workspace, launched
) -> None:
    launched.crashes.append(_Crash())  # the claim is made, the launch dies
    data = project / "data.csv"
    data.write_text("x\n1\n")
    watcher = watchers(on_new_data())
    watcher.tick(now=watcher.started_at)
    data.write_text("x\n2\n")
    with pytest.raises(_Crash):
        watcher.tick(now=watcher.started_at + 60)
    [_, claimed] = watchers.events()
    assert claimed.status == "started" and claimed.pid is None and len(claimed.run_id) == 32
    assert claimed.host == socket.gethostname() and launched == []
    assert workspace.metadata.list_runs() == []


def test_a_live_run_is_adopted_and_recorded_once(project, flow_file, watchers, workspace) -> None:
    release = project / "release"
    _, event = fire(project, watchers, hold=str(release))  # the watcher then dies
    assert event.status == "started" and event.pid is not None and event.run_id

    restarted = watchers(on_new_data(hold=str(release)))
    restarted.recover()
    assert f"trigger 'fresh': adopting run {event.run_id[:12]}, launched before a restart" in (
        watchers.said
    )
    assert watchers.store.get("fresh", event.key).status == "started"  # adopted, still going
    assert restarted.tick(now=restarted.started_at + 120) == []  # no second firing
    release.touch()
    watchers.settle(restarted)
    done = watchers.store.get("fresh", event.key)
    assert done.status == "succeeded" and done.pid == event.pid and done.run_id == event.run_id
    [run] = workspace.metadata.list_runs()
    assert run.id == event.run_id and run.pid == event.pid

    again = watchers(on_new_data(hold=str(release)))  # a later restart has nothing to do
    again.recover()
    again.tick(now=again.started_at + 180)
    watchers.settle(again)
    assert watchers.store.get("fresh", event.key) == done
    assert len(workspace.metadata.list_runs()) == 1
    assert [e.status for e in watchers.events()] == ["skipped", "succeeded"]


def test_a_run_that_ended_while_the_watcher_was_down_is_recorded(
    project, flow_file, watchers, workspace
) -> None:
    watcher, event = fire(project, watchers, fail=True)
    crash(watcher)
    (workspace.settings.home / "triggers" / f"{event.id}.log").unlink()  # no output needed
    assert watchers.store.get("fresh", event.key).status == "started"
    restarted = watchers(on_new_data(fail=True))
    restarted.recover()
    watchers.settle(restarted)
    done = watchers.store.get("fresh", event.key)
    assert done.status == "failed" and done.run_id == event.run_id
    assert workspace.metadata.get_run(done.run_id).status == "failed"


def test_a_firing_claimed_but_never_launched_is_launched_once(
    project, flow_file, watchers, workspace, launched
) -> None:
    # the watcher died between the claim and the launch
    run_id = "a" * 32
    claim = ("fresh", "some-key", "a change", "flow.py:flow", {"n": 7})
    claimed = watchers.store.claim(*claim, run_id=run_id, host=socket.gethostname())
    assert claimed.pid is None
    watcher = watchers(on_new_data())
    watcher.recover()
    assert "trigger 'fresh': launching the firing claimed before a restart" in watchers.said
    assert watchers.store.get("fresh", "some-key").pid == launched[0].pid
    watchers.settle(watcher)
    done = watchers.store.get("fresh", "some-key")
    assert done.status == "succeeded" and done.run_id == run_id
    assert workspace.metadata.get_run(run_id).params["n"] == 7
    watchers(on_new_data()).recover()  # finished: nothing left to do
    assert len(launched) == 1 and len(workspace.metadata.list_runs()) == 1


def test_a_crash_before_the_launch_is_launched_by_the_restart_once(
    project, flow_file, watchers, workspace, launched
) -> None:
    launched.crashes.append(_Crash())
    data = project / "data.csv"
    data.write_text("x\n1\n")
    watcher = watchers(on_new_data(n=3))
    watcher.tick(now=watcher.started_at)
    data.write_text("x\n2\n")
    with pytest.raises(_Crash):
        watcher.tick(now=watcher.started_at + 60)
    [_, claimed] = watchers.events()

    restarted = watchers(on_new_data(n=3))
    restarted.recover()
    assert "trigger 'fresh': launching the firing claimed before a restart" in watchers.said
    watchers.settle(restarted)
    done = watchers.store.get("fresh", claimed.key)
    [run] = workspace.metadata.list_runs()
    assert done.status == "succeeded" and run.id == claimed.run_id == done.run_id
    assert run.params["n"] == 3 and len(launched) == 1


def test_two_watchers_recovering_at_once_launch_a_firing_once(
    project, flow_file, watchers, workspace, launched
) -> None:
    release = project / "release"
    claim = ("fresh", "some-key", "a change", "flow.py:flow", {"hold": str(release)})
    claimed = watchers.store.claim(*claim, run_id="b" * 32, host=socket.gethostname())
    first, second = watchers(on_new_data()), watchers(on_new_data())
    first.recover()  # launches it; its process holds the firing's lock
    second.recover()  # the run not recorded yet, or recorded: adopted either way
    assert sum("launching the firing" in line for line in watchers.said) == 1
    assert sum("adopting run bbbbbbbbbbbb" in line for line in watchers.said) == 1
    release.touch()
    watchers.settle(first)
    watchers.settle(second)
    assert len(launched) == 1 and [r.id for r in workspace.metadata.list_runs()] == ["b" * 32]
    assert watchers.store.get("fresh", claimed.key).status == "succeeded"


def test_a_process_holding_the_firings_lock_is_waited_for_not_launched_again(
    project, flow_file, watchers, workspace
) -> None:
    """The window between a run's launch and its record: its process holds the lock."""
    from conveyor.automation.watcher import _Lock

    run_id = "c" * 32
    claim = ("fresh", "some-key", "a change", "flow.py:flow", {})
    claimed = watchers.store.claim(*claim, run_id=run_id, host=socket.gethostname())
    lock = _Lock(workspace.settings.home / "triggers", run_id)
    assert lock.acquire()
    starting = subprocess.Popen(  # stands for a `conveyor run` that has yet to record its run
        [sys.executable, "-c", "import sys; sys.stdin.read()"],
        stdin=subprocess.PIPE,
        pass_fds=(lock.fd,),
    )
    lock.release()
    watchers.store.update(claimed.id, pid=starting.pid)
    try:
        watcher = watchers(on_new_data())
        watcher.recover()
        assert f"trigger 'fresh': adopting run {run_id[:12]}, launched before a restart" in (
            watchers.said
        )
        watcher.tick(now=watcher.started_at + 1)
        assert watcher._children and watchers.store.get("fresh", "some-key").status == "started"
    finally:
        starting.stdin.close()  # it ends without recording a run
        starting.wait(timeout=60)
    watchers.settle(watcher)
    done = watchers.store.get("fresh", claimed.key)
    assert done.status == "failed" and done.run_id is None  # launched (a pid), ended, no run
    assert not any("launching" in line for line in watchers.said)
    assert workspace.metadata.list_runs() == []


def test_a_firing_whose_claimer_died_before_the_launch_is_launched_by_the_adopter(
    project, flow_file, watchers, workspace, launched
) -> None:
    """A watcher adopts a firing another one is launching (it holds the lock); that one dies
    before the launch: the adopter launches it, once."""
    from conveyor.automation.watcher import _Lock

    run_id = "d" * 32
    claimer = _Lock(workspace.settings.home / "triggers", run_id)
    assert claimer.acquire()  # the other watcher: lock taken, firing claimed, not launched yet
    claim = ("fresh", "some-key", "a change", "flow.py:flow", {"n": 4})
    claimed = watchers.store.claim(*claim, run_id=run_id, host=socket.gethostname())
    watcher = watchers(on_new_data())
    watcher.recover()
    assert any("adopting run dddddddddddd" in line for line in watchers.said)
    claimer.release()  # it dies
    watchers.settle(watcher)
    done = watchers.store.get("fresh", claimed.key)
    assert done.status == "succeeded" and done.run_id == run_id and len(launched) == 1
    assert workspace.metadata.get_run(run_id).params["n"] == 4


def fire_and_crash(project, watchers: Watchers, **params) -> TriggerEvent:
    """A watcher that dies right after starting the run of a change to data.csv, before it
    records the run's pid; the firing as it was left."""
    data = project / "data.csv"
    data.write_text("x\n1\n")
    watcher = watchers(on_new_data(**params))
    watcher.tick(now=watcher.started_at)
    data.write_text("x\n2\n")
    update = watcher.store.update

    def dying(event_id, **values):
        if "pid" in values:
            raise _Crash
        update(event_id, **values)

    watcher.store.update = dying
    with pytest.raises(_Crash):
        watcher.tick(now=watcher.started_at + 60)
    watcher._children.clear()
    [_, event] = watchers.events()
    assert event.status == "started" and event.pid is None and event.run_id  # launched, maybe
    return event


def test_a_run_launched_just_before_a_crash_is_adopted_not_launched_again(
    project, flow_file, watchers, workspace, launched
) -> None:
    release = project / "release"
    event = fire_and_crash(project, watchers, hold=str(release))
    [process] = launched
    restarted = watchers(on_new_data(hold=str(release)))
    restarted.recover()  # found by its lock (still starting) or by its run id (recorded)
    said = f"trigger 'fresh': adopting run {event.run_id[:12]}, launched before a restart"
    assert said in watchers.said and not any("launching" in line for line in watchers.said)
    assert watchers.store.get("fresh", event.key).status == "started"
    release.touch()
    process.wait(timeout=60)
    watchers.settle(restarted)
    done = watchers.store.get("fresh", event.key)
    [run] = workspace.metadata.list_runs()  # one run, not two
    assert done.status == "succeeded" and done.run_id == run.id == event.run_id
    assert done.pid == run.pid == process.pid  # the pid it never recorded, from the run
    assert len(launched) == 1


def test_a_run_that_ended_before_the_restart_is_recorded_not_launched_again(
    project, flow_file, watchers, workspace, launched
) -> None:
    event = fire_and_crash(project, watchers)
    [process] = launched
    assert process.wait(timeout=60) == 0  # it ends while no watcher runs
    restarted = watchers(on_new_data())
    restarted.recover()
    watchers.settle(restarted)
    assert not any("launching" in line for line in watchers.said)
    done = watchers.store.get("fresh", event.key)
    [run] = workspace.metadata.list_runs()
    assert done.status == "succeeded" and done.run_id == run.id == event.run_id
    assert len(launched) == 1


def test_a_process_that_died_before_recording_its_run_is_not_launched_again(
    project, flow_file, watchers, workspace, launched
) -> None:
    event = fire_and_crash(project, watchers, n="not a number")  # refused before it records
    [process] = launched
    assert process.wait(timeout=60) == 2
    restarted = watchers(on_new_data(n="not a number"))
    restarted.recover()
    assert not any("launching" in line for line in watchers.said)
    done = watchers.store.get("fresh", event.key)
    assert done.status == "failed" and done.run_id is None  # there is no run to point at
    log = workspace.settings.home / "triggers" / f"{event.id}.log"
    assert f"the run failed before it was recorded (see {log})" in watchers.said[-1]
    assert "not a number" in log.read_text() and len(launched) == 1  # why it was refused
    assert workspace.metadata.list_runs() == []


def test_no_crash_leaves_a_baseline_started(project, flow_file, watchers, workspace) -> None:
    (project / "data.csv").write_text("x\n1\n")
    watcher = watchers(on_new_data())
    claim = watcher.store.claim

    def dying(*args, **kwargs):
        claim(*args, **kwargs)
        raise _Crash  # the watcher dies right after the baseline's one insert

    watcher.store.claim = dying
    with pytest.raises(_Crash):
        watcher.tick(now=watcher.started_at)
    [baseline] = watchers.events()
    assert baseline.status == "skipped" and baseline.finished_at is not None
    assert watchers.store.unfinished() == []  # nothing for a restart to repair
    restarted = watchers(on_new_data())
    restarted.recover()
    assert restarted._children == [] and watchers.said == []
    assert workspace.metadata.list_runs() == []
