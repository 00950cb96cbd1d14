"""Prometheus metrics of a model server: requests, latency, errors by kind, version, predictions.

Each app has its own registry (several apps can live in one process, as in tests). With
`--workers N` the workers share a multiprocess directory and `/metrics` sums them all.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

__all__ = ["ServerMetrics"]


class ServerMetrics:
    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        self.registry = CollectorRegistry(auto_describe=False)
        registry = None if self.multiprocess else self.registry
        kwargs: dict[str, Any] = {"registry": registry} if registry is not None else {}
        self.requests = Counter(
            "conveyor_requests", "HTTP requests by endpoint and status.",
            ["endpoint", "status"], **kwargs,
        )  # fmt: skip
        self.errors = Counter(
            "conveyor_errors", "Rejected or failed requests by kind.", ["kind"], **kwargs
        )
        self.latency = Histogram(
            "conveyor_predict_latency_seconds", "Time to answer /predict, validation included.",
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            **kwargs,
        )  # fmt: skip
        self.rows = Counter("conveyor_predicted_rows", "Instances predicted.", **kwargs)
        self.predictions = Counter(
            "conveyor_predictions", "Predicted classes (classifiers).", ["label"], **kwargs
        )
        self.values = Histogram(
            "conveyor_prediction_value", "Predicted values (regressors).", **kwargs
        )
        gauge_kwargs = dict(kwargs)
        if self.multiprocess:
            gauge_kwargs["multiprocess_mode"] = "max"
        self.version = Gauge(
            "conveyor_model_version", "The model version being served.", ["model"], **gauge_kwargs
        )

    def exposition(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        if self.multiprocess:
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def observe_predictions(self, predictions: Sequence[Any], classifier: bool) -> None:
        """Count a request's predictions: per class, or into the value histogram."""
        self.rows.inc(len(predictions))
        if classifier:
            for label, count in _counts(predictions).items():
                self.predictions.labels(label).inc(count)
        else:
            values = predictions.tolist() if hasattr(predictions, "tolist") else predictions
            for p in values:
                if isinstance(p, (int, float)):
                    self.values.observe(p)


def _counts(predictions: Sequence[Any]) -> dict[str, int]:
    """Predictions per label; a numpy array is counted by numpy (a 1000-row batch in ~50 µs)."""
    import numpy as np

    if (
        isinstance(predictions, np.ndarray)
        and predictions.ndim == 1
        and predictions.dtype.kind in "biufUS"
    ):
        labels, counts = np.unique(predictions, return_counts=True)
        return {str(label): int(count) for label, count in zip(labels, counts, strict=True)}
    tally: dict[str, int] = {}
    for p in predictions:
        tally[str(p)] = tally.get(str(p), 0) + 1
    return tally
