"""`Run`: what a user gets back from `pipeline.run()` and `conveyor.get_run()`."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from conveyor.metadata.records import RunRecord, StepRunRecord

__all__ = ["Run", "StepRun"]

StepRun = StepRunRecord


class _LazyOutputs(Mapping[str, Any]):
    """Pipeline outputs by name, loaded from the store on first access (or kept from the run)."""

    def __init__(self, ids: Mapping[str, str], load: Callable[[str], Any], values: dict[str, Any]):
        self._ids = dict(ids)
        self._load = load
        self._values = values

    def __getitem__(self, name: str) -> Any:
        if name not in self._ids:
            raise KeyError(f"the run has no output {name!r}; outputs: {sorted(self._ids)}")
        if name not in self._values:
            self._values[name] = self._load(self._ids[name])
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)


@dataclasses.dataclass(frozen=True, eq=False)
class Run:
    """A recorded run: its status, parameters, steps and outputs.

    Attributes:
        id: the run id shared by the CLI, the API and the UI.
        status: "succeeded", "failed", "running" or "interrupted".
        steps: one `StepRun` per node, in execution order.
        output_ids: pipeline output name → artifact id.
    """

    record: RunRecord
    steps: tuple[StepRun, ...]
    output_ids: Mapping[str, str]
    _load: Callable[[str], Any] = dataclasses.field(repr=False)
    _values: dict[str, Any] = dataclasses.field(default_factory=dict, repr=False)

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def status(self) -> str:
        return self.record.status

    @property
    def pipeline(self) -> str:
        return self.record.pipeline

    @property
    def params(self) -> dict[str, Any]:
        return self.record.params

    @property
    def duration_s(self) -> float | None:
        return self.record.duration_s

    @property
    def error(self) -> str | None:
        return self.record.error

    @property
    def succeeded(self) -> bool:
        return self.record.status == "succeeded"

    @property
    def outputs(self) -> Mapping[str, Any]:
        """Output name → value, loaded lazily from the artifact store."""
        return _LazyOutputs(self.output_ids, self._load, self._values)

    def output(self, name: str | None = None) -> Any:
        """The value of output `name`; with one output, `name` may be omitted."""
        if name is None:
            if len(self.output_ids) != 1:
                raise KeyError(f"the run has outputs {sorted(self.output_ids)}; name one")
            name = next(iter(self.output_ids))
        return self.outputs[name]

    def step(self, name: str) -> StepRun:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(f"the run has no step {name!r}")

    def __repr__(self) -> str:
        return f"<Run {self.id[:12]} {self.pipeline} {self.status} steps={len(self.steps)}>"
