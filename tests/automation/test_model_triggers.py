"""Drift and PerformanceDrop triggers against a real registered model and a prediction log written
by the real `PredictionLog`: over the line fires once per event — the rows evaluated — however long
the same rows stay in the log; under it does not; too little data is a note; problems with the
live data are recorded warnings; a duplicate event, seen by a second or a restarted watcher, is
one run.

The duplicate tests check the claim itself: they tick past the cooldown, so that only the
event's identity (its key, claimed once in the metadata store) stands between the check and a
second run."""

from __future__ import annotations

import time

import pytest
from tests.automation.conftest import Watchers, penguins, release, serve

from conveyor.automation import Drift, PerformanceDrop, Trigger
from conveyor.exceptions import ConfigError
from conveyor.metadata.monitor_store import MonitorStore
from conveyor.registry import ModelRegistry

DRIFTED = {"bill_length_mm", "flipper_length_mm", "body_mass_g"}


def on_drift(cooldown_s: float = 600, **condition) -> Trigger:
    spec = {"threshold": 0.3, "window": "300", "min_rows": 100} | condition
    return Trigger(
        "retrain-on-drift",
        "flow.py:flow",
        Drift("penguins@production", **spec),
        cooldown_s=cooldown_s,
        check_every_s=1,
    )


def on_drop(**condition) -> Trigger:
    spec = {"metric": "accuracy", "below": 0.9, "min_rows": 20} | condition
    return Trigger(
        "retrain-on-drop",
        "flow.py:flow",
        PerformanceDrop("penguins@production", **spec),
        cooldown_s=600,
        check_every_s=1,
    )


def fired(watchers: Watchers) -> list:
    return [e for e in watchers.events() if e.status != "skipped"]


def test_drift_over_the_threshold_fires_naming_the_drifted_features(
    model, flow_file, watchers
) -> None:
    serve(model, penguins(shift=True))
    watcher = watchers(on_drift())
    [event] = watcher.tick(now=time.time())
    watchers.settle(watcher)
    assert event.key.startswith("penguins:1:")
    listed = event.reason.split("(drifted: ")[1].rstrip(")").split(", ")
    assert set(listed) == DRIFTED
    assert event.reason.startswith(
        "penguins:1 drift_share = 0.75 >= 0.3 over 300 live rows it served"
    )
    [done] = fired(watchers)
    assert done.status == "succeeded" and done.run_id is not None


def test_a_feature_metric_over_its_threshold_fires(model, flow_file, watchers) -> None:
    serve(model, penguins(shift=True))
    watcher = watchers(on_drift(metric="psi", feature="body_mass_g", threshold=0.2))
    [event] = watcher.tick(now=time.time())
    watchers.settle(watcher)
    assert "body_mass_g psi = " in event.reason


def test_drift_under_the_threshold_does_not_fire(model, flow_file, watchers) -> None:
    serve(model, penguins())
    watcher = watchers(on_drift(threshold=0.25))
    assert watcher.tick(now=time.time()) == []
    serve(model, penguins(shift=True))  # 3 of 4 features drift: 0.75
    strict = watchers(on_drift(threshold=0.8))
    assert strict.tick(now=time.time()) == []
    steady = watchers(on_drift(metric="psi", feature="bill_depth_mm", threshold=0.2))
    assert steady.tick(now=time.time()) == []
    assert watchers.events() == []
    assert not any(watcher.faulty for watcher in watchers.made)


def test_the_same_rows_fire_once_however_long_they_stay(model, flow_file, watchers) -> None:
    serve(model, penguins(shift=True))
    watcher = watchers(on_drift(cooldown_s=600, window="30m"))
    now = time.time()
    [first] = watcher.tick(now=now)
    watchers.settle(watcher)
    for later in (60, 700, 1400, 3 * 86400):  # no new traffic: the same event, not a new one
        assert watcher.tick(now=now + later) == []
        watchers.settle(watcher)
    assert [e.key for e in fired(watchers)] == [first.key]


def test_new_rows_fire_again_after_the_cooldown(model, flow_file, watchers) -> None:
    serve(model, penguins(shift=True))
    watcher = watchers(on_drift(cooldown_s=600))
    now = time.time()
    [first] = watcher.tick(now=now)
    watchers.settle(watcher)
    serve(model, penguins(shift=True).head(100))  # new traffic: a new event
    assert watcher.tick(now=now + 60) == []  # but within the cooldown
    [second] = watcher.tick(now=now + 700)
    watchers.settle(watcher)
    assert second.key != first.key and second.key.startswith("penguins:1:")
    assert [e.status for e in fired(watchers)] == ["succeeded", "succeeded"]


def test_nothing_new_is_not_evaluated_again(model, flow_file, watchers) -> None:
    serve(model, penguins(shift=True))
    watcher = watchers(on_drift(cooldown_s=0, threshold=0.9))  # over no line: never fires

    def evaluations() -> int:
        return len({r.report_id for r in MonitorStore(model.metadata).series("penguins")})

    now = time.time()
    for later in (0, 10, 20, 30):
        assert watcher.tick(now=now + later) == []
    assert evaluations() == 1  # the log did not change: the first answer stands
    serve(model, penguins().head(50))
    assert watcher.tick(now=now + 40) == []
    assert evaluations() == 2


