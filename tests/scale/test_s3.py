"""The artifact store on S3 (moto's server on 127.0.0.1): same guarantees as on a local disk."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

import conveyor as cv
from conveyor.artifacts.store import ArtifactStore, artifact_id
from conveyor.config import Settings
from conveyor.exceptions import ArtifactCorruptedError, ArtifactNotFoundError
from conveyor.run.executors.ray import RayExecutor
from conveyor.run.maintenance import verify_artifacts
from conveyor.workspace import open_workspace

from . import _steps as s
from ._servers import RayCluster

ENCODING = "json@1"


def _fs() -> Any:
    import s3fs

    return s3fs.S3FileSystem()


def test_put_get_exists_and_listing(s3_url: str) -> None:
    store = ArtifactStore(s3_url)
    data = b'{"rows": [1, 2, 3]}'

    blob = store.put(ENCODING, data)

    assert blob.id == artifact_id(ENCODING, data)
    assert blob.new and blob.size == len(data)
    assert blob.uri == f"{s3_url}/objects/{blob.id[:2]}/{blob.id}"
    assert store.exists(blob.id)
    assert store.get(blob.id, ENCODING) == data
    assert _fs().cat_file(blob.uri) == data
    assert not store.put(ENCODING, data).new  # present: kept, not rewritten
    assert [(b.id, b.size) for b in store.listing()] == [(blob.id, len(data))]

    missing = artifact_id(ENCODING, b"never stored")
    assert not store.exists(missing)
    with pytest.raises(ArtifactNotFoundError, match=missing[:12]):
        store.get(missing, ENCODING)


def test_concurrent_writers_of_one_blob_leave_one_correct_object(s3_url: str) -> None:
    data = b"[" + b"7, " * 50_000 + b"7]"
    writers = 8
    barrier = threading.Barrier(writers)
    ids: list[str] = []
    errors: list[BaseException] = []

    def write() -> None:
        store = ArtifactStore(s3_url)
        try:
            barrier.wait(timeout=30)
            ids.append(store.put(ENCODING, data).id)
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=write) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert len(ids) == writers and len(set(ids)) == 1
    store = ArtifactStore(s3_url)
    assert store.get(ids[0], ENCODING) == data
    assert [b.id for b in store.listing()] == ids[:1]


def test_a_conditional_write_never_replaces_an_object(s3_url: str) -> None:
    """Racing writers past the existence check: the first object stays, the others give way."""
    store = ArtifactStore(s3_url)
    key = store.key(artifact_id(ENCODING, b"[1]"))
    backend = store._backend
    backend.write_atomic(key, b"first")
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def write(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            backend.write_atomic(key, f"later {i}".encode())
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert backend.read(key) == b"first"


def test_a_corrupted_object_is_detected_on_read(s3_url: str) -> None:
    store = ArtifactStore(s3_url)
    blob = store.put(ENCODING, b'{"a": 1}')
    _fs().pipe_file(blob.uri, b'{"a": 2}')  # someone rewrites it behind the store's back

    with pytest.raises(ArtifactCorruptedError, match=blob.id[:12]):
        store.get(blob.id, ENCODING)


def test_a_truncated_object_is_replaced_when_its_bytes_are_stored_again(s3_url: str) -> None:
    store = ArtifactStore(s3_url)
    blob = store.put(ENCODING, b'{"a": 1}')
    _fs().pipe_file(blob.uri, b'{"a"')  # a PUT cut short by a broken client

    assert store.put(ENCODING, b'{"a": 1}').id == blob.id  # conditional PUT bypassed: repaired
    assert store.get(blob.id, ENCODING) == b'{"a": 1}'


@pytest.mark.parametrize("executor", ["local", "process"])
def test_a_pipeline_caches_and_reloads_its_artifacts_on_s3(
    s3_url: str, project: Path, monkeypatch: pytest.MonkeyPatch, executor: str
) -> None:
    monkeypatch.setenv("CONVEYOR_ARTIFACTS", s3_url)
    settings = Settings.load(project)
    assert settings.artifacts == s3_url

    first = s.sweep.run(n=3, settings=settings, executor=executor)
    assert first.status == "succeeded", first.error
    assert not any(step.cached for step in first.steps)
    assert not (project / ".conveyor" / "artifacts").exists()  # nothing went to the disk
    stored = {b.id for b in ArtifactStore(s3_url).listing()}
    assert set(first.output_ids.values()) <= stored
    assert {out for step in first.steps for out in step.outputs.values()} <= stored

    again = s.sweep.run(n=3, settings=settings, executor=executor)
    assert all(step.cached for step in again.steps)
    assert again.output_ids == first.output_ids
    fresh = cv.get_run(again.id, settings=settings)  # loaded from S3, not from memory
    assert fresh.output() == {**first.output(), "rows": 3, "sum": 5, "squares": [0, 1, 4]}

    report = verify_artifacts(open_workspace(settings))
    assert report.ok and report.checked == len(stored)


def test_a_run_reading_a_corrupted_artifact_fails_naming_it(
    s3_url: str, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONVEYOR_ARTIFACTS", s3_url)
    settings = Settings.load(project)

    @cv.pipeline
    def listed(n: int = 3):
        return s.square.map(s.numbers(n))

    run = listed.run(settings=settings)
    assert run.status == "succeeded"
    target = run.step("numbers").outputs["output"]
    _fs().pipe_file(ArtifactStore(s3_url).uri(target), b"[0, 1, 5]")

    assert verify_artifacts(open_workspace(settings)).corrupt == [target]
    again = listed.run(settings=settings)  # numbers is cached; the map reads its list
    assert again.status == "failed"
    message = again.step("square").error_message or ""
    assert f"artifact {target[:12]}" in message
    assert "do not match its content hash" in message


@pytest.mark.ray
def test_steps_on_ray_nodes_store_their_artifacts_on_s3(
    s3_url: str, project: Path, monkeypatch: pytest.MonkeyPatch, ray_cluster: RayCluster
) -> None:
    monkeypatch.setenv("CONVEYOR_ARTIFACTS", s3_url)
    settings = Settings.load(project)

    run = s.sweep.run(n=3, settings=settings, executor=RayExecutor(ray_cluster.address))

    assert run.status == "succeeded", run.error
    stored = {b.id for b in ArtifactStore(s3_url).listing()}
    assert {out for step in run.steps for out in step.outputs.values()} <= stored
    assert not (project / ".conveyor" / "artifacts").exists()
    assert cv.get_run(run.id, settings=settings).output()["squares"] == [0, 1, 4]
