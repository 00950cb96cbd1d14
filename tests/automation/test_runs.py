"""The runs a watcher launches: real `conveyor run` processes of a real pipeline file, recorded
with their outcome; limits per trigger and in all; triggers naming a pipeline that is not there."""

from __future__ import annotations

import pytest
from tests.automation.conftest import Watchers, minute_after

from conveyor.automation import Schedule, Trigger


def every_minute(name: str = "tick", pipeline: str = "flow.py:flow", **options) -> Trigger:
    options = {"cooldown_s": 0, "check_every_s": 1} | options
    return Trigger(name, pipeline, Schedule("* * * * *"), **options)


def slots(watcher, count: int) -> list[float]:
    """`count` successive slot times after the watcher's start (the first tick is the baseline)."""
    first = minute_after(watcher.started_at)
    watcher.tick(now=watcher.started_at)
    return [first + 60 * i + 1 for i in range(count)]


def test_a_firing_ends_succeeded_with_its_run(flow_file, watchers: Watchers, workspace) -> None:
    watcher = watchers(every_minute(params={"n": 5}))
    [at] = slots(watcher, 1)
    [event] = watcher.tick(now=at)
    started = watchers.store.get("tick", event.key)
    assert started.status == "started" and started.pid is not None and started.host
    watchers.settle(watcher)
    done = watchers.store.get("tick", event.key)
    assert done.status == "succeeded" and done.finished_at >= done.fired_at
    run = workspace.metadata.get_run(done.run_id)
    assert run.status == "succeeded" and run.params["n"] == 5 and run.pid == started.pid
    assert any(f"run {done.run_id[:12]} succeeded" in line for line in watchers.said)


def test_a_failing_pipeline_ends_failed_and_the_watcher_goes_on(
    flow_file, watchers, workspace
) -> None:
    watcher = watchers(every_minute(params={"fail": True}))
    first, second = slots(watcher, 2)
    [event] = watcher.tick(now=first)
    watchers.settle(watcher)
    failed = watchers.store.get("tick", event.key)
    assert failed.status == "failed" and failed.run_id is not None
    assert workspace.metadata.get_run(failed.run_id).error.endswith("asked to fail")
    assert len(watcher.tick(now=second)) == 1  # and the next slot fires as usual
    watchers.settle(watcher)
    assert [e.status for e in watchers.events()] == ["skipped", "failed", "failed"]


def test_max_concurrent_holds_a_firing_until_a_run_ends(flow_file, watchers, workspace) -> None:
    watcher = watchers(every_minute(params={"sleep": 1.5}, max_concurrent=1))
    first, second, third = slots(watcher, 3)
    assert len(watcher.tick(now=first)) == 1
    assert watcher.tick(now=second) == []  # its run is still going: not even claimed
    assert [e.status for e in watchers.events()] == ["skipped", "started"]
    watchers.settle(watcher)
    assert len(watcher.tick(now=third)) == 1  # the latest slot, once the run has ended
    watchers.settle(watcher)
    assert [e.status for e in watchers.events()] == ["skipped", "succeeded", "succeeded"]


def test_max_concurrent_two_runs_side_by_side(flow_file, watchers) -> None:
    watcher = watchers(every_minute(params={"sleep": 1.5}, max_concurrent=2), max_runs=5)
    first, second, third = slots(watcher, 3)
    assert len(watcher.tick(now=first)) == 1
    assert len(watcher.tick(now=second)) == 1
    assert watcher.tick(now=third) == []
    assert [e.status for e in watchers.events()].count("started") == 2
    watchers.settle(watcher)
    assert [e.status for e in watchers.events()] == ["skipped", "succeeded", "succeeded"]


def test_max_runs_limits_all_triggers_together(flow_file, watchers) -> None:
    sleepy = {"params": {"sleep": 1.5}}
    watcher = watchers(every_minute("a", **sleepy), every_minute("b", **sleepy), max_runs=1)
    first, second = slots(watcher, 2)
    [event] = watcher.tick(now=first)
    assert event.trigger == "a"
    assert watcher.tick(now=first + 2) == []  # b waits: one run at a time in all
    watchers.settle(watcher)
    [later] = watcher.tick(now=second)
    assert later.trigger == "b"  # b had waited: it goes first, a does not starve it
    watchers.settle(watcher)
    assert [e.trigger for e in watchers.events() if e.status == "succeeded"] == ["a", "b"]


@pytest.mark.parametrize(
    ("pipeline", "problem"),
    [
        ("missing.py:flow", "pipeline file 'missing.py' does not exist"),
        ("flow.py:nope", "no pipeline named 'nope'; it defines ['flow']"),
        ("flow.py:time", "'time' is a module, not a @pipeline"),
        ("flow.py", "pipeline must be FILE.py:NAME, got 'flow.py'"),
        ("broken.py:flow", "importing it raised ZeroDivisionError"),
    ],
)
def test_a_trigger_naming_a_missing_pipeline_is_faulty_and_the_others_run(
    pipeline, problem, project, flow_file, watchers
) -> None:
    (project / "broken.py").write_text("1 / 0\n")
    watcher = watchers(every_minute("bad", pipeline), every_minute("good"))
    assert [t.name for t in watcher.triggers] == ["good"]
    assert problem in watcher.faulty["bad"]
    [said] = watchers.said
    assert said.startswith("trigger 'bad' is not watched: ") and problem in said
    assert said.count("'bad'") == 1
    [at] = slots(watcher, 1)
    [event] = watcher.tick(now=at)
    watchers.settle(watcher)
    assert event.trigger == "good"
    assert {e.trigger for e in watchers.events()} == {"good"}


def test_two_triggers_with_one_name_are_both_faulty(flow_file, watchers) -> None:
    watcher = watchers(every_minute("twin"), every_minute("twin"), every_minute("other"))
    assert [t.name for t in watcher.triggers] == ["other"]
    assert watcher.faulty == {"twin": "another trigger has the same name"}


def test_a_pipeline_file_removed_after_the_start_fails_its_firing(
    project, flow_file, watchers
) -> None:
    path = project / "gone.py"
    path.write_text(flow_file.read_text())
    watcher = watchers(every_minute("gone", "gone.py:flow"))
    [at] = slots(watcher, 1)
    path.unlink()
    [event] = watcher.tick(now=at)
    watchers.settle(watcher)
    done = watchers.store.get("gone", event.key)
    assert done.status == "failed" and done.run_id is None
