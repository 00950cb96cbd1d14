"""XGBoost and LightGBM models: stored in their own formats, reproducibly, loaded without trust."""

from __future__ import annotations

import collections
import inspect
import io
import json
import math
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest

import conveyor as cv
from conveyor.artifacts.boosting import LightGBMMaterializer, XGBoostMaterializer
from conveyor.artifacts.materializers import Materializer, default_registry
from conveyor.artifacts.store import ArtifactStore
from conveyor.artifacts.values import load_value, save_value
from conveyor.exceptions import ArtifactError, MaterializerError, UnsafeArtifactError
from conveyor.registry import ModelRegistry
from conveyor.testing import check_materializer
from conveyor.workspace import Workspace

# -- data and models -----------------------------------------------------------------------------


@pytest.fixture
def xgboost() -> ModuleType:
    return pytest.importorskip("xgboost")


@pytest.fixture
def lightgbm() -> ModuleType:
    return pytest.importorskip("lightgbm")


def features(n: int = 240, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "bill_length": rng.normal(44, 5, n),
            "bill_depth": rng.normal(17, 2, n),
            "flipper": rng.normal(200, 14, n),
            "mass": rng.normal(4200, 800, n),
        }
    )


def species(x: pd.DataFrame) -> np.ndarray:
    """Three classes, as str labels."""
    score = (x["bill_length"] - 44) / 5 + (x["flipper"] - 200) / 14
    return np.array(["adelie", "chinstrap", "gentoo"])[np.digitize(score, [-0.6, 0.6])]


def binary(x: pd.DataFrame) -> np.ndarray:
    return (x["bill_length"] + x["bill_depth"] > 61).to_numpy().astype(int)


def codes(labels: np.ndarray) -> np.ndarray:
    return np.unique(labels, return_inverse=True)[1]


def target(x: pd.DataFrame) -> np.ndarray:
    return (x["mass"] / 1000 + x["flipper"] / 50).to_numpy()


def with_category(x: pd.DataFrame) -> pd.DataFrame:
    out = x.copy()
    out["island"] = pd.Categorical(
        np.array(["biscoe", "dream", "torgersen"])[np.arange(len(x)) % 3]
    )
    return out


X = features()
X_NEW = features(60, seed=1)


def xgboost_models(xgb: ModuleType) -> dict[str, Any]:
    small = {"n_estimators": 8, "max_depth": 3, "n_jobs": 1}
    x, y = X.to_numpy(), binary(X)
    early = xgb.XGBClassifier(
        n_estimators=200,
        early_stopping_rounds=3,
        eval_metric="mlogloss",
        **without(small, "n_estimators"),
    )
    early.fit(
        X[:180],
        codes(species(X))[:180],
        eval_set=[(X[180:], codes(species(X))[180:])],
        verbose=False,
    )
    ranker = xgb.XGBRanker(**small)
    ranker.fit(x, codes(species(X)), qid=np.repeat(np.arange(8), 30))
    return {
        "classifier-binary-frame": xgb.XGBClassifier(**small).fit(X, binary(X)),
        "classifier-multiclass": xgb.XGBClassifier(**small).fit(x, codes(species(X))),
        "classifier-early-stopping": early,
        "classifier-categorical": xgb.XGBClassifier(enable_categorical=True, **small).fit(
            with_category(X), binary(X)
        ),
        "regressor": xgb.XGBRegressor(
            learning_rate=np.float64(0.3), monotone_constraints=(1, 0, 0, 0), **small
        ).fit(X, target(X)),
        "rf-classifier": xgb.XGBRFClassifier(**small).fit(x, y),
        "rf-regressor": xgb.XGBRFRegressor(**small).fit(x, target(X)),
        "ranker": ranker,
        "unfitted": xgb.XGBClassifier(n_estimators=3, reg_lambda=2.0),
    }


def without(params: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in params.items() if k != name}


