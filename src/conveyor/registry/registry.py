"""`ModelRegistry`: register model artifacts as numbered versions, move aliases, load safely.

A model is referred to as `NAME` (its latest version), `NAME:VERSION` or `NAME@ALIAS`. Aliases
(`production`, `candidate`, any name) move by promotion and rollback; every move is recorded with
who, when and why. Loading goes through the artifact store's verified read and the materializer
registry, so a skops model loads only with types the configuration trusts — never types the
artifact declares about itself.
"""

from __future__ import annotations

import dataclasses
import getpass
from collections.abc import Mapping
from typing import Any

from conveyor.config import Settings
from conveyor.exceptions import NotFoundError, ParameterError, RunStateError
from conveyor.metadata.model_store import AliasEvent, ModelStore, ModelVersionRecord
from conveyor.registry.names import check_alias, check_name, valid_alias, valid_name
from conveyor.workspace import Workspace, load_recorded, open_workspace

__all__ = ["ModelRef", "ModelRegistry", "load_model", "parse_ref"]

#: what a promotion or rollback without a reason records as its "why"
BY_HAND = {"promote": "promoted by hand", "rollback": "rolled back by hand"}


@dataclasses.dataclass(frozen=True)
class ModelRef:
    """`name`, with at most one of `version` and `alias` (neither: the latest version)."""

    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        if self.alias:
            return f"{self.name}@{self.alias}"
        return f"{self.name}:{self.version}" if self.version else self.name


def parse_ref(text: str) -> ModelRef:
    """Parse `NAME`, `NAME:VERSION` or `NAME@ALIAS`."""
    name, at, alias = text.partition("@")
    name, colon, version = name.partition(":")
    if not valid_name(name):
        raise ParameterError(f"model reference {text!r}: {name!r} is not a valid model name")
    if at:
        if colon or not valid_alias(alias):
            raise ParameterError(f"model reference {text!r}: expected NAME@ALIAS")
        return ModelRef(name, alias=alias)
    if colon:
        if not version.isdigit() or int(version) < 1:
            raise ParameterError(f"model reference {text!r}: the version must be a number >= 1")
        return ModelRef(name, version=int(version))
    return ModelRef(name)


