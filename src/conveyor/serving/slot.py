"""The model a server answers with, and the watcher that swaps it when its alias moves.

Requests read `ModelSlot.current` once and use that `LoadedModel` to the end, so a swap (one
reference assignment, done only after the new version is fully loaded and its input schema
built) can never hand a request a half-loaded model, and no request waits for a load.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from conveyor.registry import ModelRegistry, parse_ref
from conveyor.registry.registry import ModelRef
from conveyor.registry.signature import InputSchema
from conveyor.serving.inputs import quiet_feature_names, takes_array

__all__ = ["LoadedModel", "ModelSlot"]

logger = logging.getLogger("conveyor.serving")


@dataclasses.dataclass(frozen=True)
class LoadedModel:
    name: str
    version: int
    model: Any
    schema: InputSchema
    metrics: dict[str, float]
    signature: dict[str, Any]
    classes: tuple[Any, ...] | None
    loaded_at: float
    #: the model is called with the validated float block, not a DataFrame (see serving.inputs)
    array_input: bool = False

    @property
    def can_proba(self) -> bool:
        return self.classes is not None and callable(getattr(self.model, "predict_proba", None))

    def features(self, columns: dict[str, list[Any]]) -> Any:
        """Validated columns in the form the model is called with."""
        return self.schema.block(columns) if self.array_input else self.schema.frame(columns)

    def logged_inputs(self, columns: dict[str, list[Any]], features: Any) -> Mapping[str, Any]:
        """The inputs for the prediction log: the array's columns (views, no copy) when the
        model took the array, the validated lists otherwise."""
        if not self.array_input:
            return columns
        return dict(zip(self.schema.names, features.T, strict=True))

    def call(self, method: str, features: Any) -> Any:
        """`model.<method>(features)`; on the array, without the feature-names warning (the
        schema already matched the names)."""
        if not self.array_input:
            return getattr(self.model, method)(features)
        with quiet_feature_names():
            return getattr(self.model, method)(features)


class ModelSlot:
    """Holds the served version of `ref`; when `ref` names an alias, follows it."""

    def __init__(
        self,
        registry: ModelRegistry,
        ref: str,
        *,
        poll_s: float = 1.0,
        max_rows: int = 100_000,
        on_load: Callable[[LoadedModel], None] | None = None,
    ) -> None:
        self.registry = registry
        self.ref: ModelRef = parse_ref(ref)
        self.poll_s = poll_s
        self.max_rows = max_rows
        self.on_load = on_load or (lambda loaded: None)
        self.current: LoadedModel | None = None
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def follows_alias(self) -> bool:
        return self.ref.alias is not None

    def load(self, version: int | None = None) -> LoadedModel:
        """Load a version, then make it current."""
        ref = f"{self.ref.name}:{version}" if version is not None else self.ref
        record = self.registry.get(ref)
        model = self.registry.load(f"{record.name}:{record.version}")
        schema = InputSchema.from_signature(record.signature, model, self.max_rows)
        classes = getattr(model, "classes_", None)
        loaded = LoadedModel(
            name=record.name,
            version=record.version,
            model=model,
            schema=schema,
            metrics=dict(record.metrics),
            signature=dict(record.signature),
            classes=tuple(classes.tolist() if hasattr(classes, "tolist") else classes)
            if classes is not None
            else None,
            loaded_at=time.time(),
            array_input=takes_array(model, schema),
        )
        self.current = loaded  # the swap: one reference assignment
        self.last_error = None
        self.on_load(loaded)
        return loaded

    def start(self) -> None:
        """Load now; then, for an alias, watch it in the background."""
        self.load()
        if self.follows_alias:
            self._thread = threading.Thread(target=self._watch, name="conveyor-watch", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _watch(self) -> None:
        store = self.registry.models
        assert self.ref.alias is not None
        try:
            while not self._stop.wait(self.poll_s):
                try:
                    target = store.alias_target(self.ref.name, self.ref.alias)
                    current = self.current
                    if target is not None and (current is None or target != current.version):
                        logger.info(
                            "%s@%s moved to %s: loading", self.ref.name, self.ref.alias, target
                        )
                        self.load(target)
                        logger.info("now serving %s:%s", self.ref.name, target)
                except Exception as err:  # keep serving the loaded version; report and retry
                    self.last_error = f"{type(err).__name__}: {err}"
                    logger.warning("could not follow %s: %s", self.ref, self.last_error)
        finally:
            self.registry.ws.metadata.release_thread()
