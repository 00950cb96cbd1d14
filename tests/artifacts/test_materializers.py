"""Every built-in materializer honours the contract, and the registry picks the right one."""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy.sparse
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import conveyor as cv
from conveyor.artifacts.materializers import (
    BytesMaterializer,
    CloudpickleMaterializer,
    JsonMaterializer,
    Materializer,
    MaterializerRegistry,
    NumpyMaterializer,
    ParquetMaterializer,
    SeriesParquetMaterializer,
    SkopsMaterializer,
    _builtin_registry,
    default_registry,
)
from conveyor.artifacts.store import ArtifactStore
from conveyor.artifacts.values import load_value, save_value
from conveyor.exceptions import MaterializerError, UnsafeArtifactError
from conveyor.testing import check_materializer

# -- equality helpers ----------------------------------------------------------------------------


def same(a: Any, b: Any) -> bool:
    """Equal values of the same types all the way down, with NaN equal to NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


def same_array(a: np.ndarray, b: np.ndarray) -> bool:
    return (
        a.dtype == b.dtype
        and a.shape == b.shape
        and bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    )


def same_frame(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def same_series(a: pd.Series, b: pd.Series) -> None:
    pd.testing.assert_series_equal(a, b, check_exact=True)


# -- values --------------------------------------------------------------------------------------

JSON_VALUES = {
    "zero": 0,
    "negative-int": -17,
    "big-int": 2**70,
    "float": 0.1,
    "negative-zero": -0.0,
    "infinity": math.inf,
    "nan": math.nan,
    "empty-str": "",
    "unicode-str": "héllo ✓ 日本",
    "none": None,
    "true": True,
    "false": False,
    "empty-list": [],
    "empty-dict": {},
    "nested": {"a": [1, [2.5, [None, "x"]]], "b": {"c": {"d": True}}},
}

ARRAYS = {
    "int8": np.arange(-5, 5, dtype=np.int8),
    "uint16": np.array([0, 65535], dtype=np.uint16),
    "int64-2d": np.arange(12, dtype=np.int64).reshape(3, 4),
    "float32": np.linspace(0, 1, 7, dtype=np.float32),
    "float64-nan": np.array([1.5, np.nan, -np.inf]),
    "complex": np.array([1 + 2j, -0.5j]),
    "bool": np.array([True, False, True]),
    "datetime": np.array(["2024-01-01", "2025-06-30"], dtype="datetime64[ns]"),
    "unicode": np.array(["ab", "c", ""]),
    "zero-d": np.array(3.25),
    "empty": np.zeros((0, 3)),
    "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
    "structured": np.array([(1, 2.0)], dtype=[("a", "i4"), ("b", "f8")]),
}

FRAMES = {
    "mixed": pd.DataFrame({"i": [1, 2, 3], "f": [0.5, np.nan, 2.0], "s": ["a", "b", "c"]}),
    "empty": pd.DataFrame(),
    "empty-with-columns": pd.DataFrame({"a": pd.Series([], dtype="int64"), "b": []}),
    "categorical": pd.DataFrame(
        {
            "c": pd.Categorical(["x", "y", "x"], categories=["y", "x", "z"], ordered=True),
            "n": [1, 2, 3],
        }
    ),
    "string-index": pd.DataFrame({"v": [1.0, 2.0]}, index=pd.Index(["r1", "r2"], name="row")),
    "int-index": pd.DataFrame({"v": [1, 2]}, index=[10, 30]),
    "multi-index": pd.DataFrame(
        {"v": [1, 2]}, index=pd.MultiIndex.from_tuples([(1, "a"), (2, "b")], names=["i", "j"])
    ),
    "datetime-tz": pd.DataFrame({"t": pd.to_datetime(["2024-01-01", "2024-03-01"], utc=True)}),
    "nullable-int": pd.DataFrame({"n": pd.array([1, None, 3], dtype="Int64")}),
}

SERIES = {
    "named": pd.Series([1, 2, 3], name="s"),
    "unnamed": pd.Series([0.5, 1.5]),
    "categorical": pd.Series(pd.Categorical(["a", "b", "a"]), name="cat"),
    "custom-index": pd.Series([1.0, 2.0], index=pd.Index(["x", "y"], name="k"), name="v"),
}


def _xy() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4))
    return x, (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int)


def _same_model(a: Any, b: Any) -> bool:
    x, _ = _xy()
    return type(a) is type(b) and bool(
        np.array_equal(a.predict(x), b.predict(x))
        and np.allclose(a.predict_proba(x), b.predict_proba(x), rtol=0, atol=0)
    )


MODELS = {
    "logistic-regression": lambda: LogisticRegression().fit(*_xy()),
    "scaler-then-logistic": lambda: make_pipeline(StandardScaler(), LogisticRegression()).fit(
        *_xy()
    ),
    # keeps its sparse training data, which skops writes as a separate .npz member
    "fitted-on-sparse": lambda: KNeighborsClassifier(n_neighbors=3).fit(
        scipy.sparse.csr_matrix(_xy()[0]), _xy()[1]
    ),
}


@dataclasses.dataclass
class Point:
    x: int
    y: int


class LabelledPoint(Point):
    pass


class PointMaterializer(Materializer):
    """A user's materializer: safe JSON for `Point`."""

    name = "tests.point"

    def save(self, value: Any) -> bytes:
        return json.dumps([type(value).__name__, value.x, value.y]).encode()

    def load(self, data: bytes, *, trust: bool = False) -> Any:
        kind, x, y = json.loads(data)
        return {"Point": Point, "LabelledPoint": LabelledPoint}[kind](x, y)


