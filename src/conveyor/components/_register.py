"""`register`: add the trained model to the registry with its evidence, and promote it if it passed.

The version records the model's metrics, its input signature, the evaluation and gate decision
it passed, and lineage: the run and step that trained it and the data artifacts it was trained
and evaluated on. Registering is idempotent: the same model bytes under the same name are one
version, so re-running an unchanged pipeline adds nothing. A model refused by its gate is not
registered (unless `keep_rejected=True`) and never promoted; nor is a version that a rollback
took the alias away from (a person decided against it: promote it by hand).

The outcome says what this step run did, never what an earlier one did: its cache key holds the
registry's state for the model (newest version, number of alias moves), which every registration
and promotion changes, so a result that added a version or moved an alias is never served again.
The name and alias are checked when the pipeline is traced and before anything is written: a bad
one leaves the registry as it was.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conveyor.components import _runtime
from conveyor.core.context import log_param
from conveyor.core.step import step
from conveyor.exceptions import ParameterError
from conveyor.registry.names import check_alias, check_name

if TYPE_CHECKING:
    from conveyor.workspace import Workspace

__all__ = ["register"]


def _lineage(ws: Workspace, artifact_id: str | None) -> tuple[Any, dict[str, str]]:
    """The step run that produced an artifact and the artifacts it read."""
    if artifact_id is None:
        return None, {}
    producer = ws.metadata.get_artifact(artifact_id).producer_id
    if producer is None:
        return None, {}
    step_run = ws.metadata.get_step_run(producer)
    return step_run, dict(step_run.inputs)


def _signature(evaluation: dict, schema: dict | None, frame: Any) -> dict:
    """Inputs in the order the model reads them, typed with the schema's words (int, float,
    bool, datetime, category, string): from `schema` when given, else from the training data."""
    features = list(evaluation.get("features") or [])
    types: dict[str, Any] = {}
    if schema is not None:
        types = {name: spec.get("type") for name, spec in schema.get("columns", {}).items()}
    elif frame is not None:
        from conveyor.components._schema import infer_type

        types = {c: infer_type(frame[c]) for c in features if c in frame.columns}
    signature: dict[str, Any] = {
        "inputs": {name: types.get(name) or "unknown" for name in features},
        "target": evaluation.get("target"),
        "task": evaluation.get("task"),
    }
    if schema is not None:
        signature["schema"] = {
            "columns": {n: s for n, s in schema.get("columns", {}).items() if n in features}
        }
    # the model's classes, not the confusion matrix's labels (which add classes it never saw)
    labels = evaluation.get("classes", (evaluation.get("confusion_matrix") or {}).get("labels"))
    if labels is not None:
        signature["classes"] = labels
    return signature


def _training_frame(ws: Workspace, data: dict[str, str]) -> Any:
    from conveyor.workspace import load_recorded

    data_id = data.get("train.data")
    return None if data_id is None else load_recorded(ws, data_id, trust=False)


def _capture_reference(
    registry: Any, record: Any, model: Any, evaluation: dict, frame: Any
) -> None:
    """Reference statistics for drift monitoring: the training data and the predictions on it."""
    from conveyor.profiling import column_statistics
    from conveyor.registry.labels import decoded

    data_id = record.data.get("train.data")
    if data_id is None or frame is None:
        return
    model = decoded(model)
    features = [c for c in evaluation.get("features", []) if c in frame.columns]
    if not features:
        return
    statistics = column_statistics(frame[features])
    import pandas as pd

    predicted = model.predict(frame[features])
    if evaluation.get("task") == "classification":  # classes are categories, even 0 and 1
        predicted = [str(p) for p in predicted]
    predictions = pd.DataFrame({"prediction": predicted})
    statistics["prediction"] = column_statistics(predictions)["columns"]["prediction"]
    target = evaluation.get("target")
    if target in frame.columns:
        statistics["target"] = column_statistics(frame[[target]])["columns"][target]
    registry.models.set_reference(record.name, record.version, statistics, data_id)


def _register_key(name: Any = None, **_: Any) -> tuple[int, int] | None:
    """The registry's state for model `name`: any registration or alias move changes it, so
    a cached outcome is one whose registry is exactly as that outcome left it."""
    if not isinstance(name, str):
        return None
    from conveyor.metadata.model_store import ModelStore

    return ModelStore(_runtime.workspace().metadata).state(name)


def check_arguments(
    name: Any = _runtime.UNKNOWN,
    alias: Any = _runtime.UNKNOWN,
    keep_rejected: Any = _runtime.UNKNOWN,
    **_: Any,
) -> None:
    """register's arguments, checked when the pipeline is traced and before anything is written."""
    if name is not _runtime.UNKNOWN:
        check_name(name, "name")
    if alias is not _runtime.UNKNOWN and alias is not None:
        check_alias(alias, "alias")
    if keep_rejected is not _runtime.UNKNOWN and not isinstance(keep_rejected, bool):
        raise ParameterError(f"keep_rejected={keep_rejected!r} must be True or False")


