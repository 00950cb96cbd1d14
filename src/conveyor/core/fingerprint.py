"""Code fingerprints and cache keys.

A step's fingerprint hashes its source, normalised through the AST so that comments, blank lines and
its docstring do not count, together with what the step's code reaches from its module: helper
functions and classes defined in the user's own code (recursively), simple module-level constants,
and the version of any third-party package it uses. Editing a helper a step calls re-runs the step;
upgrading scikit-learn re-runs the steps that use it. That is what keeps the cache from going stale
silently.
"""

from __future__ import annotations

import ast
import functools
import inspect
import json
import sys
import sysconfig
import textwrap
import types
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from conveyor.core.hashing import canonical_json, digest

__all__ = ["CACHE_FORMAT_VERSION", "cache_key", "code_fingerprint"]

#: Bump when the cache key's recipe changes, so every old key misses at once.
CACHE_FORMAT_VERSION = 1

_SIMPLE = (type(None), bool, int, float, str, bytes)
_LIBRARY_ROOTS = tuple(
    Path(p).resolve()
    for p in {
        p
        for p in (
            sysconfig.get_paths().get("stdlib"),
            sysconfig.get_paths().get("platstdlib"),
            sysconfig.get_paths().get("purelib"),
            sysconfig.get_paths().get("platlib"),
        )
        if p
    }
)


def cache_key(
    fingerprint: str,
    inputs: Mapping[str, str],
    materializers: str,
) -> str:
    """The key under which a step's outputs are cached.

    Args:
        fingerprint: the step's `code_fingerprint` (and options that change its outputs).
        inputs: argument name → artifact id (for upstream outputs) or value hash (for literals).
        materializers: the digest of the registered materializers' names and versions.
    """
    # `inputs` values are already canonical (ids, value hashes, lists of them): plain JSON does.
    payload = json.dumps(dict(inputs), sort_keys=True, separators=(",", ":"))
    return digest(
        str(CACHE_FORMAT_VERSION).encode(),
        fingerprint.encode(),
        materializers.encode(),
        payload.encode(),
    )


@functools.lru_cache(maxsize=4096)
def code_fingerprint(fn: Callable[..., Any]) -> str:
    """Hash of `fn`'s normalised source and of the user code and constants it references.

    Parts are keyed by qualified name within `fn`'s own module, so the same file fingerprints
    the same whether it runs as `__main__` or is imported as `pipeline`.
    """
    parts: dict[str, str] = {}
    _collect(fn, parts, seen=set(), home=getattr(fn, "__module__", None))
    return digest(canonical_json(parts).encode())


def _collect(obj: Any, parts: dict[str, str], seen: set[int], home: str | None) -> None:
    if id(obj) in seen:
        return
    seen.add(id(obj))
    fn = inspect.unwrap(obj) if callable(obj) else obj
    parts[_name_of(fn, home)] = _source_hash(fn)
    code = getattr(fn, "__code__", None)
    if code is None:  # a class: follow its methods
        for member in vars(fn).values() if isinstance(fn, type) else ():
            if inspect.isfunction(member):
                _follow_names(member, parts, seen, home)
        return
    _follow_names(fn, parts, seen, home)


def _follow_names(
    fn: types.FunctionType, parts: dict[str, str], seen: set[int], home: str | None
) -> None:
    globals_ = getattr(fn, "__globals__", {})
    names = set(_names(fn.__code__))
    referenced: dict[str, Any] = {name: globals_[name] for name in names if name in globals_}
    for cell_name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or (), strict=False):
        try:
            referenced[cell_name] = cell.cell_contents
        except ValueError:  # an empty cell
            continue
    for name, value in sorted(referenced.items()):
        _add_reference(name, value, parts, seen, home, names)


def _add_reference(
    name: str,
    value: Any,
    parts: dict[str, str],
    seen: set[int],
    home: str | None,
    names: set[str],
) -> None:
    target = getattr(value, "fn", None) if _is_step_like(value) else value
    constant = _constant(target)
    if constant is not None:
        parts[f"const:{name}"] = constant
    elif isinstance(target, types.ModuleType):
        if _is_user_code(target):  # `import helpers; helpers.f()`: follow what is used from it
            for attr in sorted(names):
                if attr in vars(target) and id(target) not in seen:
                    _add_reference(
                        f"{target.__name__}.{attr}", vars(target)[attr], parts, seen, home, set()
                    )
            return
        version = _package_version(target)
        if version is not None:
            parts[f"pkg:{target.__name__.partition('.')[0]}"] = version
    elif inspect.isfunction(target) or inspect.isclass(target):
        if _is_user_code(target):
            _collect(target, parts, seen, home)
        else:
            module = sys.modules.get(getattr(target, "__module__", "") or "")
            version = _package_version(module) if module is not None else None
            if version is not None:
                parts[f"pkg:{module.__name__.partition('.')[0]}"] = version


def _constant(value: Any, budget: list[int] | None = None) -> str | None:
    """Canonical JSON of a plain-data constant (numbers, strings, and containers of them)."""
    budget = budget if budget is not None else [10_000]
    if not _plain(value, budget):
        return None
    return canonical_json(value)


def _plain(value: Any, budget: list[int]) -> bool:
    budget[0] -= 1
    if budget[0] < 0:
        return False
    if isinstance(value, _SIMPLE):
        return True
    if isinstance(value, (list, tuple, set, frozenset)):
        return all(_plain(v, budget) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, _SIMPLE) and _plain(v, budget) for k, v in value.items())
    return False


def _is_step_like(value: Any) -> bool:
    from conveyor.core.step import Step

    return isinstance(value, Step)


def _names(code: types.CodeType) -> Iterator[str]:
    yield from code.co_names
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _names(const)


def _name_of(fn: Any, home: str | None) -> str:
    module = getattr(fn, "__module__", "?")
    qualname = getattr(fn, "__qualname__", repr(fn))
    return qualname if module == home else f"{module}.{qualname}"


def _source_hash(fn: Any) -> str:
    try:
        source = textwrap.dedent(inspect.getsource(fn))
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError, IndentationError):
        return _bytecode_hash(fn)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            node.decorator_list = [] if node is tree.body[0] else node.decorator_list
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                node.body = body[1:] or [ast.Pass()]
    return digest(ast.dump(tree, include_attributes=False).encode())


def _bytecode_hash(fn: Any) -> str:
    code = getattr(fn, "__code__", None)
    if code is None:
        return digest(repr(fn).encode())
    consts = [c for c in code.co_consts if isinstance(c, _SIMPLE)]
    return digest(code.co_code, canonical_json([consts, list(code.co_names)]).encode())


def _is_user_code(obj: Any) -> bool:
    module = sys.modules.get(getattr(obj, "__module__", "") or "")
    if module is None:
        return True  # defined by exec/REPL: hash it
    if module.__name__ == "conveyor" or module.__name__.startswith("conveyor."):
        return False
    path = getattr(module, "__file__", None)
    if path is None:
        return module.__name__ == "__main__" or not hasattr(module, "__spec__")
    if "site-packages" in path or "dist-packages" in path:
        return False
    resolved = Path(path).resolve()
    return not any(resolved.is_relative_to(root) for root in _LIBRARY_ROOTS)


def _package_version(module: types.ModuleType) -> str | None:
    if _is_user_code(module):
        return None
    top = sys.modules.get(module.__name__.partition(".")[0], module)
    version = getattr(top, "__version__", None)
    return str(version) if version is not None else None
