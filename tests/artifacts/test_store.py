"""The content-addressed store: ids from bytes and encoding, idempotent atomic writes, verified
reads, path-safe ids, local paths and fsspec URLs alike."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import fsspec
import pytest

from conveyor.artifacts.store import ArtifactStore, artifact_id
from conveyor.exceptions import ArtifactCorruptedError, ArtifactError, ArtifactNotFoundError


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "artifacts"


@pytest.fixture
def store(root: Path) -> ArtifactStore:
    return ArtifactStore(root)


@pytest.fixture
def memory_url() -> Iterator[str]:
    url = f"memory://conveyor-tests/{uuid.uuid4().hex}"
    yield url
    fs = fsspec.filesystem("memory")
    path = url.removeprefix("memory://")
    if fs.exists(path):
        fs.rm(path, recursive=True)


def _blob_path(root: Path, blob_id: str) -> Path:
    paths = [p for p in root.rglob(blob_id) if p.is_file()]
    assert len(paths) == 1, paths
    return paths[0]


def test_same_bytes_and_encoding_give_the_same_id_and_one_write(
    store: ArtifactStore, root: Path
) -> None:
    first = store.put("json@1", b"[1, 2, 3]")
    path = _blob_path(root, first.id)
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    before = path.stat()
    second = store.put("json@1", b"[1, 2, 3]")
    after = path.stat()
    assert second == first
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert [p for p in root.rglob("*") if p.is_file()] == [path]


def test_id_is_the_content_hash(store: ArtifactStore) -> None:
    blob = store.put("json@1", b"[1]")
    assert blob.id == artifact_id("json@1", b"[1]")
    assert len(blob.id) == 64
    assert blob.size == 3


def test_different_encoding_or_bytes_give_different_ids(store: ArtifactStore) -> None:
    ids = {
        store.put("json@1", b"1").id,
        store.put("json@2", b"1").id,
        store.put("bytes@1", b"1").id,
        store.put("json@1", b"2").id,
    }
    assert len(ids) == 4


def test_blobs_are_sharded_by_id_prefix(store: ArtifactStore, root: Path) -> None:
    blob = store.put("json@1", b"{}")
    path = _blob_path(root, blob.id)
    assert path.parent.name == blob.id[:2]
    assert path.read_bytes() == b"{}"
    assert blob.uri == path.as_uri()


def test_get_returns_the_bytes(store: ArtifactStore) -> None:
    blob = store.put("bytes@1", b"\x00\xff" * 1000)
    assert store.exists(blob.id)
    assert store.get(blob.id, "bytes@1") == b"\x00\xff" * 1000


def test_corrupted_blob_is_refused_naming_the_artifact(store: ArtifactStore, root: Path) -> None:
    blob = store.put("json@1", b'{"a": 1}')
    _blob_path(root, blob.id).write_bytes(b'{"a": 2}')
    with pytest.raises(ArtifactCorruptedError) as err:
        store.get(blob.id, "json@1")
    assert blob.id[:12] in str(err.value)


def test_storing_the_same_bytes_again_repairs_a_damaged_blob(
    store: ArtifactStore, root: Path
) -> None:
    blob = store.put("json@1", b'{"a": 1}' * 1000)
    path = _blob_path(root, blob.id)
    for damage in (b'{"a": 2}' * 1000, b'{"a": 1}' * 999, b""):  # same size, truncated, empty
        path.write_bytes(damage)
        again = store.put("json@1", b'{"a": 1}' * 1000)
        assert (again.id, again.new) == (blob.id, False)
        assert store.get(blob.id, "json@1") == b'{"a": 1}' * 1000
    mtime = path.stat().st_mtime_ns
    store.put("json@1", b'{"a": 1}' * 1000)  # intact: left alone
    assert path.stat().st_mtime_ns == mtime


def test_reading_with_another_encoding_is_refused(store: ArtifactStore) -> None:
    blob = store.put("json@1", b"[]")
    with pytest.raises(ArtifactCorruptedError):
        store.get(blob.id, "json@2")


def test_missing_blob_is_not_found_naming_the_artifact(store: ArtifactStore, root: Path) -> None:
    blob = store.put("json@1", b"[]")
    _blob_path(root, blob.id).unlink()
    assert not store.exists(blob.id)
    with pytest.raises(ArtifactNotFoundError) as err:
        store.get(blob.id, "json@1")
    assert blob.id[:12] in str(err.value)


def test_unknown_id_is_not_found(store: ArtifactStore) -> None:
    assert not store.exists("0" * 64)
    with pytest.raises(ArtifactNotFoundError):
        store.get("0" * 64, "json@1")


@pytest.mark.parametrize(
    "bad",
    [
        "../etc/passwd",
        "../../" + "a" * 58,
        "/etc/passwd",
        "a" * 63,
        "a" * 65,
        "A" * 64,
        "g" * 64,
        "a" * 63 + "/",
        "",
        "..",
    ],
)
def test_invalid_ids_are_rejected(store: ArtifactStore, root: Path, bad: str) -> None:
    with pytest.raises(ArtifactError):
        store.get(bad, "json@1")
    with pytest.raises(ArtifactError):
        store.exists(bad)
    with pytest.raises(ArtifactError):
        store.uri(bad)
    assert not root.exists() or not any(root.rglob("*"))


def test_writes_leave_no_temporary_files(store: ArtifactStore, root: Path) -> None:
    for i in range(20):
        store.put("json@1", str(i).encode())
    store.put("json@1", b"0")  # an existing blob: nothing to write
    files = [p for p in root.rglob("*") if p.is_file()]
    assert len(files) == 20
    assert all(p.parent.parent.name == "objects" for p in files)


def test_a_failed_write_leaves_nothing_behind(root: Path) -> None:
    store = ArtifactStore(root)
    store.put("json@1", b"seed")  # creates the folders
    objects = next(p for p in root.rglob("objects") if p.is_dir())
    blob_id = artifact_id("json@1", b"new")
    (objects / blob_id[:2]).write_bytes(b"")  # a file where the shard folder goes: rename fails
    with pytest.raises(NotADirectoryError):
        store.put("json@1", b"new")
    assert not list(root.rglob("*.tmp"))


def test_file_url_is_a_local_store(root: Path) -> None:
    store = ArtifactStore(f"file://{root}")
    blob = store.put("json@1", b"[7]")
    assert _blob_path(root, blob.id).read_bytes() == b"[7]"
    assert ArtifactStore(root).get(blob.id, "json@1") == b"[7]"


def test_memory_url_stores_and_verifies(memory_url: str) -> None:
    store = ArtifactStore(memory_url)
    blob = store.put("json@1", b"[1, 2]")
    assert store.put("json@1", b"[1, 2]") == blob
    assert store.exists(blob.id)
    assert store.get(blob.id, "json@1") == b"[1, 2]"
    assert blob.uri.startswith("memory://")
    assert ArtifactStore(memory_url).get(blob.id, "json@1") == b"[1, 2]"

    missing = artifact_id("json@1", b"never written")
    assert not store.exists(missing)
    with pytest.raises(ArtifactNotFoundError):
        store.get(missing, "json@1")

    fs = fsspec.filesystem("memory")
    path = blob.uri.removeprefix("memory://")
    fs.pipe_file(path, b"[1, 3]")
    with pytest.raises(ArtifactCorruptedError):
        store.get(blob.id, "json@1")
    with pytest.raises(ArtifactError):
        store.get("../escape", "json@1")
