"""`monitor`: compare a model's live data with its reference; store and return the verdicts.

Live data is a window of the prediction log — only the rows served by the version monitored —
(`since` a time; `window` the newest N rows, or the last N seconds before `now`), or any frame
given directly. The reference is what `register` captured: the training data's statistics and
the training data itself (for the two-sample tests). The evaluation covers data drift per feature,
prediction drift, data quality (missing rates, values outside the reference range, new
categories, features lost) and — when feedback labels have arrived — the model's live metrics
against the ones it was registered with. Every number, and every warning, is stored as a time
series (`MonitorStore`). `performance` evaluates the live metrics alone, without a reference.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
import uuid
from typing import TYPE_CHECKING, Any

from conveyor.exceptions import DataError, EmptyWindowError, NotFoundError, ParameterError
from conveyor.metadata.model_store import ModelVersionRecord
from conveyor.metadata.monitor_store import MonitorResult, MonitorStore
from conveyor.monitoring.drift import (
    DriftThresholds,
    FeatureDrift,
    binned_drift,
    categorical_drift,
    counts,
    dataset_drift,
)
from conveyor.predictions import INPUT, labelled, read_log
from conveyor.registry import ModelRegistry
from conveyor.workspace import Workspace, load_recorded, open_workspace

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["HIGHER_IS_BETTER", "MonitorReport", "monitor", "performance"]

#: The direction of each live metric: True when a larger value is better. A performance drop is
#: a fall of the first kind (accuracy, f1, r2) or a rise of the second (mae, rmse).
HIGHER_IS_BETTER = {"accuracy": True, "f1": True, "r2": True, "mae": False, "rmse": False}


@dataclasses.dataclass
class MonitorReport:
    """What one evaluation found; `to_json()` is what `--json` prints.

    `status` sums it up: "drift" (the dataset drifted), "lost_features" (no dataset drift, but a
    feature could not be compared: a data-quality failure) or "ok". `drift` is None, and
    `features` and `quality` empty, in a performance-only evaluation.
    """

    id: str
    model: str
    version: int
    at: float
    window: dict[str, Any]
    drift: dict[str, Any] | None
    features: list[dict[str, Any]]
    prediction: dict[str, Any] | None
    quality: dict[str, dict[str, Any]]
    performance: dict[str, Any] | None
    warnings: list[str]
    thresholds: dict[str, Any] = dataclasses.field(default_factory=dict)
    status: str = "ok"

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def duration_text(seconds: float) -> str:
    """`1800` → "30m": the largest unit that divides it."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


@dataclasses.dataclass(frozen=True)
class _Window:
    since: float | None  # the effective lower bound in time (`since`, or now − duration)
    rows: int | None  # the newest N rows
    seconds: float | None  # a duration before now

    def describe(self) -> str | None:
        """ "the last 30m", "the newest 500 rows since <time>", or None: no limit."""
        if self.seconds is not None:
            return f"the last {duration_text(self.seconds)}"
        parts = [f"the newest {self.rows} rows"] if self.rows is not None else []
        if self.since is not None:
            parts.append(f"since {time.ctime(self.since)}")
        return " ".join(parts) or None


def _window_of(since: float | None, window: float | None, in_seconds: bool, now: float) -> _Window:
    if window is None:
        return _Window(since, None, None)
    if in_seconds:
        start = now - float(window)
        return _Window(start if since is None else max(since, start), None, float(window))
    return _Window(since, int(window), None)


