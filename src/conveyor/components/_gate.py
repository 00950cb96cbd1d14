"""`gate`: decide whether a candidate model may be promoted, and record why.

Two kinds of checks, both optional:

- absolute thresholds on the candidate's metrics: `{"accuracy": ">=0.9", "log_loss": "<0.4"}`;
- "no worse than the model now holding alias `baseline`" by more than `tolerance`, with that model
  evaluated on the same data as the candidate (its stored metrics came from other data). A
  comparison that cannot be made (the baseline has no value of the metric) fails, or with
  `missing_baseline="skip"` is skipped; either way the decision says so.

The decision is an artifact `{"passed": ..., "reasons": [...], "checks": [...]}` and a metric
`gate_passed`. A failed gate is a normal outcome, not an error: the run succeeds and `register`
does not promote. The thresholds, tolerance, model name and baseline alias are checked when the
pipeline is traced (`check=`), so a typo refuses the run before anything is trained.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from conveyor.components import _runtime
from conveyor.components._evaluate import HIGHER_IS_BETTER, evaluate_model
from conveyor.core.context import log_metric
from conveyor.core.step import step
from conveyor.exceptions import ConveyorError, ParameterError
from conveyor.registry.names import check_alias, check_name

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["decide", "gate", "parse_threshold"]

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
}
_EXPRESSION = re.compile(r"^\s*(>=|<=|==|>|<)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$")


def parse_threshold(metric: str, expression: Any) -> tuple[str, float]:
    """`">=0.9"` → (">=", 0.9); a bare number means `>=` for metrics where higher is better."""
    if isinstance(expression, (int, float)) and not isinstance(expression, bool):
        if not math.isfinite(expression):
            raise ParameterError(f"thresholds[{metric!r}] = {expression!r}: not a finite number")
        return (">=" if HIGHER_IS_BETTER.get(metric, True) else "<="), float(expression)
    match = _EXPRESSION.match(expression) if isinstance(expression, str) else None
    if match is None:
        raise ParameterError(
            f"thresholds[{metric!r}] = {expression!r}: the threshold does not parse; "
            "write an operator and a number, e.g. '>=0.9' or '<0.35'"
        )
    return match.group(1), float(match.group(2))


def _parse_thresholds(thresholds: Any) -> dict[str, tuple[str, float]]:
    if thresholds is None:
        return {}
    if not isinstance(thresholds, dict):
        raise ParameterError(
            f"thresholds= must be a dict of metric → expression, e.g. {{'accuracy': '>=0.9'}}; "
            f"got {thresholds!r}"
        )
    for metric in thresholds:
        if not isinstance(metric, str) or not metric:
            raise ParameterError(f"thresholds= names a metric {metric!r}; use its name")
    return {name: parse_threshold(name, expr) for name, expr in thresholds.items()}


def _tolerances(tolerance: float | dict[str, float], metrics: list[str]) -> dict[str, float]:
    if isinstance(tolerance, dict):
        unknown = sorted(set(tolerance) - set(metrics))
        if unknown:
            raise ParameterError(
                f"tolerance= is given for {unknown}, which are not among compare={metrics}"
            )
        values = {m: tolerance.get(m, 0.0) for m in metrics}
    else:
        _check_tolerance(tolerance, "tolerance")
        values = dict.fromkeys(metrics, tolerance)
    for name, value in values.items():
        _check_tolerance(value, f"tolerance[{name!r}]")
    return {k: float(v) for k, v in values.items()}


def _check_tolerance(value: Any, where: str) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        raise ParameterError(f"{where} = {value!r}: must be a number >= 0")


def _check_compare(compare: Any) -> list[str] | None:
    if compare is None:
        return None
    if isinstance(compare, str) or not isinstance(compare, (list, tuple)):
        raise ParameterError(f"compare= must be a list of metric names, got {compare!r}")
    if not all(isinstance(m, str) and m for m in compare):
        raise ParameterError(f"compare= must be a list of metric names, got {compare!r}")
    return list(compare)


_MISSING = ("fail", "skip")


def _check_missing(missing: Any) -> str:
    if missing not in _MISSING:
        raise ParameterError(f"missing_baseline={missing!r} must be 'fail' or 'skip'")
    return missing


def decide(
    evaluation: dict[str, Any],
    thresholds: dict[str, Any] | None = None,
    baseline_metrics: dict[str, float] | None = None,
    compare: list[str] | None = None,
    tolerance: float | dict[str, float] = 0.0,
    *,
    missing_baseline: str = "fail",
    baseline_undefined: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The decision for `evaluation` (a report from `evaluate`); pure, so it is easy to test.

    A compared metric the baseline has no value for (a model without `predict_proba` has no log
    loss) is a comparison that cannot be made: it fails, with the reason (`baseline_undefined`,
    the baseline's evaluation's `undefined`, says why), unless `missing_baseline="skip"`, which
    skips it and records that it did. It never passes silently.
    """
    metrics: dict[str, float] = evaluation.get("metrics", {})
    undefined: dict[str, str] = evaluation.get("undefined") or {}
    parsed = _parse_thresholds(thresholds)
    compared = _check_compare(compare)
    compare = compared if compared is not None else list(parsed) or [_primary(evaluation)]
    tolerances = _tolerances(tolerance, compare)
    _check_missing(missing_baseline)
    unknown = sorted((set(parsed) | set(compare)) - set(metrics) - set(HIGHER_IS_BETTER))
    if unknown:
        raise ParameterError(
            f"gate: unknown metric(s) {unknown}; the evaluation has {sorted(metrics)}"
        )
    checks: list[dict[str, Any]] = []
    for name, (op, bound) in parsed.items():
        value = metrics.get(name)
        ok = value is not None and _OPS[op](value, bound)
        check = {"kind": "threshold", "metric": name, "value": value, "op": op, "bound": bound}
        checks.append(check | _why_missing(value, undefined.get(name)) | {"passed": ok})
    for name in compare if baseline_metrics is not None else []:
        value, reference = metrics.get(name), baseline_metrics.get(name)
        higher = HIGHER_IS_BETTER.get(name, True)
        op = ">=" if higher else "<="
        check = {"kind": "baseline", "metric": name, "value": value, "op": op}
        check |= _why_missing(value, undefined.get(name))
        if reference is None:
            why = (baseline_undefined or {}).get(name) or "it was not computed"
            skip = missing_baseline == "skip"
            checks.append(
                check | {"baseline": None, "baseline_missing": why, "skipped": skip, "passed": skip}
            )
            continue
        bound = reference - tolerances[name] if higher else reference + tolerances[name]
        ok = value is not None and _OPS[op](value, bound)
        checks.append(
            check
            | {
                "bound": bound,
                "baseline": reference,
                "tolerance": tolerances[name],
                "passed": ok,
            }
        )
    reasons = [_reason(c) for c in checks]
    return {"passed": all(c["passed"] for c in checks), "reasons": reasons, "checks": checks}


