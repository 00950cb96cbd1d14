"""The model registry: versions per model name, aliases, promotion and rollback, safe loading."""

from conveyor.registry.registry import ModelRef, ModelRegistry, load_model, parse_ref

__all__ = ["ModelRef", "ModelRegistry", "load_model", "parse_ref"]