def _rolled_back_from(registry: Any, name: str, alias: str, version: int) -> Any:
    """The rollback that moved `alias` off `version`, if one ever did."""
    for event in reversed(registry.history(name, alias)):
        if event.action == "rollback" and event.previous_version == version:
            return event
    return None


@step(cache_key_fn=_register_key, check=check_arguments)
def register(
    model: Any,
    evaluation: dict[str, Any],
    name: str,
    decision: dict[str, Any] | None = None,
    alias: str | None = "production",
    schema: dict[str, Any] | None = None,
    description: str | None = None,
    keep_rejected: bool = False,
) -> dict[str, Any]:
    """Register `model` (an upstream step's output) as a version of `name`.

    When `decision` (from `gate`) passed, or there is none, `alias` moves to the version.
    Returns what this step did: `{"name", "version", "registered", "added", "promoted",
    "alias", "alias_version", "reasons"}` — `registered`: the version is in the registry,
    `added`: this step added it, `promoted`: this step moved `alias` to it, `alias_version`:
    the version `alias` points at afterwards.
    """
    from conveyor.registry import ModelRegistry

    try:
        check_arguments(name, alias, keep_rejected)
    except ParameterError as err:
        raise ParameterError(f"register: {err}") from None
    artifact_id = _runtime.input_artifact("model")
    if artifact_id is None:
        raise ParameterError(
            "register: model must be the output of an upstream step of the pipeline "
            "(outside a pipeline, use conveyor.registry.ModelRegistry.register)"
        )
    if (decision is not None and not isinstance(decision, dict)) or not isinstance(
        evaluation, dict
    ):
        raise ParameterError("register: evaluation and decision must be evaluate/gate reports")
    passed = decision is None or bool(decision.get("passed"))
    reasons = list((decision or {}).get("reasons", []))
    ws = _runtime.workspace()
    registry = ModelRegistry(ws)
    outcome: dict[str, Any] = {
        "name": name,
        "version": None,
        "registered": False,
        "added": False,
        "promoted": False,
        "alias": alias,
        "alias_version": None if alias is None else registry.models.alias_target(name, alias),
        "reasons": reasons,
    }
    if not passed and not keep_rejected:
        print(f"register: {name} not registered, the gate refused it: {'; '.join(reasons)}")
        log_param("registered", False)
        return outcome
    existing = [v for v in registry.models.versions(name) if v.artifact_id == artifact_id]
    if existing:
        record = existing[0]
    else:
        trainer, data = _lineage(ws, artifact_id)
        _, evaluated_on = _lineage(ws, _runtime.input_artifact("evaluation"))
        data = {f"train.{k}": v for k, v in data.items()}
        data.update({f"eval.{k}": v for k, v in evaluated_on.items() if k != "model"})
        frame = _training_frame(ws, data)
        record = registry.register(
            name,
            artifact_id,
            run_id=trainer.run_id if trainer else None,
            step_run_id=trainer.id if trainer else None,
            metrics=evaluation.get("metrics", {}),
            signature=_signature(evaluation, schema, frame),
            evaluation={
                "evaluation_artifact": _runtime.input_artifact("evaluation"),
                "report": {k: v for k, v in evaluation.items() if k != "slices"},
                "slices": evaluation.get("slices", {}),
                "gate": decision,
            },
            data=data,
            description=description,
        )
        outcome["added"] = True
        _capture_reference(registry, record, model, evaluation, frame)
    outcome.update(version=record.version, registered=True)
    verb = "not promoted"
    if passed and alias is not None and alias not in record.aliases:
        rollback = _rolled_back_from(registry, name, alias, record.version)
        if rollback is None:
            registry.promote(name, record.version, alias, reason="; ".join(reasons) or "registered")
            outcome["promoted"] = True
            outcome["alias_version"] = record.version
            verb = f"promoted to @{alias}"
        else:
            why = f": {rollback.reason}" if rollback.reason else ""
            note = (
                f"not promoted: @{alias} was rolled back from version {record.version} "
                f"by {rollback.by}{why}; promote it by hand to overrule that"
            )
            outcome["reasons"] = [*reasons, note]
            verb = note
    elif alias is not None and alias in record.aliases:
        verb = f"already @{alias}"
    log_param("registered", f"{name}:{record.version}")
    print(f"register: {name}:{record.version} {'added, ' if outcome['added'] else ''}{verb}")
    return outcome