def _live(
    ws: Workspace,
    record: ModelVersionRecord,
    data: pd.DataFrame | None,
    span: _Window,
    ref: str,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The live rows of the window, and the report's description of them."""
    if data is None:
        log = read_log(ws, record.name, since=span.since, version=record.version, last=span.rows)
        source = "prediction log"
    else:
        log = data
        if span.since is not None:
            if "at" not in data:
                raise ParameterError(
                    f"monitor {ref}: --since and a duration --window select rows by time, and "
                    "the data has no 'at' column (seconds since the epoch); give a row count "
                    "(--window 500) or add the column"
                )
            log = data[data["at"] >= span.since]
        if span.rows is not None:
            log = log.tail(span.rows)
        source = "data"
    served = f"{record.name}:{record.version}"
    if log.empty:
        if span.seconds is not None:
            where = f"in the last {duration_text(span.seconds)} of the {source}"
        elif span.since is not None:
            where = f"since {time.ctime(span.since)} in the {source}"
        else:
            where = f"in the {source}"
        message = f"monitor {ref}: no rows {where}"
        if data is None:
            message += f" (rows served by {served}); send traffic, or widen --since / --window"
        raise EmptyWindowError(message)
    timed = "at" in log and len(log)
    window: dict[str, Any] = {
        "source": source,
        "rows": len(log),
        "start": float(log["at"].min()) if timed else None,
        "end": float(log["at"].max()) if timed else None,
    }
    if data is None:
        newest = log.iloc[-1]
        window |= {
            "served_by": served,
            "span": span.describe() or "all rows",
            "since": span.since,
            "newest": f"{newest['request_id']}/{int(newest['row'])}",
        }
    return log, window


def _reference(
    ws: Workspace, registry: ModelRegistry, record: ModelVersionRecord
) -> tuple[dict[str, Any], pd.DataFrame]:
    found = registry.models.reference(record.name, record.version)
    if found is None:
        raise NotFoundError(
            f"{record.name}:{record.version} has no reference statistics (register it with "
            "conveyor.components.register, which captures them from the training data)"
        )
    statistics, data_id = found
    frame = load_recorded(ws, data_id, trust=False) if data_id else None
    if frame is None:
        raise DataError(
            f"{record.name}:{record.version}: the reference data artifact is gone; re-register"
        )
    return statistics, frame


def monitor(
    ref: str,
    *,
    data: pd.DataFrame | None = None,
    since: float | None = None,
    window: int | float | None = None,
    window_in_seconds: bool = False,
    thresholds: DriftThresholds | None = None,
    ws: Workspace | None = None,
    store: bool = True,
    now: float | None = None,
) -> MonitorReport:
    """Evaluate drift, quality and performance of model `ref` on live data (or `data`).

    Args:
        ref: NAME, NAME@ALIAS or NAME:VERSION; the log rows are those that version served.
        data: a frame to compare instead of the prediction log (a `prediction` column is
            compared with the reference's predictions; `since` and a duration window need `at`).
        since: only rows at or after this time (seconds since the epoch).
        window: the newest N rows, or with `window_in_seconds` the N seconds before `now`.
        now: the time the window ends at (default: the current time).

    Raises:
        NotFoundError: the model, or its reference statistics, do not exist.
        EmptyWindowError: the window has no rows.
        ParameterError: a time window was asked of `data` without an `at` column.
    """
    ws = ws or open_workspace()
    now = time.time() if now is None else now
    thresholds = thresholds or DriftThresholds()
    registry = ModelRegistry(ws)
    record = registry.get(ref)
    statistics, reference = _reference(ws, registry, record)
    span = _window_of(since, window, window_in_seconds, now)
    live, described = _live(ws, record, data, span, ref)
    current = live.rename(columns=lambda c: c[len(INPUT) :] if c.startswith(INPUT) else c)
    features = list(statistics["columns"])
    warnings: list[str] = []
    vanished = [f for f in features if f not in current.columns]
    for name in vanished:
        warnings.append(f"column {name!r} is missing from the live data: counted as drifted")
    present = [f for f in features if f in current.columns]
    categorical = [f for f in present if statistics["columns"][f]["type"] not in ("int", "float")]
    results, verdict = dataset_drift(
        reference, current, present, categorical, thresholds, vanished=vanished
    )
    for result in results:
        if not result.statistics:
            side = "the reference" if result.reference_rows == 0 else "the live data"
            warnings.append(
                f"column {result.feature!r} has no usable values in {side} (all missing"
                + (" or not numbers" if result.kind == "numeric" else "")
                + "): not compared, counted as drifted"
            )
    prediction, why = _prediction_drift(statistics, current, thresholds)
    if why:
        warnings.append(why)
    performance = None
    if data is None:
        performance = _performance(ws, record, live, described)
    report = MonitorReport(
        id=uuid.uuid4().hex,
        model=record.name,
        version=record.version,
        at=now,
        window=described,
        drift=verdict,
        features=[r.to_json() for r in results],
        prediction=prediction,
        quality=_quality(statistics, current, present, vanished, results),
        performance=performance,
        warnings=warnings,
        thresholds=dataclasses.asdict(thresholds),
        status="drift"
        if verdict["drifted"]
        else ("lost_features" if verdict["lost_features"] else "ok"),
    )
    if store:
        MonitorStore(ws.metadata).add(_rows(report))
    return report


def performance(
    ref: str,
    *,
    since: float | None = None,
    window: int | float | None = None,
    window_in_seconds: bool = False,
    ws: Workspace | None = None,
    store: bool = True,
    now: float | None = None,
) -> MonitorReport:
    """The live metrics of `ref` on the labelled rows of a prediction-log window, alone.

    Needs no reference statistics: only the log and the feedback labels. Arguments and errors as
    `monitor`'s; the report's `drift` is None and `performance` None when no label has arrived.
    """
    ws = ws or open_workspace()
    now = time.time() if now is None else now
    record = ModelRegistry(ws).get(ref)
    span = _window_of(since, window, window_in_seconds, now)
    live, described = _live(ws, record, None, span, ref)
    report = MonitorReport(
        id=uuid.uuid4().hex,
        model=record.name,
        version=record.version,
        at=now,
        window=described,
        drift=None,
        features=[],
        prediction=None,
        quality={},
        performance=_performance(ws, record, live, described),
        warnings=[],
    )
    if store and report.performance is not None:
        MonitorStore(ws.metadata).add(_rows(report))
    return report


def _prediction_drift(
    statistics: dict[str, Any], current: pd.DataFrame, thresholds: DriftThresholds
) -> tuple[dict[str, Any] | None, str | None]:
    """The predictions' drift, or None and why it was not computed (None: nothing to say)."""
    import pandas as pd

    reference = statistics.get("prediction")
    if "prediction" not in current:
        return None, None  # a dataset without predictions: nothing to compare
    if reference is None:
        return None, "prediction drift not computed: the reference has no predictions"
    live = current["prediction"]
    result: FeatureDrift
    if reference.get("top") is not None:  # classes
        result = categorical_drift(
            "prediction", reference["top"], counts(live.astype(str)), thresholds
        )
    elif reference.get("histogram") is not None:  # numbers: a regression model
        values = pd.to_numeric(live, errors="coerce").to_numpy(dtype="float64")
        histogram = reference["histogram"]
        result = binned_drift(
            "prediction", histogram["edges"], histogram["counts"], values, thresholds
        )
    else:
        return None, "prediction drift not computed: the reference has no prediction distribution"
    if not result.statistics:
        return None, "prediction drift not computed: no usable prediction in the live data"
    return result.to_json(), None


def _quality(
    statistics: dict[str, Any],
    current: pd.DataFrame,
    present: list[str],
    vanished: list[str],
    results: list[FeatureDrift],
) -> dict[str, dict[str, Any]]:
    import pandas as pd

    quality: dict[str, dict[str, Any]] = {name: {"missing_column": True} for name in vanished}
    compared = {r.feature: bool(r.statistics) for r in results}
    for name in present:
        spec = statistics["columns"][name]
        series = current[name]
        entry: dict[str, Any] = {
            "missing_rate": float(series.isna().mean()),
            "reference_missing_rate": float(spec.get("missing_fraction", 0.0)),
        }
        if not compared.get(name, True):
            entry["not_compared"] = True
        if spec["type"] in ("int", "float") and spec.get("min") is not None:
            values = pd.to_numeric(series, errors="coerce")
            entry["out_of_range"] = int(((values < spec["min"]) | (values > spec["max"])).sum())
            entry["not_numeric"] = int((values.isna() & series.notna()).sum())
        elif spec.get("top") is not None and not spec.get("other"):  # the domain is complete
            seen = set(spec["top"])
            new = sorted({str(v) for v in series.dropna().unique()} - seen)
            entry["new_categories"] = new[:20]
            entry["new_category_rows"] = int((~series.dropna().astype(str).isin(seen)).sum())
        quality[name] = entry
    return quality


def _performance(
    ws: Workspace, record: ModelVersionRecord, live: pd.DataFrame, window: dict[str, Any]
) -> dict[str, Any] | None:
    """Live metrics on the window's labelled rows; labels come after their predictions, so only
    the feedback logged since the window's first row is read."""
    feedback = read_log(ws, record.name, "feedback", since=window["start"])
    rows = labelled(live, feedback)
    if rows.empty:
        return None
    y, predicted = rows["label"], rows["prediction"]
    from sklearn import metrics as m

    regression = record.signature.get("task") == "regression"
    if regression and _numeric(y) and _numeric(predicted):
        live_metrics = {
            "mae": float(m.mean_absolute_error(y, predicted)),
            "rmse": math.sqrt(float(m.mean_squared_error(y, predicted))),
        }
        if len(rows) > 1:
            live_metrics["r2"] = float(m.r2_score(y, predicted))
    else:
        y, predicted = y.astype(str), predicted.astype(str)
        live_metrics = {
            "accuracy": float(m.accuracy_score(y, predicted)),
            "f1": float(m.f1_score(y, predicted, average="macro", zero_division=0)),
        }
    registered = record.metrics
    changes = {k: v - registered[k] for k, v in live_metrics.items() if _number(registered.get(k))}
    worse = sorted(k for k, change in changes.items() if change * _sign(k) < 0)
    label = feedback[feedback["request_id"].isin(rows["request_id"])].iloc[-1]
    return {
        # with the window's newest row, what identifies the data this evaluation saw
        "newest_label": f"{label['request_id']}/{int(label['row'])}@{float(label['at'])!r}",
        "rows": len(rows),
        "metrics": live_metrics,
        "registered": registered,
        "change": changes,
        "higher_is_better": {k: HIGHER_IS_BETTER[k] for k in live_metrics},
        "worse": worse,
    }


def _sign(metric: str) -> int:
    return 1 if HIGHER_IS_BETTER.get(metric, True) else -1


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _numeric(series: Any) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_numeric_dtype(series.dtype))