def lightgbm_models(lgb: ModuleType) -> dict[str, Any]:
    small = {"n_estimators": 8, "num_leaves": 7, "n_jobs": 1, "verbose": -1}
    labels = species(X)
    weighted = lgb.LGBMClassifier(class_weight={"adelie": 2.0, "chinstrap": 1.0, "gentoo": 1.0})
    early = lgb.LGBMClassifier(n_estimators=200, **without(small, "n_estimators"))
    held_out = X[180:], binary(X)[180:]
    if "eval_X" in inspect.signature(lgb.LGBMClassifier.fit).parameters:  # lightgbm >= 4.7
        validation: dict[str, Any] = {"eval_X": held_out[:1], "eval_y": held_out[1:]}
    else:
        validation = {"eval_set": [held_out]}
    early.fit(
        X[:180], binary(X)[:180], callbacks=[lgb.early_stopping(3, verbose=False)], **validation
    )
    return {
        "classifier-binary-frame": lgb.LGBMClassifier(**small).fit(X, binary(X)),
        "classifier-str-labels": lgb.LGBMClassifier(**small).fit(X.to_numpy(), labels),
        "classifier-object-labels": weighted.set_params(**small).fit(
            X, pd.Series(labels, dtype=object)
        ),
        "classifier-bool-labels": lgb.LGBMClassifier(**small).fit(X, binary(X) == 1),
        "classifier-early-stopping": early,
        "classifier-categorical": lgb.LGBMClassifier(**small).fit(with_category(X), labels),
        "regressor": lgb.LGBMRegressor(learning_rate=np.float64(0.2), **small).fit(X, target(X)),
        "ranker": lgb.LGBMRanker(**small).fit(X, codes(labels), group=[30] * 8, eval_at=(1, 3)),
        "unfitted": lgb.LGBMRegressor(n_estimators=3, reg_alpha=0.5),
    }


def predict_input(model: Any) -> pd.DataFrame | np.ndarray:
    """New rows shaped as the model was fitted: a frame, with a category, or an array."""
    if not model.__sklearn_is_fitted__():
        return X_NEW
    if model.n_features_in_ == 5:
        return with_category(X_NEW)
    names = getattr(model, "feature_names_in_", None)
    return X_NEW if names is not None else X_NEW.to_numpy()


def plain_params(model: Any) -> dict[str, Any]:
    """Parameters with NaN made comparable (XGBoost's `missing` defaults to NaN)."""
    return {
        k: "NaN" if isinstance(v, float) and math.isnan(v) else v
        for k, v in model.get_params(deep=False).items()
    }


_ABSENT = object()


def same_model(a: Any, b: Any) -> None:
    """Same class, parameters and fitted attributes; exactly the same predictions."""
    assert type(a) is type(b)
    assert plain_params(a) == plain_params(b)
    assert a.__sklearn_is_fitted__() == b.__sklearn_is_fitted__()
    if not a.__sklearn_is_fitted__():
        return
    rows = predict_input(a)
    np.testing.assert_array_equal(a.predict(rows), b.predict(rows), strict=True)
    if hasattr(a, "predict_proba"):
        np.testing.assert_array_equal(a.predict_proba(rows), b.predict_proba(rows), strict=True)
    for name in (
        "classes_",
        "n_classes_",
        "n_features_in_",
        "feature_names_in_",
        "best_iteration",
        "best_iteration_",
        "evals_result_",
        "objective_",
    ):
        expected, got = getattr(a, name, _ABSENT), getattr(b, name, _ABSENT)
        if isinstance(expected, np.ndarray):
            np.testing.assert_array_equal(expected, got, strict=True, err_msg=name)
        else:
            assert expected == got, name


# -- the contract ---------------------------------------------------------------------------------

XGBOOST_CASES = [
    "classifier-binary-frame",
    "classifier-multiclass",
    "classifier-early-stopping",
    "classifier-categorical",
    "regressor",
    "rf-classifier",
    "rf-regressor",
    "ranker",
    "unfitted",
]
LIGHTGBM_CASES = [
    "classifier-binary-frame",
    "classifier-str-labels",
    "classifier-object-labels",
    "classifier-bool-labels",
    "classifier-early-stopping",
    "classifier-categorical",
    "regressor",
    "ranker",
    "unfitted",
]


@pytest.fixture(scope="module")
def xgboost_zoo() -> dict[str, Any]:
    return xgboost_models(pytest.importorskip("xgboost"))


@pytest.fixture(scope="module")
def lightgbm_zoo() -> dict[str, Any]:
    return lightgbm_models(pytest.importorskip("lightgbm"))


@pytest.mark.parametrize("case", XGBOOST_CASES)
def test_xgboost_contract(xgboost_zoo: dict[str, Any], case: str) -> None:
    model = xgboost_zoo[case]
    check_materializer(XGBoostMaterializer(), model, same_model)
    assert [m.name for m in default_registry().candidates(model)] == [
        "xgboost.json",
        "sklearn.skops",
        "cloudpickle",
    ]


