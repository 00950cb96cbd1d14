"""Drive the installed `conveyor` command in a temporary project, as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

CONVEYOR = str(Path(sys.executable).with_name("conveyor"))


class Cli:
    """Runs `conveyor ARGS` in `root` and returns the completed process."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __call__(self, *args: str, check: int | None = 0) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
        env["COLUMNS"] = "200"
        proc = subprocess.run(
            [CONVEYOR, *args],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check is not None and proc.returncode != check:
            raise AssertionError(
                f"conveyor {' '.join(args)} exited {proc.returncode}, expected {check}\n"
                f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
            )
        return proc

    def json(self, *args: str, check: int | None = 0) -> Any:
        return json.loads(self(*args, "--json", check=check).stdout)

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.write_text(textwrap.dedent(text))
        return path


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


@pytest.fixture
def write_pipeline(cli: Cli) -> Callable[[str], Path]:
    def write(text: str, name: str = "flow.py") -> Path:
        return cli.write(name, text)

    return write
