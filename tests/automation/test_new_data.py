"""NewData triggers: the first sight is a recorded baseline, each change of content fires once,
and neither a repeated check nor a restarted watcher fires the same change again."""

from __future__ import annotations

import pytest
from tests.automation.conftest import Watchers

from conveyor.automation import NewData, Trigger
from conveyor.exceptions import ConfigError


def on_new_data(name: str = "fresh", source: str = "data.csv") -> Trigger:
    return Trigger(
        name, "flow.py:flow", NewData(source), params={"n": 21}, cooldown_s=0, check_every_s=1
    )


def test_the_first_sight_is_a_baseline_that_launches_nothing(
    project, flow_file, watchers, workspace
) -> None:
    (project / "data.csv").write_text("x\n1\n")
    watcher = watchers(on_new_data())
    assert watcher.tick(now=watcher.started_at) == []
    [baseline] = watchers.events()
    assert baseline.status == "skipped" and baseline.run_id is None and baseline.pid is None
    assert baseline.reason.startswith("baseline: data.csv has content ")
    assert baseline.finished_at is not None
    assert watcher.tick(now=watcher.started_at + 60) == []  # unchanged
    assert workspace.metadata.list_runs() == []
    assert not any("fired" in line for line in watchers.said)


def test_a_change_fires_once_and_a_restart_does_not_fire_it_again(
    project, flow_file, watchers: Watchers, workspace
) -> None:
    data = project / "data.csv"
    data.write_text("x\n1\n")
    watcher = watchers(on_new_data())
    now = watcher.started_at
    watcher.tick(now=now)
    data.write_text("x\n1\n2\n")
    [event] = watcher.tick(now=now + 60)
    assert event.reason.startswith("data.csv changed (content ")
    assert any(line.startswith("trigger 'fresh' fired: data.csv changed") for line in watchers.said)
    watchers.settle(watcher)
    assert watcher.tick(now=now + 120) == []  # the same content again

    restarted = watchers(on_new_data())  # a new watcher on the same store
    restarted.recover()
    assert restarted.tick(now=now + 180) == []
    watchers.settle(restarted)

    [_, done] = watchers.events()
    assert done.status == "succeeded" and done.run_id is not None
    [run] = workspace.metadata.list_runs()
    assert run.id == done.run_id and run.status == "succeeded"
    assert run.params["n"] == 21  # the trigger's params reached the run


def test_content_seen_before_fires_again_when_it_comes_back(project, flow_file, watchers) -> None:
    data = project / "data.csv"
    data.write_text("first\n")
    watcher = watchers(on_new_data())
    now = watcher.started_at
    watcher.tick(now=now)
    for step, content in enumerate(["second\n", "first\n", "second\n"], start=1):
        data.write_text(content)
        assert len(watcher.tick(now=now + 60 * step)) == 1, content
        watchers.settle(watcher)
        assert watcher.tick(now=now + 60 * step + 30) == []
    statuses = [e.status for e in watchers.events()]
    assert statuses == ["skipped", "succeeded", "succeeded", "succeeded"]
    assert len({e.key for e in watchers.events()}) == 4


def test_a_missing_source_is_reported_and_the_trigger_recovers(
    project, flow_file, watchers
) -> None:
    watcher = watchers(on_new_data(source="later.csv"))
    assert watcher.tick(now=watcher.started_at) == []
    assert "later.csv" in watcher.faulty["fresh"] and "does not exist" in watcher.faulty["fresh"]
    watcher.tick(now=watcher.started_at + 60)
    complaints = [line for line in watchers.said if "failed its check" in line]
    assert len(complaints) == 1  # reported once, not at every check
    (project / "later.csv").write_text("x\n1\n")
    watcher.tick(now=watcher.started_at + 120)
    assert "fresh" not in watcher.faulty
    assert [e.status for e in watchers.events()] == ["skipped"]


def test_an_absolute_source_and_an_empty_one(project, flow_file, watchers) -> None:
    outside = project / "elsewhere" / "data.csv"
    outside.parent.mkdir()
    outside.write_text("x\n1\n")
    watcher = watchers(on_new_data(source=str(outside)))
    watcher.tick(now=watcher.started_at)
    assert [e.status for e in watchers.events()] == ["skipped"]
    with pytest.raises(ConfigError, match="trigger 'empty': new-data trigger: source must be"):
        on_new_data("empty", source="").validate(project)
