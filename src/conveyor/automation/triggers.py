"""Triggers: when to run a pipeline by itself. Configurable objects in scikit-learn's manner —
construction only stores the arguments; `validate()` checks them; `check()` decides.

    Schedule("0 3 * * *")                     cron syntax (five fields), in local time
    Drift("churn@production", threshold=0.5)  the monitored drift share (or a feature's metric)
    NewData("data/customers.parquet")         the source's content hash changed
    PerformanceDrop("churn@production", metric="accuracy", below=0.85)   from feedback labels
    PerformanceDrop("prices@production", metric="rmse", above=12.0)      errors rise

A check returns a `Firing` — a key that identifies the event and a reason — or None. The key is
what the event saw: the schedule slot; the content hash; for drift and performance, the model
version and the newest prediction row (and feedback label) evaluated. The key makes firings
idempotent: the same event seen twice, by two watchers, or by a restarted one, fires once, and
the same rows evaluated again are the same event however much time has passed — a cooldown only
spaces firings out. The first check of a schedule or a source is a baseline: recorded (as
skipped) so that a restart compares with it, it runs nothing.

Drift and performance checks remember (in `CheckContext.state`) the log they evaluated: while
nothing new arrives and the model version is the same, they return their last answer without
reading the log or storing another evaluation.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from conveyor.exceptions import ConfigError, ConveyorError, EmptyWindowError

__all__ = [
    "BASELINE",
    "CheckContext",
    "Drift",
    "Firing",
    "NewData",
    "PerformanceDrop",
    "Schedule",
    "Trigger",
]

#: How a baseline's reason begins (a baseline is recorded as skipped and launches nothing).
BASELINE = "baseline: "


@dataclasses.dataclass(frozen=True)
class Firing:
    key: str
    reason: str
    baseline: bool = False  # recorded as "skipped" and launches nothing: what later checks compare


@dataclasses.dataclass
class CheckContext:
    """What a check may use: the time, the trigger's last firing, the workspace, a cooldown, and
    a `state` dict the watcher keeps for the trigger between checks."""

    now: float
    started_at: float  # when the watcher started (a schedule does not fire for slots before)
    last_key: str | None
    last_fired_at: float | None
    cooldown_s: float
    workspace: Any
    notes: list[str] = dataclasses.field(default_factory=list)  # said, not recorded (few rows)
    warnings: list[str] = dataclasses.field(default_factory=list)  # recorded: data problems
    state: dict[str, Any] = dataclasses.field(default_factory=dict)


class Condition(Protocol):
    def validate(self) -> None: ...
    def check(self, ctx: CheckContext) -> Firing | None: ...
    def describe(self) -> str: ...


@dataclasses.dataclass(frozen=True)
class Schedule:
    cron: str

    def validate(self) -> None:
        from croniter import croniter

        if (
            not isinstance(self.cron, str)
            or len(self.cron.split()) != 5  # croniter also takes seconds and years
            or not croniter.is_valid(self.cron)
        ):
            raise ConfigError(
                f"schedule {self.cron!r} is not a cron expression "
                "(five fields: minute hour day month weekday, e.g. '*/10 * * * *')"
            )
        try:  # a valid expression may name a date that never comes: 31 February
            croniter(self.cron).get_next(float)
        except Exception as err:  # croniter's CroniterBadDateError
            raise ConfigError(f"schedule {self.cron!r} never fires: {err}") from None

    def check(self, ctx: CheckContext) -> Firing | None:
        from croniter import croniter
        from dateutil.tz import tzlocal

        # an aware time: croniter reads a naive one as UTC, which shifts every slot by the offset
        now = dt.datetime.fromtimestamp(ctx.now, tzlocal())
        slot = croniter(self.cron, now).get_prev(float)
        since = float(ctx.last_key) if _is_number(ctx.last_key) else ctx.started_at
        if slot <= since:
            if not _is_number(ctx.last_key):  # first sight: recorded, a restart knows the start
                return Firing(repr(slot), f"{BASELINE}schedule '{self.cron}'", baseline=True)
            return None  # a slot missed while the watcher was down fires once, not once a slot
        when = dt.datetime.fromtimestamp(slot).isoformat(timespec="minutes")
        return Firing(repr(slot), f"schedule '{self.cron}' reached {when}")

    def describe(self) -> str:
        return f"schedule {self.cron}"


@dataclasses.dataclass(frozen=True)
class NewData:
    source: str

    def validate(self) -> None:
        if not isinstance(self.source, str) or not self.source:
            raise ConfigError(f"new-data trigger: source must be a path, got {self.source!r}")

    def check(self, ctx: CheckContext) -> Firing | None:
        from conveyor.components._ingest import _file_hash

        digest = _file_hash(self._path(ctx))
        if ctx.last_key is None:  # first sight: the baseline, recorded so restarts know it
            return Firing(digest, f"{BASELINE}{self.source} has content {digest[:12]}", True)
        if digest == ctx.last_key.partition(" ")[0]:
            return None
        # the key also names the event it follows: content seen before (A → B → A) fires again
        after = hashlib.sha256(ctx.last_key.encode()).hexdigest()[:16]
        return Firing(f"{digest} after {after}", f"{self.source} changed (content {digest[:12]})")

    def _path(self, ctx: CheckContext) -> str:
        if "://" in self.source or Path(self.source).is_absolute():
            return self.source
        return str(ctx.workspace.settings.root / self.source)

    def describe(self) -> str:
        return f"new data in {self.source}"


def _evaluated(
    ctx: CheckContext,
    model: str,
    since: float | None,
    evaluate: Any,
    kinds: tuple[str, ...] = ("predictions",),
    duration: float | None = None,
) -> Firing | None:
    """The answer of `evaluate()` (a firing or None, with notes and warnings), or the last one
    when nothing new has arrived: same model version, same window start, same log (`kinds`).
    A `duration` window ("the last 30m") also moves with the clock: rows age out of it, so it
    is evaluated again once it has moved by a tenth of its length."""
    from conveyor.predictions import log_stamp
    from conveyor.registry import ModelRegistry

    record = ModelRegistry(ctx.workspace).get(model)  # a missing model is the trigger's fault
    moved = None if duration is None else int(ctx.now // max(duration / 10, 1.0))
    stamp = (record.version, since, moved, log_stamp(ctx.workspace, record.name, kinds))
    memo = ctx.state.get("evaluated")
    if memo is not None and memo[0] == stamp:
        _, firing, notes, warnings = memo
    else:
        found: list[str] = []
        firing = evaluate(f"{record.name}:{record.version}", found)
        notes, warnings = list(ctx.notes), found
        ctx.state["evaluated"] = (stamp, firing, notes, warnings)
    ctx.notes[:] = notes
    ctx.warnings[:] = warnings
    return firing


def _event_key(model: str, version: int, *identity: Any) -> str:
    """`model:version:digest`, the digest of what the evaluation saw (its newest rows)."""
    digest = hashlib.sha256("|".join(map(str, identity)).encode()).hexdigest()[:20]
    return f"{model}:{version}:{digest}"


@dataclasses.dataclass(frozen=True)
class Drift:
    model: str
    threshold: float = 0.5
    metric: str = "drift_share"  # or a feature's "psi" / "js" with `feature`
    feature: str | None = None
    window: str | None = None  # rows ("500") or a duration ("30m"); None: since the last firing
    min_rows: int = 100

    def validate(self) -> None:
        _model(self.model)
        _window(self.window)
        where = f"drift trigger on {self.model}"
        _number(where, "threshold", self.threshold)
        _count(where, "min_rows", self.min_rows)
        if self.metric not in _DRIFT_METRICS:
            raise ConfigError(f"{where}: metric {self.metric!r} is not one of {_DRIFT_METRICS}")
        if (self.metric == "drift_share") != (self.feature is None):
            raise ConfigError(
                f"{where}: metric {self.metric!r} needs feature="
                if self.feature is None
                else f"{where}: feature= needs a feature's metric (psi, ks_statistic, js, chi2)"
            )

    def check(self, ctx: CheckContext) -> Firing | None:
        count, seconds = _window(self.window)
        since = None if self.window is not None else ctx.last_fired_at

        def evaluate(ref: str, warnings: list[str]) -> Firing | None:
            from conveyor.monitoring.monitor import monitor

            try:
                report = monitor(
                    ref, since=since, window=count, window_in_seconds=seconds, ws=ctx.workspace,
                    now=ctx.now,
                )  # fmt: skip
            except EmptyWindowError as err:  # no live rows yet: a note, not a fault
                ctx.notes.append(str(err))
                return None
            warnings += report.warnings
            if report.window["rows"] < self.min_rows:
                ctx.notes.append(f"{report.window['rows']} live rows, fewer than {self.min_rows}")
                return None
            value = self._value(report)
            if value is None:  # a feature the model does not have, or a metric of another kind
                warnings.append(
                    f"{ref} has no {self.metric} for feature {self.feature!r}: this trigger "
                    "cannot fire; check its feature= and metric="
                )
                return None
            if value < self.threshold:
                return None
            what = self.metric if self.feature is None else f"{self.feature} {self.metric}"
            drift = report.drift
            lost = f"; lost: {', '.join(drift['lost_features'])}" if drift["lost_features"] else ""
            return Firing(
                _event_key(report.model, report.version, report.window["newest"]),
                f"{report.model}:{report.version} {what} = {value:.3g} >= {self.threshold} "
                f"over {report.window['rows']} live rows it served (drifted: "
                f"{', '.join(drift['drifted_features']) or 'none'}{lost})",
            )

        return _evaluated(ctx, self.model, since, evaluate, duration=count if seconds else None)

    def _value(self, report: Any) -> float | None:
        if self.feature is None:
            return float(report.drift["share"])
        for feature in report.features:
            if feature["feature"] == self.feature:
                return feature["statistics"].get(self.metric)
        return None

    def describe(self) -> str:
        target = self.metric if self.feature is None else f"{self.feature}.{self.metric}"
        return f"drift of {self.model}: {target} >= {self.threshold}"


@dataclasses.dataclass(frozen=True)
class PerformanceDrop:
    """The live `metric` from feedback labels got worse than a line: fell `below` it (accuracy,
    f1, r2: higher is better) or rose `above` it (mae, rmse: errors). Needs no reference
    statistics, only the prediction log and its labels."""

    model: str
    metric: str = "accuracy"
    below: float | None = None
    min_rows: int = 20
    window: str | None = None
    above: float | None = None

    def validate(self) -> None:
        from conveyor.monitoring.monitor import HIGHER_IS_BETTER

        _model(self.model)
        _window(self.window)
        where = f"performance trigger on {self.model}"
        _count(where, "min_rows", self.min_rows)
        if self.metric not in HIGHER_IS_BETTER:
            raise ConfigError(
                f"{where}: metric {self.metric!r} is not one of {sorted(HIGHER_IS_BETTER)}"
            )
        higher = HIGHER_IS_BETTER[self.metric]
        line, other = ("below", "above") if higher else ("above", "below")
        if getattr(self, other) is not None:
            raise ConfigError(
                f"{where}: {self.metric} is "
                + ("a score: higher is better, so a drop is a fall below= a line, not above="
                   if higher else "an error: lower is better, so a drop is a rise above= a "
                   "line, not below=")
            )  # fmt: skip
        if getattr(self, line) is None:
            raise ConfigError(f"{where}: metric {self.metric!r} needs {line}= (the line)")
        _number(where, line, getattr(self, line))

    @property
    def _line(self) -> tuple[str, float]:
        from conveyor.monitoring.monitor import HIGHER_IS_BETTER

        if HIGHER_IS_BETTER[self.metric]:
            return "<", float(self.below)  # type: ignore[arg-type]
        return ">", float(self.above)  # type: ignore[arg-type]

    def check(self, ctx: CheckContext) -> Firing | None:
        count, seconds = _window(self.window)

        def evaluate(ref: str, warnings: list[str]) -> Firing | None:
            from conveyor.monitoring.monitor import performance

            try:
                report = performance(
                    ref, window=count, window_in_seconds=seconds, ws=ctx.workspace, now=ctx.now
                )
            except EmptyWindowError as err:  # no live rows yet: a note, not a fault
                ctx.notes.append(str(err))
                return None
            found = report.performance
            rows = 0 if found is None else found["rows"]
            if found is None or rows < self.min_rows:
                ctx.notes.append(f"{rows} labelled rows, fewer than {self.min_rows}")
                return None
            value = found["metrics"].get(self.metric)
            if value is None:
                ctx.notes.append(f"{ref} has no live {self.metric} (a {_task(found)} model)")
                return None
            sign, line = self._line
            if (value >= line) if sign == "<" else (value <= line):
                return None
            return Firing(
                _event_key(
                    report.model, report.version, report.window["newest"], found["newest_label"]
                ),
                f"{report.model}:{report.version} live {self.metric} = {value:.3g} {sign} {line} "
                f"on {found['rows']} labelled rows it served",
            )

        return _evaluated(
            ctx,
            self.model,
            None,
            evaluate,
            ("predictions", "feedback"),
            duration=count if seconds else None,
        )

    def describe(self) -> str:
        sign = "<" if self.above is None else ">"
        line = self.below if self.above is None else self.above
        return f"{self.model} live {self.metric} {sign} {line}"


def _task(performance: dict[str, Any]) -> str:
    return "classification" if "accuracy" in performance["metrics"] else "regression"


def _window(text: str | None) -> tuple[float | None, bool]:
    if text is None:
        return None, False
    text = str(text)
    if text.isdigit() and int(text) > 0:
        return int(text), False
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if len(text) > 1 and text[-1] in units and _is_number(text[:-1]):
        return float(text[:-1]) * units[text[-1]], True
    raise ConfigError(f"window {text!r}: give a row count (500) or a duration (30m, 2h)")


_DRIFT_METRICS = ("drift_share", "psi", "ks_statistic", "js", "chi2")  # higher: more drift


def _model(ref: Any) -> None:
    from conveyor.registry import parse_ref

    if not isinstance(ref, str):
        raise ConfigError(f"model must be a reference like 'churn@production', got {ref!r}")
    parse_ref(ref)


def _number(where: str, name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where}: {name} must be a number, got {value!r}")


def _count(where: str, name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{where}: {name} must be a whole number >= 1, got {value!r}")


def _is_number(text: Any) -> bool:
    try:
        float(text)
    except (TypeError, ValueError):
        return False
    return True


@dataclasses.dataclass(frozen=True)
class Trigger:
    """Run `pipeline` (`FILE.py:NAME`) with `params` when `condition` fires.

    `cooldown_s`: at least this long between two firings. `max_concurrent`: runs of this trigger
    at once (a firing while they run waits for its next check). `check_every_s`: how often the
    condition is evaluated (drift and performance checks read the prediction log).
    """

    name: str
    pipeline: str
    condition: Any
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    cooldown_s: float = 300.0
    max_concurrent: int = 1
    check_every_s: float = 30.0

    def validate(self, root: Path | None = None) -> None:
        where = f"trigger {self.name!r}"
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"a trigger needs a name, got {self.name!r}")
        file, colon, attr = str(self.pipeline).rpartition(":")
        if not colon or not file.endswith(".py") or not attr:
            raise ConfigError(f"{where}: pipeline must be FILE.py:NAME, got {self.pipeline!r}")
        path = Path(file) if root is None or Path(file).is_absolute() else root / file
        if not path.is_file():
            raise ConfigError(f"{where}: pipeline file {file!r} does not exist")
        _number(where, "cooldown_s", self.cooldown_s)
        _number(where, "check_every_s", self.check_every_s)
        _count(where, "max_concurrent", self.max_concurrent)
        if not isinstance(self.params, Mapping):
            raise ConfigError(f"{where}: params must be a mapping, got {self.params!r}")
        if self.cooldown_s < 0 or self.check_every_s <= 0:
            raise ConfigError(f"{where}: needs cooldown_s >= 0 and check_every_s > 0")
        if not hasattr(self.condition, "check"):
            raise ConfigError(
                f"{where}: condition must be Schedule, Drift, NewData or PerformanceDrop"
            )
        try:
            self.condition.validate()
        except ConveyorError as err:
            raise ConfigError(f"{where}: {err}") from None

    def describe(self) -> str:
        return self.condition.describe()
