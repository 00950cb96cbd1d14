"""`monitor` on the prediction log: only the version monitored, only the window's segments, the
predictions of a regression model and of a data file, live regression metrics, the report's
history. Logs are written by the real `PredictionLog`."""

from __future__ import annotations

import html.parser
import time

import numpy as np
from tests.monitoring.conftest import churn, customers
from tests.monitoring.test_monitor import _serve

import conveyor.predictions
from conveyor.automation.triggers import CheckContext, PerformanceDrop
from conveyor.metadata.monitor_store import MonitorStore
from conveyor.monitoring.html import render
from conveyor.monitoring.monitor import monitor, performance
from conveyor.predictions import read_log
from conveyor.registry import ModelRegistry


def test_only_the_rows_the_monitored_version_served_count(trained, live, project) -> None:
    source = project / "more.csv"
    customers(4000, seed=5).to_csv(source, index=False)
    assert churn.run(source=str(source), settings=trained.settings).output()["version"] == 2
    _serve(trained, live(700, shift=("age", "tenure", "plan")), ["no"] * 700, 7, version=1)
    _serve(trained, live(100, seed=3), ["no"] * 100, 1, version=2)
    second = monitor("churn:2", ws=trained)
    assert second.window["rows"] == 100 and second.window["served_by"] == "churn:2"
    assert not second.drift["drifted"]  # v1's drifted rows are not v2's
    first = monitor("churn:1", ws=trained)
    assert first.window["rows"] == 700 and first.drift["drifted"]
    assert monitor("churn:1", ws=trained, window=50).window["rows"] == 50
    assert set(read_log(trained, "churn", version=2, last=30)["version"]) == {2}

    # the report's history: the drift share of the version reported on, against its threshold
    again = monitor("churn:2", ws=trained)
    history = MonitorStore(trained.metadata).series("churn")
    assert {r.version for r in history} == {1, 2}
    page = render(again.to_json(), history)
    assert page.count("<circle") == 2  # churn:2's two evaluations, not churn:1's
    assert "dataset drift at 0.5" in page and "served by churn:2" in page
    strict = monitor("churn:2", ws=trained, thresholds=_share(0.25))
    assert "dataset drift at 0.25" in render(strict.to_json(), history)


def _share(share: float):
    from conveyor.monitoring.drift import DriftThresholds

    return DriftThresholds(share=share)


