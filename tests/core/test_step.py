"""`@step`: option validation, plain-Python calls, copies and value semantics."""

from __future__ import annotations

from typing import Any

import pytest

import conveyor as cv
from conveyor.exceptions import DefinitionError


def scale(x: float, factor: float = 2.0) -> float:
    """Multiply `x` by `factor`."""
    return x * factor


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"outputs": ()}, id="no-outputs"),
        pytest.param({"outputs": ""}, id="empty-output-name"),
        pytest.param({"outputs": ("a", "a")}, id="repeated-outputs"),
        pytest.param({"outputs": ("ok", "not valid")}, id="output-not-identifier"),
        pytest.param({"outputs": ("class",)}, id="output-is-keyword"),
        pytest.param({"outputs": 3}, id="outputs-not-a-sequence"),
        pytest.param({"outputs": (1, 2)}, id="outputs-not-str"),
        pytest.param({"retries": -1}, id="negative-retries"),
        pytest.param({"retries": 1.5}, id="fractional-retries"),
        pytest.param({"retries": "2"}, id="str-retries"),
        pytest.param({"retries": True}, id="bool-retries"),
        pytest.param({"retry_delay": -0.5}, id="negative-retry-delay"),
        pytest.param({"timeout": 0}, id="zero-timeout"),
        pytest.param({"timeout": -3}, id="negative-timeout"),
        pytest.param({"timeout": "60"}, id="str-timeout"),
        pytest.param({"timeout": True}, id="bool-timeout"),
        pytest.param({"cache": "yes"}, id="non-bool-cache"),
        pytest.param({"name": "has space"}, id="name-not-identifier"),
    ],
)
def test_bad_options_raise_definition_error_naming_the_step(options: dict[str, Any]) -> None:
    with pytest.raises(DefinitionError) as err:
        cv.step(**options)(scale)
    if "name" not in options:
        assert "'scale'" in str(err.value)


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"retries": -1}, id="negative-retries"),
        pytest.param({"timeout": 0}, id="zero-timeout"),
        pytest.param({"outputs": ("a", "a")}, id="repeated-outputs"),
        pytest.param({"name": "has space"}, id="name-not-identifier"),
        pytest.param({"bogus": 1}, id="unknown-option"),
    ],
)
def test_options_validates_like_the_decorator(options: dict[str, Any]) -> None:
    with pytest.raises(DefinitionError):
        cv.step(scale).options(**options)


def test_variadic_arguments_are_rejected() -> None:
    def gather(*values: int, **named: int) -> int:
        return sum(values)

    with pytest.raises(DefinitionError, match="gather"):
        cv.step(gather)


def test_a_step_needs_a_name_for_a_lambda() -> None:
    with pytest.raises(DefinitionError):
        cv.step(lambda x: x)
    assert cv.step(name="identity")(lambda x: x).name == "identity"


def test_a_step_cannot_wrap_a_step() -> None:
    with pytest.raises(DefinitionError, match="scale"):
        cv.step(cv.step(scale))


def test_valid_options_are_kept() -> None:
    s = cv.step(outputs=["low", "high"], retries=2, retry_delay=0, timeout=1.5, cache=False)(scale)
    assert (s.name, s.outputs, s.retries, s.retry_delay, s.timeout, s.cache) == (
        "scale",
        ("low", "high"),
        2,
        0,
        1.5,
        False,
    )
    assert cv.step(outputs="single")(scale).outputs == ("single",)


def test_calling_a_step_outside_a_pipeline_runs_the_function() -> None:
    s = cv.step(scale)
    assert s(3.0) == 6.0
    assert s(3.0, factor=10) == 30.0


def test_a_step_keeps_the_functions_identity() -> None:
    s = cv.step(scale)
    assert s.fn is scale
    assert s.__wrapped__ is scale
    assert s.__doc__ == scale.__doc__
    assert s.__module__ == scale.__module__
    assert s.__qualname__ == scale.__qualname__


def test_options_returns_a_changed_copy_and_leaves_the_original() -> None:
    original = cv.step(scale)
    changed = original.options(retries=3, name="scale_b", outputs="scaled")
    assert changed is not original
    assert (changed.retries, changed.name, changed.outputs) == (3, "scale_b", ("scaled",))
    assert (original.retries, original.name, original.outputs) == (0, "scale", ("output",))
    assert changed.fn is original.fn
    assert changed(2.0) == 4.0


def test_options_copy_keeps_the_functions_identity() -> None:
    changed = cv.step(scale).options(cache=False)
    assert changed.__doc__ == scale.__doc__
    assert changed.__module__ == scale.__module__
    assert changed.__wrapped__ is scale


def test_steps_compare_and_hash_by_value() -> None:
    a, b = cv.step(scale), cv.step(scale)
    assert a is not b
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b}) == 1
    assert a.options(retries=1) == b.options(retries=1)
    assert a != a.options(retries=1)
    assert a != cv.step(name="scale")(lambda x, factor=2.0: x * factor)


def test_steps_are_frozen() -> None:
    s = cv.step(scale)
    with pytest.raises(AttributeError):
        s.retries = 4  # type: ignore[misc]
