"""Breast-cancer classifier: load → split → scale → train → evaluate, every step cached and tracked.

Run it:  conveyor run pipeline.py:training -p C=0.5
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import conveyor as cv


@cv.step
def load() -> pd.DataFrame:
    """The Wisconsin breast-cancer data set that ships with scikit-learn, as a DataFrame."""
    frame = load_breast_cancer(as_frame=True).frame
    print(f"loaded {len(frame)} rows, {frame.shape[1] - 1} features")
    return frame


@cv.step(outputs=("train", "test"))
def split(data: pd.DataFrame, test_size: float = 0.25, seed: int = 0):
    """A stratified train/test split."""
    train, test = train_test_split(
        data, test_size=test_size, random_state=seed, stratify=data["target"]
    )
    return train, test


@cv.step(outputs=("scaler", "x_train", "x_test"))
def scale(train: pd.DataFrame, test: pd.DataFrame):
    """Standardise features with statistics of the training set only."""
    scaler = StandardScaler().fit(train.drop(columns="target"))
    x_train = scaler.transform(train.drop(columns="target"))
    x_test = scaler.transform(test.drop(columns="target"))
    return scaler, x_train, x_test


@cv.step
def fit(x_train: np.ndarray, train: pd.DataFrame, C: float = 1.0) -> LogisticRegression:
    """L2-regularised logistic regression."""
    model = LogisticRegression(C=C, max_iter=5000)
    model.fit(x_train, train["target"].to_numpy())
    cv.log_param("C", C)
    return model


@cv.step
def evaluate(model: LogisticRegression, x_test: np.ndarray, test: pd.DataFrame) -> dict:
    """Accuracy and ROC AUC on the held-out test set."""
    y_true = test["target"].to_numpy()
    scores = {
        "accuracy": float(accuracy_score(y_true, model.predict(x_test))),
        "roc_auc": float(roc_auc_score(y_true, model.predict_proba(x_test)[:, 1])),
    }
    for name, value in scores.items():
        cv.log_metric(name, value)
    return scores


@cv.pipeline
def training(C: float = 1.0, test_size: float = 0.25, seed: int = 0):
    """From raw data to an evaluated model."""
    train, test = split(load(), test_size=test_size, seed=seed)
    _scaler, x_train, x_test = scale(train, test)
    model = fit(x_train, train, C=C)
    return {"model": model, "scores": evaluate(model, x_test, test)}
