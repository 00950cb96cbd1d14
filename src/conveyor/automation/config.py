"""Triggers from `conveyor.toml` (`[[triggers]]` tables) and from Python files.

    [[triggers]]
    name = "retrain-on-drift"
    pipeline = "pipeline.py:training"
    params = { source = "data/latest.csv" }
    drift = { model = "penguins@production", threshold = 0.3, window = "500" }
    cooldown = 600            # seconds between firings (default 300)
    max_concurrent = 1
    check_every = 10          # seconds between checks (default 30)

One of `schedule = "0 3 * * *"`, `drift = {...}`, `new_data = "path"` (or `{ source = ... }`)
and `performance = { model = ..., metric = "accuracy", below = 0.9 }` (for an error metric,
`metric = "rmse", above = 12.0`) says when. In Python, any
module-level `Trigger` (or list of them) in a file given to `conveyor watch` counts too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conveyor.automation.triggers import Drift, NewData, PerformanceDrop, Schedule, Trigger
from conveyor.config import find_config, read_config_file
from conveyor.exceptions import ConfigError

__all__ = ["from_python", "from_toml", "parse_trigger"]

_CONDITIONS = {
    "schedule": Schedule,
    "drift": Drift,
    "new_data": NewData,
    "performance": PerformanceDrop,
}
_OPTIONS = {
    "cooldown": "cooldown_s",
    "max_concurrent": "max_concurrent",
    "check_every": "check_every_s",
}


def parse_trigger(table: dict[str, Any], where: str = "conveyor.toml") -> Trigger:
    """A `Trigger` from one `[[triggers]]` table; errors name the trigger and the key."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: each trigger must be a table ([[triggers]]), got {table!r}")
    name = table.get("name")
    label = f"{where}: trigger {name!r}" if name else f"{where}: a trigger"
    if not isinstance(name, str) or not name:
        raise ConfigError(f'{label} needs name = "..."')
    unknown = set(table) - {"name", "pipeline", "params", *_CONDITIONS, *_OPTIONS}
    if unknown:
        raise ConfigError(f"{label}: unknown key(s) {sorted(unknown)}")
    kinds = [k for k in _CONDITIONS if k in table]
    if len(kinds) != 1:
        raise ConfigError(f"{label} needs exactly one of {sorted(_CONDITIONS)}, got {kinds}")
    kind = kinds[0]
    spec = table[kind]
    try:
        make = _CONDITIONS[kind]
        condition = make(**spec) if isinstance(spec, dict) else make(spec)
    except TypeError as err:
        raise ConfigError(f"{label}: {kind} = {spec!r}: {err}") from None
    params = table.get("params", {})
    if not isinstance(params, dict):
        raise ConfigError(f"{label}: params must be a table")
    options = {field: table[key] for key, field in _OPTIONS.items() if key in table}
    return Trigger(name=name, pipeline=str(table.get("pipeline", "")), condition=condition,
                   params=params, **options)  # fmt: skip


def from_toml(start: Path | None = None) -> tuple[list[Trigger], list[str]]:
    """Triggers of the nearest conveyor.toml, and the errors of those that do not parse."""
    path = find_config((start or Path.cwd()).resolve())
    if path is None:
        return [], []
    tables = read_config_file(path).get("triggers", [])
    if not isinstance(tables, list):
        raise ConfigError(f"{path}: triggers must be an array of tables ([[triggers]])")
    triggers, errors = [], []
    for table in tables:
        try:
            triggers.append(parse_trigger(table, str(path.name)))
        except ConfigError as err:
            errors.append(str(err))
    return triggers, errors


def from_python(path: Path) -> list[Trigger]:
    """Module-level `Trigger` objects (or lists of them) of a Python file."""
    from conveyor.run.loading import _import_file

    module = _import_file(path.resolve())
    found: list[Trigger] = []
    for value in vars(module).values():
        if isinstance(value, Trigger):
            found.append(value)
        elif (
            isinstance(value, (list, tuple))
            and value
            and all(isinstance(v, Trigger) for v in value)
        ):
            found.extend(value)
    return found
