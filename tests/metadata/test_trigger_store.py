"""`TriggerStore` on every metadata backend: a (trigger, key) is claimed once — with its run id,
or as a finished baseline — then followed; a trigger's problems are kept as a row per change,
seen by every watcher of the store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conveyor.metadata.store import MetadataStore
from conveyor.metadata.trigger_store import TriggerCheck, TriggerStore

RUN = "0123456789abcdef" * 2


@pytest.fixture
def store(metadata_url: str) -> Iterator[TriggerStore]:
    opened = MetadataStore(metadata_url)
    yield TriggerStore(opened)
    opened.close()


def test_an_event_is_claimed_once_with_the_run_it_launches(store: TriggerStore) -> None:
    event = store.claim(
        "nightly", "slot-1", "03:00", "flow.py:flow", {"n": 1, "when": ["x"]}, run_id=RUN, host="h"
    )
    assert event is not None
    assert (event.trigger, event.key, event.status, event.params) == (
        "nightly", "slot-1", "started", {"n": 1, "when": ["x"]},
    )  # fmt: skip
    assert (event.run_id, event.host) == (RUN, "h")  # recorded before anything is launched
    assert event.pid is None and event.finished_at is None
    assert store.claim("nightly", "slot-1", "again", "flow.py:flow", {}, run_id="f" * 32) is None
    assert store.get("nightly", "slot-1") == event
    other = store.claim("other", "slot-1", "03:00", "flow.py:flow", {}, run_id="e" * 32)
    assert other is not None  # keys are per trigger


def test_a_baseline_is_claimed_finished_in_one_insert(store: TriggerStore) -> None:
    baseline = store.claim("fresh", "abc", "baseline: x", "flow.py:flow", {}, status="skipped")
    assert baseline.status == "skipped" and baseline.finished_at == baseline.fired_at
    assert baseline.run_id is None
    assert store.unfinished() == []  # never started: nothing for a restart to repair
    assert store.claim("fresh", "abc", "baseline: x", "flow.py:flow", {}, run_id=RUN) is None


@pytest.mark.parametrize(
    ("status", "run_id"), [("started", None), ("skipped", RUN), ("succeeded", None)]
)
def test_a_claim_is_started_with_a_run_id_or_skipped_without(
    store: TriggerStore, status: str, run_id: str | None
) -> None:
    with pytest.raises(ValueError, match="claim"):
        store.claim("fresh", "abc", "x", "flow.py:flow", {}, status=status, run_id=run_id)
    assert store.history() == []


def test_an_event_follows_its_run(store: TriggerStore) -> None:
    first = store.claim("nightly", "slot-1", "03:00", "flow.py:flow", {}, run_id="1" * 32)
    second = store.claim("nightly", "slot-2", "03:00", "flow.py:flow", {}, run_id="2" * 32)
    store.claim("fresh", "abc", "changed", "flow.py:flow", {}, run_id="3" * 32)
    assert [e.id for e in store.unfinished()] == [first.id, second.id, first.id + 2]
    store.update(first.id, pid=4242)
    store.update(first.id, status="succeeded", finished_at=first.fired_at + 1)
    done = store.get("nightly", "slot-1")
    assert (done.status, done.run_id, done.pid) == ("succeeded", "1" * 32, 4242)
    assert first.id not in [e.id for e in store.unfinished()]
    assert [e.key for e in store.history("nightly")] == ["slot-2", "slot-1"]  # newest first
    assert store.last("nightly").key == "slot-2"
    assert store.last("never") is None
    assert [e.trigger for e in store.history(limit=1)] == ["fresh"]


def test_a_check_is_recorded_when_the_problems_change(store: TriggerStore) -> None:
    assert store.record_check("drift", 10.0, None, []) is None  # no problems, none before
    failed = store.record_check("drift", 20.0, "NotFoundError: no model", [], host="a")
    assert failed == TriggerCheck(failed.id, "drift", 20.0, "NotFoundError: no model", [], "a")
    assert store.record_check("drift", 30.0, "NotFoundError: no model", []) is None  # same
    gone = ["column 'income' is missing from the live data: counted as drifted"]
    warned = store.record_check("drift", 40.0, None, gone)
    assert warned.error is None and warned.warnings == gone
    assert store.record_check("drift", 45.0, None, tuple(gone)) is None
    store.record_check("other", 50.0, "ValueError: bad", [])
    ended = store.record_check("drift", 60.0, None, [])  # the problems ended: recorded too
    assert ended.error is None and ended.warnings == []
    assert store.checks() == {"drift": ended, "other": store.check_history("other")[0]}
    history = store.check_history("drift")
    assert [c.at for c in history] == [60.0, 40.0, 20.0]  # newest first
    assert [c.at for c in store.check_history(limit=2)] == [60.0, 50.0]
    assert store.check_history("never") == []


def test_every_watcher_of_the_store_sees_the_same_problems(metadata_url: str) -> None:
    """Two watchers (two stores on one database, as on two machines): what one recorded is
    the other's current state, and the same change is not recorded twice."""
    first, second = MetadataStore(metadata_url), MetadataStore(metadata_url)
    try:
        here, there = TriggerStore(first), TriggerStore(second)
        recorded = here.record_check("drift", 1.0, "NotFoundError: no model", [], host="here")
        assert there.checks() == {"drift": recorded}
        assert there.record_check("drift", 2.0, "NotFoundError: no model", [], "there") is None
        cleared = there.record_check("drift", 3.0, None, [], host="there")
        assert here.checks()["drift"] == cleared
        assert [c.host for c in here.check_history("drift")] == ["there", "here"]
    finally:
        first.close()
        second.close()
