"""What a run records about where it ran: host, Python, key packages, and the git state."""

from __future__ import annotations

import functools
import os
import platform
import socket
import subprocess
from importlib import metadata
from pathlib import Path

from conveyor.core.hashing import digest

__all__ = ["Environment", "capture_environment"]

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
    """host, pid, python_version, packages, git_commit, git_dirty."""


def capture_environment(source: Path | None) -> Environment:
    commit, dirty = _git_state(source)
    return Environment(
        host=socket.gethostname(),
        pid=os.getpid(),
        python_version=platform.python_version(),
        packages=_packages(),
        git_commit=commit,
        git_dirty=dirty,
    )


@functools.lru_cache(maxsize=1)
def _packages() -> dict[str, str]:
    found = {}
    for name in KEY_PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def _git_state(source: Path | None) -> tuple[str | None, str | None]:
    """(HEAD commit, hash of uncommitted changes or None if clean) of the repo holding `source`."""
    folder = (source.parent if source and source.is_file() else source) or Path.cwd()
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=5
        )
        if commit.returncode != 0:
            return None, None
        diff = subprocess.run(["git", "diff", "HEAD"], cwd=folder, capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None, None
    dirty = digest(diff.stdout) if diff.stdout else None
    return commit.stdout.strip(), dirty
