"""The materializer contract: what every `Materializer` must do, checked on one value.

from conveyor.testing import check_materializer

def test_my_materializer():
    check_materializer(MyMaterializer(), MyValue(1), equal=lambda a, b: a.x == b.x)
"""

from __future__ import annotations

import copy
import json
import operator
from collections.abc import Callable
from typing import Any

from conveyor.artifacts.materializers import Materializer, MaterializerRegistry
from conveyor.exceptions import UnsafeArtifactError

__all__ = ["check_materializer"]


def check_materializer(
    materializer: Materializer,
    value: Any,
    equal: Callable[[Any, Any], Any] | None = None,
    *,
    needs_trust: bool | None = None,
    deterministic: bool = True,
) -> Any:
    """Assert that `materializer` honours the materializer contract for `value`.

    Checked: a persistable identity (`name`, `version`, `safe`); `save` returns bytes and leaves
    `value` untouched; when `deterministic`, `save` gives the same bytes every time, also for the
    value loaded back (content addressing relies on it); `load(save(value))` equals `value`;
    loading bytes that need trust without `trust=True` raises `UnsafeArtifactError` (always the
    case for an unsafe materializer); `describe` returns a JSON-able dict.

    Args:
        materializer: the instance under test.
        value: a value the materializer is meant to handle.
        equal: `equal(original, loaded)`; a predicate returning a bool, or an assertion helper
            (such as `pandas.testing.assert_frame_equal`) that raises and returns None.
        needs_trust: whether loading `value` requires `trust=True`; defaults to
            `not materializer.safe`.
        deterministic: whether `save` must be byte-for-byte repeatable.

    Returns:
        The loaded value, for further checks by the caller.
    """
    equal = equal or operator.eq
    cls = type(materializer).__name__
    name = getattr(materializer, "name", None)
    assert isinstance(name, str) and name, f"{cls}.name must be a non-empty str"
    assert "@" not in name, f"{cls}.name {name!r} must not contain '@' (it joins name@version)"
    version = getattr(materializer, "version", None)
    assert isinstance(version, int) and not isinstance(version, bool) and version >= 1, (
        f"{cls}.version must be an int >= 1, got {version!r}"
    )
    assert isinstance(materializer.safe, bool), f"{cls}.safe must be a bool"
    if needs_trust is None:
        needs_trust = not materializer.safe
    assert needs_trust or materializer.safe, f"{cls} is unsafe: loading must always need trust"

    before = _snapshot(value)
    data = materializer.save(value)
    assert isinstance(data, bytes), f"{cls}.save returned {type(data).__name__}, not bytes"
    if before is not None:
        _assert_equal(equal, before, value, f"{cls}.save modified the value it saved")
    if deterministic:
        assert materializer.save(value) == data, f"{cls}.save is not deterministic"

    if needs_trust:
        try:
            materializer.load(data)
        except UnsafeArtifactError:
            pass
        else:
            raise AssertionError(f"{cls}.load without trust=True must raise UnsafeArtifactError")
        loaded = materializer.load(data, trust=True)
    else:
        loaded = materializer.load(data)
        _assert_equal(equal, value, materializer.load(data, trust=True), f"{cls}: trusted load")
    _assert_equal(equal, value, loaded, f"{cls}: the loaded value differs from the saved one")
    if deterministic:
        assert materializer.save(loaded) == data, (
            f"{cls}: saving the loaded value changed its bytes"
        )

    summary = materializer.describe(value)
    assert isinstance(summary, dict), f"{cls}.describe must return a dict"
    json.dumps(summary, default=str, allow_nan=True)
    registry = MaterializerRegistry()
    registry.register(type(value), materializer)
    assert registry.candidates(value)[0] is materializer, (
        f"{cls}: registered for {type(value).__name__}, it must be tried first"
    )
    return loaded


def _snapshot(value: Any) -> Any:
    try:
        return copy.deepcopy(value)
    except Exception:  # not copyable: skip the side-effect check rather than fail on it
        return None


def _assert_equal(equal: Callable[[Any, Any], Any], expected: Any, got: Any, what: str) -> None:
    result = equal(expected, got)
    assert result is None or bool(result), f"{what}: expected {expected!r}, got {got!r}"
