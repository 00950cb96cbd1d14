"""`train`: fit any scikit-learn-compatible estimator, given as an object or an import path.

`estimator` may be an (unfitted) estimator object, a class or factory given as an import path
(`"sklearn.ensemble.RandomForestClassifier"` or `"my_project.models:build"`), called with
`params`. XGBoost's and LightGBM's scikit-learn wrappers work the same way when installed; their
models are stored in the libraries' own formats (`conveyor[xgboost]`, `conveyor[lightgbm]`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from conveyor.components._frames import require_columns, require_frame
from conveyor.core.context import log_metric, log_param
from conveyor.core.step import step
from conveyor.exceptions import ParameterError
from conveyor.profiling import jsonable

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["build_estimator", "features_of", "train"]


def _import(path: str) -> Any:
    module_name, colon, attr = path.partition(":")
    if not colon:
        module_name, _, attr = path.rpartition(".")
    if not module_name or not attr:
        raise ParameterError(
            f"train: estimator {path!r} is not an import path like "
            "'sklearn.linear_model.LogisticRegression' or 'package.module:factory'"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ParameterError(
            f"train: estimator {path!r}: cannot import {module_name!r}: {err}"
        ) from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ParameterError(
            f"train: estimator {path!r}: module {module_name!r} has no attribute {attr!r}"
        ) from None


def build_estimator(estimator: Any, params: dict[str, Any] | None = None) -> Any:
    """An unfitted estimator from an object, class or import path, with `params` applied."""
    params = dict(params or {})
    if isinstance(estimator, str):
        estimator = _import(estimator)
    if isinstance(estimator, type) or (callable(estimator) and not hasattr(estimator, "fit")):
        name = getattr(estimator, "__qualname__", repr(estimator))
        try:
            built = estimator(**params)
        except TypeError as err:
            raise ParameterError(f"train: {name} does not accept params {params}: {err}") from None
    else:
        from sklearn.base import clone

        try:
            built = clone(estimator)
        except TypeError as err:
            raise ParameterError(f"train: cannot copy estimator {estimator!r}: {err}") from None
        if params:
            try:
                built.set_params(**params)
            except ValueError as err:
                raise ParameterError(f"train: bad params {sorted(params)}: {err}") from None
    if not callable(getattr(built, "fit", None)) or not callable(getattr(built, "predict", None)):
        raise ParameterError(
            f"train: {type(built).__name__} is not an estimator (it needs fit and predict)"
        )
    return built


def features_of(model: Any, data: pd.DataFrame, target: str | None) -> list[str]:
    """The columns a model reads: those it was fitted on, else all but the target."""
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        return [str(c) for c in names]
    return [str(c) for c in data.columns if c != target]


@step
def train(
    data: pd.DataFrame,
    target: str,
    estimator: Any = "sklearn.ensemble.RandomForestClassifier",
    params: dict[str, Any] | None = None,
    features: list[str] | None = None,
) -> Any:
    """Fit `estimator` on `data`: column `target` is y, `features` (default: the rest) are X.

    Records the estimator's class and parameters as params and the row count as a metric.
    """
    require_frame(data, "train", "data")
    if not isinstance(target, str):
        raise ParameterError(f"train: target must be a column name, got {target!r}")
    require_columns(data, [target], "train", "target")
    if features is not None:
        require_columns(data, list(features), "train", "features")
    model = build_estimator(estimator, params)
    columns = list(features) if features is not None else [c for c in data.columns if c != target]
    y = data[target]
    if y.isna().any():
        raise ParameterError(
            f"train: target column {target!r} has {int(y.isna().sum())} missing values; "
            "drop or impute them before training"
        )
    model.fit(data[columns], y)
    cls = type(model)
    log_param("estimator", f"{cls.__module__}.{cls.__qualname__}")
    if hasattr(model, "get_params"):
        log_param("estimator_params", jsonable(model.get_params(deep=False)))
    log_metric("train_rows", len(data))
    return model
