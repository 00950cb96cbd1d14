"""`monitor`: the reference captured at registration, drift, quality, performance, the time series.

Every test registers churn:1 through a real pipeline run (`trained`), then compares a frame given
as `data=` or the prediction log written by the real `PredictionLog` with its reference.
"""

from __future__ import annotations

import html.parser
import json
import time

import pandas as pd
import pytest
from tests.monitoring.conftest import CATEGORICAL, FEATURES, NUMERIC, PLANS, REGIONS

from conveyor.exceptions import DataError, EmptyWindowError, NotFoundError, ParameterError
from conveyor.metadata.monitor_store import MonitorStore
from conveyor.monitoring.html import render
from conveyor.monitoring.monitor import monitor, performance
from conveyor.registry import ModelRegistry
from conveyor.serving.predlog import PredictionLog


def drifted(report) -> set[str]:
    return {f["feature"] for f in report.features if f["drifted"]}


def test_reference_statistics_are_captured_at_registration(trained) -> None:
    registry = ModelRegistry(trained)
    record = registry.get("churn@production")
    found = registry.models.reference("churn", record.version)
    assert found is not None
    statistics, data_id = found
    assert data_id == record.data["train.data"]  # the training split: two-sample tests
    assert statistics["rows"] == 3000  # 75% of 4,000
    columns = statistics["columns"]
    assert list(columns) == FEATURES  # the model's features, not the label
    for name in NUMERIC:
        spec = columns[name]
        assert spec["type"] in ("int", "float") and spec["missing_fraction"] == 0.0
        assert spec["min"] <= spec["quantiles"]["0.5"] <= spec["max"]
        assert sum(spec["histogram"]["counts"]) == 3000
    assert columns["age"]["mean"] == pytest.approx(40, abs=1)
    assert set(columns["plan"]["top"]) == set(PLANS) and columns["plan"]["other"] == 0
    assert set(columns["region"]["top"]) == set(REGIONS)
    assert set(statistics["prediction"]["top"]) <= {"yes", "no"}  # the model's outputs on it
    assert sum(statistics["prediction"]["top"].values()) == 3000
    assert set(statistics["target"]["top"]) == {"yes", "no"}


def test_unshifted_data_does_not_drift(trained, live) -> None:
    report = monitor("churn", data=live(), ws=trained)
    assert report.drift == {
        "share": 0.0, "drifted": False, "features": 5, "compared": 5, "drifted_features": [],
        "lost_features": [],
    }  # fmt: skip
    assert report.status == "ok" and report.thresholds["share"] == 0.5
    assert report.window == {"source": "data", "rows": 3000, "start": None, "end": None}
    kinds = {f["feature"]: f["kind"] for f in report.features}
    assert kinds == dict.fromkeys(NUMERIC, "numeric") | dict.fromkeys(CATEGORICAL, "categorical")
    for feature in report.features:
        stats = feature["statistics"]
        if feature["kind"] == "numeric":
            assert stats["psi"] < 0.05 and stats["ks_pvalue"] > 0.01
        else:
            assert stats["js"] < 0.05 and stats["chi2_pvalue"] > 0.01
    assert report.prediction is None and report.performance is None  # data=: no log
    assert report.warnings == []
    assert {n: q["new_category_rows"] for n, q in report.quality.items() if n in CATEGORICAL} == {
        "plan": 0, "region": 0,
    }  # fmt: skip
    assert all(report.quality[n]["out_of_range"] < 30 for n in NUMERIC)  # the tails: a few


def test_shifted_features_drift_and_the_others_do_not(trained, live) -> None:
    some = monitor("churn", data=live(shift=("age", "plan")), ws=trained)
    assert drifted(some) == {"age", "plan"}
    assert some.drift["share"] == pytest.approx(0.4) and not some.drift["drifted"]
    by_name = {f["feature"]: f for f in some.features}
    assert by_name["age"]["statistics"]["psi"] >= 0.2
    assert by_name["age"]["statistics"]["ks_pvalue"] < 1e-6
    assert by_name["plan"]["statistics"]["js"] >= 0.1
    assert by_name["plan"]["statistics"]["chi2_pvalue"] < 1e-6
    assert by_name["income"]["statistics"]["psi"] < 0.05
    most = monitor("churn", data=live(shift=("age", "tenure", "plan")), ws=trained)
    assert drifted(most) == {"age", "tenure", "plan"}
    assert most.drift["drifted"] and most.drift["drifted_features"] == ["age", "tenure", "plan"]
    assert json.loads(json.dumps(most.to_json())) == most.to_json()  # plain JSON: no numpy
    assert {type(f["drifted"]) for f in most.features} == {bool}


