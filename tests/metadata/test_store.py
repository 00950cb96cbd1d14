"""MetadataStore facts on SQLite and PostgreSQL: runs, step runs with everything they produced
(atomically), lineage, metrics, params, cache entries, id resolution and listings."""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys
import time
import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from conveyor.exceptions import NotFoundError
from conveyor.metadata.records import RunRecord, StepRunRecord
from conveyor.metadata.store import MetadataStore


def _run(run_id: str | None = None, *, pipeline: str = "training", at: float = 1000.0) -> RunRecord:
    return RunRecord(
        id=run_id or uuid.uuid4().hex,
        pipeline=pipeline,
        pipeline_version="v" * 64,
        status="running",
        params={"C": 0.5, "path": "data.csv"},
        cache=True,
        started_at=at,
        host=socket.gethostname(),  # this live process: the run is really "running"
        pid=os.getpid(),
        python_version="3.11.7",
        packages={"numpy": "2.0"},
    )


def _step(run_id: str, name: str = "train", **fields: Any) -> StepRunRecord:
    values: dict[str, Any] = {
        "id": uuid.uuid4().hex,
        "run_id": run_id,
        "name": name,
        "step": f"pipeline.{name}",
        "position": 0,
        "status": "succeeded",
        "cached": False,
        "cache_key": uuid.uuid4().hex * 2,
        "started_at": 1000.0,
        "ended_at": 1001.5,
        "duration_s": 1.5,
        "attempts": 1,
        "stdout": "out\n",
        "stderr": "",
    }
    values.update(fields)
    return StepRunRecord(**values)


def _artifact(artifact_id: str, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": artifact_id,
        "type_name": "builtins.list",
        "materializer": "json",
        "materializer_version": 1,
        "safe": True,
        "size": 9,
        "uri": f"file:///store/objects/{artifact_id[:2]}/{artifact_id}",
        "summary": '{"value": [1, 2, 3]}',
        "producer_id": None,
        "created_at": 1001.0,
    }
    row.update(fields)
    return row


A_IN, A_OUT, A_OTHER = "a" * 64, "b" * 64, "c" * 64


def _count(store: MetadataStore, table: str) -> int:
    with store.engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one()


# -- runs ----------------------------------------------------------------------------------------


def test_start_and_finish_a_run(store: MetadataStore) -> None:
    run = _run()
    store.start_run(run)
    assert store.get_run(run.id) == run
    store.finish_run(run.id, "succeeded", 1004.0, None, {"output": A_OUT})
    done = store.get_run(run.id)
    assert (done.status, done.ended_at, done.duration_s, done.error) == (
        "succeeded",
        1004.0,
        4.0,
        None,
    )
    assert done.outputs == {"output": A_OUT}
    assert done.params == {"C": 0.5, "path": "data.csv"}
    assert done.packages == {"numpy": "2.0"}


def test_a_failed_run_keeps_its_error(store: MetadataStore) -> None:
    run = _run()
    store.start_run(run)
    store.finish_run(run.id, "failed", 1002.0, "step 'train' failed: ValueError: bad")
    assert store.get_run(run.id).error == "step 'train' failed: ValueError: bad"


def test_a_running_run_whose_process_died_reads_as_interrupted(store: MetadataStore) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    orphan = dataclasses.replace(_run(), pid=int(dead.stdout))
    store.start_run(orphan)
    assert store.get_run(orphan.id).status == "interrupted"


def test_a_remote_run_is_alive_while_its_heartbeat_is_fresh(store: MetadataStore) -> None:
    remote = dataclasses.replace(_run(at=time.time()), host="elsewhere.example", pid=1)
    stale = dataclasses.replace(_run(at=time.time() - 3600), host="elsewhere.example", pid=1)
    store.start_run(remote)
    store.start_run(stale)
    assert store.get_run(remote.id).status == "running"
    assert store.get_run(stale.id).status == "interrupted"
    store.heartbeat(stale.id)
    assert store.get_run(stale.id).status == "running"


def test_an_unknown_run_is_not_found(store: MetadataStore) -> None:
    with pytest.raises(NotFoundError):
        store.get_run("f" * 32)


# -- step runs, atomically with what they produced ---------------------------------------------