# -- the contract, per materializer --------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(JSON_VALUES))
def test_json_contract(key: str) -> None:
    check_materializer(JsonMaterializer(), JSON_VALUES[key], same)


@pytest.mark.parametrize("value", [(1, 2), {1: "a"}, {"a": (1,)}, b"x", {1.5}])
def test_json_declines_what_it_cannot_return_exactly(value: Any) -> None:
    with pytest.raises(MaterializerError):
        JsonMaterializer().save(value)


@pytest.mark.parametrize("value", [b"", bytes(range(256)) * 10])
def test_bytes_contract(value: bytes) -> None:
    check_materializer(BytesMaterializer(), value, same)


@pytest.mark.parametrize("key", sorted(ARRAYS))
def test_numpy_contract(key: str) -> None:
    check_materializer(NumpyMaterializer(), ARRAYS[key], same_array)


def test_numpy_refuses_object_arrays() -> None:
    with pytest.raises(MaterializerError):
        NumpyMaterializer().save(np.array([1, "a"], dtype=object))


@pytest.mark.parametrize("key", sorted(FRAMES))
def test_parquet_contract(key: str) -> None:
    loaded = check_materializer(ParquetMaterializer(), FRAMES[key], same_frame)
    assert list(loaded.index) == list(FRAMES[key].index)


def test_parquet_keeps_categories_and_their_order() -> None:
    loaded = ParquetMaterializer().load(ParquetMaterializer().save(FRAMES["categorical"]))
    assert isinstance(loaded["c"].dtype, pd.CategoricalDtype)
    assert list(loaded["c"].cat.categories) == ["y", "x", "z"]
    assert loaded["c"].cat.ordered


def test_parquet_declines_non_str_column_names() -> None:
    with pytest.raises(MaterializerError):
        ParquetMaterializer().save(pd.DataFrame({1: [1], 2: [2]}))


@pytest.mark.parametrize("key", sorted(SERIES))
def test_series_contract(key: str) -> None:
    check_materializer(SeriesParquetMaterializer(), SERIES[key], same_series)


@pytest.mark.parametrize("key", sorted(MODELS))
def test_skops_contract(key: str) -> None:
    model = MODELS[key]()
    check_materializer(SkopsMaterializer(), model, _same_model)


