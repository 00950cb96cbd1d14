"""Fixtures for code-identity tests: user modules written to disk and imported, as real code is."""

from __future__ import annotations

import importlib.util
import itertools
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

_counter = itertools.count()


@pytest.fixture
def make_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., ModuleType]:
    """`make_module(source, name="user_steps")` imports `source` as module `name` from a new file.

    Every call writes a new file, but the module keeps the same name, so two versions of "the same"
    user module differ only in their source: exactly what an edit between two runs looks like.
    """

    def make(source: str, name: str = "user_steps") -> ModuleType:
        path = tmp_path / f"v{next(_counter)}" / f"{name}.py"
        path.parent.mkdir()
        path.write_text(textwrap.dedent(source))
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, name, module)
        spec.loader.exec_module(module)
        return module

    return make
