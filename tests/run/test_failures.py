"""Failures are values: the failing step records why, downstream is skipped, independent work
goes on, retries count, and the next run resumes from what succeeded."""

from __future__ import annotations

import collections
import time
from pathlib import Path

import pytest

import conveyor as cv
from conveyor.config import Settings

from . import _steps

Calls = collections.Counter[str]


def test_a_failing_step_is_recorded_with_its_error(project: Path) -> None:
    _steps.FAIL["flaky"] = 1
    run = _steps.failing_branch.run(x=2)
    assert run.status == "failed"
    assert not run.succeeded
    failed = run.step("flaky")
    assert failed.status == "failed"
    assert failed.error_type == "ValueError"
    assert failed.error_message == "flaky was told to fail"
    assert failed.traceback is not None
    assert "ValueError: flaky was told to fail" in failed.traceback
    assert "def flaky" in failed.traceback or "flaky" in failed.traceback
    assert failed.attempts == 1
    assert failed.outputs == {}
    assert run.error is not None
    assert "'flaky'" in run.error and "ValueError" in run.error


def test_downstream_of_a_failure_is_skipped_and_independent_work_runs(
    project: Path, calls: Calls
) -> None:
    _steps.FAIL["flaky"] = 1
    run = _steps.failing_branch.run(x=2)
    statuses = {s.name: s.status for s in run.steps}
    assert statuses == {"flaky": "failed", "inc": "skipped", "double": "succeeded"}
    skipped = run.step("inc")
    assert "flaky" in (skipped.error_message or "")
    assert skipped.outputs == {}
    assert calls["inc"] == 0
    assert run.outputs["fine"] == 4
    assert "broken" not in run.output_ids


def test_the_next_run_reuses_what_succeeded(project: Path, calls: Calls) -> None:
    _steps.FAIL["flaky"] = 1
    _steps.failing_branch.run(x=2)
    calls.clear()
    run = _steps.failing_branch.run(x=2)  # the "fix": flaky no longer fails
    assert run.status == "succeeded"
    assert {s.name: s.cached for s in run.steps} == {"flaky": False, "inc": False, "double": True}
    assert dict(calls) == {"flaky": 1, "inc": 1}
    assert run.outputs["broken"] == 21
    assert run.outputs["fine"] == 4


def test_a_failed_step_leaves_no_cache_entry(project: Path, calls: Calls) -> None:
    _steps.FAIL["flaky"] = 2
    _steps.failing_branch.run(x=2)
    _steps.failing_branch.run(x=2)
    assert calls["flaky"] == 2


def test_retries_until_success_record_all_attempts(project: Path, calls: Calls) -> None:
    _steps.FAIL["retried"] = 2
    run = _steps.with_retries.run(x=1)
    step = run.step("retried")
    assert run.status == "succeeded"
    assert step.status == "succeeded"
    assert step.attempts == 3
    assert calls["retried"] == 3
    assert run.output() == 101


def test_exhausted_retries_fail_with_the_last_error(project: Path, calls: Calls) -> None:
    run = _steps.without_hope.run(x=1)
    step = run.step("hopeless")
    assert step.status == "failed"
    assert step.attempts == 2
    assert calls["hopeless"] == 2
    assert step.error_type == "RuntimeError"
    assert step.error_message == "never works"


def test_retry_delay_doubles(project: Path) -> None:
    @cv.step(retries=2, retry_delay=0.1)
    def slow_to_work(x: int) -> int:
        raise OSError("still down")

    @cv.pipeline
    def p(x: int = 1):
        return slow_to_work(x)

    started = time.monotonic()
    run = p.run()
    elapsed = time.monotonic() - started
    assert run.step("slow_to_work").attempts == 3
    assert elapsed >= 0.3  # 0.1 + 0.2


def test_a_step_exceeding_its_timeout_fails(project: Path) -> None:
    @cv.step(timeout=0.2)
    def sleepy(x: int) -> int:
        time.sleep(5)
        return x

    @cv.pipeline
    def p(x: int = 1):
        return sleepy(x)

    started = time.monotonic()
    run = p.run()
    step = run.step("sleepy")
    assert run.status == "failed"
    assert step.status in ("failed", "timed_out")
    text = f"{step.error_type} {step.error_message}".lower()
    assert "timeout" in text or "timed out" in text
    assert time.monotonic() - started < 4  # killed, not waited for


def test_a_timed_out_step_is_retried_and_skips_downstream(project: Path) -> None:
    @cv.step(timeout=0.2, retries=1, retry_delay=0)
    def sleepy(x: int) -> int:
        time.sleep(5)
        return x

    @cv.pipeline
    def p(x: int = 1):
        return _steps.inc(sleepy(x))

    run = p.run()
    assert run.step("sleepy").attempts == 2
    assert run.step("inc").status == "skipped"


def test_conveyor_errors_inside_a_step_are_recorded_too(project: Path) -> None:
    @cv.step
    def bad_metric(x: int) -> int:
        cv.log_metric("accuracy", float("nan"))
        return x

    @cv.pipeline
    def p(x: int = 1):
        return bad_metric(x)

    step = p.run().step("bad_metric")
    assert step.status == "failed"
    assert step.error_type is not None and "ParameterError" in step.error_type
    assert "accuracy" in (step.error_message or "")


def test_failures_are_recorded_on_every_backend(backend_settings: Settings) -> None:
    _steps.FAIL["flaky"] = 1
    run = _steps.failing_branch.run(x=2, settings=backend_settings)
    again = cv.get_run(run.id, settings=backend_settings)
    assert again.status == "failed"
    assert {s.name: s.status for s in again.steps} == {
        "flaky": "failed",
        "inc": "skipped",
        "double": "succeeded",
    }
    assert again.step("flaky").error_type == "ValueError"
    assert "ValueError" in (again.step("flaky").traceback or "")


def test_system_exit_from_a_step_is_not_swallowed(project: Path) -> None:
    @cv.step
    def leave(x: int) -> int:
        raise SystemExit(3)

    @cv.pipeline
    def p(x: int = 1):
        return leave(x)

    with pytest.raises(SystemExit):
        p.run()
