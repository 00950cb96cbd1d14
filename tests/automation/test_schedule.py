"""Schedule triggers: one firing per cron slot, in local time; none for slots before the first
start; one for the slots missed while the watcher was down. Times go to `Watcher.tick(now=...)`."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from tests.automation.conftest import Watchers, minute_after

from conveyor.automation import Schedule, Trigger
from conveyor.exceptions import ConfigError


def every_minute(name: str = "every-minute", cron: str = "* * * * *") -> Trigger:
    return Trigger(name, "flow.py:flow", Schedule(cron), cooldown_s=0, check_every_s=1)


def fired(watchers: Watchers) -> list[float]:
    """The slots that started a run, oldest first."""
    return [float(e.key) for e in watchers.events() if e.status != "skipped"]


def test_a_slot_fires_once_and_the_next_slot_again(flow_file, watchers, workspace) -> None:
    watcher = watchers(every_minute())
    start = watcher.started_at
    assert watcher.tick(now=start) == []  # the slot before the start is the baseline
    [baseline] = watchers.events()
    assert baseline.status == "skipped" and baseline.pid is None
    assert float(baseline.key) <= start
    assert workspace.metadata.list_runs() == []

    slot = minute_after(start)
    [event] = watcher.tick(now=slot + 1)
    assert event.key == repr(slot)
    assert event.reason.startswith("schedule '* * * * *' reached ")
    watchers.settle(watcher)
    assert watcher.tick(now=slot + 30) == []  # the same slot: already fired
    assert watcher.tick(now=slot + 59) == []
    watchers.settle(watcher)
    [second] = watcher.tick(now=slot + 61)
    watchers.settle(watcher)
    assert fired(watchers) == [slot, slot + 60]
    assert {e.status for e in watchers.events() if e.status != "skipped"} == {"succeeded"}
    assert len(workspace.metadata.list_runs()) == 2
    del second


def test_slots_missed_while_the_watcher_was_down_fire_once(flow_file, watchers) -> None:
    first = watchers(every_minute())
    start = first.started_at
    first.tick(now=start)
    slot = minute_after(start)
    first.tick(now=slot + 1)
    watchers.settle(first)

    restarted = watchers(every_minute())  # the watcher was down for five slots
    [event] = restarted.tick(now=slot + 5 * 60 + 1)
    assert event.key == repr(slot + 5 * 60)  # the latest slot, once
    watchers.settle(restarted)
    assert restarted.tick(now=slot + 5 * 60 + 30) == []
    assert fired(watchers) == [slot, slot + 5 * 60]


def test_a_restart_after_a_missed_slot_fires_it_even_before_any_firing(flow_file, watchers) -> None:
    first = watchers(every_minute("hourly", "0 * * * *"))
    first.tick(now=first.started_at)  # started, then down before its first slot
    assert fired(watchers) == []

    restarted = watchers(every_minute("hourly", "0 * * * *"))
    restarted.started_at = first.started_at + 2 * 3600  # it comes back two hours later
    [event] = restarted.tick(now=restarted.started_at)
    watchers.settle(restarted)
    assert float(event.key) > first.started_at  # the slot it missed, once
    assert float(event.key) <= restarted.started_at
    assert restarted.tick(now=restarted.started_at + 60) == []
    assert len(fired(watchers)) == 1


def test_no_firing_for_slots_before_the_first_start(flow_file, watchers, workspace) -> None:
    watcher = watchers(every_minute("hourly", "0 * * * *"))
    for offset in (0, 1, 2):  # however often it checks before the next hour
        assert watcher.tick(now=watcher.started_at + offset) == []
    assert fired(watchers) == []
    assert workspace.metadata.list_runs() == []
    again = watchers(every_minute("hourly", "0 * * * *"))  # nor does a restart
    assert again.tick(now=again.started_at) == []
    assert fired(watchers) == []


@pytest.fixture
def india(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time is UTC+5:30 (no daylight saving) for the test."""
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_cron_is_in_local_time(india, flow_file, watchers) -> None:
    watcher = watchers(every_minute("hourly", "0 * * * *"))
    start = watcher.started_at
    assert watcher.tick(now=start) == []  # the last local hour began before the start
    hour = ((start - 1800) // 3600 + 1) * 3600 + 1800  # the next whole hour in UTC+5:30
    assert watcher.tick(now=hour - 1) == []
    [event] = watcher.tick(now=hour + 1)
    watchers.settle(watcher)
    assert float(event.key) == hour
    assert time.strftime("%Y-%m-%dT%H:00", time.localtime(hour)) in event.reason


def test_a_malformed_cron_names_the_trigger_and_the_others_run(flow_file, watchers) -> None:
    broken = every_minute("broken", "61 * * * *")
    with pytest.raises(ConfigError, match=r"trigger 'broken': schedule '61 \* \* \* \*' is not"):
        broken.validate(flow_file.parent)
    with pytest.raises(ConfigError, match="trigger 'four-fields'"):
        every_minute("four-fields", "* * * *").validate(flow_file.parent)
    watcher = watchers(broken, every_minute("fine"))
    assert [t.name for t in watcher.triggers] == ["fine"]
    assert "is not a cron expression" in watcher.faulty["broken"]
    assert any(line.startswith("trigger 'broken' is not watched") for line in watchers.said)
    watcher.tick(now=watcher.started_at)
    [event] = watcher.tick(now=minute_after(watcher.started_at) + 1)
    watchers.settle(watcher)
    assert event.trigger == "fine"
    assert {e.trigger for e in watchers.events()} == {"fine"}
