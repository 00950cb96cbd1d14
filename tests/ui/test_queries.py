"""The runs list's SQL: filters and keyset pages on SQLite and PostgreSQL, and its indexes."""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Iterator

import pytest

from conveyor.metadata.store import MetadataStore
from conveyor.ui.queries import RunFilter, count_newer, count_runs, list_runs, param_terms

T0 = 1_700_000_000.0


@pytest.fixture
def store(metadata_url: str) -> Iterator[MetadataStore]:
    meta = MetadataStore(metadata_url)
    yield meta
    meta.close()


def insert(meta: MetadataStore, rows: list[dict]) -> None:
    columns = ["id", "pipeline", "pipeline_version", "status", "params", "cache", "started_at",
               "host", "pid", "heartbeat_at"]  # fmt: skip
    conn = meta.write_conn
    with conn.begin():
        mark = "?" if meta.engine.dialect.paramstyle == "qmark" else "%s"
        conn.exec_driver_sql(
            f"INSERT INTO runs ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})",
            [tuple(row.get(c) for c in columns) for row in rows],
        )


def run_row(i: int, **extra: object) -> dict:
    row = {
        "id": uuid.UUID(int=i + 1).hex,
        "pipeline": f"p{i % 3}",
        "pipeline_version": "v",
        "status": "failed" if i % 10 == 0 else "succeeded",
        "params": json.dumps(
            {"C": i % 4 / 2, "name": f"r{i}"}, sort_keys=True, separators=(",", ":")
        ),
        "cache": True,
        "started_at": T0 + i // 2,  # pairs of runs start in the same second: ties
        "host": "elsewhere",
        "pid": 1,
        "heartbeat_at": T0 + i // 2,
    }
    row.update(extra)
    return row


def every_page(meta: MetadataStore, f: RunFilter, limit: int) -> list[dict]:
    found, after = [], None
    while True:
        page = list_runs(meta, f, limit=limit, after=after)
        found += page.runs
        after = page.older
        if after is None:
            return found


def test_keyset_pages_cover_every_run_once_newest_first(store: MetadataStore) -> None:
    insert(store, [run_row(i) for i in range(125)])
    runs = every_page(store, RunFilter(), limit=50)
    assert len(runs) == 125 == len({r["id"] for r in runs})
    keys = [(r["started_at"], r["id"]) for r in runs]
    assert keys == sorted(keys, reverse=True)
    assert count_runs(store, RunFilter()) == 125


def test_every_page_is_reached_back_from_its_cursor_alone(store: MetadataStore) -> None:
    """`before=` the first row of page N is page N - 1: paging back needs no memory of the way
    there (a reload or a bookmark), ties on started_at included."""
    insert(store, [run_row(i) for i in range(125)])
    f = RunFilter(status="succeeded")
    pages, after = [], None
    while True:
        page = list_runs(store, f, limit=20, after=after)
        pages.append(page)
        after = page.older
        if after is None:
            break
    assert [len(p.runs) for p in pages] == [20, 20, 20, 20, 20, 12]
    assert pages[0].newer is None and all(p.newer for p in pages[1:])
    for i in range(1, len(pages)):
        assert list_runs(store, f, limit=20, before=pages[i].newer) == pages[i - 1], i
        assert count_newer(store, f, pages[i].newer) == 20 * i
    # fewer than a page above the cursor: that is the first page, full
    near_top = pages[0].runs[5]
    assert (
        list_runs(store, f, limit=20, before=(near_top["started_at"], near_top["id"])) == (pages[0])
    )
    with pytest.raises(ValueError, match="not both"):
        list_runs(store, f, after=pages[1].newer, before=pages[1].newer)


def test_filters_combine(store: MetadataStore) -> None:
    insert(store, [run_row(i) for i in range(120)])
    f = RunFilter(pipeline="p1", status="failed", since=T0 + 10, until=T0 + 50)
    expected = {
        run_row(i)["id"]
        for i in range(120)
        if i % 3 == 1 and i % 10 == 0 and T0 + 10 <= T0 + i // 2 < T0 + 50
    }
    assert {r["id"] for r in every_page(store, f, limit=7)} == expected
    assert count_runs(store, f) == len(expected)


