"""The contracts artifact stores and executors must keep (materializers: `materializer.py`)."""

from __future__ import annotations

import os
import pathlib
import tempfile
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from conveyor.artifacts.store import ArtifactStore
from conveyor.core.graph import Literal, Node
from conveyor.core.step import step
from conveyor.exceptions import (
    ArtifactCorruptedError,
    ArtifactError,
    ArtifactNotFoundError,
)
from conveyor.run.executors.base import Executor
from conveyor.run.task import Task, TaskResult

__all__ = ["check_executor", "check_store"]


def check_store(make_store: Callable[[str], ArtifactStore] = ArtifactStore) -> None:
    """Content addressing, idempotent writes, verified reads and id validation of a store."""
    with tempfile.TemporaryDirectory() as root:
        store = make_store(root)
        blob = store.put("json@1", b"[1, 2, 3]")
        assert store.put("json@1", b"[1, 2, 3]") == blob, "same bytes must give the same blob"
        assert store.put("bytes@1", b"[1, 2, 3]").id != blob.id, "the encoding is part of the id"
        assert store.exists(blob.id)
        assert store.get(blob.id, "json@1") == b"[1, 2, 3]"
        missing = "0" * 64
        assert not store.exists(missing)
        _raises(ArtifactNotFoundError, store.get, missing, "json@1")
        for bad in ("../../etc/passwd", "ABC", "/" + "a" * 63, "a" * 65):
            _raises(ArtifactError, store.get, bad, "json@1")
        local = pathlib.Path(root) / store.key(blob.id)
        if local.exists():  # a local store: corruption must be detected on read
            local.write_bytes(b"[1, 2, 4]")
            _raises(ArtifactCorruptedError, store.get, blob.id, "json@1")
            leftovers = list(pathlib.Path(root).rglob("*.tmp"))
            assert not leftovers, f"temporary files left behind: {leftovers}"


def check_executor(make_executor: Callable[[], Executor]) -> None:
    """An executor returns futures of TaskResults, reports failures as results, shuts down."""
    executor = make_executor()
    assert isinstance(executor, Executor), "must implement submit, can_submit, shutdown, in_process"

    @step
    def add_one(x: int) -> int:
        return x + 1

    @step
    def explode(x: int) -> int:
        raise RuntimeError(f"boom {x}")

    with tempfile.TemporaryDirectory() as root:
        store = ArtifactStore(os.path.join(root, "artifacts"))
        from conveyor.artifacts.materializers import default_registry

        def task(s: Any, x: int) -> Task:
            node = Node(name=s.name, step=s, inputs=(("x", Literal(x)),))
            return Task("run", node, {"x": x}, store, default_registry())

        try:
            assert executor.can_submit()
            ok: Future[TaskResult] = executor.submit(task(add_one, 1))
            bad: Future[TaskResult] = executor.submit(task(explode, 2))
            good, failed = ok.result(timeout=60), bad.result(timeout=60)
        finally:
            executor.shutdown()
        assert good.status == "succeeded", good.error_message
        assert good.saved["output"].id and store.exists(good.saved["output"].id)
        assert failed.status == "failed"
        assert failed.error_type == "RuntimeError" and failed.error_message == "boom 2"


def _raises(kind: type[BaseException], fn: Callable[..., Any], *args: Any) -> None:
    try:
        fn(*args)
    except kind:
        return
    raise AssertionError(f"{fn.__name__}{args} did not raise {kind.__name__}")
