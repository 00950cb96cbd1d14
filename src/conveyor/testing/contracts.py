"""The contracts materializers, artifact stores and executors must keep."""

from __future__ import annotations

import os
import pathlib
import tempfile
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from conveyor.artifacts.materializers import Materializer, MaterializerRegistry
from conveyor.artifacts.store import ArtifactStore
from conveyor.core.graph import Literal, Node
from conveyor.core.step import step
from conveyor.exceptions import (
    ArtifactCorruptedError,
    ArtifactError,
    ArtifactNotFoundError,
    UnsafeArtifactError,
)
from conveyor.run.executors.base import Executor
from conveyor.run.task import Task, TaskResult

__all__ = ["check_executor", "check_materializer", "check_store"]


def check_materializer(
    materializer: Materializer,
    value: Any,
    equal: Callable[[Any, Any], bool] | None = None,
) -> None:
    """Round-trip `value` and check determinism, metadata and the safety flag.

    Args:
        materializer: the instance under test.
        value: a value it must store.
        equal: how to compare values (default `==`; pass e.g. `DataFrame.equals`).
    """
    same = equal or (lambda a, b: bool(a == b))
    assert isinstance(materializer.name, str) and materializer.name, "name must be a non-empty str"
    assert isinstance(materializer.version, int) and materializer.version >= 1, (
        "version must be >= 1"
    )
    data = materializer.save(value)
    assert isinstance(data, bytes), f"save() must return bytes, got {type(data).__name__}"
    assert materializer.save(value) == data, "save() must be deterministic for the same value"
    loaded = materializer.load(data, trust=True)
    assert same(loaded, value), f"round trip changed the value: {value!r} -> {loaded!r}"
    assert materializer.save(loaded) == data, "saving the loaded value must give the same bytes"
    if materializer.safe:
        loaded = materializer.load(data, trust=False)
        assert same(loaded, value), "a safe materializer must load without trust"
    else:
        try:
            materializer.load(data, trust=False)
        except UnsafeArtifactError:
            pass
        else:
            raise AssertionError("an unsafe materializer must refuse to load without trust")
    summary = materializer.describe(value)
    assert isinstance(summary, dict), "describe() must return a dict"
    registry = MaterializerRegistry()
    registry.register(type(value), materializer)
    assert registry.candidates(value)[0] is materializer, "registration must take precedence"


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