def test_record_step_writes_row_lineage_artifacts_metrics_params_and_cache(
    store: MetadataStore,
) -> None:
    run = _run()
    store.start_run(run)
    step = _step(run.id, inputs={"data": A_IN}, outputs={"model": A_OUT})
    store.record_step(
        step,
        artifacts=[_artifact(A_IN), _artifact(A_OUT, producer_id=step.id, safe=False)],
        metrics=[("accuracy", 0.93, None), ("loss", 0.5, 1), ("loss", 0.25, 2)],
        params={"solver": "lbfgs", "layers": [8, 4]},
        cache_outputs={"model": {"id": A_OUT, "m": "json", "v": 1}},
    )

    (recorded,) = store.step_runs(run.id)
    assert recorded == step
    assert store.get_step_run(step.id) == step

    edges = {
        (e.direction, e.name, e.artifact_id, e.node, e.run_id)
        for e in store.edges(step_run_id=step.id)
    }
    assert edges == {
        ("in", "data", A_IN, "train", run.id),
        ("out", "model", A_OUT, "train", run.id),
    }
    assert [(e.step_run_id, e.direction) for e in store.edges(artifact_id=A_OUT)] == [
        (step.id, "out")
    ]

    artifact = store.get_artifact(A_OUT)
    assert (artifact.safe, artifact.producer_id, artifact.summary) == (
        False,
        step.id,
        {"value": [1, 2, 3]},
    )

    metrics = [(m.name, m.value, m.step, m.step_run_id) for m in store.metrics(run.id)]
    assert metrics == [
        ("accuracy", 0.93, None, step.id),
        ("loss", 0.5, 1, step.id),
        ("loss", 0.25, 2, step.id),
    ]
    assert store.step_params(run.id) == {step.id: {"solver": "lbfgs", "layers": [8, 4]}}
    assert store.cache_lookup(step.cache_key) == (
        step.id,
        {"model": {"id": A_OUT, "m": "json", "v": 1}},
    )


def test_a_failing_record_step_leaves_nothing_behind(store: MetadataStore) -> None:
    run = _run()
    store.start_run(run)
    step = _step(run.id, inputs={"data": A_IN}, outputs={"model": A_OUT})
    with pytest.raises(sa.exc.IntegrityError):
        store.record_step(
            step,
            artifacts=[_artifact(A_IN), _artifact(A_OUT)],
            metrics=[("accuracy", 0.9, None), ("broken", None, None)],  # type: ignore[list-item]
            params={"solver": "lbfgs"},
            cache_outputs={"model": {"id": A_OUT, "m": "json", "v": 1}},
        )
    assert store.step_runs(run.id) == []
    assert store.metrics(run.id) == []
    assert store.step_params(run.id) == {}
    assert store.cache_lookup(step.cache_key) is None
    assert store.edges(artifact_id=A_OUT) == []
    with pytest.raises(NotFoundError):
        store.get_artifact(A_OUT)

    # the store is still usable after the rolled-back transaction
    store.record_step(step, artifacts=[_artifact(A_IN), _artifact(A_OUT)])
    assert [s.id for s in store.step_runs(run.id)] == [step.id]


def test_a_duplicate_step_run_rolls_back_its_artifacts(store: MetadataStore) -> None:
    run = _run()
    store.start_run(run)
    step = _step(run.id)
    store.record_step(step)
    with pytest.raises(sa.exc.IntegrityError):
        store.record_step(step, artifacts=[_artifact(A_OTHER)])
    with pytest.raises(NotFoundError):
        store.get_artifact(A_OTHER)


def test_artifacts_are_recorded_once(store: MetadataStore) -> None:
    run = _run()
    store.start_run(run)
    first, second = _step(run.id, outputs={"output": A_OUT}), _step(run.id, name="again")
    store.record_step(first, artifacts=[_artifact(A_OUT, producer_id=first.id)])
    store.record_step(second, artifacts=[_artifact(A_OUT, producer_id=second.id)])
    assert _count(store, "artifacts") == 1
    assert store.get_artifact(A_OUT).producer_id == first.id


def test_step_runs_come_back_in_position_order(store: MetadataStore) -> None:
    run = _run()
    store.start_run(run)
    for position, name in [(2, "c"), (0, "a"), (1, "b")]:
        store.record_step(_step(run.id, name=name, position=position))
    assert [s.name for s in store.step_runs(run.id)] == ["a", "b", "c"]


def test_failed_and_skipped_steps_keep_their_details(store: MetadataStore) -> None:
    run = _run()
    store.start_run(run)
    failed = _step(
        run.id,
        status="failed",
        attempts=3,
        error_type="ValueError",
        error_message="bad input",
        traceback="Traceback...\nValueError: bad input",
    )
    skipped = _step(run.id, name="after", status="skipped", attempts=0, cache_key=None)
    store.record_step(failed)
    store.record_step(skipped)
    assert store.step_runs(run.id) == [failed, skipped]


# -- cache entries -------------------------------------------------------------------------------


def test_the_first_cache_entry_for_a_key_wins(store: MetadataStore) -> None:
    run = _run()
    store.start_run(run)
    key = "k" * 64
    first, second = _step(run.id, cache_key=key), _step(run.id, name="twin", cache_key=key)
    store.record_step(first, cache_outputs={"output": {"id": A_OUT, "m": "json", "v": 1}})
    store.record_step(second, cache_outputs={"output": {"id": A_OTHER, "m": "json", "v": 1}})
    assert store.cache_lookup(key) == (first.id, {"output": {"id": A_OUT, "m": "json", "v": 1}})