def test_a_second_watcher_does_not_fire_the_same_event(
    model, flow_file, watchers, workspace
) -> None:
    serve(model, penguins(shift=True))
    one, two = watchers(on_drift(cooldown_s=0)), watchers(on_drift(cooldown_s=0))
    now = time.time()
    [event] = one.tick(now=now)
    assert two.tick(now=now + 30) == []  # past any cooldown: the claim alone refuses it
    watchers.settle(one)
    watchers.settle(two)
    assert [e.id for e in fired(watchers)] == [event.id]
    assert len(workspace.metadata.list_runs(pipeline="flow")) == 1


def test_watchers_on_both_sides_of_a_cooldown_boundary_fire_once(
    model, flow_file, watchers, workspace
) -> None:
    serve(model, penguins(shift=True))
    one, two = watchers(on_drift(cooldown_s=600)), watchers(on_drift(cooldown_s=600))
    start = (time.time() // 600 + 1) * 600 - 1  # a second before a multiple of the cooldown
    [event] = one.tick(now=start)
    watchers.settle(one)
    assert two.tick(now=start + 602) == []  # another "period", past the cooldown: same rows
    watchers.settle(two)
    assert [e.id for e in fired(watchers)] == [event.id]
    assert len(workspace.metadata.list_runs(pipeline="flow")) == 1


def test_a_restarted_watcher_does_not_fire_the_same_event_again(
    model, flow_file, watchers, workspace
) -> None:
    serve(model, penguins(shift=True))
    first = watchers(on_drift(cooldown_s=600))
    now = time.time()
    [event] = first.tick(now=now)
    watchers.settle(first)
    restarted = watchers(on_drift(cooldown_s=600))  # remembers nothing but the store
    restarted.recover()
    assert restarted.tick(now=now + 700) == []
    watchers.settle(restarted)
    assert [e.id for e in fired(watchers)] == [event.id]
    assert len(workspace.metadata.list_runs(pipeline="flow")) == 1


def test_a_vanished_column_is_a_recorded_warning_and_counts_as_drifted(
    model, flow_file, watchers
) -> None:
    serve(model, penguins(shift=True), drop=("body_mass_g",))
    watcher = watchers(on_drift())
    now = time.time()
    [event] = watcher.tick(now=now)
    watchers.settle(watcher)
    warning = "column 'body_mass_g' is missing from the live data: counted as drifted"
    assert "(drifted: bill_length_mm, flipper_length_mm; lost: body_mass_g)" in event.reason
    assert f"trigger 'retrain-on-drift': warning: {warning}" in watchers.said
    state = watcher.store.checks()["retrain-on-drift"]  # in the store, for every watcher
    assert state.warnings == [warning] and state.error is None
    stored = MonitorStore(model.metadata).series("penguins", "warning")
    assert [r.feature for r in stored] == ["body_mass_g"]
    assert watcher.tick(now=now + 10) == []  # said and recorded once, not at every check
    assert sum("warning:" in line for line in watchers.said) == 1
    assert len(watcher.store.check_history("retrain-on-drift")) == 1


def test_a_duration_window_is_judged_again_as_its_rows_age_out(model, flow_file, watchers) -> None:
    serve(model, penguins(shift=True))
    watcher = watchers(on_drift(window="30m", cooldown_s=0))
    now = time.time()
    [first] = watcher.tick(now=now)
    watchers.settle(watcher)
    assert watcher.tick(now=now + 60) == []  # the same rows: the answer stands
    assert watcher.tick(now=now + 3600) == []  # they aged out: judged again, nothing to judge
    assert any("no rows in the last 30m" in line for line in watchers.said)
    assert [e.key for e in fired(watchers)] == [first.key]


def test_a_feature_the_model_lacks_is_a_recorded_warning(model, flow_file, watchers) -> None:
    serve(model, penguins(shift=True))
    watcher = watchers(on_drift(metric="psi", feature="wingspan_mm", threshold=0.2))
    assert watcher.tick(now=time.time()) == []
    [warning] = watcher.store.checks()["retrain-on-drift"].warnings
    assert "has no psi for feature 'wingspan_mm': this trigger cannot fire" in warning


def test_too_few_rows_is_a_note_not_a_firing(model, flow_file, watchers) -> None:
    serve(model, penguins(shift=True).head(50))
    watcher = watchers(on_drift(min_rows=100))
    assert watcher.tick(now=time.time()) == []
    assert "trigger 'retrain-on-drift': 50 live rows, fewer than 100" in watchers.said
    assert watchers.events() == [] and watcher.faulty == {}


def test_an_empty_log_is_a_note(model, flow_file, watchers) -> None:
    watcher = watchers(on_drift())
    assert watcher.tick(now=time.time()) == []
    assert any("no rows in the prediction log" in line for line in watchers.said)
    assert watchers.events() == [] and watcher.faulty == {}
    assert watcher.store.checks() == {}  # a note, not a problem


def test_a_model_that_is_not_registered_is_reported_faulty(
    workspace, flow_file, watchers, project
) -> None:
    watcher = watchers(on_drift(), on_drop())
    now = time.time()
    assert watcher.tick(now=now) == []
    assert watcher.tick(now=now + 60) == []
    for name in ("retrain-on-drift", "retrain-on-drop"):
        assert "model 'penguins' has no alias 'production'" in watcher.faulty[name]
        assert sum(f"trigger {name!r} failed its check" in line for line in watchers.said) == 1
        recorded = watcher.store.checks()[name]  # kept for `conveyor triggers list`
        assert "has no alias 'production'" in recorded.error and recorded.at == now
    assert [t.name for t in watcher.triggers] == ["retrain-on-drift", "retrain-on-drop"]

    assert release.run(settings=workspace.settings).status == "succeeded"  # it appears
    serve(workspace, penguins(shift=True))
    [event] = watcher.tick(now=now + 120)  # still watched: the fault clears, the drift fires
    watchers.settle(watcher)
    assert event.trigger == "retrain-on-drift" and watcher.faulty == {}
    cleared = watcher.store.check_history("retrain-on-drift")[0]
    assert cleared.error is None and cleared.at == now + 120 and cleared.host == watcher.host


def test_a_performance_drop_fires(model, flow_file, watchers) -> None:
    serve(model, penguins(), labels="wrong")
    watcher = watchers(on_drop())
    [event] = watcher.tick(now=time.time())
    watchers.settle(watcher)
    assert event.reason == "penguins:1 live accuracy = 0 < 0.9 on 333 labelled rows it served"
    assert [e.status for e in fired(watchers)] == ["succeeded"]
    assert watcher.tick(now=time.time() + 60) == []  # the cooldown


def test_good_live_performance_does_not_fire(model, flow_file, watchers) -> None:
    serve(model, penguins(), labels="right")
    watcher = watchers(on_drop())
    assert watcher.tick(now=time.time()) == []
    assert watchers.events() == []


def test_too_few_labels_is_a_note_not_a_firing(model, flow_file, watchers) -> None:
    serve(model, penguins(), labels=None)
    serve(model, penguins().head(10), labels="wrong", requests=1)
    watcher = watchers(on_drop(min_rows=20))
    assert watcher.tick(now=time.time()) == []
    assert "trigger 'retrain-on-drop': 10 labelled rows, fewer than 20" in watchers.said
    assert watchers.events() == []


def test_a_performance_drop_needs_no_reference_statistics(model, flow_file, watchers) -> None:
    registry = ModelRegistry(model)
    bare = registry.register("bare", registry.get("penguins:1").artifact_id)  # no reference
    serve(model, penguins(), labels="wrong", model="bare", version=bare.version)
    watcher = watchers(
        Trigger("drop", "flow.py:flow", PerformanceDrop("bare:1", below=0.9), check_every_s=1)
    )
    [event] = watcher.tick(now=time.time())
    watchers.settle(watcher)
    assert event.reason.startswith("bare:1 live accuracy = 0 < 0.9") and watcher.faulty == {}


def test_new_labels_for_the_same_predictions_are_a_new_event(model, flow_file, watchers) -> None:
    frame = penguins()
    serve(model, frame.head(100), labels="wrong", requests=2)
    watcher = watchers(on_drop())
    now = time.time()
    [first] = watcher.tick(now=now)
    watchers.settle(watcher)
    assert watcher.tick(now=now + 700) == []  # the same labelled rows
    serve(model, frame.tail(100), labels="wrong", requests=2)
    [second] = watcher.tick(now=now + 1400)
    watchers.settle(watcher)
    assert second.key != first.key


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        (Drift("penguins@"), "model reference 'penguins@'"),
        (Drift("penguins", threshold="high"), "threshold must be a number"),
        (Drift("penguins", metric="psi"), "metric 'psi' needs feature="),
        (Drift("penguins", window="soon"), "window 'soon'"),
        (Drift("penguins", min_rows=0), "min_rows must be"),
        (PerformanceDrop("penguins", below="0.9"), "below must be a number"),
        (PerformanceDrop("penguins", metric="acuracy"), "metric 'acuracy'"),
        (PerformanceDrop("penguins", metric="rmse"), "metric 'rmse' needs above="),
        (PerformanceDrop("penguins"), "metric 'accuracy' needs below="),
        (PerformanceDrop("penguins", metric="rmse", below=3.0), "rmse is an error: lower is"),
        (PerformanceDrop("penguins", metric="r2", above=0.5), "r2 is a score: higher is"),
        (PerformanceDrop("penguins", metric="mae", above="3"), "above must be a number"),
    ],
)
def test_bad_conditions_name_the_trigger(condition, message, flow_file) -> None:
    trigger = Trigger("watch-it", "flow.py:flow", condition)
    with pytest.raises(ConfigError, match="trigger 'watch-it': ") as raised:
        trigger.validate(flow_file.parent)
    assert message in str(raised.value)