def _rows(report: MonitorReport) -> list[MonitorResult]:
    window = report.window

    def row(kind: str, feature: str | None, metric: str, value: Any, drifted: Any = None) -> Any:
        number = None if value is None or not math.isfinite(float(value)) else float(value)
        return MonitorResult(
            report.id, report.model, report.version, report.at, window["start"], window["end"],
            window["rows"], kind, feature, metric, number, drifted,
        )  # fmt: skip

    rows = []
    if report.drift is not None:
        drift = report.drift
        share = row("drift", None, "drift_share", drift["share"], drift["drifted"])
        # the thresholds it was judged by, for plots that draw the line where it really was
        rows.append(
            dataclasses.replace(share, details=json.dumps({"thresholds": report.thresholds}))
        )
    for feature in report.features:
        for metric, value in feature["statistics"].items():
            rows.append(row("drift", feature["feature"], metric, value, feature["drifted"]))
        if feature["histogram"]:  # what the report compared, for the dashboard's plots
            kept = dataclasses.replace(
                row("histogram", feature["feature"], "histogram", None, feature["drifted"]),
                details=json.dumps({"kind": feature["kind"], **feature["histogram"]}),
            )
            rows.append(kept)
    if report.prediction is not None:
        for metric, value in report.prediction["statistics"].items():
            rows.append(row("prediction", None, metric, value, report.prediction["drifted"]))
    for feature, entry in report.quality.items():
        for metric in ("missing_rate", "out_of_range", "not_numeric", "new_category_rows"):
            if metric in entry:
                rows.append(row("quality", feature, metric, entry[metric]))
        for flag in ("missing_column", "not_compared"):
            if entry.get(flag):
                rows.append(row("quality", feature, flag, 1.0))
    if report.performance is not None:
        for metric, value in report.performance["metrics"].items():
            rows.append(row("performance", None, metric, value))
    for warning in report.warnings:
        kept = dataclasses.replace(
            row("warning", _feature_of(warning), "warning", None),
            details=json.dumps({"message": warning}),
        )
        rows.append(kept)
    return rows


def _feature_of(warning: str) -> str | None:
    """The feature a warning names (`column 'x' ...`), or None."""
    if warning.startswith("column '"):
        return warning[len("column '") :].partition("'")[0] or None
    return None
