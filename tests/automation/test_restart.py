"""A watcher that stops mid-firing neither loses nor repeats it: the next one adopts the run still
going (even one whose pid was never recorded), records a run that ended meanwhile, marks a
baseline left started as skipped, and launches only a firing claimed but never launched."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
from tests.automation.conftest import Watchers, crash

from conveyor.automation import NewData, Trigger


def on_new_data(**params) -> Trigger:
    return Trigger(
        "fresh", "flow.py:flow", NewData("data.csv"), params=params, cooldown_s=0, check_every_s=1
    )


def fire(project, watchers: Watchers, **params):
    """A watcher that has just launched the run of a change to data.csv."""
    data = project / "data.csv"
    data.write_text("x\n1\n")
    watcher = watchers(on_new_data(**params))
    watcher.tick(now=watcher.started_at)
    data.write_text("x\n2\n")
    [event] = watcher.tick(now=watcher.started_at + 60)
    return watcher, watchers.store.get("fresh", event.key)


def test_a_live_run_is_adopted_and_recorded_once(project, flow_file, watchers, workspace) -> None:
    release = project / "release"
    _, event = fire(project, watchers, hold=str(release))  # the watcher then dies
    assert event.status == "started" and event.pid is not None

    restarted = watchers(on_new_data(hold=str(release)))
    restarted.recover()
    assert watchers.store.get("fresh", event.key).status == "started"  # adopted, still going
    assert restarted.tick(now=restarted.started_at + 120) == []  # no second firing
    release.touch()
    watchers.settle(restarted)
    done = watchers.store.get("fresh", event.key)
    assert done.status == "succeeded" and done.pid == event.pid
    [run] = workspace.metadata.list_runs()
    assert run.id == done.run_id and run.pid == event.pid

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
    assert watchers.store.get("fresh", event.key).status == "started"
    restarted = watchers(on_new_data(fail=True))
    restarted.recover()
    watchers.settle(restarted)
    done = watchers.store.get("fresh", event.key)
    assert done.status == "failed" and done.run_id is not None
    assert workspace.metadata.get_run(done.run_id).status == "failed"


def test_a_run_whose_output_is_lost_is_found_by_its_pid(
    project, flow_file, watchers, workspace
) -> None:
    watcher, event = fire(project, watchers)
    crash(watcher)
    (workspace.settings.home / "triggers" / f"{event.id}.json").unlink()
    restarted = watchers(on_new_data())
    restarted.recover()
    done = watchers.store.get("fresh", event.key)
    assert done.status == "succeeded"
    assert done.run_id == workspace.metadata.list_runs()[0].id


def test_a_firing_claimed_but_never_launched_is_launched(
    project, flow_file, watchers, workspace
) -> None:
    claimed = watchers.store.claim("fresh", "some-key", "a change", "flow.py:flow", {"n": 7})
    assert claimed.pid is None  # the watcher died between the claim and the launch
    watcher = watchers(on_new_data())
    watcher.recover()
    assert any("launching the firing claimed before a restart" in line for line in watchers.said)
    assert watchers.store.get("fresh", "some-key").pid is not None
    watchers.settle(watcher)
    done = watchers.store.get("fresh", "some-key")
    assert done.status == "succeeded"
    assert workspace.metadata.get_run(done.run_id).params["n"] == 7
    watchers(on_new_data()).recover()  # launched once
    assert len(workspace.metadata.list_runs()) == 1


def test_a_baseline_left_started_by_a_crash_launches_nothing(
    project, flow_file, watchers, workspace
) -> None:
    # the watcher died between claiming a baseline and marking it skipped
    claimed = watchers.store.claim(
        "fresh", "abc", "baseline: data.csv has content abc", "flow.py:flow", {}
    )
    assert claimed.status == "started" and claimed.pid is None
    watcher = watchers(on_new_data())
    watcher.recover()
    assert watcher._children == [] and watchers.said == []
    assert watchers.store.get("fresh", "abc").status == "skipped"
    assert workspace.metadata.list_runs() == []


class _Crash(Exception):
    """The watcher dies here."""


@pytest.fixture
def launched(monkeypatch) -> Iterator[list[subprocess.Popen[bytes]]]:
    """The run processes watchers start (waited for at the end: a crashed watcher lost them)."""
    import conveyor.automation.watcher as module

    started: list[subprocess.Popen[bytes]] = []
    real = subprocess.Popen

    def popen(*args, **kwargs):
        started.append(real(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(module.subprocess, "Popen", popen)
    yield started
    for process in started:
        process.wait(timeout=60)


def fire_and_crash(project, watchers: Watchers, **params):
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
    assert event.status == "started" and event.pid is None and event.host  # launched, maybe
    return event


def test_a_run_launched_just_before_a_crash_is_adopted_not_launched_again(
    project, flow_file, watchers, workspace, launched
) -> None:
    release = project / "release"
    event = fire_and_crash(project, watchers, hold=str(release))
    [process] = launched
    restarted = watchers(on_new_data(hold=str(release)))
    restarted.recover()
    assert "trigger 'fresh': adopting the run launched before a restart" in watchers.said
    adopted = watchers.store.get("fresh", event.key)
    assert adopted.pid == process.pid and adopted.status == "started"
    release.touch()
    process.wait(timeout=60)
    watchers.settle(restarted)
    done = watchers.store.get("fresh", event.key)
    [run] = workspace.metadata.list_runs()  # one run, not two
    assert done.status == "succeeded" and done.run_id == run.id and run.pid == process.pid
    assert len(launched) == 1


def test_a_run_that_ended_before_the_restart_is_recorded_not_launched_again(
    project, flow_file, watchers, workspace, launched
) -> None:
    event = fire_and_crash(project, watchers)
    [process] = launched
    assert process.wait(timeout=60) == 0  # it ends while no watcher runs
    restarted = watchers(on_new_data())
    restarted.recover()
    assert not any("launching" in line for line in watchers.said)
    done = watchers.store.get("fresh", event.key)
    [run] = workspace.metadata.list_runs()
    assert done.status == "succeeded" and done.run_id == run.id and len(launched) == 1
