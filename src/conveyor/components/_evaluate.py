"""`evaluate`: classification and regression metrics, overall and per slice, recorded as metrics.

The report is a JSON document: the task, target, row count, metrics, the confusion matrix of a
classifier, and the same metrics per value of each `slice_by` column. Metrics are also logged on the
step run (`accuracy`, `accuracy[island=Biscoe]`), so runs can be compared and plotted.

A metric that has no value is never reported as a number: it is left out of `metrics` and its
reason is in `undefined` — the recall of a slice with no row of the positive class (0/0, which
scikit-learn's default `zero_division` would turn into 0), the log loss of a model that never saw
a class in the data (it gives the truth probability 0: the loss is infinite). Rows of such classes
count as errors, and precision, recall and F1 are macro-averaged over the model's classes and the
unseen ones; the report's `warnings` say so, naming the classes.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any

from conveyor.components._frames import require_columns, require_frame
from conveyor.components._runtime import UNKNOWN
from conveyor.components._train import features_of, fit_error
from conveyor.core.context import log_metric
from conveyor.core.step import step
from conveyor.exceptions import DataError, ParameterError
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


@dataclasses.dataclass(frozen=True)
class _Labels:
    """The classes a classification is scored over: the same for the whole data and each slice,
    so a slice's precision averages over what the whole data's does."""

    #: the model's classes, in the order of its `predict_proba` columns
    classes: list[Any]
    #: the classes in the data (or predictions) the model does not know, sorted
    unseen: list[Any]

    @property
    def labels(self) -> list[Any]:
        return [*self.classes, *self.unseen]

    @property
    def positive(self) -> Any:
        """The positive class when there are exactly two labels (the larger, as scikit-learn's)."""
        return self.labels[1] if len(self.labels) == 2 else None


def _sorted(values: Any) -> list[Any]:
    try:
        return sorted(values)
    except TypeError:  # labels of mixed types
        return sorted(values, key=repr)


def _labels_of(model: Any, y: pd.Series, predicted: Any) -> _Labels:
    import pandas as pd

    found = set(pd.unique(y)) | set(pd.unique(pd.Series(predicted)))
    classes = getattr(model, "classes_", None)
    known = list(classes) if classes is not None else _sorted(found)
    return _Labels(known, _sorted(found - set(known)))


def _classification(
    y: pd.Series, predicted: Any, proba: Any, labels: _Labels, no_proba: str | None
) -> tuple[dict[str, float], dict[str, str], dict[str, Any]]:
    """(metrics, undefined metric → why, confusion matrix) of one set of predictions."""
    import numpy as np
    from sklearn import metrics as m

    values: dict[str, float] = {"accuracy": m.accuracy_score(y, predicted)}
    undefined: dict[str, str] = {}
    positive = labels.positive
    if positive is not None:
        average: dict[str, Any] = {"average": "binary", "pos_label": positive}
    else:
        average = {"average": "macro", "labels": labels.labels}
    # zero_division=nan: a 0/0 is not a score of 0; a macro average leaves such classes out
    for name, score in (("precision", m.precision_score), ("recall", m.recall_score)):
        values[name] = score(y, predicted, zero_division=np.nan, **average)
    values["f1"] = m.f1_score(y, predicted, zero_division=np.nan, **average)
    if positive is not None:
        why = {
            "precision": f"the model predicted the positive class {positive!r} for no row",
            "recall": f"no row of the positive class {positive!r}",
            "f1": f"neither a row nor a prediction of the positive class {positive!r}",
        }
        for name, reason in why.items():
            if math.isnan(values[name]):
                undefined[name] = f"{reason}: {name} is 0/0"
    present = set(y.unique())
    unseen = _sorted(present - set(labels.classes))
    if no_proba is not None:
        undefined["log_loss"] = undefined["roc_auc"] = no_proba
    elif unseen:
        why = f"the model never saw class(es) {unseen}: it gives them probability 0"
        undefined["log_loss"] = f"{why}, so log loss is infinite"
        undefined["roc_auc"] = why
    else:
        values["log_loss"] = m.log_loss(y, proba, labels=labels.classes)
        missing = _sorted(set(labels.classes) - present)
        if len(present) < 2:
            undefined["roc_auc"] = f"only one class ({_sorted(present)[0]!r}) in the data"
        elif len(labels.classes) == 2:
            values["roc_auc"] = m.roc_auc_score(y, proba[:, 1])
        elif missing:
            undefined["roc_auc"] = (
                f"one-vs-rest ROC AUC needs rows of every class; none of {missing}"
            )
        else:
            values["roc_auc"] = m.roc_auc_score(y, proba, multi_class="ovr", labels=labels.classes)
    matrix = m.confusion_matrix(y, predicted, labels=labels.labels)
    return (
        *_finite(values, undefined),
        {"labels": jsonable(labels.labels), "matrix": matrix.tolist()},
    )


def _regression(y: pd.Series, predicted: Any) -> tuple[dict[str, float], dict[str, str]]:
    from sklearn import metrics as m

    values = {
        "mae": m.mean_absolute_error(y, predicted),
        "rmse": math.sqrt(m.mean_squared_error(y, predicted)),
    }
    if len(y) < 2:
        return _finite(values, {"r2": "R² needs at least two rows"})
    return _finite(values | {"r2": m.r2_score(y, predicted)}, {})


def _finite(
    values: dict[str, Any], undefined: dict[str, str]
) -> tuple[dict[str, float], dict[str, str]]:
    """The metrics that have a value, and why each of the others has none."""
    for name, value in values.items():
        if name not in undefined and not math.isfinite(float(value)):
            undefined[name] = f"{name} is {float(value)}"
    return {k: float(v) for k, v in values.items() if k not in undefined}, undefined


def _predict(model: Any, X: pd.DataFrame, columns: list[str], kind: str) -> tuple[Any, Any, Any]:
    """(predictions, probabilities or None, why there are none); errors name the column."""
    import numpy as np

    try:
        predicted = np.asarray(model.predict(X))
        if kind != "classification":
            return predicted, None, None
        if not hasattr(model, "predict_proba"):
            name = type(getattr(model, "estimator", model)).__name__
            return predicted, None, f"{name} has no predict_proba"
        return predicted, np.asarray(model.predict_proba(X)), None
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
    """The evaluation report of `model` on `data` (plain function: gates reuse it).

    Keys: `task`, `target`, `n`, `features`, `model`, `metrics` (name → number), `undefined`
    (name → why it has no value), `warnings`, `slices` (column → value → `n`, `metrics` and, when
    any, `undefined`); for a classifier also `classes` (the model's), `average` (`"binary"`, with
    `positive_class`, or `"macro"`), `confusion_matrix` and, when the data holds classes the model
    never saw, `unseen_classes`.
    """
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
    if not len(labelled):
        raise DataError(f"evaluate: target {target!r} is missing in every row")
    X, y = labelled[columns], labelled[target]
    predicted, proba, no_proba = _predict(model, X, columns, kind)
    labels = _labels_of(model, y, predicted) if kind == "classification" else None

    def score(rows: Any) -> tuple[dict[str, float], dict[str, str], dict[str, Any] | None]:
        part = y[rows]
        mask = rows.to_numpy()
        try:
            if labels is None:
                return (*_regression(part, predicted[mask]), None)
            return _classification(
                part, predicted[mask], None if proba is None else proba[mask], labels, no_proba
            )
        except (ValueError, TypeError) as err:
            raise DataError(
                f"evaluate: scoring {type(raw).__name__} on target {target!r} failed: "
                f"{type(err).__name__}: {err}"
            ) from err

    everything = y.notna()
    overall, undefined, matrix = score(everything)
    slices: dict[str, dict[str, Any]] = {}
    for column in slice_by:
        groups = labelled[column].astype("object").where(labelled[column].notna(), _MISSING)
        slices[column] = {}
        for value in _sorted(groups.unique()):
            values, why, _ = score(groups == value)
            entry: dict[str, Any] = {"n": int((groups == value).sum()), "metrics": values}
            if why:
                entry["undefined"] = why
            slices[column][str(value)] = entry
    report: dict[str, Any] = {
        "task": kind,
        "target": target,
        "n": len(labelled),
        "features": columns,
        "metrics": overall,
        "undefined": undefined,
        "warnings": [],
        "slices": slices,
        "model": name,
    }
    if labels is not None:
        report |= {
            "classes": jsonable(labels.classes),
            "average": "macro" if labels.positive is None else "binary",
            "confusion_matrix": matrix,
        }
        if labels.positive is not None:
            report["positive_class"] = jsonable(labels.positive)
        unseen = _sorted(set(y.unique()) - set(labels.classes))
        if unseen:
            rows = int(y.isin(unseen).sum())
            report["unseen_classes"] = jsonable(unseen)
            report["warnings"].append(
                f"{rows} of {len(y)} row(s) are of class(es) {unseen} that the model never saw: "
                "they count as errors, precision, recall and F1 are macro-averaged over the "
                "model's classes and these, and log loss and ROC AUC are not defined"
            )
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
    and the confusion matrix. Regression: MAE, RMSE, R². Each is also logged as a metric; one
    without a value (0/0, a class the model never saw) is not, and `undefined` says why.
    """
    report = evaluate_model(model, data, target, slice_by, task)
    for warning in report["warnings"]:
        print(f"warning: evaluate: {warning}")
    for name, value in report["metrics"].items():
        log_metric(name, value)
    for column, groups in report["slices"].items():
        for value, entry in groups.items():
            for name, number in entry["metrics"].items():
                log_metric(f"{name}[{column}={value}]", number)
    return report
