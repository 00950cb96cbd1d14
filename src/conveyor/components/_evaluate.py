"""`evaluate`: classification and regression metrics, overall and per slice, recorded as metrics.

The report is a JSON document: the task, target, row count, metrics, the confusion matrix of a
classifier, and the same metrics per value of each `slice_by` column. Metrics are also logged on the
step run (`accuracy`, `accuracy[island=Biscoe]`), so runs can be compared and plotted.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from conveyor.components._frames import require_columns, require_frame
from conveyor.components._runtime import UNKNOWN
from conveyor.components._train import features_of, fit_error
from conveyor.core.context import log_metric
from conveyor.core.step import step
from conveyor.exceptions import ParameterError
from conveyor.profiling import jsonable

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["HIGHER_IS_BETTER", "evaluate", "evaluate_model"]

#: direction of each metric: True when larger is better (gates compare by it)
HIGHER_IS_BETTER = {
    "accuracy": True,
    "precision": True,
    "recall": True,
    "f1": True,
    "roc_auc": True,
    "log_loss": False,
    "mae": False,
    "rmse": False,
    "r2": True,
}
_MISSING = "<missing>"


_TASKS = ("auto", "classification", "regression")


def _task_of(model: Any, task: str) -> str:
    if task not in _TASKS:
        raise ParameterError(
            f"evaluate: task must be 'auto', 'classification' or 'regression', got {task!r}"
        )
    if task != "auto":
        return task
    from sklearn.base import is_classifier

    return "classification" if is_classifier(model) or hasattr(model, "classes_") else "regression"


def _classification(model: Any, X: pd.DataFrame, y: pd.Series) -> tuple[dict, dict]:
    import numpy as np
    from sklearn import metrics as m

    predicted = model.predict(X)
    labels = list(getattr(model, "classes_", np.unique(np.concatenate([y, predicted]))))
    binary = len(labels) == 2
    average = "binary" if binary else "macro"
    extra = {"pos_label": labels[1]} if binary else {}
    values: dict[str, float | None] = {
        "accuracy": m.accuracy_score(y, predicted),
        "precision": m.precision_score(y, predicted, average=average, zero_division=0, **extra),
        "recall": m.recall_score(y, predicted, average=average, zero_division=0, **extra),
        "f1": m.f1_score(y, predicted, average=average, zero_division=0, **extra),
    }
    if hasattr(model, "predict_proba"):
        proba = model.predict_proba(X)
        values["log_loss"] = m.log_loss(y, proba, labels=labels)
        present = set(y.unique())
        if len(present) > 1 and present <= set(labels):  # AUC needs both sides of each class
            if binary:
                values["roc_auc"] = m.roc_auc_score(y, proba[:, 1])
            elif present == set(labels):
                values["roc_auc"] = m.roc_auc_score(y, proba, multi_class="ovr", labels=labels)
    matrix = m.confusion_matrix(y, predicted, labels=labels)
    return values, {"labels": jsonable(labels), "matrix": matrix.tolist()}


def _regression(model: Any, X: pd.DataFrame, y: pd.Series) -> dict[str, float | None]:
    from sklearn import metrics as m

    predicted = model.predict(X)
    return {
        "mae": m.mean_absolute_error(y, predicted),
        "rmse": math.sqrt(m.mean_squared_error(y, predicted)),
        "r2": m.r2_score(y, predicted) if len(y) > 1 else None,
    }


def _clean(values: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in values.items() if v is not None and math.isfinite(float(v))}


def _metrics(model: Any, frame: pd.DataFrame, target: str, task: str, columns: list[str]) -> Any:
    X, y = frame[columns], frame[target]
    try:
        if task == "classification":
            values, matrix = _classification(model, X, y)
            return _clean(values), matrix
        return _clean(_regression(model, X, y)), None
    except (ValueError, TypeError) as err:
        if isinstance(err, ParameterError):
            raise
        name = type(getattr(model, "estimator", model)).__name__
        raise fit_error(err, X, columns, "evaluate", f"scoring {name}") from err


def evaluate_model(
    model: Any,
    data: pd.DataFrame,
    target: str,
    slice_by: list[str] | None = None,
    task: str = "auto",
) -> dict[str, Any]:
    """The evaluation report of `model` on `data` (plain function: gates reuse it)."""
    from conveyor.registry.labels import LabelDecoded, decoded

    raw = model.estimator if isinstance(model, LabelDecoded) else model
    name = f"{type(raw).__module__}.{type(raw).__qualname__}"
    model = decoded(model)  # an XGBoost classifier answers with the labels it was trained on
    require_frame(data, "evaluate", "data")
    if not isinstance(target, str):
        raise ParameterError(f"evaluate: target must be a column name, got {target!r}")
    require_columns(data, [target], "evaluate", "target")
    slice_by = [slice_by] if isinstance(slice_by, str) else list(slice_by or [])
    require_columns(data, slice_by, "evaluate", "slice_by")
    if not len(data):
        raise ParameterError("evaluate: the data has no rows")
    columns = features_of(model, data, target)
    require_columns(data, columns, "evaluate", "the model's features")
    kind = _task_of(model, task)
    labelled = data[data[target].notna()]
    overall, matrix = _metrics(model, labelled, target, kind, columns)
    slices: dict[str, dict[str, Any]] = {}
    for column in slice_by:
        groups = labelled[column].astype("object").where(labelled[column].notna(), _MISSING)
        slices[column] = {}
        for value, part in labelled.groupby(groups, sort=True):
            values, _ = _metrics(model, part, target, kind, columns)
            slices[column][str(value)] = {"n": len(part), "metrics": values}
    report: dict[str, Any] = {
        "task": kind,
        "target": target,
        "n": len(labelled),
        "features": columns,
        "metrics": overall,
        "slices": slices,
        "model": name,
    }
    if matrix is not None:
        report["confusion_matrix"] = matrix
    return report


def check_arguments(
    target: Any = UNKNOWN, slice_by: Any = UNKNOWN, task: Any = UNKNOWN, **_: Any
) -> None:
    """evaluate's arguments, checked when the pipeline is traced."""
    if target is not UNKNOWN and not isinstance(target, str):
        raise ParameterError(f"target={target!r} must be a column name")
    if task is not UNKNOWN and task not in _TASKS:
        raise ParameterError(f"task={task!r} must be one of {list(_TASKS)}")
    if slice_by is UNKNOWN or slice_by is None or isinstance(slice_by, str):
        return
    if not isinstance(slice_by, (list, tuple)) or not all(isinstance(c, str) for c in slice_by):
        raise ParameterError(f"slice_by={slice_by!r} must be a column name or a list of them")


@step(check=check_arguments)
def evaluate(
    model: Any,
    data: pd.DataFrame,
    target: str,
    slice_by: list[str] | None = None,
    task: str = "auto",
) -> dict[str, Any]:
    """Score `model` on held-out `data`, overall and per value of each `slice_by` column.

    Classification: accuracy, precision, recall, F1 (binary, or macro-averaged), ROC AUC, log loss
    and the confusion matrix. Regression: MAE, RMSE, R². Each is also logged as a metric.
    """
    report = evaluate_model(model, data, target, slice_by, task)
    for name, value in report["metrics"].items():
        log_metric(name, value)
    for column, groups in report["slices"].items():
        for value, entry in groups.items():
            for name, number in entry["metrics"].items():
                log_metric(f"{name}[{column}={value}]", number)
    return report