def test_new_categories_and_out_of_range_values_are_quality_findings(trained, live) -> None:
    frame = live(1000)
    frame.loc[:9, "region"] = "atlantis"
    frame.loc[10:14, "age"] = 500.0
    frame.loc[15:16, "tenure"] = -3
    frame.loc[20:59, "income"] = None
    report = monitor("churn", data=frame, ws=trained)
    quality = report.quality
    assert quality["region"]["new_categories"] == ["atlantis"]
    assert quality["region"]["new_category_rows"] == 10
    assert quality["plan"]["new_categories"] == [] and quality["plan"]["new_category_rows"] == 0
    assert quality["age"]["out_of_range"] == 5
    assert quality["tenure"]["out_of_range"] == 2
    assert quality["income"]["missing_rate"] == pytest.approx(0.04)
    assert quality["income"]["reference_missing_rate"] == 0.0
    region = next(f for f in report.features if f["feature"] == "region")
    assert region["histogram"]["new"] == ["atlantis"]


def test_a_vanished_column_counts_as_drifted_and_is_recorded(trained, live) -> None:
    report = monitor("churn", data=live().drop(columns=["income"]), ws=trained)
    assert report.warnings == ["column 'income' is missing from the live data: counted as drifted"]
    assert report.quality["income"] == {"missing_column": True}
    assert [f["feature"] for f in report.features] == ["age", "tenure", "plan", "region"]
    assert report.drift["features"] == 5 and report.drift["compared"] == 4  # still counted
    assert report.drift["lost_features"] == ["income"] and report.drift["share"] == 0.2
    assert not report.drift["drifted"] and report.status == "lost_features"
    stored = MonitorStore(trained.metadata).latest("churn")
    assert {r.feature for r in stored if r.kind == "drift"} == {None, *FEATURES} - {"income"}
    [missing] = [r for r in stored if r.kind == "quality" and r.metric == "missing_column"]
    assert (missing.feature, missing.value) == ("income", 1.0)
    [warning] = [r for r in stored if r.kind == "warning"]
    assert warning.feature == "income"
    assert json.loads(warning.details) == {"message": report.warnings[0]}


def test_a_window_without_any_comparable_feature_is_drift_not_a_pass(trained, live) -> None:
    gone = monitor("churn", data=live().drop(columns=FEATURES).assign(other=1), ws=trained)
    assert gone.drift["share"] == 1.0 and gone.drift["drifted"] and gone.status == "drift"
    assert gone.drift["compared"] == 0 and gone.drift["lost_features"] == FEATURES
    assert gone.drift["drifted_features"] == [] and len(gone.warnings) == 5
    text = live().assign(age="old", income="rich", tenure="long", plan=None, region=None)
    unusable = monitor("churn", data=text, ws=trained)
    assert unusable.drift["share"] == 1.0 and unusable.status == "drift"
    assert {f["feature"] for f in unusable.features} == set(FEATURES)  # tried, nothing usable
    assert all(unusable.quality[name]["not_compared"] for name in FEATURES)


def test_a_column_with_nothing_to_compare_is_a_warning_and_a_quality_finding(trained, live) -> None:
    frame = live(1000).assign(age="old", income=None)
    frame["tenure"] = frame["tenure"].astype(object)
    frame.loc[:99, "tenure"] = "soon"  # a tenth of a column that is numbers otherwise
    report = monitor("churn", data=frame, ws=trained)
    assert report.warnings == [
        "column 'age' has no usable values in the live data (all missing or not numbers): "
        "not compared, counted as drifted",
        "column 'income' has no usable values in the live data (all missing or not numbers): "
        "not compared, counted as drifted",
    ]
    assert report.drift["lost_features"] == ["age", "income"] and report.drift["share"] == 0.4
    assert report.status == "lost_features"
    quality = report.quality
    assert quality["age"]["not_numeric"] == 1000 and quality["age"]["missing_rate"] == 0.0
    assert quality["age"]["not_compared"] and "not_compared" not in quality["tenure"]
    assert quality["income"]["missing_rate"] == 1.0 and quality["income"]["not_numeric"] == 0
    assert quality["tenure"]["not_numeric"] == 100
    by_name = {f["feature"]: f for f in report.features}
    assert by_name["age"]["statistics"] == {} and not by_name["age"]["drifted"]
    assert by_name["tenure"]["current_rows"] == 900  # the numbers among them are still compared
    store = MonitorStore(trained.metadata)
    assert [r.value for r in store.series("churn", "not_numeric", feature="age")] == [1000.0]
    assert [r.value for r in store.series("churn", "not_compared", feature="income")] == [1.0]
    assert {r.feature for r in store.series("churn", "warning")} == {"age", "income"}
    page = render(report.to_json(), [])
    assert "1000 values that are not numbers" in page and "not compared" in page
    assert "FEATURES LOST" in page


