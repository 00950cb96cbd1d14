"""Code fingerprints follow what a step computes, not how its source is laid out; cache keys follow
every input."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import pytest

from conveyor.core.fingerprint import cache_key, code_fingerprint

MakeModule = Callable[..., ModuleType]

BASE = '''
import conveyor as cv

SCALE = 2
OFFSETS = (1, 2)


def helper(v):
    return v * SCALE


class Rescaler:
    def apply(self, v):
        return v / 10


def unrelated():
    return "not used by the step"


@cv.step
def transform(x: int) -> int:
    """Scale x."""
    # add the first offset
    return helper(x) + OFFSETS[0] + Rescaler().apply(x)
'''

#: Edits that do not change what `transform` computes.
SAME = {
    "comment": BASE.replace("# add the first offset", "# a different comment\n    # and another"),
    "docstring": BASE.replace('"""Scale x."""', '"""Scale x, at length.\n\n    Really."""'),
    "no-docstring": BASE.replace('    """Scale x."""\n', ""),
    "blank-lines": BASE.replace("\n\n\n@cv.step", "\n\n\n\n\n@cv.step"),
    "whitespace": BASE.replace("helper(x) + OFFSETS[0]", "helper( x )+OFFSETS[ 0 ]"),
    "trailing-comment": BASE.replace("return v * SCALE", "return v * SCALE  # why"),
    "unrelated-function": BASE.replace('"not used by the step"', '"changed, still unused"'),
    "decorator-options": BASE.replace(
        "@cv.step\ndef transform", "@cv.step(retries=3)\ndef transform"
    ),
}

#: Edits that change what `transform` computes.
DIFFERENT = {
    "step-body": BASE.replace("+ OFFSETS[0]", "- OFFSETS[0]"),
    "helper-body": BASE.replace("return v * SCALE", "return v * SCALE * SCALE"),
    "constant": BASE.replace("SCALE = 2", "SCALE = 3"),
    "tuple-constant": BASE.replace("OFFSETS = (1, 2)", "OFFSETS = (5, 2)"),
    "class-method": BASE.replace("return v / 10", "return v / 100"),
}


def _fingerprint(make_module: MakeModule, source: str) -> str:
    return code_fingerprint(make_module(source).transform.fn)


def test_fingerprint_is_stable(make_module: MakeModule) -> None:
    assert _fingerprint(make_module, BASE) == _fingerprint(make_module, BASE)


@pytest.mark.parametrize("edit", sorted(SAME))
def test_layout_changes_keep_the_fingerprint(make_module: MakeModule, edit: str) -> None:
    assert SAME[edit] != BASE
    assert _fingerprint(make_module, SAME[edit]) == _fingerprint(make_module, BASE)


@pytest.mark.parametrize("edit", sorted(DIFFERENT))
def test_code_changes_change_the_fingerprint(make_module: MakeModule, edit: str) -> None:
    assert DIFFERENT[edit] != BASE
    assert _fingerprint(make_module, DIFFERENT[edit]) != _fingerprint(make_module, BASE)


def test_helper_of_a_helper_is_followed(make_module: MakeModule) -> None:
    source = """
    import conveyor as cv

    def inner(v):
        return v + {n}

    def outer(v):
        return inner(v) * 2

    @cv.step
    def transform(x: int) -> int:
        return outer(x)
    """
    assert _fingerprint(make_module, source.format(n=1)) != _fingerprint(
        make_module, source.format(n=2)
    )


def test_recursive_helpers_terminate(make_module: MakeModule) -> None:
    source = """
    import conveyor as cv

    def even(n):
        return n == 0 or odd(n - 1)

    def odd(n):
        return n != 0 and even(n - 1)

    @cv.step
    def transform(x: int) -> bool:
        return even(x)
    """
    assert len(_fingerprint(make_module, source)) == 64


def test_a_step_calling_another_steps_function_follows_its_code(make_module: MakeModule) -> None:
    source = """
    import conveyor as cv

    @cv.step
    def base(x: int) -> int:
        return x + {n}

    @cv.step
    def transform(x: int) -> int:
        return base.fn(x) * 2
    """
    assert _fingerprint(make_module, source.format(n=1)) != _fingerprint(
        make_module, source.format(n=2)
    )


def test_closure_values_are_part_of_the_fingerprint(make_module: MakeModule) -> None:
    source = """
    import conveyor as cv

    def make(factor):
        @cv.step
        def transform(x: int) -> int:
            return x * factor
        return transform

    transform = make({n})
    """
    assert _fingerprint(make_module, source.format(n=2)) != _fingerprint(
        make_module, source.format(n=3)
    )


# -- cache keys ------------------------------------------------------------------------------------

_KEY = {"fingerprint": "f" * 64, "inputs": {"a": "1" * 64, "b": "2" * 64}, "materializers": "m"}


def test_cache_key_is_stable_and_ignores_input_order() -> None:
    reordered = {**_KEY, "inputs": {"b": "2" * 64, "a": "1" * 64}}
    assert cache_key(**_KEY) == cache_key(**_KEY)
    assert cache_key(**_KEY) == cache_key(**reordered)


@pytest.mark.parametrize(
    "change",
    [
        {"fingerprint": "e" * 64},
        {"inputs": {"a": "1" * 64, "b": "3" * 64}},
        {"inputs": {"a": "1" * 64, "c": "2" * 64}},
        {"inputs": {"a": "1" * 64}},
        {"inputs": {"a": "1" * 64, "b": "2" * 64, "c": "3" * 64}},
        {"inputs": {"a": "2" * 64, "b": "1" * 64}},
        {"materializers": "n"},
    ],
)
def test_cache_key_changes_with_any_input(change: dict[str, object]) -> None:
    assert cache_key(**{**_KEY, **change}) != cache_key(**_KEY)  # type: ignore[arg-type]


_HELPERS = """
def double(v):
    return v * {n}
"""


@pytest.mark.parametrize(
    "usage",
    [
        pytest.param("from user_helpers import double\n", id="imported-name"),
        pytest.param("import user_helpers\n", id="module-attribute"),
    ],
)
def test_helpers_in_another_user_module_are_followed(make_module: MakeModule, usage: str) -> None:
    call = "double(x)" if usage.startswith("from") else "user_helpers.double(x)"
    steps = f"""
import conveyor as cv
{usage}

@cv.step
def transform(x: int) -> int:
    return {call} + 1
"""
    make_module(_HELPERS.format(n=2), name="user_helpers")
    before = _fingerprint(make_module, steps)
    make_module(_HELPERS.format(n=3), name="user_helpers")
    after = _fingerprint(make_module, steps)
    assert before != after


def test_the_fingerprint_does_not_depend_on_the_modules_import_name(
    make_module: MakeModule,
) -> None:
    """The same file run as `python pipeline.py`, by `conveyor run pipeline.py:...`, or re-imported
    by `resume`/`reproduce` (as `conveyor_user_pipeline`) is the same code: one fingerprint."""
    names = ["pipeline", "conveyor_user_pipeline", "project.pipeline"]
    fingerprints = {code_fingerprint(make_module(BASE, name=n).transform.fn) for n in names}
    assert len(fingerprints) == 1
