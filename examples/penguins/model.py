"""The candidate models: a scikit-learn pipeline that imputes, encodes and classifies."""

from __future__ import annotations

from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

NUMERIC = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
CATEGORICAL = ["island", "sex"]

CLASSIFIERS = {
    "logistic": lambda C: LogisticRegression(C=C, max_iter=2000),
    "forest": lambda C: RandomForestClassifier(n_estimators=200, random_state=0),
    # deliberately bad: always answers the most common species
    "majority": lambda C: DummyClassifier(strategy="most_frequent"),
}


def build(classifier: str = "logistic", C: float = 1.0) -> Pipeline:
    """Impute and scale the measurements, one-hot encode island and sex, then classify."""
    if classifier not in CLASSIFIERS:
        raise ValueError(f"classifier must be one of {sorted(CLASSIFIERS)}, got {classifier!r}")
    features = ColumnTransformer(
        [
            ("numeric", make_pipeline(SimpleImputer(), StandardScaler()), NUMERIC),
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                CATEGORICAL,
            ),
        ]
    )
    return Pipeline([("features", features), ("classifier", CLASSIFIERS[classifier](C))])