def _why_missing(value: float | None, why: str | None) -> dict[str, str]:
    return {} if value is not None else {"missing": why or "the evaluation has no value"}


def _primary(evaluation: dict[str, Any]) -> str:
    return "accuracy" if evaluation.get("task") == "classification" else "rmse"


def _reason(check: dict[str, Any]) -> str:
    value = (
        f"{check['value']:.4g}" if check["value"] is not None else f"missing ({check['missing']})"
    )
    verdict = "ok" if check["passed"] else "FAILED"
    if check["kind"] == "threshold":
        return f"{check['metric']} = {value}, needs {check['op']} {check['bound']:.4g}: {verdict}"
    if check["baseline"] is None:
        verdict = "skipped (missing_baseline='skip')" if check["skipped"] else verdict
        return (
            f"{check['metric']} = {value} vs baseline: the baseline has no "
            f"{check['metric']} ({check['baseline_missing']}), no comparison: {verdict}"
        )
    return (
        f"{check['metric']} = {value} vs baseline {check['baseline']:.4g} "
        f"(tolerance {check['tolerance']:.4g}): {verdict}"
    )


def _baseline(model_name: str, alias: str, data: pd.DataFrame, evaluation: dict) -> dict | None:
    """The model now holding `alias`, evaluated on `data`; None when the alias is unset."""
    from conveyor.registry import ModelRegistry

    registry = ModelRegistry(_runtime.workspace())
    version = registry.models.alias_target(model_name, alias)
    if version is None:
        return None
    ref = f"{model_name}:{version}"
    if _same_candidate(registry, ref):  # the baseline is this very model, on this very data
        return {
            "name": model_name,
            "alias": alias,
            "version": version,
            "metrics": evaluation["metrics"],
            "undefined": evaluation.get("undefined") or {},
        }
    try:
        model = registry.load(ref)
    except ConveyorError as err:
        raise ConveyorError(
            f"gate: the baseline model {ref} (@{alias}) cannot be loaded: {err}"
        ) from err
    report = evaluate_model(model, data, evaluation["target"], task=evaluation.get("task", "auto"))
    return {
        "name": model_name,
        "alias": alias,
        "version": version,
        "metrics": report["metrics"],
        "undefined": report["undefined"],
    }