@pytest.mark.parametrize("key", sorted(MODELS))
def test_skops_bytes_do_not_depend_on_the_clock(key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same model saved at two times must get one content id, or caching downstream breaks."""
    model = MODELS[key]()
    first = SkopsMaterializer().save(model)
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 3600)
    assert SkopsMaterializer().save(model) == first


class ThresholdClassifier(ClassifierMixin, BaseEstimator):
    """A user's own estimator: its class lives outside the modules skops trusts."""

    def __init__(self, threshold: float = 0.0) -> None:
        self.threshold = threshold

    def fit(self, x: np.ndarray, y: np.ndarray) -> ThresholdClassifier:
        self.classes_ = np.unique(y)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return (x[:, 0] > self.threshold).astype(int)


def test_skops_needs_trust_for_estimators_from_user_code() -> None:
    model = ThresholdClassifier(0.25).fit(*_xy())
    loaded = check_materializer(
        SkopsMaterializer(),
        model,
        lambda a, b: type(a) is type(b) and a.threshold == b.threshold,
        needs_trust=True,
    )
    assert np.array_equal(loaded.predict(_xy()[0]), model.predict(_xy()[0]))


def test_skops_trusts_what_the_trusted_modules_name() -> None:
    model = ThresholdClassifier(0.25).fit(*_xy())
    trusting = SkopsMaterializer(trusted_modules=(f"{__name__}.", "sklearn.", "numpy."))
    assert trusting.load(trusting.save(model)).threshold == 0.25


@pytest.mark.parametrize(
    "value",
    [
        pytest.param((1, "a", None), id="tuple"),
        pytest.param(Point(1, 2), id="custom-class"),
        pytest.param(pd.DataFrame({1: [1.0], 2: [2.0]}), id="frame-with-int-columns"),
        pytest.param(np.array([1, "a"], dtype=object), id="object-array"),
    ],
)
def test_cloudpickle_contract_needs_trust(value: Any) -> None:
    equal: Callable[[Any, Any], Any] = same
    if isinstance(value, pd.DataFrame):
        equal = same_frame
    elif isinstance(value, np.ndarray):
        equal = lambda a, b: a.tolist() == b.tolist()  # noqa: E731
    check_materializer(CloudpickleMaterializer(), value, equal)


def test_a_user_materializer_honours_the_contract() -> None:
    check_materializer(PointMaterializer(), Point(3, 4))
    check_materializer(PointMaterializer(), LabelledPoint(3, 4))


# -- the registry: which materializer stores what ------------------------------------------------

EXPECTED_MATERIALIZER = [
    *[pytest.param(v, "json", id=f"json-{k}") for k, v in JSON_VALUES.items()],
    pytest.param(b"raw", "bytes", id="bytes"),
    pytest.param(bytearray(b"raw"), "bytes", id="bytearray"),
    *[pytest.param(v, "numpy.npy", id=f"numpy-{k}") for k, v in ARRAYS.items()],
    *[pytest.param(v, "pandas.parquet", id=f"frame-{k}") for k, v in FRAMES.items()],
    *[pytest.param(v, "pandas.series.parquet", id=f"series-{k}") for k, v in SERIES.items()],
    pytest.param((1, 2), "cloudpickle", id="tuple"),
    pytest.param(Point(1, 2), "cloudpickle", id="custom-class"),
    pytest.param(pd.DataFrame({1: [1.0]}), "cloudpickle", id="frame-with-int-columns"),
    pytest.param(np.array([None, 1], dtype=object), "cloudpickle", id="object-array"),
]


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(tmp_path / "artifacts")


@pytest.mark.parametrize(("value", "expected"), EXPECTED_MATERIALIZER)
def test_default_registry_picks_the_materializer_for_each_type(value: Any, expected: str) -> None:
    mats = default_registry().candidates(value)
    usable = []
    for mat in mats:
        try:
            mat.save(value)
        except MaterializerError:
            continue
        usable.append(mat.name)
    assert usable[0] == expected
    assert mats[-1].name == "cloudpickle"


@pytest.mark.parametrize("key", sorted(MODELS))
def test_default_registry_stores_sklearn_models_with_skops(key: str, store: ArtifactStore) -> None:
    model = MODELS[key]()
    saved = save_value(model, store, default_registry())
    assert saved.materializer == "sklearn.skops"
    assert saved.safe
    loaded = load_value(
        saved.id, saved.materializer, saved.materializer_version, store, default_registry()
    )
    assert _same_model(model, loaded)


@pytest.mark.parametrize(("value", "expected"), EXPECTED_MATERIALIZER)
def test_save_and_load_round_trip_through_the_store(
    value: Any, expected: str, store: ArtifactStore
) -> None:
    registry = default_registry()
    saved = save_value(value, store, registry)
    assert saved.materializer == expected
    assert saved.safe is (expected != "cloudpickle")
    assert saved.size == len(
        store.get(saved.id, f"{saved.materializer}@{saved.materializer_version}")
    )
    args = (saved.id, saved.materializer, saved.materializer_version, store, registry)
    if not saved.safe:
        with pytest.raises(UnsafeArtifactError) as err:
            load_value(*args)
        assert saved.id[:12] in str(err.value)
    loaded = load_value(*args, trust=True)
    if isinstance(value, pd.DataFrame):
        same_frame(value, loaded)
    elif isinstance(value, pd.Series):
        same_series(value, loaded)
    elif isinstance(value, np.ndarray) and value.dtype.kind != "O":
        assert same_array(value, loaded)
    elif isinstance(value, np.ndarray):
        assert value.tolist() == loaded.tolist()
    elif isinstance(value, bytearray):
        assert loaded == bytes(value)
    else:
        assert same(value, loaded)


def test_saving_the_same_value_twice_gives_one_artifact(store: ArtifactStore) -> None:
    frame = FRAMES["categorical"]
    first = save_value(frame, store, default_registry())
    second = save_value(frame.copy(), store, default_registry())
    assert first.id == second.id


def test_a_summary_failure_does_not_fail_the_save(store: ArtifactStore) -> None:
    class Grumpy(PointMaterializer):
        def describe(self, value: Any) -> dict[str, Any]:
            raise RuntimeError("no summary today")

    registry = MaterializerRegistry()
    registry.register(Point, Grumpy())
    saved = save_value(Point(1, 2), store, registry)
    assert "no summary today" in saved.summary["describe_error"]


def test_an_artifact_from_a_newer_materializer_version_is_refused(store: ArtifactStore) -> None:
    registry = _builtin_registry()
    saved = save_value([1, 2], store, registry)
    blob = store.put("json@2", b"[1, 2]")
    with pytest.raises(MaterializerError, match="json"):
        load_value(blob.id, "json", 2, store, registry)
    assert load_value(saved.id, "json", 1, store, registry) == [1, 2]


# -- user materializers --------------------------------------------------------------------------


def test_a_registered_materializer_takes_precedence_over_cloudpickle() -> None:
    registry = _builtin_registry()
    assert registry.candidates(Point(1, 2))[0].name == "cloudpickle"
    registry.register(Point, PointMaterializer())
    assert registry.candidates(Point(1, 2))[0].name == "tests.point"
    assert registry.candidates(LabelledPoint(1, 2))[0].name == "tests.point"


def test_a_registered_materializer_takes_precedence_over_a_builtin() -> None:
    class Dicts(JsonMaterializer):
        name = "tests.dicts"

    registry = _builtin_registry()
    registry.register(dict, Dicts())
    assert registry.candidates({"a": 1})[0].name == "tests.dicts"
    assert registry.candidates([1])[0].name == "json"


def test_the_most_specific_type_wins() -> None:
    class Labelled(PointMaterializer):
        name = "tests.labelled"

    registry = _builtin_registry()
    registry.register(LabelledPoint, Labelled())
    registry.register(Point, PointMaterializer())
    assert registry.candidates(LabelledPoint(1, 2))[0].name == "tests.labelled"
    assert registry.candidates(Point(1, 2))[0].name == "tests.point"


def test_register_by_dotted_path() -> None:
    registry = MaterializerRegistry()
    registry.register(f"{Point.__module__}.{Point.__qualname__}", PointMaterializer())
    assert registry.candidates(Point(1, 2))[0].name == "tests.point"


class Marker:
    """A type only `test_register_materializer_changes_the_default_registry` stores."""


class MarkerMaterializer(Materializer):
    name = "tests.marker"

    def save(self, value: Any) -> bytes:
        return b"marker"

    def load(self, data: bytes, *, trust: bool = False) -> Any:
        return Marker()


def test_register_materializer_changes_the_default_registry(store: ArtifactStore) -> None:
    cv.register_materializer(Marker, MarkerMaterializer())
    saved = save_value(Marker(), store, default_registry())
    assert (saved.materializer, saved.safe) == ("tests.marker", True)
    assert isinstance(default_registry().get("tests.marker"), MarkerMaterializer)


def test_registry_rejects_what_is_not_a_materializer() -> None:
    registry = MaterializerRegistry()
    with pytest.raises(MaterializerError):
        registry.register(Point, object())  # type: ignore[arg-type]


def test_registry_rejects_a_second_materializer_with_the_same_name() -> None:
    class Impostor(Materializer):
        name = "json"

    registry = _builtin_registry()
    with pytest.raises(MaterializerError, match="'json'"):
        registry.register(Point, Impostor())


def test_an_unknown_materializer_name_is_reported() -> None:
    with pytest.raises(MaterializerError, match=r"'tests\.gone'"):
        MaterializerRegistry().get("tests.gone")


def test_registry_digest_is_stable_and_follows_versions() -> None:
    class PointV2(PointMaterializer):
        version = 2

    assert _builtin_registry().digest() == _builtin_registry().digest()
    one, two = _builtin_registry(), _builtin_registry()
    one.register(Point, PointMaterializer())
    two.register(Point, PointV2())
    assert one.digest() != two.digest()


def test_a_registry_ships_to_a_fresh_process_whatever_types_it_has_seen() -> None:
    """Tasks carry the registry to workers; a type resolved earlier (a lock's) must not go along."""
    import subprocess
    import sys
    import threading

    import cloudpickle

    registry = _builtin_registry()
    registry.candidates(threading.Lock())  # a step once returned a lock
    payload = cloudpickle.dumps(registry)
    load = "import cloudpickle, sys; print(cloudpickle.loads(sys.stdin.buffer.read()).digest())"
    child = subprocess.run(
        [sys.executable, "-c", load], input=payload, capture_output=True, check=False
    )
    assert child.returncode == 0, child.stderr.decode()
    assert child.stdout.decode().strip() == registry.digest()


def test_skops_refuses_a_model_that_would_call_an_untrusted_function() -> None:
    import builtins

    from sklearn.cluster import FeatureAgglomeration
    from sklearn.feature_selection import SelectKBest, f_classif
    from sklearn.preprocessing import FunctionTransformer

    x, y = _xy()
    hostile = make_pipeline(FunctionTransformer(func=builtins.exec))
    data = SkopsMaterializer().save(hostile)
    with pytest.raises(UnsafeArtifactError, match=r"builtins\.exec"):
        SkopsMaterializer().load(data)
    with pytest.raises(UnsafeArtifactError, match=r"builtins\.exec"):
        SkopsMaterializer(trusted_modules=("numpy.",)).load(data)
    # what computes and does nothing else loads: score functions, numpy reductions
    useful = make_pipeline(
        SelectKBest(score_func=f_classif, k="all"), FeatureAgglomeration(n_clusters=1)
    ).fit(x, y)
    loaded = SkopsMaterializer().load(SkopsMaterializer().save(useful))
    assert np.array_equal(loaded.transform(x), useful.transform(x))
    # a module the user names is trusted whole, functions included
    assert SkopsMaterializer(trusted_modules=("builtins.",)).load(data) is not None


def test_skops_refuses_a_class_held_as_a_callable_unless_it_is_a_scalar_type(
    tmp_path: Path,
) -> None:
    """A class is code too when the model calls it: numpy.memmap creates the file it is given."""
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

    target = tmp_path / "created-by-predict"
    hostile = make_pipeline(
        FunctionTransformer(
            func=np.memmap, kw_args={"filename": str(target), "mode": "w+", "shape": (1,)}
        )
    )
    with pytest.raises(UnsafeArtifactError, match=r"numpy\.memmap"):
        SkopsMaterializer().load(SkopsMaterializer().save(hostile))
    assert not target.exists()
    x = np.array([["a"], ["b"]])
    encoder = OneHotEncoder(dtype=np.float32).fit(x)  # a scalar type as a value: harmless
    loaded = SkopsMaterializer().load(SkopsMaterializer().save(encoder))
    assert loaded.transform(x).dtype == np.float32
