"""Settings: where the metadata database and the artifact store are, and what is trusted.

Sources, lowest precedence first: built-in defaults (everything under `./.conveyor/`), the nearest
`conveyor.toml` walking up from the working directory, `CONVEYOR_*` environment variables, and
explicit arguments. Relative paths in `conveyor.toml` are relative to that file.

    # conveyor.toml
    [conveyor]
    db = "postgresql+psycopg://user@host/conveyor"
    artifacts = "s3://bucket/conveyor"
    trust_pickle = false
    trusted_types = ["my_project."]   # module prefixes whose classes skops may load
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from conveyor.exceptions import ConfigError

__all__ = ["Settings", "find_config"]

CONFIG_FILE = "conveyor.toml"
_FIELDS = {
    "db": "CONVEYOR_DB",
    "artifacts": "CONVEYOR_ARTIFACTS",
    "trust_pickle": "CONVEYOR_TRUST_PICKLE",
    "trusted_types": "CONVEYOR_TRUSTED_TYPES",
}


@dataclasses.dataclass(frozen=True)
class Settings:
    """Resolved settings. Build with `Settings.load()`."""

    root: Path
    db: str
    artifacts: str
    trust_pickle: bool = False
    #: module prefixes whose classes a skops model may contain and still load without trust
    trusted_types: tuple[str, ...] = ()

    @property
    def home(self) -> Path:
        """The project's `.conveyor/` folder (live logs; the default stores)."""
        return self.root / ".conveyor"

    @classmethod
    def load(cls, start: Path | None = None, **overrides: Any) -> Settings:
        """Resolve settings from defaults, conveyor.toml, the environment and `overrides`."""
        unknown = set(overrides) - set(_FIELDS) - {"root"}
        if unknown:
            raise ConfigError(f"unknown setting(s) {sorted(unknown)}; known: {sorted(_FIELDS)}")
        cwd = (start or Path.cwd()).resolve()
        config_path = find_config(cwd)
        root = config_path.parent if config_path else cwd
        values: dict[str, Any] = {}
        if config_path is not None:
            values.update(_read_toml(config_path))
        for field, var in _FIELDS.items():
            if os.environ.get(var):
                values[field] = os.environ[var]
        values.update({k: v for k, v in overrides.items() if v is not None and k != "root"})
        if overrides.get("root") is not None:
            root = Path(overrides["root"]).resolve()
        home = root / ".conveyor"
        db = str(values.get("db") or f"sqlite:///{home / 'conveyor.db'}")
        artifacts = str(values.get("artifacts") or home / "artifacts")
        if "://" not in artifacts:
            artifacts = str((root / artifacts).resolve())
        return cls(
            root=root,
            db=_absolute_sqlite(db, root),
            artifacts=artifacts,
            trust_pickle=_to_bool(values.get("trust_pickle", False), "trust_pickle"),
            trusted_types=_prefixes(values.get("trusted_types", ())),
        )


#: top-level tables of conveyor.toml read by other parts (`[[triggers]]`: conveyor.automation)
OTHER_TABLES = frozenset({"triggers"})


def read_config_file(path: Path) -> dict[str, Any]:
    """The whole parsed conveyor.toml (settings and the other tables)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib
    try:
        return tomllib.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ConfigError(f"{path}: cannot read: {err}") from None


def _prefixes(value: Any) -> tuple[str, ...]:
    """`trusted_types` from a TOML list or a comma-separated environment variable."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
        raise ConfigError(f"trusted_types must be a list of module prefixes, got {value!r}")
    prefixes = tuple(i.strip() for i in items if i.strip())
    for prefix in prefixes:
        if not all(part.isidentifier() for part in prefix.rstrip(".").split(".")):
            raise ConfigError(f"trusted_types: {prefix!r} is not a module name or prefix")
    return prefixes


def find_config(start: Path) -> Path | None:
    """The nearest conveyor.toml in `start` or a parent directory."""
    for folder in (start, *start.parents):
        candidate = folder / CONFIG_FILE
        if candidate.is_file():
            return candidate
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    data = read_config_file(path)
    section = data.get("conveyor", {k: v for k, v in data.items() if k not in OTHER_TABLES})
    if not isinstance(section, Mapping):
        raise ConfigError(f"{path}: [conveyor] must be a table")
    unknown = set(section) - set(_FIELDS)
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {sorted(unknown)}; known: {sorted(_FIELDS)}")
    for key in ("db", "artifacts"):
        if key in section and not isinstance(section[key], str):
            raise ConfigError(f"{path}: {key} must be a string, got {section[key]!r}")
    if "trust_pickle" in section:
        try:
            _to_bool(section["trust_pickle"], "trust_pickle")
        except ConfigError as err:
            raise ConfigError(f"{path}: {err}") from None
    return dict(section)


def _absolute_sqlite(url: str, root: Path) -> str:
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != "sqlite://":
        rest = url[len(prefix) :]
        if rest and rest != ":memory:":
            return prefix + str((root / rest).resolve())
    return url


def _to_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"setting {name!r}: expected true or false, got {value!r}")