@pytest.mark.parametrize("case", LIGHTGBM_CASES)
def test_lightgbm_contract(lightgbm_zoo: dict[str, Any], case: str) -> None:
    model = lightgbm_zoo[case]
    check_materializer(LightGBMMaterializer(), model, same_model)
    assert [m.name for m in default_registry().candidates(model)] == [
        "lightgbm.txt",
        "sklearn.skops",
        "cloudpickle",
    ]


def test_models_are_stored_in_their_libraries_formats(
    xgboost_zoo: dict[str, Any], lightgbm_zoo: dict[str, Any]
) -> None:
    """The zip holds the library's own model file, loadable by the library without Conveyor."""
    xgb, lgb = pytest.importorskip("xgboost"), pytest.importorskip("lightgbm")
    for materializer, model, member in (
        (XGBoostMaterializer(), xgboost_zoo["classifier-binary-frame"], "model.json"),
        (LightGBMMaterializer(), lightgbm_zoo["classifier-binary-frame"], "model.txt"),
    ):
        with zipfile.ZipFile(io.BytesIO(materializer.save(model))) as archive:
            assert archive.namelist() == ["conveyor.json", member]
            header = json.loads(archive.read("conveyor.json"))
            native = archive.read(member)
        assert header["format"] == materializer.name
        assert header["class"] == type(model).__name__
        assert header["fitted"] is True
        summary = materializer.describe(model)
        assert summary["estimator"].endswith(f".{type(model).__name__}")
        assert (summary["n_features_in"], summary["classes"]) == (4, [0, 1])
        assert summary["feature_names_in"] == list(X.columns)
        rows = X_NEW
        if member == "model.json":
            booster = xgb.Booster()
            booster.load_model(bytearray(native))
            expected = model.get_booster().predict(xgb.DMatrix(rows))
            np.testing.assert_array_equal(booster.predict(xgb.DMatrix(rows)), expected)
        else:
            booster = lgb.Booster(model_str=native.decode())
            np.testing.assert_array_equal(booster.predict(rows), model.booster_.predict(rows))


def test_an_unfitted_estimator_has_no_model_member(xgboost_zoo: dict[str, Any]) -> None:
    data = XGBoostMaterializer().save(xgboost_zoo["unfitted"])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.namelist() == ["conveyor.json"]


# -- reproducible bytes ---------------------------------------------------------------------------


def fit_pair(xgb: ModuleType, lgb: ModuleType) -> list[bytes]:
    """An XGBoost and a LightGBM classifier, fitted the same way every time, saved."""
    labels = species(X)
    booster = xgb.XGBClassifier(n_estimators=5, max_depth=2, n_jobs=1)
    gbm = lgb.LGBMClassifier(n_estimators=5, n_jobs=1, verbose=-1)
    return [
        XGBoostMaterializer().save(booster.fit(X, labels == "gentoo")),
        LightGBMMaterializer().save(gbm.fit(X, labels)),
    ]


FIT_IN_A_FRESH_PROCESS = """
import sys
import blake3, lightgbm, xgboost
sys.path.insert(0, sys.argv[1])
import test_boosting
for data in test_boosting.fit_pair(xgboost, lightgbm):
    print(blake3.blake3(data).hexdigest())
"""


