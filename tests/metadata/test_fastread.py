"""The CLI's SQLAlchemy-free run listing agrees with the metadata store."""

from __future__ import annotations

import time
from pathlib import Path

from conveyor.metadata import fastread
from conveyor.metadata.records import RunRecord
from conveyor.metadata.schema import SCHEMA_REVISION
from conveyor.metadata.store import MetadataStore


def test_fast_path_expects_the_current_schema_revision() -> None:
    assert fastread._EXPECTED_REVISION == SCHEMA_REVISION


def test_fast_listing_matches_the_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/c.db"
    store = MetadataStore(url)
    now = time.time()
    for i in range(30):
        store.start_run(
            RunRecord(
                id=f"{i:032x}",
                pipeline="a" if i % 2 else "b",
                pipeline_version="v",
                status="running" if i == 29 else "succeeded",
                params={"i": i},
                cache=True,
                started_at=now + i,
                host="elsewhere",
                pid=1,
                heartbeat_at=now - 3600 if i == 29 else None,
            )
        )
    try:
        for pipeline, limit in ((None, 20), ("a", 5), ("c", 5)):
            fast = fastread.list_runs(url, pipeline, limit)
            assert fast == store.list_runs(pipeline, limit)
        newest = fastread.list_runs(url, None, 1)
        assert newest is not None
        assert newest[0].status == "interrupted"  # a silent runner elsewhere: dead
    finally:
        store.close()


def test_fast_path_steps_aside_when_it_does_not_apply(tmp_path: Path) -> None:
    assert fastread.list_runs("postgresql+psycopg://x/y", None, 5) is None
    assert fastread.list_runs(f"sqlite:///{tmp_path}/missing.db", None, 5) is None
    (tmp_path / "junk.db").write_bytes(b"not a database")
    assert fastread.list_runs(f"sqlite:///{tmp_path}/junk.db", None, 5) is None
