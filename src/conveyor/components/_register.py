"""`register`: add the trained model to the registry with its evidence, and promote it if it passed.

The version records the model's metrics, its input signature, the evaluation and gate decision
it passed, and lineage: the run and step that trained it and the data artifacts it was trained
and evaluated on. Registering is idempotent: the same model bytes under the same name are one
version, so re-running an unchanged pipeline adds nothing. A model refused by its gate is not
registered (unless `keep_rejected=True`) and never promoted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conveyor.components import _runtime
from conveyor.components._gate import alias_version
from conveyor.core.context import log_param
from conveyor.core.step import step
from conveyor.exceptions import ParameterError

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


def _signature(ws: Workspace, data: dict[str, str], evaluation: dict, schema: dict | None) -> dict:
    features = list(evaluation.get("features") or [])
    types: dict[str, Any] = {}
    if schema is not None:
        types = {name: spec.get("type") for name, spec in schema.get("columns", {}).items()}
    elif "train.data" in data:
        types = dict(ws.metadata.get_artifact(data["train.data"]).summary.get("dtypes", {}))
    signature: dict[str, Any] = {
        "inputs": {name: types.get(name, "unknown") for name in features},
        "target": evaluation.get("target"),
        "task": evaluation.get("task"),
    }
    if schema is not None:
        signature["schema"] = {
            "columns": {n: s for n, s in schema.get("columns", {}).items() if n in features}
        }
    labels = (evaluation.get("confusion_matrix") or {}).get("labels")
    if labels is not None:
        signature["classes"] = labels
    return signature


def _capture_reference(
    ws: Workspace, registry: Any, record: Any, model: Any, evaluation: dict
) -> None:
    """Reference statistics for drift monitoring: the training data and the predictions on it."""
    from conveyor.profiling import column_statistics
    from conveyor.workspace import load_recorded

    data_id = record.data.get("train.data")
    if data_id is None:
        return
    frame = load_recorded(ws, data_id, trust=False)
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


def _register_key(name: Any = None, alias: Any = "production", **_: Any) -> int | None:
    return alias_version(name, alias)


# Cached like any step (same model, evaluation, decision and alias target: nothing to do), and
# idempotent when it runs: the same model bytes under one name are one version.
@step(cache_key_fn=_register_key)
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
    Returns `{"name", "version", "registered", "promoted", "alias", "reasons"}`.
    """
    from conveyor.registry import ModelRegistry

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
    outcome: dict[str, Any] = {
        "name": name,
        "version": None,
        "registered": False,
        "promoted": False,
        "alias": alias,
        "reasons": reasons,
    }
    if not passed and not keep_rejected:
        print(f"register: {name} not registered, the gate refused it: {'; '.join(reasons)}")
        log_param("registered", False)
        return outcome
    ws = _runtime.workspace()
    registry = ModelRegistry(ws)
    existing = [v for v in registry.models.versions(name) if v.artifact_id == artifact_id]
    if existing:
        record = existing[0]
    else:
        trainer, data = _lineage(ws, artifact_id)
        _, evaluated_on = _lineage(ws, _runtime.input_artifact("evaluation"))
        data = {f"train.{k}": v for k, v in data.items()}
        data.update({f"eval.{k}": v for k, v in evaluated_on.items() if k != "model"})
        record = registry.register(
            name,
            artifact_id,
            run_id=trainer.run_id if trainer else None,
            step_run_id=trainer.id if trainer else None,
            metrics=evaluation.get("metrics", {}),
            signature=_signature(ws, data, evaluation, schema),
            evaluation={
                "evaluation_artifact": _runtime.input_artifact("evaluation"),
                "report": {k: v for k, v in evaluation.items() if k != "slices"},
                "slices": evaluation.get("slices", {}),
                "gate": decision,
            },
            data=data,
            description=description,
        )
        _capture_reference(ws, registry, record, model, evaluation)
    outcome.update(version=record.version, registered=True)
    if passed and alias is not None and alias not in record.aliases:
        registry.promote(name, record.version, alias, reason="; ".join(reasons) or "registered")
        outcome["promoted"] = True
    log_param("registered", f"{name}:{record.version}")
    verb = f"promoted to @{alias}" if outcome["promoted"] else "not promoted"
    print(f"register: {name}:{record.version} {verb}")
    return outcome