def test_an_empty_window_is_a_clear_error(trained, live) -> None:
    with pytest.raises(EmptyWindowError, match=r"^monitor churn: no rows in the data$"):
        monitor("churn", data=live().iloc[0:0], ws=trained)
    with pytest.raises(
        EmptyWindowError,
        match=r"no rows in the prediction log \(rows served by churn:1\); send traffic",
    ):
        monitor("churn", ws=trained)  # nothing served yet
    assert MonitorStore(trained.metadata).series("churn") == []


def test_an_empty_window_is_a_data_error_of_the_exceptions_module() -> None:
    assert issubclass(EmptyWindowError, DataError)
    assert EmptyWindowError.__module__ == "conveyor.exceptions"


def test_a_duration_window_counts_back_from_now(trained, live) -> None:
    _serve(trained, live(400), ["no"] * 400, requests=4)
    served = monitor("churn", ws=trained, window=1800, window_in_seconds=True)
    assert served.window["rows"] == 400 and served.window["span"] == "the last 30m"
    later = time.time() + 3 * 86400  # three days after the traffic stopped
    with pytest.raises(EmptyWindowError, match="no rows in the last 30m of the prediction log"):
        monitor("churn", ws=trained, window=1800, window_in_seconds=True, now=later)
    wide = monitor("churn", ws=trained, window=4 * 86400, window_in_seconds=True, now=later)
    assert wide.window["rows"] == 400 and wide.window["since"] == pytest.approx(later - 4 * 86400)


def test_a_time_window_of_data_without_times_is_refused(trained, live) -> None:
    for window in ({"since": time.time() - 60}, {"window": 60, "window_in_seconds": True}):
        with pytest.raises(ParameterError, match="the data has no 'at' column"):
            monitor("churn", data=live(), ws=trained, **window)
    timed = live(100).assign(at=time.time() - 120)
    timed.loc[:29, "at"] = time.time()
    assert monitor("churn", data=timed, ws=trained, since=time.time() - 60).window["rows"] == 30
    assert monitor("churn", data=timed, ws=trained, window=10).window["rows"] == 10


def test_a_model_registered_without_reference_is_a_clear_error(trained, live) -> None:
    registry = ModelRegistry(trained)
    assert registry.register("bare", registry.get("churn").artifact_id).version == 1
    with pytest.raises(NotFoundError, match="bare:1 has no reference statistics"):
        monitor("bare", data=live(), ws=trained)


def test_results_are_stored_as_a_time_series(trained, live) -> None:
    first = monitor("churn", data=live(), ws=trained)
    second = monitor("churn", data=live(shift=("age", "tenure", "plan")), ws=trained)
    store = MonitorStore(trained.metadata)
    share = store.series("churn", "drift_share")
    assert [(r.report_id, r.value, r.drifted) for r in share] == [
        (first.id, 0.0, False), (second.id, pytest.approx(0.6), True),
    ]  # fmt: skip
    assert share[0].at <= share[1].at and share[0].rows == share[1].rows == 3000
    age = store.series("churn", "psi", feature="age")
    assert [r.drifted for r in age] == [False, True] and age[1].value > age[0].value
    quality = store.series("churn", "out_of_range", kind="quality")
    assert {r.feature for r in quality} == set(NUMERIC)
    assert store.series("churn", since=second.at) == store.latest("churn")
    assert {r.report_id for r in store.latest("churn")} == {second.id}
    not_stored = monitor("churn", data=live(), ws=trained, store=False)
    assert not_stored.id not in {r.report_id for r in store.series("churn")}


def _serve(
    ws,
    frame: pd.DataFrame,
    predictions: list,
    requests: int,
    *,
    version: int = 1,
    model: str = "churn",
    segments: bool = False,
) -> list[str]:
    """Log `frame` as `requests` requests of equal size to `model`:`version`, as `conveyor
    serve` does; with `segments`, each request in a log segment of its own."""
    log = PredictionLog(ws, model)
    size = len(frame) // requests
    ids = []
    features = [c for c in frame.columns if c != "prediction"]
    for i in range(requests):
        chunk = frame.iloc[i * size : (i + 1) * size]
        ids.append(f"req-{version}-{i}-{time.time_ns()}")
        columns = {name: chunk[name].tolist() for name in features}
        predicted = predictions[i * size : (i + 1) * size]
        log.record(ids[-1], version, 2.5, columns, len(chunk), predicted)
        if segments:
            log.flush()
    log.close()
    return ids


