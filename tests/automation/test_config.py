"""Triggers from `[[triggers]]` tables in conveyor.toml and from Python files: each condition kind,
and errors that name the trigger and the key."""

from __future__ import annotations

import re
import textwrap

import pytest

from conveyor.automation import (
    Drift,
    NewData,
    PerformanceDrop,
    Schedule,
    Trigger,
    from_python,
    from_toml,
    parse_trigger,
)
from conveyor.exceptions import ConfigError


def table(**entries) -> dict:
    return {"name": "t", "pipeline": "flow.py:flow"} | entries


@pytest.mark.parametrize(
    ("entries", "condition"),
    [
        ({"schedule": "0 3 * * *"}, Schedule("0 3 * * *")),
        ({"schedule": {"cron": "*/5 * * * *"}}, Schedule("*/5 * * * *")),
        ({"new_data": "data/latest.csv"}, NewData("data/latest.csv")),
        ({"new_data": {"source": "s3://bucket/x.parquet"}}, NewData("s3://bucket/x.parquet")),
        ({"drift": "penguins@production"}, Drift("penguins@production")),
        (
            {"drift": {"model": "churn@production", "threshold": 0.3, "window": "500"}},
            Drift("churn@production", threshold=0.3, window="500"),
        ),
        (
            {"drift": {"model": "churn", "metric": "psi", "feature": "age", "min_rows": 50}},
            Drift("churn", metric="psi", feature="age", min_rows=50),
        ),
        (
            {"performance": {"model": "churn@production", "metric": "f1", "below": 0.8}},
            PerformanceDrop("churn@production", metric="f1", below=0.8),
        ),
    ],
)
def test_each_condition_kind(entries, condition, project) -> None:
    trigger = parse_trigger(table(**entries))
    assert trigger.condition == condition
    (project / "flow.py").write_text("")
    trigger.validate(project)


def test_options_and_params() -> None:
    trigger = parse_trigger(
        table(
            schedule="0 3 * * *",
            params={"source": "data/latest.csv", "policy": "warn"},
            cooldown=600,
            max_concurrent=2,
            check_every=10,
        )
    )
    assert trigger == Trigger(
        "t",
        "flow.py:flow",
        Schedule("0 3 * * *"),
        params={"source": "data/latest.csv", "policy": "warn"},
        cooldown_s=600,
        max_concurrent=2,
        check_every_s=10,
    )
    defaults = parse_trigger(table(schedule="0 3 * * *"))
    assert (defaults.cooldown_s, defaults.max_concurrent, defaults.check_every_s) == (300, 1, 30)
    assert defaults.params == {}


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ({"schedule": "0 3 * * *", "cooldwn": 5}, "trigger 't': unknown key(s) ['cooldwn']"),
        ({}, "trigger 't' needs exactly one of ['drift', 'new_data', 'performance', 'schedule']"),
        ({"schedule": "0 3 * * *", "new_data": "x.csv"}, "got ['schedule', 'new_data']"),
        (
            {"drift": {"model": "churn", "treshold": 0.3}},
            "trigger 't': drift = {'model': 'churn', 'treshold': 0.3}: ",
        ),
        ({"performance": {}}, "trigger 't': performance = {}: "),
        ({"schedule": "0 3 * * *", "params": "n=1"}, "trigger 't': params must be a table"),
    ],
)
def test_a_table_that_does_not_parse_names_the_trigger(entries, message) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_trigger(table(**entries))
    assert str(raised.value).startswith("conveyor.toml: ")
    assert message in str(raised.value)