class ModelRegistry:
    """The registry of one workspace (its metadata and artifact stores)."""

    def __init__(self, workspace: Workspace | None = None) -> None:
        self.ws = workspace or open_workspace()
        self.models = ModelStore(self.ws.metadata)

    def register(
        self,
        name: str,
        artifact_id: str,
        *,
        run_id: str | None = None,
        step_run_id: str | None = None,
        metrics: Mapping[str, float] | None = None,
        signature: Mapping[str, Any] | None = None,
        evaluation: Mapping[str, Any] | None = None,
        data: Mapping[str, str] | None = None,
        description: str | None = None,
        by: str | None = None,
    ) -> ModelVersionRecord:
        """Add a new version of model `name` whose model is the recorded artifact `artifact_id`."""
        check_name(name)
        self.ws.metadata.get_artifact(artifact_id)  # NotFoundError names it if it is unknown
        version = self.models.add_version(
            {
                "name": name,
                "artifact_id": artifact_id,
                "run_id": run_id,
                "step_run_id": step_run_id,
                "metrics": dict(metrics or {}),
                "signature": dict(signature or {}),
                "evaluation": dict(evaluation or {}),
                "data": dict(data or {}),
                "description": description,
                "created_by": by or _who(),
            }
        )
        return self.models.version(name, version)

    def get(self, ref: str | ModelRef) -> ModelVersionRecord:
        """The version a reference points at."""
        ref = parse_ref(ref) if isinstance(ref, str) else ref
        if ref.version is not None:
            return self.models.version(ref.name, ref.version)
        if ref.alias is not None:
            version = self.models.alias_target(ref.name, ref.alias)
            if version is None:
                known = sorted({a for v in self.models.versions(ref.name) for a in v.aliases})
                raise NotFoundError(
                    f"model {ref.name!r} has no alias {ref.alias!r}"
                    + (f"; aliases: {known}" if known else "")
                )
            return self.models.version(ref.name, version)
        versions = self.models.versions(ref.name)
        if not versions:
            raise NotFoundError(f"no model named {ref.name!r} is registered")
        return versions[-1]

    def list(self) -> list[ModelVersionRecord]:
        """Every version of every model."""
        return self.models.versions()

    def promote(
        self,
        name: str,
        version: int,
        alias: str,
        *,
        by: str | None = None,
        reason: str | None = None,
    ) -> AliasEvent:
        """Point `alias` of model `name` at `version` (which must exist).

        Without a `reason`, the move is recorded as "promoted by hand". When the alias already
        points at `version` nothing is recorded: the event returned is the one that put it there.
        """
        check_name(name)
        check_alias(alias)
        self.models.version(name, version)
        self.models.move_alias(
            name,
            alias,
            version,
            action="promote",
            by=by or _who(),
            reason=reason or BY_HAND["promote"],
        )
        return self.models.history(name, alias)[-1]

    def rollback(
        self, name: str, alias: str, *, by: str | None = None, reason: str | None = None
    ) -> AliasEvent:
        """Move `alias` back to the version it pointed at before its current one.

        Rollbacks undo promotions one at a time, most recent first; without a `reason`, the move
        is recorded as "rolled back by hand".
        """
        check_name(name)
        check_alias(alias)
        current = self.models.alias_target(name, alias)
        if current is None:
            raise NotFoundError(f"model {name!r} has no alias {alias!r} to roll back")
        events = self.models.history(name, alias)
        previous = _previous_target(events, current)
        if previous is None:
            held = sorted({e.version for e in events} - {current})
            if not held:
                why = f"has pointed only at version {current}"
            else:
                rollbacks = sum(e.action == "rollback" for e in events)
                why = (
                    f"is at version {current}, where it started: its {rollbacks} rollback(s) "
                    f"have undone every later promotion (it also held {_versions(held)})"
                )
            raise RunStateError(
                f"model {name!r} alias {alias!r} {why}; there is nothing to roll back to "
                f"(move it with `conveyor models promote {name} VERSION --alias {alias}`)"
            )
        self.models.move_alias(
            name,
            alias,
            previous,
            action="rollback",
            by=by or _who(),
            reason=reason or BY_HAND["rollback"],
        )
        return self.models.history(name, alias)[-1]

    def history(self, name: str, alias: str | None = None) -> list[AliasEvent]:
        return self.models.history(name, alias)

    def load(self, ref: str | ModelRef, *, trust: bool | None = None) -> Any:
        """The model object of a version, loaded from verified bytes."""
        record = self.get(ref)
        trusted = self.ws.settings.trust_pickle if trust is None else trust
        return _decoded(load_recorded(self.ws, record.artifact_id, trust=trusted))


def _decoded(model: Any) -> Any:
    """A classifier fitted on label positions (XGBoost's), answering with the original labels."""
    if type(model).__module__.split(".")[0] not in ("xgboost", "sklearn"):
        return model  # only these can hold one (itself, or as a Pipeline's last step)
    from conveyor.registry.labels import decoded

    return decoded(model)


def _previous_target(events: list[AliasEvent], current: int) -> int | None:
    """Replay the alias's moves as an undo stack: the version before `current` on it.

    A promotion pushes its version (promoting the version already on top changes nothing); a
    rollback pops back to the version it moved to.
    """
    stack: list[int] = []
    for event in events:
        if event.action == "rollback":
            while stack and stack[-1] != event.version:
                stack.pop()
            if not stack:
                stack.append(event.version)
        elif not stack or stack[-1] != event.version:
            stack.append(event.version)
    while stack and stack[-1] == current:
        stack.pop()
    return stack[-1] if stack else None


def _versions(numbers: list[int]) -> str:
    return ("version " if len(numbers) == 1 else "versions ") + ", ".join(map(str, numbers))


def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in some containers
        return "unknown"


def load_model(ref: str, *, settings: Settings | None = None, trust: bool | None = None) -> Any:
    """Load a registered model: `cv.load_model("churn@production")`, `"churn:3"`, `"churn"`."""
    return ModelRegistry(open_workspace(settings)).load(ref, trust=trust)
