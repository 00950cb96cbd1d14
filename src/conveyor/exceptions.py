"""Every error a Conveyor user can hit, in one tree.

    ConveyorError
    ├── DefinitionError          a @step or @pipeline is malformed (bad options, bad signature)
    ├── GraphError               the traced DAG is invalid (unknown output, type mismatch, cycle)
    ├── ParameterError           a pipeline parameter is missing, unknown or cannot be coerced
    ├── ConfigError              conveyor.toml / CONVEYOR_* settings are invalid
    ├── StepFailedError          a step raised; carries the step name and the original error
    ├── ArtifactError            an artifact cannot be stored or loaded
    │   ├── ArtifactNotFoundError    no artifact with that id, or its bytes are missing
    │   ├── ArtifactCorruptedError   the bytes on disk do not match the artifact's content hash
    │   ├── UnsafeArtifactError      loading would execute code the user has not trusted
    │   └── MaterializerError        no materializer can (de)serialize this value
    ├── MetadataError            the metadata store cannot be opened or is at the wrong schema
    │   └── NotFoundError            no run / step run / artifact matches the given id
    ├── PipelineLoadError        `FILE.py:NAME` cannot be imported or does not name a pipeline
    ├── DataError                a data source cannot be read (missing or empty file, bad SQL URL)
    │   ├── DataValidationError      data breaks its schema; carries the anomalies report
    │   ├── EmptyWindowError         a monitoring window holds no rows (`conveyor monitor` exit 4)
    │   └── InputError               prediction input breaks the model's signature; per-field errors
    └── RunStateError            the run is not in a state that allows this (resume a success)

Each message names the step, the argument, the field or the file involved, so a user can act on it
without reading a traceback.
"""

from __future__ import annotations

__all__ = [
    "ArtifactCorruptedError",
    "ArtifactError",
    "ArtifactNotFoundError",
    "ConfigError",
    "ConveyorError",
    "DataError",
    "DataValidationError",
    "DefinitionError",
    "EmptyWindowError",
    "GraphError",
    "InputError",
    "MaterializerError",
    "MetadataError",
    "NotFoundError",
    "ParameterError",
    "PipelineLoadError",
    "RunStateError",
    "StepFailedError",
    "UnsafeArtifactError",
]


class ConveyorError(Exception):
    """Base class of every error Conveyor raises on purpose."""


class DefinitionError(ConveyorError, TypeError):
    """A step or pipeline definition is malformed."""


class GraphError(ConveyorError):
    """The pipeline's graph is invalid; raised before any step runs."""


class ParameterError(ConveyorError, ValueError):
    """A parameter is missing, unknown, or has a value that cannot be coerced to its type."""


class ConfigError(ConveyorError):
    """Settings from conveyor.toml, the environment or arguments are invalid."""


class StepFailedError(ConveyorError):
    """A step raised an exception while running.

    Attributes:
        step: the name of the step node that failed.
        error_type: the qualified name of the original exception's class.
    """

    def __init__(self, step: str, error_type: str, message: str) -> None:
        self.step = step
        self.error_type = error_type
        self.message = message
        super().__init__(f"step {step!r} failed: {error_type}: {message}")


class ArtifactError(ConveyorError):
    """An artifact cannot be stored or loaded."""


class ArtifactNotFoundError(ArtifactError, LookupError):
    """No artifact has that id, or its bytes are gone from the store."""


class ArtifactCorruptedError(ArtifactError):
    """The stored bytes do not hash to the artifact's id."""


class UnsafeArtifactError(ArtifactError):
    """Loading this artifact would run arbitrary code and it has not been trusted."""


class MaterializerError(ArtifactError):
    """No materializer can write or read this value."""


class MetadataError(ConveyorError):
    """The metadata store cannot be opened or its schema is not the expected one."""


class NotFoundError(MetadataError, LookupError):
    """No record matches the given id or prefix."""


class PipelineLoadError(ConveyorError):
    """A `FILE.py:PIPELINE` reference cannot be loaded."""


class DataError(ConveyorError, ValueError):
    """A data source cannot be read: a missing or empty file, a database that does not connect."""


class DataValidationError(DataError):
    """Data breaks its schema. `report` is the anomalies report (see `conveyor.components`)."""

    def __init__(self, message: str, report: dict | None = None) -> None:
        super().__init__(message)
        self.report = report or {}


class EmptyWindowError(DataError):
    """A monitoring window holds no live rows: nothing was served in it, or the data given is
    empty. Not a fault of the data: a trigger notes it and waits for traffic."""


class InputError(DataError):
    """Prediction input does not match the model's signature. `errors` lists each field's problem
    as `{"field": "instances[0].island", "message": "..."}`."""

    def __init__(self, message: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


class RunStateError(ConveyorError):
    """The run's state does not allow the operation (e.g. resuming a run that succeeded)."""
