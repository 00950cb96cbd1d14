"""`monitor`: compare a model's live data with its reference; store and return the verdicts.

Live data is a window of the prediction log (`since` a time, the last `window` rows or seconds),
or any frame given directly. The reference is what `register` captured: the training data's
statistics and the training data itself (for the two-sample tests). The evaluation covers data
drift per feature, prediction drift, data quality (missing rates, values outside the reference
range, new categories) and — when feedback labels have arrived — the model's live metrics against
the ones it was registered with. Every number is stored as a time series (`MonitorStore`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
import uuid
from typing import TYPE_CHECKING, Any

from conveyor.exceptions import DataError, NotFoundError
from conveyor.metadata.model_store import ModelVersionRecord
from conveyor.metadata.monitor_store import MonitorResult, MonitorStore
from conveyor.monitoring.drift import DriftThresholds, categorical_drift, counts, dataset_drift
from conveyor.predictions import INPUT, labelled, read_log
from conveyor.registry import ModelRegistry
from conveyor.workspace import Workspace, load_recorded, open_workspace

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["MonitorReport", "monitor"]

_HIGHER_BETTER = {"accuracy": True, "f1": True, "r2": True, "mae": False, "rmse": False}


@dataclasses.dataclass
class MonitorReport:
    """What one evaluation found; `to_json()` is what `--json` prints."""

    id: str
    model: str
    version: int
    at: float
    window: dict[str, Any]
    drift: dict[str, Any]
    features: list[dict[str, Any]]
    prediction: dict[str, Any] | None
    quality: dict[str, dict[str, Any]]
    performance: dict[str, Any] | None
    warnings: list[str]

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _window(
    frame: pd.DataFrame, since: float | None, window: int | float | None, seconds: bool
) -> pd.DataFrame:
    if since is not None and "at" in frame:
        frame = frame[frame["at"] >= since]
    if window is not None:
        if seconds and "at" in frame and len(frame):
            frame = frame[frame["at"] >= frame["at"].max() - float(window)]
        elif not seconds:
            frame = frame.tail(int(window))
    return frame


def _reference(
    ws: Workspace, registry: ModelRegistry, record: ModelVersionRecord
) -> tuple[dict[str, Any], pd.DataFrame | None]:
    found = registry.models.reference(record.name, record.version)
    if found is None:
        raise NotFoundError(
            f"{record.name}:{record.version} has no reference statistics (register it with "
            "conveyor.components.register, which captures them from the training data)"
        )
    statistics, data_id = found
    frame = load_recorded(ws, data_id, trust=False) if data_id else None
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
) -> MonitorReport:
    """Evaluate drift, quality and performance of model `ref` on live data (or `data`)."""
    ws = ws or open_workspace()
    registry = ModelRegistry(ws)
    record = registry.get(ref)
    statistics, reference = _reference(ws, registry, record)
    features = list(statistics["columns"])
    warnings: list[str] = []
    log = None
    if data is None:
        log = _window(read_log(ws, record.name, since=since), None, window, window_in_seconds)
        current = log.rename(columns=lambda c: c[len(INPUT) :] if c.startswith(INPUT) else c)
        source = "prediction log"
    else:
        current = _window(data, since, window, window_in_seconds)
        source = "data"
    if current.empty:
        raise DataError(
            f"monitor {ref}: the window has no rows ({source}"
            + (f" since {time.ctime(since)}" if since else "")
            + "); send traffic, or widen --since / --window"
        )
    vanished = [f for f in features if f not in current.columns]
    for name in vanished:
        warnings.append(f"column {name!r} is missing from the live data")
    present = [f for f in features if f in current.columns]
    categorical = [f for f in present if statistics["columns"][f]["type"] not in ("int", "float")]
    if reference is None:
        raise DataError(f"monitor {ref}: the reference data artifact is gone; re-register")
    results, verdict = dataset_drift(reference, current, present, categorical, thresholds)
    for result in results:
        if not result.statistics and result.current_rows == 0:
            warnings.append(
                f"column {result.feature!r} has no usable values in the live data (all missing"
                + (" or not numbers" if result.kind == "numeric" else "")
                + "): not compared"
            )
    prediction = _prediction_drift(statistics, current, thresholds) if log is not None else None
    quality = _quality(statistics, current, present, vanished)
    performance = _performance(ws, record, log, since) if log is not None else None
    report = MonitorReport(
        id=uuid.uuid4().hex,
        model=record.name,
        version=record.version,
        at=time.time(),
        window={
            "source": source,
            "rows": len(current),
            "start": float(current["at"].min()) if "at" in current and len(current) else None,
            "end": float(current["at"].max()) if "at" in current and len(current) else None,
        },
        drift=verdict,
        features=[r.to_json() for r in results],
        prediction=prediction,
        quality=quality,
        performance=performance,
        warnings=warnings,
    )
    if store:
        MonitorStore(ws.metadata).add(_rows(report))
    return report


def _prediction_drift(
    statistics: dict[str, Any], current: pd.DataFrame, thresholds: DriftThresholds | None
) -> dict[str, Any] | None:
    reference = statistics.get("prediction")
    if reference is None or "prediction" not in current or reference.get("top") is None:
        return None  # numeric predictions: their drift shows in the features that drive them
    live = counts(current["prediction"].astype(str))
    result = categorical_drift(
        "prediction", reference["top"], live, thresholds or DriftThresholds()
    )
    return result.to_json()


def _quality(
    statistics: dict[str, Any], current: pd.DataFrame, present: list[str], vanished: list[str]
) -> dict[str, dict[str, Any]]:
    import pandas as pd

    quality: dict[str, dict[str, Any]] = {name: {"missing_column": True} for name in vanished}
    for name in present:
        spec = statistics["columns"][name]
        series = current[name]
        entry: dict[str, Any] = {
            "missing_rate": float(series.isna().mean()),
            "reference_missing_rate": float(spec.get("missing_fraction", 0.0)),
        }
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
    ws: Workspace, record: ModelVersionRecord, log: pd.DataFrame, since: float | None
) -> dict[str, Any] | None:
    rows = labelled(log[log["version"] == record.version], read_log(ws, record.name, "feedback"))
    if rows.empty:
        return None
    y, predicted = rows["label"], rows["prediction"]
    from sklearn import metrics as m

    regression = record.signature.get("task") == "regression"
    if regression and _numeric(y) and _numeric(predicted):
        live = {
            "mae": float(m.mean_absolute_error(y, predicted)),
            "rmse": math.sqrt(float(m.mean_squared_error(y, predicted))),
        }
    else:
        y, predicted = y.astype(str), predicted.astype(str)
        live = {
            "accuracy": float(m.accuracy_score(y, predicted)),
            "f1": float(m.f1_score(y, predicted, average="macro", zero_division=0)),
        }
    changes = {
        name: value - record.metrics[name] for name, value in live.items() if name in record.metrics
    }
    return {"rows": len(rows), "metrics": live, "registered": record.metrics, "change": changes}


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

    rows = [row("drift", None, "drift_share", report.drift["share"], report.drift["drifted"])]
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
    if report.performance is not None:
        for metric, value in report.performance["metrics"].items():
            rows.append(row("performance", None, metric, value))
    return rows