def test_parameter_search_matches_values_exactly_and_words_anywhere(
    store: MetadataStore,
) -> None:
    insert(store, [run_row(i) for i in range(40)])
    exact = every_page(store, RunFilter(params="C=0.5"), limit=100)
    assert {r["params"]["C"] for r in exact} == {0.5}
    assert len(exact) == 10
    zero = every_page(store, RunFilter(params="C=0"), limit=100)
    assert zero == every_page(store, RunFilter(params="C=0.0"), limit=100)
    assert len(zero) == 10 and {r["params"]["C"] for r in zero} == {0.0}
    both = every_page(store, RunFilter(params="name=r7 C=1.5"), limit=100)
    assert [r["params"]["name"] for r in both] == ["r7"]
    assert {r["params"]["name"] for r in every_page(store, RunFilter(params="r3"), 100)} == {
        "r3",
        *(f"r3{i}" for i in range(10)),
    }


def test_the_search_takes_text_literally(store: MetadataStore) -> None:
    odd = {"pattern": "50%_off\\now", "text": "é"}
    insert(
        store,
        [
            run_row(0, params=json.dumps(odd, sort_keys=True, separators=(",", ":"))),
            run_row(1, params='{"pattern":"50xyoff"}'),
        ],
    )
    assert [r["id"] for r in every_page(store, RunFilter(params="50%_off"), 10)] == [
        run_row(0)["id"]
    ]
    assert len(every_page(store, RunFilter(params="text=é"), 10)) == 1
    assert param_terms("a=x B") == [['"a":"x",', '"a":"x"}'], ["B"]]
    assert every_page(store, RunFilter(params="PATTERN"), 10) == []  # exact case
    assert len(param_terms("a=1")[0]) == 4  # 1 and 1.0


def test_a_run_whose_runner_died_counts_as_interrupted(store: MetadataStore) -> None:
    here = socket.gethostname()
    insert(
        store,
        [
            run_row(0, status="running", host=here, pid=os.getpid()),  # alive: this process
            run_row(1, status="running", host="gone", heartbeat_at=T0),  # silent for years
            run_row(2, status="interrupted"),
            run_row(3),
        ],
    )
    running = every_page(store, RunFilter(status="running"), 10)
    assert [r["id"] for r in running] == [run_row(0)["id"]]
    interrupted = every_page(store, RunFilter(status="interrupted"), 10)
    assert {r["id"] for r in interrupted} == {run_row(1)["id"], run_row(2)["id"]}
    assert {r["status"] for r in interrupted} == {"interrupted"}
    assert count_runs(store, RunFilter(status="interrupted")) == 2
    assert count_runs(store, RunFilter(status="running")) == 1


def test_the_listing_reads_an_index_not_the_whole_table(tmp_path) -> None:
    """SQLite's plan for each list query walks an index in started_at order.

    Only runs that start in the same instant are sorted (by id, "RIGHT PART OF ORDER BY"), so a
    page stops reading after its rows, however many runs the store holds.
    """
    meta = MetadataStore(f"sqlite:///{tmp_path / 'm.db'}")
    insert(meta, [run_row(i) for i in range(500)])
    captured: list[str] = []

    def plan(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and "FROM runs" in statement:
            rows = cursor.connection.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)
            captured.append(" / ".join(str(r[-1]) for r in rows))

    import sqlalchemy as sa

    sa.event.listen(meta.engine, "before_cursor_execute", plan)
    try:
        list_runs(meta, RunFilter(), limit=50)
        list_runs(meta, RunFilter(pipeline="p1"), limit=50, after=(T0 + 100, "f" * 32))
        list_runs(meta, RunFilter(since=T0 + 5, status="failed", params="C=0.5"), limit=50)
        list_runs(meta, RunFilter(), limit=50, before=(T0 + 100, "f" * 32))
        list_runs(meta, RunFilter(pipeline="p1"), limit=50, before=(T0 + 100, "f" * 32))
    finally:
        sa.event.remove(meta.engine, "before_cursor_execute", plan)
        meta.close()
    assert len(captured) == 5
    assert "ix_runs_started_at" in captured[0]
    assert "ix_runs_pipeline_started_at" in captured[1]
    assert "ix_runs_started_at" in captured[2]
    assert "ix_runs_started_at" in captured[3]  # paging back walks the index the other way
    assert "ix_runs_pipeline_started_at" in captured[4]
    assert not any("TEMP B-TREE FOR ORDER BY" in plan for plan in captured)
