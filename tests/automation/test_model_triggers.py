"""Drift and PerformanceDrop triggers against a real registered model and a prediction log written
by the real `PredictionLog`: over the line fires once per cooldown period, under it does not, too
little data is a note, a duplicate event is one run."""

from __future__ import annotations

import time

import pytest
from tests.automation.conftest import Watchers, penguins, release, serve

from conveyor.automation import Drift, PerformanceDrop, Trigger
from conveyor.exceptions import ConfigError

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
    assert event.reason.startswith("penguins:1 drift_share = 0.75 >= 0.3 over 300 live rows")
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


def test_the_cooldown_holds_back_a_second_firing(model, flow_file, watchers) -> None:
    serve(model, penguins(shift=True))
    watcher = watchers(on_drift(cooldown_s=600))
    now = time.time()
    [first] = watcher.tick(now=now)
    watchers.settle(watcher)
    assert watcher.tick(now=now + 60) == []  # still drifted, but within the cooldown
    assert watcher.tick(now=now + 590) == []
    [second] = watcher.tick(now=now + 700)
    watchers.settle(watcher)
    assert second.key != first.key  # the next cooldown period is another event
    assert [e.status for e in fired(watchers)] == ["succeeded", "succeeded"]


def test_a_duplicate_event_starts_one_run(model, flow_file, watchers, workspace) -> None:
    serve(model, penguins(shift=True))
    one, two = watchers(on_drift(cooldown_s=0)), watchers(on_drift(cooldown_s=0))
    now = time.time()
    assert len(one.tick(now=now)) == 1
    assert two.tick(now=now) == []  # the same model version and period: already claimed
    watchers.settle(one)
    assert len(fired(watchers)) == 1
    assert len(workspace.metadata.list_runs(pipeline="flow")) == 1


def test_too_few_rows_is_a_note_not_a_firing(model, flow_file, watchers) -> None:
    serve(model, penguins(shift=True).head(50))
    watcher = watchers(on_drift(min_rows=100))
    assert watcher.tick(now=time.time()) == []
    assert "trigger 'retrain-on-drift': 50 live rows, fewer than 100" in watchers.said
    assert watchers.events() == [] and watcher.faulty == {}


def test_an_empty_log_is_a_note(model, flow_file, watchers) -> None:
    watcher = watchers(on_drift())
    assert watcher.tick(now=time.time()) == []
    assert any("the window has no rows" in line for line in watchers.said)
    assert watchers.events() == [] and watcher.faulty == {}


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
    assert [t.name for t in watcher.triggers] == ["retrain-on-drift", "retrain-on-drop"]

    assert release.run(settings=workspace.settings).status == "succeeded"  # it appears
    serve(workspace, penguins(shift=True))
    [event] = watcher.tick(now=now + 120)  # still watched: the fault clears, the drift fires
    watchers.settle(watcher)
    assert event.trigger == "retrain-on-drift" and watcher.faulty == {}


def test_a_performance_drop_fires(model, flow_file, watchers) -> None:
    serve(model, penguins(), labels="wrong")
    watcher = watchers(on_drop())
    [event] = watcher.tick(now=time.time())
    watchers.settle(watcher)
    assert event.reason == "penguins:1 live accuracy = 0 < 0.9 on 333 labelled rows"
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
        (PerformanceDrop("penguins", metric="rmse"), "metric 'rmse'"),
    ],
)
def test_bad_conditions_name_the_trigger(condition, message, flow_file) -> None:
    trigger = Trigger("watch-it", "flow.py:flow", condition)
    with pytest.raises(ConfigError, match="trigger 'watch-it': ") as raised:
        trigger.validate(flow_file.parent)
    assert message in str(raised.value)
