"""Value identity: `canonical_json` and `hash_value` are stable, order-free where order is not
meaning, and distinguish what Python distinguishes."""

from __future__ import annotations

import copy
import json
import math
import os
import pickle
import subprocess
import sys
from pathlib import PurePosixPath
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conveyor.core.hashing import canonical_json, digest, hash_value

_HASHABLE = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.binary(max_size=20)
)

VALUES = st.recursive(
    _HASHABLE,
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children, children)
        | st.dictionaries(st.text(max_size=8), children, max_size=4)
        | st.dictionaries(st.integers(), children, max_size=3)
        | st.frozensets(st.text(max_size=5) | st.integers(), max_size=4)
        | st.sets(st.text(max_size=5), max_size=4)
    ),
    max_leaves=15,
)

_CHILD = """
import json, pickle, sys
from conveyor.core.hashing import canonical_json, hash_value
values = pickle.load(sys.stdin.buffer)
json.dump([[hash_value(v), canonical_json(v)] for v in values], sys.stdout)
"""


def _in_subprocess(values: list[Any]) -> list[list[str]]:
    """[hash, canonical json] of each value, computed by a fresh interpreter with another
    hash seed (so set and dict iteration orders differ from this process)."""
    env = {**os.environ, "PYTHONHASHSEED": "4242"}
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD],
        input=pickle.dumps(values),
        capture_output=True,
        env=env,
        check=True,
        timeout=60,
    )
    return json.loads(proc.stdout)


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(VALUES, min_size=1, max_size=25))
def test_hashes_are_the_same_in_another_process(values: list[Any]) -> None:
    here = [[hash_value(v), canonical_json(v)] for v in values]
    assert _in_subprocess(values) == here


def test_array_and_frame_hashes_are_the_same_in_another_process() -> None:
    import numpy as np
    import pandas as pd

    values = [
        np.arange(12, dtype=np.int32).reshape(3, 4),
        np.array([0.5, np.nan, -np.inf]),
        np.int64(7),
        pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}, index=["r1", "r2"]),
        pd.DataFrame({"c": pd.Categorical(["u", "v", "u"])}),
        pd.Series([1.5, 2.5], name="s"),
    ]
    child = "import numpy, pandas\n" + _CHILD
    env = {**os.environ, "PYTHONHASHSEED": "4242"}
    proc = subprocess.run(
        [sys.executable, "-c", child],
        input=pickle.dumps(values),
        capture_output=True,
        env=env,
        check=True,
        timeout=60,
    )
    assert json.loads(proc.stdout) == [[hash_value(v), canonical_json(v)] for v in values]


@given(VALUES)
def test_equal_values_hash_equal(value: Any) -> None:
    assert hash_value(copy.deepcopy(value)) == hash_value(value)
    assert hash_value(pickle.loads(pickle.dumps(value))) == hash_value(value)


@given(st.dictionaries(st.text(max_size=8), VALUES, max_size=6))
def test_dict_key_order_does_not_matter(value: dict[str, Any]) -> None:
    reversed_ = dict(reversed(list(value.items())))
    assert canonical_json(reversed_) == canonical_json(value)
    assert hash_value(reversed_) == hash_value(value)


@given(st.dictionaries(st.integers() | st.text(max_size=4), VALUES, max_size=6))
def test_mixed_key_order_does_not_matter(value: dict[Any, Any]) -> None:
    assert hash_value(dict(reversed(list(value.items())))) == hash_value(value)


@given(st.lists(VALUES, max_size=5))
def test_tuples_and_lists_differ(items: list[Any]) -> None:
    assert hash_value(tuple(items)) != hash_value(items)


@given(VALUES)
def test_canonical_json_is_strict_json(value: Any) -> None:
    def refuse(constant: str) -> None:
        raise AssertionError(f"bare {constant} in canonical JSON")

    json.loads(canonical_json(value), parse_constant=refuse)


def test_nan_is_stable_and_distinct() -> None:
    nan = float("nan")
    other_nan = float("-nan") * 0
    assert hash_value(nan) == hash_value(nan)
    assert hash_value(nan) == hash_value(other_nan)
    assert hash_value([nan, 1]) == hash_value([float("nan"), 1])
    distinct = [nan, math.inf, -math.inf, "nan", "NaN", None, 0.0]
    assert len({hash_value(v) for v in distinct}) == len(distinct)


def test_numpy_nan_matches_python_nan() -> None:
    import numpy as np

    assert hash_value(np.float64("nan")) == hash_value(float("nan"))


def test_sets_ignore_order_but_not_content() -> None:
    assert hash_value({"a", "b", "c"}) == hash_value({"c", "b", "a"})
    assert hash_value(frozenset({1, 2})) == hash_value(frozenset({2, 1}))
    assert hash_value({"a", "b"}) != hash_value({"a", "c"})


def test_paths_hash_by_their_posix_form() -> None:
    assert hash_value(PurePosixPath("data/x.csv")) == hash_value(PurePosixPath("data") / "x.csv")
    assert hash_value(PurePosixPath("data/x.csv")) != hash_value("data/x.csv")


def test_arrays_hash_by_content_dtype_and_shape() -> None:
    import numpy as np

    a = np.arange(6)
    assert hash_value(a) == hash_value(np.arange(6))
    assert hash_value(a) == hash_value(np.asfortranarray(a.reshape(2, 3)).ravel(order="C"))
    assert hash_value(a) != hash_value(a.reshape(2, 3))
    assert hash_value(a) != hash_value(a.astype(np.int32))
    assert hash_value(a) != hash_value(a + 1)


def test_frames_hash_by_content_not_by_construction() -> None:
    import pandas as pd

    a = pd.DataFrame({"x": [1, 2], "y": [0.5, 1.5]})
    b = pd.DataFrame({"y": [0.5, 1.5], "x": [1, 2]})[["x", "y"]]
    c = pd.DataFrame({"x": [1, 2]})
    c["y"] = [0.5, 1.5]
    assert hash_value(a) == hash_value(b) == hash_value(c)
    assert hash_value(a) != hash_value(a.rename(columns={"y": "z"}))
    assert hash_value(a) != hash_value(a.set_axis([10, 11]))
    assert hash_value(a) != hash_value(a.assign(y=[0.5, 2.5]))
    assert hash_value(a["x"]) != hash_value(a["x"].rename("w"))


def test_different_values_of_different_types_differ() -> None:
    pairs = [
        (1, 1.0),
        (True, 1),
        (1, "1"),
        (b"x", "x"),
        ([], {}),
        ((), []),
        (None, "None"),
        ({1: "a"}, {"1": "a"}),
        (frozenset({1}), [1]),
        (PurePosixPath("a"), "a"),
    ]
    for left, right in pairs:
        assert hash_value(left) != hash_value(right), (left, right)


def test_plain_dicts_cannot_impersonate_tagged_values() -> None:
    """A dict a user passes must never share a hash (and so a cache key) with another value."""
    nan = float("nan")
    pairs = [
        ((1, 2), {"__tuple__": [1, 2]}),
        (nan, {"__float__": "nan"}),
        (b"x", {"__bytes__": digest(b"x")}),
        (PurePosixPath("a"), {"__path__": "a"}),
    ]
    for value, lookalike in pairs:
        assert hash_value(value) != hash_value(lookalike), (value, lookalike)