def alias_version(name: Any = None, alias: Any = None) -> int | None:
    """The version now holding `alias` of model `name` (part of gate's and register's cache key:
    the decision depends on it, and a version's bytes never change)."""
    if not isinstance(name, str) or not isinstance(alias, str):
        return None
    from conveyor.metadata.model_store import ModelStore

    return ModelStore(_runtime.workspace().metadata).alias_target(name, alias)


def _gate_key(model_name: Any = None, baseline: Any = "production", **_: Any) -> int | None:
    return alias_version(model_name, baseline)


def check_arguments(
    model_name: Any = _runtime.UNKNOWN,
    thresholds: Any = _runtime.UNKNOWN,
    baseline: Any = _runtime.UNKNOWN,
    compare: Any = _runtime.UNKNOWN,
    tolerance: Any = _runtime.UNKNOWN,
    missing_baseline: Any = _runtime.UNKNOWN,
    **_: Any,
) -> None:
    """gate's arguments, checked when the pipeline is traced (and again when the step runs)."""
    if missing_baseline is not _runtime.UNKNOWN:
        _check_missing(missing_baseline)
    if model_name is not _runtime.UNKNOWN:
        check_name(model_name, "model_name")
    if baseline is not _runtime.UNKNOWN and baseline is not None:
        check_alias(baseline, "baseline")
    if thresholds is not _runtime.UNKNOWN:
        _parse_thresholds(thresholds)
    names = None
    if compare is not _runtime.UNKNOWN:
        names = _check_compare(compare)
    if tolerance is not _runtime.UNKNOWN:
        if isinstance(tolerance, dict):
            if names is not None:
                _tolerances(tolerance, names)
            for metric, value in tolerance.items():
                _check_tolerance(value, f"tolerance[{metric!r}]")
        else:
            _check_tolerance(tolerance, "tolerance")


def _same_candidate(registry: Any, ref: str) -> bool:
    """Whether the evaluation scored the baseline's own model on the gate's own data."""
    evaluation_id = _runtime.input_artifact("evaluation")
    data_id = _runtime.input_artifact("data")
    if evaluation_id is None or data_id is None:
        return False
    meta = registry.ws.metadata
    producer = meta.get_artifact(evaluation_id).producer_id
    if producer is None:
        return False
    inputs = meta.get_step_run(producer).inputs
    return inputs.get("data") == data_id and inputs.get("model") == registry.get(ref).artifact_id


@step(cache_key_fn=_gate_key, check=check_arguments)
def gate(
    evaluation: dict[str, Any],
    data: pd.DataFrame,
    model_name: str,
    thresholds: dict[str, Any] | None = None,
    baseline: str | None = "production",
    compare: list[str] | None = None,
    tolerance: float | dict[str, float] = 0.0,
    missing_baseline: str = "fail",
) -> dict[str, Any]:
    """Pass or fail the candidate whose `evaluation` (from `evaluate` on `data`) is given.

    Args:
        thresholds: metric → expression, e.g. `{"accuracy": ">=0.9"}`.
        baseline: alias of `model_name` to compare with (None: no comparison). When no version
            holds it yet, the comparison passes and says so.
        compare: metrics compared with the baseline (default: those in `thresholds`, else the
            task's primary metric: accuracy or RMSE).
        tolerance: how much worse than the baseline is still acceptable (per metric if a dict).
        missing_baseline: when the baseline has no value of a compared metric (no `predict_proba`,
            so no log loss): `"fail"` the check, or `"skip"` it; either is recorded with the reason.
    """
    if not isinstance(evaluation, dict) or "metrics" not in evaluation:
        raise ParameterError("gate: evaluation must be the report of an evaluate step")
    try:  # as when traced: these may come from an upstream step
        check_arguments(model_name, thresholds, baseline, compare, tolerance, missing_baseline)
    except ParameterError as err:
        raise ParameterError(f"gate: {err}") from None
    decide(evaluation, thresholds, None, compare, tolerance)  # parse everything before loading
    reference = None
    if baseline is not None:
        reference = _baseline(model_name, baseline, data, evaluation)
    decision = decide(
        evaluation,
        thresholds,
        reference["metrics"] if reference else None,
        compare,
        tolerance,
        missing_baseline=missing_baseline,
        baseline_undefined=reference["undefined"] if reference else None,
    )
    if baseline is not None and reference is None:
        decision["reasons"].append(f"no version of {model_name!r} holds alias {baseline!r} yet")
    decision["baseline"] = reference
    decision["model_name"] = model_name
    decision["metrics"] = evaluation["metrics"]
    log_metric("gate_passed", 1.0 if decision["passed"] else 0.0)
    print(
        ("gate passed: " if decision["passed"] else "gate FAILED: ")
        + "; ".join(decision["reasons"])
    )
    return decision
