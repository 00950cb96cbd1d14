"""What a run records about where it ran: host, Python, installed packages, and the code state."""

from __future__ import annotations

import functools
import os
import platform
import re
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from conveyor.core.hashing import canonical_json, digest

__all__ = [
    "KEY_PACKAGES",
    "Environment",
    "capture_environment",
    "git_state",
    "installed_packages",
    "known_git_state",
]

#: Shown with every run; the full list is stored once per distinct environment.
KEY_PACKAGES = (
    "conveyor",
    "numpy",
    "pandas",
    "pyarrow",
    "scikit-learn",
    "scipy",
    "skops",
    "sqlalchemy",
    "xgboost",
    "lightgbm",
    "torch",
)


class Environment(dict):
    """host, pid, python_version, packages (the key ones)."""


def capture_environment(source: Path | None) -> tuple[Environment, str, dict[str, str]]:
    """The run's environment columns, and the id and contents of its full package list.

    The git state is left out: it takes subprocesses, so `git_state` runs beside the pipeline.
    """
    installed = installed_packages()
    wanted = {_normalise(k) for k in KEY_PACKAGES}
    env = Environment(
        host=_host(),
        pid=os.getpid(),
        python_version=platform.python_version(),
        packages={k: v for k, v in installed.items() if k in wanted},
    )
    return env, _installed_id(), installed


def environment_id(packages: dict[str, str]) -> str:
    return digest(platform.python_version().encode(), canonical_json(packages).encode())[:32]


@functools.lru_cache(maxsize=1)
def _installed_id() -> str:
    """The id of `installed_packages()`, read once per process as the list is (~0.7 ms)."""
    return environment_id(installed_packages())


@functools.lru_cache(maxsize=1)
def _host() -> str:
    return socket.gethostname()


@functools.lru_cache(maxsize=1)
def installed_packages() -> dict[str, str]:
    """Every installed distribution → version, read from `*.dist-info` folder names (fast:
    one directory listing per `sys.path` entry, no metadata files parsed)."""
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            for suffix in (".dist-info", ".egg-info"):
                if name.endswith(suffix):
                    package, _, version = name[: -len(suffix)].partition("-")
                    if version:
                        found.setdefault(_normalise(package), version)
    return dict(sorted(found.items()))


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


CodeState = tuple[str | None, str | None]

#: (git dir, HEAD, stats of what `git status` reads) → the code state found then; per process.
_KNOWN: dict[tuple[object, ...], CodeState] = {}
_KNOWN_MAX = 64


def known_git_state(source: Path | None, files: Sequence[Path] = ()) -> CodeState | None:
    """`git_state`'s answer when it is known without running git, else None.

    Outside a repository it is (None, None). Inside one, it is what this process found last
    time if nothing `git status` reads has changed since: HEAD, the index, the watched files
    and the ignore files above them, compared by their stat (size, mtime and ctime in ns,
    inode), as git itself decides whether a file may have changed. A notebook, a watcher or a
    benchmark running pipelines again and again thus starts no subprocess per run.
    """
    _folder, git_dir, _watched, key = _state_key(source, files)
    if git_dir is None:
        return None, None
    return _KNOWN.get(key)


def git_state(source: Path | None, files: Sequence[Path] = ()) -> CodeState:
    """(HEAD commit, hash of the pipeline's uncommitted changes or None if clean).

    The pipeline's files are `source` and `files` (the modules its steps live in). One
    `git status` names those that differ from HEAD or are untracked; the hash covers their current
    contents. HEAD is read from `.git` directly; outside a repository no git runs at all.
    """
    folder, git_dir, watched, key = _state_key(source, files)  # before git reads anything
    if git_dir is None:
        return None, None
    state = _git_state(folder, git_dir, watched, commit=key[1])
    if len(_KNOWN) >= _KNOWN_MAX:
        _KNOWN.clear()
    _KNOWN[key] = state
    return state


