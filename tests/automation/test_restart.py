"""A watcher that stops mid-firing neither loses nor repeats it: the next one adopts the run still
going, records a run that ended meanwhile, and launches a firing claimed but never launched."""

from __future__ import annotations

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
