"""What a model name and an alias may look like, checked before anything is written.

Light on purpose (no database, no pandas): the components call these when a pipeline is traced,
so a bad `name=` or `alias=` refuses the run before any step executes.
"""

from __future__ import annotations

import re
from typing import Any

from conveyor.exceptions import ParameterError

__all__ = ["check_alias", "check_name", "valid_alias", "valid_name"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}$")
_ALIAS = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,99}$")

NAME_RULE = "letters, digits, '_', '.' and '-', starting with a letter or digit, at most 200"
ALIAS_RULE = "letters, digits, '_' and '-', starting with a letter, at most 100"


def valid_name(name: Any) -> bool:
    return isinstance(name, str) and _NAME.match(name) is not None


def valid_alias(alias: Any) -> bool:
    return isinstance(alias, str) and _ALIAS.match(alias) is not None


def check_name(name: Any, argument: str = "name") -> str:
    """`name` if it is a valid model name; else a ParameterError naming `argument`."""
    if not valid_name(name):
        raise ParameterError(
            f"{argument}={name!r} is not a valid model name (use {NAME_RULE} characters)"
        )
    return name


def check_alias(alias: Any, argument: str = "alias") -> str:
    """`alias` if it is a valid alias; else a ParameterError naming `argument`."""
    if not valid_alias(alias):
        raise ParameterError(
            f"{argument}={alias!r} is not a valid alias (use {ALIAS_RULE} characters)"
        )
    return alias