def _state_key(
    source: Path | None, files: Sequence[Path]
) -> tuple[Path, Path | None, list[Path], tuple[object, ...]]:
    folder = (source.parent if source and source.is_file() else source) or Path.cwd()
    git_dir = _find_git_dir(folder.resolve())
    if git_dir is None:
        return folder, None, [], ()
    watched = sorted({p.resolve() for p in (source, *files) if p is not None and p.is_file()})
    root = git_dir.parent if git_dir.name == ".git" else None
    ignores = {git_dir / "info" / "exclude"}
    for path in watched:
        for parent in path.parents:
            ignores.add(parent / ".gitignore")
            if root is None or parent == root or not parent.is_relative_to(root):
                break
    read = [git_dir / "index", *watched, *sorted(ignores)]
    return folder, git_dir, watched, (git_dir, _read_head(git_dir), *map(_stat, read))


def _stat(path: Path) -> tuple[object, ...]:
    try:
        s = path.stat()
    except OSError:
        return (str(path),)
    return (str(path), s.st_size, s.st_mtime_ns, s.st_ctime_ns, s.st_ino)


def _git_state(folder: Path, git_dir: Path, watched: list[Path], commit: object) -> CodeState:
    commit = commit if isinstance(commit, str) else None
    try:
        if commit is None:  # an unborn branch, or a layout we do not read: ask git
            done = subprocess.run(
                ["git", "--no-optional-locks", "rev-parse", "HEAD"],
                cwd=folder,
                capture_output=True,
                text=True,
                timeout=5,
            )
            if done.returncode != 0:
                return None, None
            commit = done.stdout.strip()
        if not watched:
            return commit, None
        status = subprocess.run(
            [
                "git",
                "--no-optional-locks",  # never rewrite the user's index (nor race their git)
                "status",
                "--porcelain",
                "-z",
                "--untracked-files=all",
                "--",
                *map(str, watched),
            ],
            cwd=folder,
            capture_output=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return commit, None
    if status.returncode != 0 or not status.stdout:
        return commit, None
    root = git_dir.parent if git_dir.name == ".git" else None
    changed = [p for p in watched if _mentioned(p, status.stdout, root)]
    parts = [p.as_posix().encode() + b"\0" + p.read_bytes() for p in changed if p.is_file()]
    return commit, digest(*parts) if parts else digest(status.stdout)


def _mentioned(path: Path, porcelain: bytes, root: Path | None) -> bool:
    """Whether `git status --porcelain -z` output (paths relative to the repo root) names `path`."""
    entries = [entry[3:] for entry in porcelain.split(b"\0") if len(entry) > 3]
    if root is not None and path.is_relative_to(root):
        return path.relative_to(root).as_posix().encode() in entries
    return any(entry.endswith(path.name.encode()) for entry in entries)  # a worktree: by name


def _find_git_dir(folder: Path) -> Path | None:
    for candidate in (folder, *folder.parents):
        dot_git = candidate / ".git"
        if dot_git.is_dir():
            return dot_git
        if dot_git.is_file():  # a worktree or submodule: "gitdir: <path>"
            text = dot_git.read_text(errors="replace").strip()
            if text.startswith("gitdir:"):
                return (candidate / text[len("gitdir:") :].strip()).resolve()
    return None


def _read_head(git_dir: Path) -> str | None:
    try:
        head = (git_dir / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head if re.fullmatch(r"[0-9a-f]{40,64}", head) else None
        ref = head[len("ref: ") :]
        common = git_dir
        if (git_dir / "commondir").is_file():
            common = (git_dir / (git_dir / "commondir").read_text().strip()).resolve()
        for base in (git_dir, common):
            loose = base / ref
            if loose.is_file():
                return loose.read_text().strip() or None
        packed = common / "packed-refs"
        if packed.is_file():
            for line in packed.read_text().splitlines():
                if line.endswith(" " + ref):
                    return line.split(" ", 1)[0]
    except OSError:
        return None
    return None
