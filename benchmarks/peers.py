"""The benchmark-only virtualenv `benchmarks/.venv-peers`: Kedro, Prefect 3, pandera and Conveyor.

    python benchmarks/peers.py          # create or update it, print its interpreter
    python benchmarks/peers.py --force  # rebuild it from scratch

It holds the pinned `requirements-peers.txt` plus Conveyor installed editable from this repository
with the [ml] extra, so every tool runs in one interpreter with the same libraries (Kedro and
Prefect for B1, pandera for B4). It is rebuilt when `requirements-peers.txt` or `pyproject.toml`
change (a stamp file keeps their hash). Only the package index is reached, and only while
installing.

Prefect 3 runs without a server of ours: `prefect_env` gives it a temporary PREFECT_HOME, no
PREFECT_API_URL and ephemeral mode, in which Prefect starts its own API in a subprocess on
127.0.0.1 and stops it at exit.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from _common import BENCH, REPO, RESULTS

VENV = BENCH / ".venv-peers"
REQUIREMENTS = BENCH / "requirements-peers.txt"
STAMP = VENV / ".installed"


def python() -> Path:
    """The peers environment's interpreter (it may not exist yet: see `ensure`)."""
    return VENV / "bin" / "python"


def _wanted() -> str:
    hasher = hashlib.sha256()
    for path in (REQUIREMENTS, REPO / "pyproject.toml"):
        hasher.update(path.read_bytes())
    return hasher.hexdigest()


def _healthy() -> bool:
    """The interpreter runs and imports the tools, Conveyor from this repository."""
    probe = (
        "import conveyor, kedro, pandera, prefect, sys; "
        f"sys.exit(0 if conveyor.__file__.startswith({str(REPO / 'src')!r}) else 1)"
    )
    try:
        proc = subprocess.run(
            [str(python()), "-c", probe], capture_output=True, timeout=120, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return proc.returncode == 0


def ensure(*, force: bool = False, verbose: bool = True) -> Path:
    """Create or update the peers environment if needed; return its interpreter."""
    wanted = _wanted()
    if (
        not force
        and STAMP.exists()
        and STAMP.read_text().strip() == wanted
        and python().exists()
        and _healthy()
    ):
        return python()
    if force and VENV.exists():
        shutil.rmtree(VENV)
    started = time.perf_counter()
    if verbose:
        print(f"peers: building {VENV.relative_to(REPO)} (kedro, prefect, pandera, conveyor[ml])")
    if not python().exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    RESULTS.mkdir(exist_ok=True)
    log = RESULTS / "peers-install.log"
    with log.open("w") as out:
        for args in (
            ["--upgrade", "pip"],
            ["-r", str(REQUIREMENTS), "-e", f"{REPO}[ml]"],
        ):
            proc = subprocess.run(
                [str(python()), "-m", "pip", "install", "--quiet", *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
            )
            if proc.returncode != 0:
                tail = log.read_text().strip().splitlines()[-20:]
                raise SystemExit(f"peers: pip install failed (log: {log}):\n" + "\n".join(tail))
    if not _healthy():
        raise SystemExit(f"peers: {python()} cannot import conveyor, kedro, prefect and pandera")
    STAMP.write_text(wanted + "\n")
    if verbose:
        print(f"peers: ready in {time.perf_counter() - started:.0f} s")
    return python()


def versions() -> dict[str, str]:
    """Installed versions of the tools compared (and what they share), from the peers env."""
    code = (
        "import json; from importlib import metadata as m; "
        "names = ('conveyor', 'kedro', 'prefect', 'sqlalchemy', 'pydantic', 'pandas', "
        "'scikit-learn', 'pyinstrument', 'pandera'); "
        "print(json.dumps({n: m.version(n) for n in names}))"
    )
    out = subprocess.run(
        [str(python()), "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    import json

    return json.loads(out.stdout)


def quiet_env() -> dict[str, str]:
    """The environment for every worker: no telemetry from any tool."""
    env = dict(os.environ)
    env.update({"DO_NOT_TRACK": "1", "KEDRO_DISABLE_TELEMETRY": "1"})
    return env


def prefect_env(home: Path) -> dict[str, str]:
    """Prefect 3 without a server of ours: ephemeral API in a subprocess, state under `home`."""
    env = quiet_env()
    for name in list(env):
        if name.startswith("PREFECT_"):
            del env[name]  # PREFECT_API_URL above all: a set URL would send runs to a server
    env.update(
        {
            "PREFECT_HOME": str(home),
            "PREFECT_SERVER_ALLOW_EPHEMERAL_MODE": "true",  # the documented name ...
            "PREFECT_SERVER_EPHEMERAL_ENABLED": "true",  # ... and its alias in 3.x settings
            # Starting the API takes ~10 s on 2 cores; the default 20 s limit is too tight.
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            # Per-task INFO lines on the console would only add printing cost to Prefect's numbers.
            "PREFECT_LOGGING_LEVEL": "WARNING",
        }
    )
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild from scratch")
    args = parser.parse_args()
    print(ensure(force=args.force))
    for name, version in versions().items():
        print(f"  {name}=={version}")


if __name__ == "__main__":
    main()