def test_a_forgotten_cache_entry_misses(store: MetadataStore) -> None:
    run = _run()
    store.start_run(run)
    step = _step(run.id)
    store.record_step(step, cache_outputs={"output": {"id": A_OUT, "m": "json", "v": 1}})
    store.forget_cache(step.cache_key)
    assert store.cache_lookup(step.cache_key) is None


def test_steps_without_cache_outputs_make_no_entry(store: MetadataStore) -> None:
    run = _run()
    store.start_run(run)
    step = _step(run.id)
    store.record_step(step)
    assert store.cache_lookup(step.cache_key) is None


def test_a_cache_hit_carries_its_origins_metrics(store: MetadataStore) -> None:
    first_run, second_run = _run(), _run(at=2000.0)
    store.start_run(first_run)
    store.start_run(second_run)
    origin = _step(first_run.id)
    store.record_step(origin, metrics=[("accuracy", 0.9, None), ("loss", 0.1, 5)])
    hit = _step(second_run.id, cached=True, origin_id=origin.id, attempts=0)
    store.record_step(hit)
    assert [(m.name, m.value, m.step, m.step_run_id) for m in store.metrics(second_run.id)] == [
        ("accuracy", 0.9, None, hit.id),
        ("loss", 0.1, 5, hit.id),
    ]
    assert len(store.metrics(first_run.id)) == 2


# -- ids and listings ----------------------------------------------------------------------------


def test_run_ids_resolve_from_unique_prefixes(store: MetadataStore) -> None:
    first, second = "abc1" + "0" * 28, "abd2" + "0" * 28
    store.start_run(_run(first, at=1.0))
    store.start_run(_run(second, at=2.0))
    assert store.resolve_run_id("abc") == first
    assert store.resolve_run_id("abd2") == second
    assert store.resolve_run_id(first) == first
    assert store.resolve_run_id("latest") == second


def test_an_ambiguous_run_prefix_is_an_error(store: MetadataStore) -> None:
    store.start_run(_run("abc1" + "0" * 28))
    store.start_run(_run("abd2" + "0" * 28))
    with pytest.raises(NotFoundError, match="ambiguous"):
        store.resolve_run_id("ab")


@pytest.mark.parametrize("prefix", ["", "fff", "xyz", "ABC1", "abc%", "a_c", "latest"])
def test_unknown_or_malformed_run_prefixes_are_not_found(store: MetadataStore, prefix: str) -> None:
    if prefix != "latest":  # "latest" of no runs at all
        store.start_run(_run("abc1" + "0" * 28))
    with pytest.raises(NotFoundError):
        store.resolve_run_id(prefix)


def test_artifact_ids_resolve_from_unique_prefixes(store: MetadataStore) -> None:
    run = _run()
    store.start_run(run)
    ids = ["ab1" + "0" * 61, "ab2" + "0" * 61]
    store.record_step(_step(run.id), artifacts=[_artifact(i) for i in ids])
    assert store.resolve_artifact_id("ab1") == ids[0]
    with pytest.raises(NotFoundError, match="ambiguous"):
        store.resolve_artifact_id("ab")
    with pytest.raises(NotFoundError):
        store.resolve_artifact_id("ff")
    with pytest.raises(NotFoundError):
        store.resolve_artifact_id("../x")


def test_list_runs_newest_first_with_limit_and_pipeline_filter(store: MetadataStore) -> None:
    runs = [
        _run(pipeline="training" if i % 2 == 0 else "scoring", at=float(t))
        for i, t in enumerate([5, 1, 4, 2, 3])
    ]
    for run in runs:
        store.start_run(run)
    by_time = sorted(runs, key=lambda r: r.started_at, reverse=True)
    assert [r.id for r in store.list_runs()] == [r.id for r in by_time]
    assert [r.id for r in store.list_runs(limit=2)] == [r.id for r in by_time[:2]]
    training = [r.id for r in by_time if r.pipeline == "training"]
    assert [r.id for r in store.list_runs("training")] == training
    assert [r.id for r in store.list_runs("training", limit=1)] == training[:1]
    assert store.list_runs("nothing") == []


def test_facts_are_visible_to_another_connection(store: MetadataStore, metadata_url: str) -> None:
    run = _run()
    store.start_run(run)
    step = _step(run.id, outputs={"output": A_OUT})
    store.record_step(step, artifacts=[_artifact(A_OUT)], metrics=[("m", 1.0, None)])
    reader = MetadataStore(metadata_url, create=False)
    try:
        assert reader.get_run(run.id) == run
        assert reader.step_runs(run.id) == [step]
        assert [m.name for m in reader.metrics(run.id)] == ["m"]
    finally:
        reader.close()
