"""Classifiers that take only the labels 0..n-1 (XGBoost's), trained and served on any labels.

XGBoost's classifiers refuse string labels (`Invalid classes inferred from unique values of y`)
and always predict class positions. `train` therefore fits them on each label's position among
the sorted classes and writes the classes into the model's own file — a booster attribute,
`conveyor_classes`, as JSON — so the artifact stays in XGBoost's format, loads without trust and
adds no type anyone has to trust. Whatever loads or scores a model through Conveyor (`evaluate`,
`gate`, `register`, `ModelRegistry.load`, `cv.load_model`, serving, batch prediction) wraps such
a model in `LabelDecoded`, whose `predict` returns the original labels and whose `classes_` are
them.

A `LabelDecoded` is made when loading; it is not meant to be returned from a step (it would be
stored with skops, whose load asks to trust its types).
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "ATTRIBUTE",
    "LabelDecoded",
    "classes_of",
    "decoded",
    "encode_labels",
    "mark",
    "needs_encoding",
]

#: the booster attribute that holds the classes, as a JSON list
ATTRIBUTE = "conveyor_classes"


def _final(model: Any) -> Any:
    """The estimator that sees y: the model, or the last step of a scikit-learn Pipeline."""
    steps = getattr(model, "steps", None)
    if isinstance(steps, list) and steps and isinstance(steps[-1], tuple):
        return steps[-1][1]
    return model


def _is_xgboost_classifier(estimator: Any) -> bool:
    cls = type(estimator)
    return cls.__module__.split(".")[0] == "xgboost" and "Classifier" in cls.__name__


def needs_encoding(model: Any) -> bool:
    """Whether `model` (unfitted) must be fitted on label positions: an XGBoost classifier."""
    return _is_xgboost_classifier(_final(model))


def encode_labels(y: Any) -> tuple[Any, list[Any]]:
    """The position of each label among the sorted classes, and the classes (JSON values)."""
    import numpy as np

    from conveyor.profiling import jsonable

    classes, positions = np.unique(np.asarray(y), return_inverse=True)
    return positions.astype("int64"), jsonable(classes.tolist())


def mark(model: Any, classes: list[Any]) -> None:
    """Record `classes` in the fitted model's own file (its booster's attributes)."""
    _final(model).get_booster().set_attr(**{ATTRIBUTE: json.dumps(classes)})


def classes_of(model: Any) -> list[Any] | None:
    """The classes `mark` recorded in a fitted model, or None."""
    estimator = _final(model)
    if isinstance(model, LabelDecoded) or not _is_xgboost_classifier(estimator):
        return None
    try:
        text = estimator.get_booster().attr(ATTRIBUTE)
    except Exception:  # not fitted: no booster
        return None
    return None if text is None else json.loads(text)


def decoded(model: Any) -> Any:
    """`model`, wrapped in `LabelDecoded` when it was fitted on label positions."""
    classes = classes_of(model)
    return model if classes is None else LabelDecoded(model, classes)


def _base() -> tuple[type, ...]:
    from sklearn.base import BaseEstimator, ClassifierMixin

    return ClassifierMixin, BaseEstimator


class LabelDecoded(*_base()):  # type: ignore[misc]
    """A fitted classifier trained on label positions, answering with the original labels."""

    def __init__(self, estimator: Any = None, classes: list[Any] | None = None) -> None:
        self.estimator = estimator
        self.classes = classes

    @property
    def classes_(self) -> Any:
        import numpy as np

        values = list(self.classes or [])
        kind = object if any(isinstance(v, str) for v in values) else None
        return np.asarray(values, dtype=kind)

    @property
    def estimator_(self) -> Any:
        return self.estimator

    @property
    def feature_names_in_(self) -> Any:
        names = getattr(self.estimator, "feature_names_in_", None)
        if names is None:
            raise AttributeError("feature_names_in_")
        return names

    @property
    def n_features_in_(self) -> int:
        return int(self.estimator.n_features_in_)

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def fit(self, X: Any, y: Any, **kwargs: Any) -> LabelDecoded:
        positions, self.classes = encode_labels(y)
        self.estimator.fit(X, positions, **kwargs)
        mark(self.estimator, self.classes)
        return self

    def predict(self, X: Any) -> Any:
        import numpy as np

        positions = np.asarray(self.estimator.predict(X)).astype("int64")
        return self.classes_[positions]

    def predict_proba(self, X: Any) -> Any:
        return self.estimator.predict_proba(X)

    def get_booster(self) -> Any:
        return _final(self.estimator).get_booster()
