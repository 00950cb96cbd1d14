"""`TriggerStore` on every metadata backend: a (trigger, key) is claimed once, then followed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conveyor.metadata.store import MetadataStore
from conveyor.metadata.trigger_store import TriggerStore


@pytest.fixture
def store(metadata_url: str) -> Iterator[TriggerStore]:
    opened = MetadataStore(metadata_url)
    yield TriggerStore(opened)
    opened.close()


def test_an_event_is_claimed_once(store: TriggerStore) -> None:
    event = store.claim("nightly", "slot-1", "03:00", "flow.py:flow", {"n": 1, "when": ["x"]})
    assert event is not None
    assert (event.trigger, event.key, event.status, event.params) == (
        "nightly", "slot-1", "started", {"n": 1, "when": ["x"]},
    )  # fmt: skip
    assert event.pid is None and event.run_id is None and event.finished_at is None
    assert store.claim("nightly", "slot-1", "again", "flow.py:flow", {}) is None
    assert store.get("nightly", "slot-1") == event
    assert store.claim("other", "slot-1", "03:00", "flow.py:flow", {}) is not None  # per trigger


def test_an_event_follows_its_run(store: TriggerStore) -> None:
    first = store.claim("nightly", "slot-1", "03:00", "flow.py:flow", {})
    second = store.claim("nightly", "slot-2", "03:00", "flow.py:flow", {})
    store.claim("fresh", "abc", "changed", "flow.py:flow", {})
    assert [e.id for e in store.unfinished()] == [first.id, second.id, first.id + 2]
    store.update(first.id, pid=4242, host="here")
    store.update(first.id, status="succeeded", run_id="r" * 32, finished_at=first.fired_at + 1)
    done = store.get("nightly", "slot-1")
    assert (done.status, done.run_id, done.pid, done.host) == ("succeeded", "r" * 32, 4242, "here")
    assert first.id not in [e.id for e in store.unfinished()]
    assert [e.key for e in store.history("nightly")] == ["slot-2", "slot-1"]  # newest first
    assert store.last("nightly").key == "slot-2"
    assert store.last("never") is None
    assert [e.trigger for e in store.history(limit=1)] == ["fresh"]
