"""The model registry: versions per model name, aliases, promotion and rollback, safe loading.

Names load on first use: the components check model names and aliases (`registry.names`) when a
pipeline is traced, without the database layer.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conveyor.registry.registry import ModelRef, ModelRegistry, load_model, parse_ref

__all__ = ["ModelRef", "ModelRegistry", "load_model", "parse_ref"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("conveyor.registry.registry"), name)
    raise AttributeError(f"module 'conveyor.registry' has no attribute {name!r}")