def test_performance_from_feedback_labels_in_the_prediction_log(trained, live) -> None:
    registry = ModelRegistry(trained)
    model = registry.load("churn:1")
    frame = live(600)
    predicted = model.predict(frame).tolist()
    ids = _serve(trained, frame, predicted, requests=6)
    log = PredictionLog(trained, "churn")  # labels arrive later, through /feedback
    flip = {"yes": "no", "no": "yes"}
    log.feedback([(ids[0], row, predicted[row]) for row in range(100)])  # all right
    log.feedback([(ids[1], row, flip[predicted[100 + row]]) for row in range(100)])  # all wrong
    log.close()

    report = monitor("churn", ws=trained)
    assert report.window["source"] == "prediction log" and report.window["rows"] == 600
    assert report.window["start"] <= report.window["end"]
    assert report.window["served_by"] == "churn:1" and report.window["newest"] == f"{ids[-1]}/99"
    assert report.drift["share"] == 0.0 and report.warnings == []
    assert report.prediction is not None and not report.prediction["drifted"]
    perf = report.performance
    registered = registry.get("churn:1").metrics
    assert perf["rows"] == 200
    assert perf["metrics"]["accuracy"] == pytest.approx(0.5)
    assert perf["change"]["accuracy"] == pytest.approx(0.5 - registered["accuracy"])
    assert perf["registered"] == registered
    assert perf["higher_is_better"] == {"accuracy": True, "f1": True}
    assert perf["worse"] == ["accuracy", "f1"]  # both fell below what it was registered with
    stored = MonitorStore(trained.metadata).series("churn", "accuracy", kind="performance")
    assert [r.value for r in stored] == [pytest.approx(0.5)]
    assert monitor("churn", ws=trained, window=100).window["rows"] == 100
    later = report.window["end"] + 60
    with pytest.raises(EmptyWindowError, match=r"no rows since .* in the prediction log"):
        monitor("churn", ws=trained, since=later)
    alone = performance("churn", ws=trained)  # the metrics alone: no drift, same numbers
    assert alone.drift is None and alone.features == [] and alone.performance == perf


def test_drifted_traffic_in_the_log_is_found(trained, live) -> None:
    frame = live(2000, shift=("age", "tenure", "plan"))
    predicted = ModelRegistry(trained).load("churn:1").predict(frame).tolist()
    _serve(trained, frame, predicted, requests=4)
    report = monitor("churn", ws=trained)
    assert drifted(report) == {"age", "tenure", "plan"} and report.drift["drifted"]
    assert report.prediction["drifted"]  # older, cheaper customers: the model says "no" far more
    assert report.performance is None  # no labels yet


class _Page(html.parser.HTMLParser):
    """What the report test checks: tags, URLs in attributes, and the feature of each card."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.urls: list[str] = []
        self.cards: dict[str, int] = {}  # card title → <svg> elements in it
        self._card: str | None = None
        self._depth = 0
        self._title = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append(tag)
        self.urls += [v for _, v in attrs if v and ("//" in v or v.startswith("data:"))]
        if tag == "div" and ("class", "card") in attrs:
            self._card, self._depth = "", 0
        if self._card is not None:
            self._depth += tag == "div"
            self._title = tag == "b" and not self._card
            if tag == "svg":
                self.cards[self._card] = self.cards.get(self._card, 0) + 1

    def handle_endtag(self, tag: str) -> None:
        if self._card is not None and tag == "div":
            self._depth -= 1
            if self._depth == 0:
                self.cards.setdefault(self._card, 0)
                self._card = None
        self._title = False

    def handle_data(self, data: str) -> None:
        if self._title:
            self._card = data


def test_the_html_report_is_self_contained_with_a_plot_per_drifted_feature(trained, live) -> None:
    monitor("churn", data=live(), ws=trained)
    report = monitor("churn", data=live(shift=("age", "tenure", "plan")), ws=trained)
    history = MonitorStore(trained.metadata).series("churn", "drift_share")
    page = render(report.to_json(), history)
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page.lower() and "<link" not in page.lower()
    parsed = _Page()
    parsed.feed(page)
    assert parsed.urls == [] and "img" not in parsed.tags and "iframe" not in parsed.tags
    assert parsed.cards == {"age": 1, "tenure": 1, "plan": 1}  # one plot per drifted feature
    assert parsed.tags.count("svg") == 3 + 1  # and the drift share over time
    assert page.count("<circle") == 2  # two evaluations in the history
    assert "DRIFT" in page and "60% of 5 features drifted" in page
    everything = _Page()
    everything.feed(render(report.to_json(), history, all_features=True))
    assert set(everything.cards) == set(FEATURES) and set(everything.cards.values()) == {1}