def test_the_same_model_gives_the_same_bytes_in_another_process(
    xgboost: ModuleType, lightgbm: ModuleType
) -> None:
    import blake3

    here = fit_pair(xgboost, lightgbm)
    assert fit_pair(xgboost, lightgbm) == here
    proc = subprocess.run(
        [sys.executable, "-c", FIT_IN_A_FRESH_PROCESS, str(Path(__file__).parent)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env={**os.environ, "PYTHONHASHSEED": "random"},
    )
    assert proc.stdout.split() == [blake3.blake3(data).hexdigest() for data in here]


# -- damaged and foreign artifacts ----------------------------------------------------------------


@pytest.fixture(params=["xgboost.json", "lightgbm.txt"])
def saved(request: pytest.FixtureRequest) -> tuple[Materializer, bytes]:
    """A materializer and the bytes of a fitted classifier it wrote."""
    if request.param == "xgboost.json":
        zoo = request.getfixturevalue("xgboost_zoo")
        materializer: Materializer = XGBoostMaterializer()
    else:
        zoo = request.getfixturevalue("lightgbm_zoo")
        materializer = LightGBMMaterializer()
    return materializer, materializer.save(zoo["classifier-binary-frame"])


def model_member_offset(data: bytes) -> int:
    """An offset in the middle of the model member's compressed bytes."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = next(i for i in archive.infolist() if i.filename.startswith("model."))
    return info.header_offset + 30 + len(info.filename) + info.compress_size // 2


def flip(data: bytes, offset: int) -> bytes:
    return data[:offset] + bytes([data[offset] ^ 0xFF]) + data[offset + 1 :]


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: data[: len(data) // 2], id="truncated"),
        pytest.param(lambda data: data[:-1], id="last-byte-missing"),
        pytest.param(lambda data: flip(data, model_member_offset(data)), id="model-bit-rot"),
        pytest.param(lambda data: flip(data, 40), id="header-bit-rot"),
        pytest.param(lambda data: b"", id="empty"),
        pytest.param(lambda data: b"<not a model>", id="garbage"),
    ],
)
def test_a_damaged_artifact_is_reported_with_its_format(
    saved: tuple[Materializer, bytes], damage: Callable[[bytes], bytes]
) -> None:
    materializer, data = saved
    name = re.escape(materializer.name)
    with pytest.raises(MaterializerError, match=rf"the {name} artifact is truncated or corrupted"):
        materializer.load(damage(data))


def test_an_artifact_of_the_other_format_is_refused(
    xgboost_zoo: dict[str, Any], lightgbm_zoo: dict[str, Any]
) -> None:
    xgb_data = XGBoostMaterializer().save(xgboost_zoo["classifier-binary-frame"])
    lgb_data = LightGBMMaterializer().save(lightgbm_zoo["classifier-binary-frame"])
    with pytest.raises(MaterializerError, match=r"not an artifact in the xgboost\.json format"):
        XGBoostMaterializer().load(lgb_data)
    with pytest.raises(MaterializerError, match=r"not an artifact in the lightgbm\.txt format"):
        LightGBMMaterializer().load(xgb_data)


def rewrite_header(data: bytes, **changes: Any) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    header = json.loads(members["conveyor.json"])
    header.update(changes)
    members["conveyor.json"] = json.dumps(header).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return out.getvalue()


@pytest.mark.parametrize(
    "cls", ["Booster", "os.system", "sklearn.linear_model.LogisticRegression", "XGBModel"]
)
def test_a_class_outside_the_allow_list_is_never_imported(
    saved: tuple[Materializer, bytes], cls: str
) -> None:
    materializer, data = saved
    with pytest.raises(MaterializerError, match=rf"names class '{re.escape(cls)}', which is not"):
        materializer.load(rewrite_header(data, **{"class": cls}))


def test_state_the_wrapper_does_not_define_is_refused(saved: tuple[Materializer, bytes]) -> None:
    materializer, data = saved
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        state = json.loads(archive.read("conveyor.json"))["state"]
    with pytest.raises(MaterializerError, match="unexpected attribute"):
        materializer.load(rewrite_header(data, state={**state, "predict": "oops"}))
    with pytest.raises(MaterializerError, match=rf"{materializer.name} artifact.*unknown tag"):
        materializer.load(rewrite_header(data, params={"x": {"__conveyor__": "eval"}}))


def test_load_value_names_the_artifact(saved: tuple[Materializer, bytes], tmp_path: Path) -> None:
    materializer, data = saved
    store = ArtifactStore(tmp_path / "artifacts")
    blob = store.put(f"{materializer.name}@1", data[:-10])
    registry = default_registry()
    with pytest.raises(ArtifactError, match=rf"{materializer.name} artifact is truncated"):
        load_value(blob.id, materializer.name, 1, store, registry)


# -- what the formats decline ---------------------------------------------------------------------


def test_a_subclass_falls_back_to_skops_and_needs_trust(
    xgboost: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class MyClassifier(xgboost.XGBClassifier):
        pass

    MyClassifier.__qualname__ = "MyClassifier"  # importable by name, as skops needs
    monkeypatch.setattr(sys.modules[__name__], "MyClassifier", MyClassifier, raising=False)
    model = MyClassifier(n_estimators=3, max_depth=2).fit(X, binary(X))
    with pytest.raises(MaterializerError, match="not their subclass"):
        XGBoostMaterializer().save(model)
    store = ArtifactStore(tmp_path / "artifacts")
    saved = save_value(model, store, default_registry())
    assert saved.materializer == "sklearn.skops"
    args = (saved.id, saved.materializer, saved.materializer_version, store, default_registry())
    with pytest.raises(UnsafeArtifactError, match="MyClassifier"):
        load_value(*args)
    trusted = load_value(*args, trust=True)  # the booster's bytes survive skops' archive
    np.testing.assert_array_equal(trusted.predict_proba(X_NEW), model.predict_proba(X_NEW))


def test_a_callable_objective_or_a_random_generator_is_declined(
    xgboost: ModuleType, lightgbm: ModuleType
) -> None:
    def squared(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return y_pred - y_true, np.ones_like(y_pred)

    custom = xgboost.XGBRegressor(n_estimators=2, objective=squared).fit(X, target(X))
    with pytest.raises(MaterializerError, match=r"parameter holds a .*function"):
        XGBoostMaterializer().save(custom)
    seeded = lightgbm.LGBMRegressor(n_estimators=2, random_state=np.random.RandomState(0))
    with pytest.raises(MaterializerError, match="random_state"):
        LightGBMMaterializer().save(seeded)
    stray = lightgbm.LGBMRegressor(n_estimators=2, verbose=-1).fit(X, target(X))
    stray.note_ = "added by hand"
    with pytest.raises(MaterializerError, match=r"\['note_'\]"):
        LightGBMMaterializer().save(stray)


# -- lazy registration ----------------------------------------------------------------------------

FRESH_REGISTRY = """
import sys
from conveyor.artifacts.materializers import default_registry
registry = default_registry()
registry.digest()
registry.candidates(1.5)
print("xgboost" in sys.modules, "lightgbm" in sys.modules)
"""


def test_the_registry_imports_neither_library() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", FRESH_REGISTRY], capture_output=True, text=True, check=True
    )
    assert proc.stdout.split() == ["False", "False"]


REGISTRY_BEFORE_THE_IMPORT = """
from conveyor.artifacts.materializers import default_registry
registry = default_registry()
import lightgbm, xgboost
for model in (xgboost.XGBRegressor(), lightgbm.LGBMClassifier()):
    print(registry.candidates(model)[0].name)
"""


def test_a_registry_made_before_the_import_still_prefers_the_library_format(
    xgboost: ModuleType, lightgbm: ModuleType
) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", REGISTRY_BEFORE_THE_IMPORT],
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout.split() == ["xgboost.json", "lightgbm.txt"]


def test_registry_names_are_persisted_keys() -> None:
    registry = default_registry()
    assert registry.get("xgboost.json").version == 1
    assert registry.get("lightgbm.txt").version == 1
    assert registry.get("xgboost.json").safe and registry.get("lightgbm.txt").safe


# -- in a pipeline --------------------------------------------------------------------------------

CALLS: collections.Counter[str] = collections.Counter()


def _called(name: str) -> None:
    CALLS[name] += 1


@cv.step
def fit_booster(n_estimators: int) -> Any:
    import xgboost

    _called("fit_booster")
    x = features()
    return xgboost.XGBClassifier(n_estimators=n_estimators, max_depth=2, n_jobs=1).fit(x, binary(x))


@cv.step
def hit_rate(model: Any, cut: float) -> float:
    _called("hit_rate")
    x = features(60, seed=1)
    return float(((model.predict_proba(x)[:, 1] > cut) == binary(x)).mean())


@cv.pipeline
def boosted(n_estimators: int = 6, cut: float = 0.5):
    return hit_rate(fit_booster(n_estimators), cut)


def test_a_pipeline_stores_the_model_safely_and_reuses_it(
    xgboost: ModuleType, workspace: Workspace
) -> None:
    CALLS.clear()
    first = boosted.run(settings=workspace.settings)
    assert dict(CALLS) == {"fit_booster": 1, "hit_rate": 1}
    model_id = first.step("fit_booster").outputs["output"]
    record = workspace.metadata.get_artifact(model_id)
    assert (record.materializer, record.safe) == ("xgboost.json", True)

    second = boosted.run(settings=workspace.settings)
    assert dict(CALLS) == {"fit_booster": 1, "hit_rate": 1}  # nothing ran again
    assert all(step.cached for step in second.steps)
    assert second.output() == first.output()

    # a new cut re-runs only hit_rate, on the model loaded back from the store, without trust
    third = boosted.run(cut=0.8, settings=workspace.settings)
    assert dict(CALLS) == {"fit_booster": 1, "hit_rate": 2}
    assert third.step("fit_booster").cached
    model = cv.load_artifact(model_id, settings=workspace.settings)
    assert isinstance(model, xgboost.XGBClassifier)
    assert list(model.feature_names_in_) == list(features().columns)
    assert third.output() == hit_rate.fn(model, 0.8)

    registry = ModelRegistry(workspace)
    registry.register("penguins-xgb", model_id)
    served = cv.load_model("penguins-xgb", settings=workspace.settings)
    same_model(model, served)
