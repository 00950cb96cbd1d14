"""Load `FILE.py:PIPELINE` references and parameter files."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from conveyor.exceptions import ParameterError
from conveyor.run.loading import load_pipeline

__all__ = ["load_params", "load_pipeline", "parse_assignments"]


def parse_assignments(items: list[str]) -> dict[str, str]:
    """`["a=1", "b=x"]` → `{"a": "1", "b": "x"}`; values stay strings, typed later."""
    result: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ParameterError(f"-p {item!r}: expected key=value")
        result[key] = value
    return result


def load_params(path: Path) -> dict[str, Any]:
    """Parameters from a .yaml/.yml, .toml or .json file (a mapping at the top level)."""
    if not path.is_file():
        raise ParameterError(f"--params {path}: no such file")
    text = path.read_text()
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        elif path.suffix == ".toml":
            if sys.version_info >= (3, 11):
                import tomllib
            else:  # pragma: no cover
                import tomli as tomllib
            data = tomllib.loads(text)
        elif path.suffix == ".json":
            data = json.loads(text)
        else:
            raise ParameterError(f"--params {path}: use a .yaml, .toml or .json file")
    except ParameterError:
        raise
    except Exception as error:
        raise ParameterError(f"--params {path}: cannot parse: {error}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ParameterError(f"--params {path}: the top level must be a mapping of parameters")
    return data
