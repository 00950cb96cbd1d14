"""Triggers: when to run a pipeline by itself. Configurable objects in scikit-learn's manner —
construction only stores the arguments; `validate()` checks them; `check()` decides.

    Schedule("0 3 * * *")                     cron syntax, in local time
    Drift("churn@production", threshold=0.5)  the monitored drift share (or a feature's metric)
    NewData("data/customers.parquet")         the source's content hash changed
    PerformanceDrop("churn@production", metric="accuracy", below=0.85)   from feedback labels

A check returns a `Firing` — a key that identifies the event (the schedule slot, the content hash,
the model version and cooldown period) and a reason — or None. The key makes firings idempotent:
the same event seen twice, or by a restarted watcher, fires once. The first check of a schedule or
a source is a baseline: recorded (as skipped) so that a restart compares with it, it runs nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from conveyor.exceptions import ConfigError, ConveyorError, DataError

__all__ = [
    "CheckContext",
    "Drift",
    "Firing",
    "NewData",
    "PerformanceDrop",
    "Schedule",
    "Trigger",
]


@dataclasses.dataclass(frozen=True)
class Firing:
    key: str
    reason: str
    baseline: bool = False  # recorded as "skipped" and launches nothing: what later checks compare


@dataclasses.dataclass
class CheckContext:
    """What a check may use: the time, the trigger's last firing, the workspace, a cooldown."""

    now: float
    started_at: float  # when the watcher started (a schedule does not fire for slots before)
    last_key: str | None
    last_fired_at: float | None
    cooldown_s: float
    workspace: Any
    notes: list[str] = dataclasses.field(default_factory=list)  # warnings a check wants shown


class Condition(Protocol):
    def validate(self) -> None: ...
    def check(self, ctx: CheckContext) -> Firing | None: ...
    def describe(self) -> str: ...


@dataclasses.dataclass(frozen=True)
class Schedule:
    cron: str

    def validate(self) -> None:
        from croniter import croniter

        if not isinstance(self.cron, str) or not croniter.is_valid(self.cron):
            raise ConfigError(
                f"schedule {self.cron!r} is not a cron expression "
                "(five fields: minute hour day month weekday, e.g. '*/10 * * * *')"
            )

    def check(self, ctx: CheckContext) -> Firing | None:
        from croniter import croniter
        from dateutil.tz import tzlocal

        # an aware time: croniter reads a naive one as UTC, which shifts every slot by the offset
        now = dt.datetime.fromtimestamp(ctx.now, tzlocal())
        slot = croniter(self.cron, now).get_prev(float)
        since = float(ctx.last_key) if _is_number(ctx.last_key) else ctx.started_at
        if slot <= since:
            if not _is_number(ctx.last_key):  # first sight: recorded, a restart knows the start
                return Firing(repr(slot), f"baseline: schedule '{self.cron}'", baseline=True)
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
            return Firing(digest, f"baseline: {self.source} has content {digest[:12]}", True)
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


def _period(ctx: CheckContext) -> int:
    return int(ctx.now // max(ctx.cooldown_s, 1.0))


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
        from conveyor.monitoring.monitor import monitor

        count, seconds = _window(self.window)
        since = None if count is not None else ctx.last_fired_at
        try:
            report = monitor(
                self.model, since=since, window=count, window_in_seconds=seconds,
                ws=ctx.workspace,
            )  # fmt: skip
        except DataError as err:  # no live rows yet; a missing model or reference is a fault
            ctx.notes.append(str(err))
            return None
        if report.window["rows"] < self.min_rows:
            ctx.notes.append(f"{report.window['rows']} live rows, fewer than {self.min_rows}")
            return None
        value = self._value(report)
        if value is None:
            ctx.notes.append(f"{report.model} has no {self.metric} for feature {self.feature!r}")
            return None
        if value < self.threshold:
            return None
        what = self.metric if self.feature is None else f"{self.feature} {self.metric}"
        return Firing(
            f"{report.model}:{report.version}:{_period(ctx)}",
            f"{report.model}:{report.version} {what} = {value:.3g} >= {self.threshold} "
            f"over {report.window['rows']} live rows (drifted: "
            f"{', '.join(report.drift['drifted_features']) or 'none'})",
        )

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
    model: str
    metric: str = "accuracy"
    below: float = 0.9
    min_rows: int = 20
    window: str | None = None

    def validate(self) -> None:
        _model(self.model)
        _window(self.window)
        where = f"performance trigger on {self.model}"
        _number(where, "below", self.below)
        _count(where, "min_rows", self.min_rows)
        if self.metric not in ("accuracy", "f1"):  # mae and rmse rise as a model gets worse
            raise ConfigError(
                f"{where}: metric {self.metric!r}: a drop is watched on accuracy or f1 "
                "(the live metrics of a classifier)"
            )

    def check(self, ctx: CheckContext) -> Firing | None:
        from conveyor.monitoring.monitor import monitor

        count, seconds = _window(self.window)
        try:
            report = monitor(self.model, window=count, window_in_seconds=seconds, ws=ctx.workspace)
        except DataError as err:  # no live rows yet; a missing model or reference is a fault
            ctx.notes.append(str(err))
            return None
        performance = report.performance
        rows = 0 if performance is None else performance["rows"]
        if performance is None or rows < self.min_rows:
            ctx.notes.append(f"{rows} labelled rows, fewer than {self.min_rows}")
            return None
        value = performance["metrics"].get(self.metric)
        if value is None or value >= self.below:
            return None
        return Firing(
            f"{report.model}:{report.version}:{_period(ctx)}",
            f"{report.model}:{report.version} live {self.metric} = {value:.3g} < {self.below} "
            f"on {performance['rows']} labelled rows",
        )

    def describe(self) -> str:
        return f"{self.model} live {self.metric} < {self.below}"


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