def test_a_window_reads_only_the_segments_it_needs(trained, live, monkeypatch) -> None:
    import types

    from conveyor.serving import predlog

    now = time.time()
    # a request a minute until now; each read twice: when recorded, when its segment is written
    minutes = iter(now - 60 * (10 - i // 2) for i in range(20))
    monkeypatch.setattr(predlog, "time", types.SimpleNamespace(time=lambda: next(minutes)))
    _serve(trained, live(1000), ["no"] * 1000, requests=10, segments=True)  # ten segments
    monkeypatch.undo()
    loaded: list[str] = []
    real = conveyor.predictions.load_recorded

    def counting(ws, artifact_id, **kwargs):
        loaded.append(artifact_id)
        return real(ws, artifact_id, **kwargs)

    monkeypatch.setattr(conveyor.predictions, "load_recorded", counting)
    newest = monitor("churn", ws=trained, window=150)
    assert newest.window["rows"] == 150 and len(loaded) == 2  # the newest two of ten
    loaded.clear()
    recent = monitor("churn", ws=trained, window=150, window_in_seconds=True, now=now)
    assert recent.window["rows"] == 200 and len(loaded) == 2  # two minutes and a half
    loaded.clear()
    assert len(read_log(trained, "churn")) == 1000 and len(loaded) == 10


def test_a_data_file_with_predictions_gets_prediction_drift(trained, live) -> None:
    model = ModelRegistry(trained).load("churn:1")
    frame = live(2000, shift=("age", "tenure", "plan"))
    report = monitor("churn", data=frame.assign(prediction=model.predict(frame)), ws=trained)
    assert report.prediction is not None and report.prediction["drifted"]
    assert report.prediction["kind"] == "categorical"
    plain = monitor("churn", data=frame, ws=trained)
    assert plain.prediction is None and plain.warnings == []  # no column: nothing to compare


def test_a_regression_models_predictions_drift_and_its_live_errors(regressor) -> None:
    registry = ModelRegistry(regressor)
    record = registry.get("income:1")
    assert record.signature["task"] == "regression"
    model = registry.load("income:1")
    rng = np.random.default_rng(11)
    same = customers(600, seed=12)[["age", "tenure"]]
    truth = 1000 * same["age"] + 200 * same["tenure"] + rng.normal(0, 2000, len(same))
    ids = _serve(regressor, same, model.predict(same).tolist(), 6, model="income")
    report = monitor("income", ws=regressor)
    assert report.prediction is not None and report.prediction["kind"] == "numeric"
    assert not report.prediction["drifted"] and report.prediction["statistics"]["psi"] < 0.1
    assert report.performance is None  # no labels yet

    from conveyor.serving.predlog import PredictionLog

    log = PredictionLog(regressor, "income")
    log.feedback([(ids[i // 100], i % 100, float(truth.iloc[i])) for i in range(600)])
    log.close()
    perf = performance("income", ws=regressor).performance
    assert set(perf["metrics"]) == {"mae", "rmse", "r2"}
    assert perf["higher_is_better"] == {"mae": False, "rmse": False, "r2": True}
    assert 1000 < perf["metrics"]["rmse"] < 3500 and perf["metrics"]["r2"] > 0.5

    def check(condition: PerformanceDrop):  # a trigger's view: errors above, scores below
        condition.validate()
        ctx = CheckContext(time.time(), time.time(), None, None, 0.0, regressor)
        return condition.check(ctx)

    rising = check(PerformanceDrop("income", metric="rmse", above=500.0, min_rows=100))
    assert rising is not None and "live rmse = " in rising.reason and "> 500.0" in rising.reason
    assert check(PerformanceDrop("income", metric="rmse", above=1e6, min_rows=100)) is None
    assert check(PerformanceDrop("income", metric="r2", below=0.99, min_rows=100)) is not None
    assert check(PerformanceDrop("income", metric="mae", above=1e6, min_rows=100)) is None
    no_accuracy = CheckContext(time.time(), time.time(), None, None, 0.0, regressor)
    assert PerformanceDrop("income", below=0.9).check(no_accuracy) is None
    assert no_accuracy.notes == ["income:1 has no live accuracy (a regression model)"]

    older = customers(600, seed=13, shift=("age",))[["age", "tenure"]]  # ten years older
    _serve(regressor, older, model.predict(older).tolist(), 6, model="income")
    moved = monitor("income", ws=regressor, window=600)
    assert moved.prediction["drifted"] and moved.prediction["statistics"]["psi"] > 0.2
    stored = MonitorStore(regressor.metadata).series("income", "psi", kind="prediction")
    assert len(stored) == 2 and stored[-1].drifted


class _Svg(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.titles: list[str] = []
        self._h2 = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self._h2 = tag == "h2"

    def handle_data(self, data: str) -> None:
        if self._h2:
            self.titles.append(data)
            self._h2 = False


def test_the_report_plots_each_live_metric_over_time(trained, live) -> None:
    model = ModelRegistry(trained).load("churn:1")
    frame = live(400)
    predicted = model.predict(frame).tolist()
    ids = _serve(trained, frame, predicted, requests=4)
    from conveyor.serving.predlog import PredictionLog

    log = PredictionLog(trained, "churn")
    log.feedback([(ids[0], row, predicted[row]) for row in range(100)])
    log.close()
    first = monitor("churn", ws=trained)
    second = monitor("churn", ws=trained)
    page = render(second.to_json(), MonitorStore(trained.metadata).series("churn"))
    parsed = _Svg()
    parsed.feed(page)
    over_time = [t for t in parsed.titles if "over time" in t]
    assert over_time == ["Drift share over time", "Live accuracy over time", "Live f1 over time"]
    assert page.count("registered ") >= 2  # each metric against its registered value
    assert first.performance["metrics"] == second.performance["metrics"]
