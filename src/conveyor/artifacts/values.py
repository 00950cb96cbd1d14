"""Values to artifacts and back: pick a materializer, store its bytes, describe the result."""

from __future__ import annotations

import dataclasses
from typing import Any

from conveyor.artifacts.materializers import MaterializerRegistry
from conveyor.artifacts.store import ArtifactStore
from conveyor.exceptions import ArtifactError, MaterializerError, UnsafeArtifactError

__all__ = ["SavedArtifact", "load_value", "save_value"]


@dataclasses.dataclass(frozen=True)
class SavedArtifact:
    """What the metadata store records about a freshly written artifact."""

    id: str
    type_name: str
    materializer: str
    materializer_version: int
    safe: bool
    size: int
    uri: str
    summary: dict[str, Any]
    new: bool = dataclasses.field(default=False, compare=False)  # bytes were not there before


def save_value(value: Any, store: ArtifactStore, registry: MaterializerRegistry) -> SavedArtifact:
    """Serialize `value` with the first materializer that accepts it and store the bytes."""
    errors: list[str] = []
    for mat in registry.candidates(value):
        try:
            data = mat.save(value)
        except MaterializerError as err:
            errors.append(f"{mat.name}: {err}")
            continue
        blob = store.put(f"{mat.name}@{mat.version}", data)
        try:
            summary = mat.describe(value)
        except Exception as err:  # a summary is a courtesy; never fail a step over it
            summary = {"describe_error": f"{type(err).__name__}: {err}"}
        cls = type(value)
        return SavedArtifact(
            id=blob.id,
            type_name=f"{cls.__module__}.{cls.__qualname__}",
            materializer=mat.name,
            materializer_version=mat.version,
            safe=mat.safe,
            size=blob.size,
            uri=blob.uri,
            summary=summary,
            new=blob.new,
        )
    raise MaterializerError(
        f"no materializer can store a {type(value).__name__}: {'; '.join(errors)}"
    )


def load_value(
    artifact_id: str,
    materializer: str,
    version: int,
    store: ArtifactStore,
    registry: MaterializerRegistry,
    *,
    trust: bool = False,
) -> Any:
    """Read, verify and deserialize an artifact. Errors name the artifact."""
    data = store.get(artifact_id, f"{materializer}@{version}")
    mat = registry.get(materializer)
    if mat.version < version:
        raise MaterializerError(
            f"artifact {artifact_id[:12]} was written by {materializer} v{version}, newer than the "
            f"installed v{mat.version}; upgrade the package that provides it"
        )
    try:
        return mat.load(data, trust=trust)
    except UnsafeArtifactError as err:
        raise UnsafeArtifactError(f"artifact {artifact_id[:12]}: {err}") from None
    except ArtifactError:
        raise
    except Exception as err:
        raise ArtifactError(
            f"artifact {artifact_id[:12]} ({materializer}) failed to load: "
            f"{type(err).__name__}: {err}"
        ) from err