def test_a_trigger_needs_a_name_and_to_be_a_table() -> None:
    with pytest.raises(ConfigError, match=re.escape('a trigger needs name = "..."')):
        parse_trigger({"pipeline": "flow.py:flow", "schedule": "0 3 * * *"})
    with pytest.raises(ConfigError, match=r"each trigger must be a table \(\[\[triggers\]\]\)"):
        parse_trigger("nightly")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ({"schedule": "61 3 * * *"}, "schedule '61 3 * * *' is not a cron expression"),
        ({"schedule": 3}, "schedule 3 is not a cron expression"),
        ({"schedule": "0 0 3 * * *"}, "'0 0 3 * * *' is not a cron expression (five fields"),
        ({"schedule": "0 3 * * * 2030"}, "(five fields: minute hour day month weekday"),
        ({"schedule": "0 0 3 * * * 2030"}, "is not a cron expression (five fields"),
        ({"schedule": "0 0 31 2 *"}, "schedule '0 0 31 2 *' never fires"),
        ({"drift": {"model": "churn", "threshold": "high"}}, "threshold must be a number"),
        ({"drift": 5}, "model must be a reference like 'churn@production', got 5"),
        ({"drift": {"model": "churn", "window": "-3"}}, "window '-3'"),
        ({"drift": {"model": "churn", "metric": "ks_pvalue", "feature": "a"}}, "'ks_pvalue'"),
        ({"performance": {"model": "churn", "below": "0.9"}}, "below must be a number"),
        ({"performance": {"model": "churn", "min_rows": 2.5}}, "min_rows must be a whole"),
        ({"new_data": ""}, "source must be a path"),
        ({"schedule": "0 3 * * *", "cooldown": "10m"}, "cooldown_s must be a number"),
        ({"schedule": "0 3 * * *", "max_concurrent": 0}, "max_concurrent must be a whole"),
        ({"schedule": "0 3 * * *", "check_every": 0}, "check_every_s > 0"),
    ],
)
def test_bad_values_are_config_errors_naming_the_trigger(entries, message, project) -> None:
    (project / "flow.py").write_text("")
    trigger = parse_trigger(table(**entries))  # parsed; checked when used
    with pytest.raises(ConfigError, match=r"^trigger 't': ") as raised:
        trigger.validate(project)
    assert message in str(raised.value)


def test_the_pipeline_reference_is_checked(project) -> None:
    with pytest.raises(ConfigError, match=r"trigger 't': pipeline must be FILE\.py:NAME, got ''"):
        parse_trigger({"name": "t", "schedule": "0 3 * * *"}).validate(project)
    with pytest.raises(ConfigError, match=r"trigger 't': pipeline file 'flow\.py' does not exist"):
        parse_trigger(table(schedule="0 3 * * *")).validate(project)


def test_from_toml_keeps_the_good_triggers_and_lists_the_errors(project) -> None:
    (project / "conveyor.toml").write_text(
        textwrap.dedent(
            """
            [[triggers]]
            name = "nightly"
            pipeline = "flow.py:flow"
            schedule = "0 3 * * *"

            [[triggers]]
            name = "confused"
            pipeline = "flow.py:flow"
            schedule = "0 3 * * *"
            new_data = "data.csv"

            [[triggers]]
            name = "fresh"
            pipeline = "flow.py:flow"
            new_data = { source = "data.csv" }
            cooldown = 0
            """
        )
    )
    (project / "sub").mkdir()
    triggers, errors = from_toml(project / "sub")  # found walking up, as the settings are
    assert [t.name for t in triggers] == ["nightly", "fresh"]
    assert triggers[1].cooldown_s == 0
    [error] = errors
    assert error.startswith("conveyor.toml: trigger 'confused' needs exactly one of")


def test_from_toml_without_triggers(project) -> None:
    assert from_toml(project) == ([], [])
    (project / "conveyor.toml").write_text('db = "sqlite:///x.db"\n')
    assert from_toml(project) == ([], [])
    (project / "conveyor.toml").write_text('triggers = "nightly"\n')
    with pytest.raises(ConfigError, match=r"triggers must be an array of tables"):
        from_toml(project)


def test_from_python_finds_triggers_and_lists_of_them(project) -> None:
    path = project / "triggers.py"
    path.write_text(
        textwrap.dedent(
            """
            from conveyor.automation import NewData, Schedule, Trigger

            nightly = Trigger("nightly", "flow.py:flow", Schedule("0 3 * * *"))
            more = [
                Trigger("a", "flow.py:flow", NewData("a.csv")),
                Trigger("b", "flow.py:flow", NewData("b.csv")),
            ]
            numbers = [1, 2]
            empty = []
            """
        )
    )
    assert [t.name for t in from_python(path)] == ["nightly", "a", "b"]
