"""The benchmark-only virtualenvs: `.venv-peers` (Kedro, Prefect, pandera, BentoML) and MLflow's.

    python benchmarks/peers.py                 # create or update both, print their interpreters
    python benchmarks/peers.py --force         # rebuild them from scratch
    python benchmarks/peers.py mlflow          # only one of them (peers, mlflow)

Each holds its pinned requirements file plus Conveyor installed editable from this repository with
the [ml] extra, so the tools run in one interpreter with the same libraries as Conveyor there
(Kedro and Prefect for B1, pandera for B4, BentoML for B6; Conveyor also loads B6's model from its
registry in them). MLflow has its own: it caps pyarrow below the version the peers environment
(and Conveyor's) has, which would change what B4 measures pandera with. An environment is rebuilt
when its requirements file or `pyproject.toml` change (a stamp file keeps their hash). Only the
package index is reached, and only while installing.

Prefect 3 runs without a server of ours: `prefect_env` gives it a temporary PREFECT_HOME, no
PREFECT_API_URL and ephemeral mode, in which Prefect starts its own API in a subprocess on
127.0.0.1 and stops it at exit.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from _common import BENCH, REPO, RESULTS


@dataclasses.dataclass(frozen=True)
class Env:
    """One benchmark-only virtualenv: where it lives, what it installs, what it must import."""

    name: str
    venv: Path
    requirements: Path
    imports: tuple[str, ...]  # checked after installing (Conveyor is always checked too)
    versions: tuple[str, ...]  # distributions whose versions results print

    @property
    def stamp(self) -> Path:
        return self.venv / ".installed"


PEERS = Env(
    "peers",
    BENCH / ".venv-peers",
    BENCH / "requirements-peers.txt",
    ("kedro", "pandera", "prefect", "bentoml"),
    (
        *("conveyor", "kedro", "prefect", "sqlalchemy", "pydantic", "pandas", "scikit-learn"),
        *("pyinstrument", "pandera", "bentoml", "starlette", "uvicorn"),
    ),
)
MLFLOW = Env(
    "mlflow",
    BENCH / ".venv-mlflow",
    BENCH / "requirements-mlflow.txt",
    ("mlflow",),
    ("conveyor", "mlflow", "scikit-learn", "pandas", "pyarrow", "flask", "gunicorn", "uvicorn"),
)
ENVS = {env.name: env for env in (PEERS, MLFLOW)}

# The names B1, B4 and the profile use: the peers environment.
VENV = PEERS.venv
REQUIREMENTS = PEERS.requirements
STAMP = PEERS.stamp


def python(env: Env = PEERS) -> Path:
    """An environment's interpreter (it may not exist yet: see `ensure`)."""
    return env.venv / "bin" / "python"


def _wanted(env: Env) -> str:
    hasher = hashlib.sha256()
    for path in (env.requirements, REPO / "pyproject.toml"):
        hasher.update(path.read_bytes())
    return hasher.hexdigest()


def _healthy(env: Env) -> bool:
    """The interpreter runs and imports the tools, Conveyor from this repository."""
    probe = (
        f"import conveyor, sys, {', '.join(env.imports)}; "
        f"sys.exit(0 if conveyor.__file__.startswith({str(REPO / 'src')!r}) else 1)"
    )
    try:
        proc = subprocess.run(
            [str(python(env)), "-c", probe],
            capture_output=True,
            timeout=120,
            check=False,
            env=quiet_env(),
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return proc.returncode == 0


def ensure(*, force: bool = False, verbose: bool = True, env: Env = PEERS) -> Path:
    """Create or update an environment if needed; return its interpreter."""
    wanted = _wanted(env)
    if (
        not force
        and env.stamp.exists()
        and env.stamp.read_text().strip() == wanted
        and python(env).exists()
        and _healthy(env)
    ):
        return python(env)
    if force and env.venv.exists():
        shutil.rmtree(env.venv)
    started = time.perf_counter()
    if verbose:
        tools = ", ".join(env.imports)
        print(f"{env.name}: building {env.venv.relative_to(REPO)} ({tools}, conveyor[ml])")
    if not python(env).exists():
        subprocess.run([sys.executable, "-m", "venv", str(env.venv)], check=True)
    RESULTS.mkdir(exist_ok=True)
    log = RESULTS / f"{env.name}-install.log"
    with log.open("w") as out:
        for args in (
            ["--upgrade", "pip"],
            ["-r", str(env.requirements), "-e", f"{REPO}[ml]"],
        ):
            proc = subprocess.run(
                [str(python(env)), "-m", "pip", "install", "--quiet", *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
            )
            if proc.returncode != 0:
                tail = log.read_text().strip().splitlines()[-20:]
                raise SystemExit(
                    f"{env.name}: pip install failed (log: {log}):\n" + "\n".join(tail)
                )
    if not _healthy(env):
        raise SystemExit(f"{env.name}: {python(env)} cannot import conveyor, {env.imports}")
    env.stamp.write_text(wanted + "\n")
    if verbose:
        print(f"{env.name}: ready in {time.perf_counter() - started:.0f} s")
    return python(env)


def versions(env: Env = PEERS) -> dict[str, str]:
    """Installed versions of the tools compared (and what they share), from an environment."""
    code = (
        "import json; from importlib import metadata as m; "
        f"names = {env.versions!r}; "
        "print(json.dumps({n: m.version(n) for n in names}))"
    )
    out = subprocess.run(
        [str(python(env)), "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return json.loads(out.stdout)


def quiet_env() -> dict[str, str]:
    """The environment for every worker: no telemetry from any tool."""
    env = dict(os.environ)
    env.update(
        {
            "DO_NOT_TRACK": "1",
            "KEDRO_DISABLE_TELEMETRY": "1",
            "BENTOML_DO_NOT_TRACK": "true",
            "MLFLOW_DISABLE_TELEMETRY": "true",
        }
    )
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
    parser.add_argument("only", nargs="*", help=f"some of {list(ENVS)} (default: all)")
    args = parser.parse_args()
    unknown = set(args.only) - set(ENVS)
    if unknown:
        parser.error(f"unknown environment(s) {sorted(unknown)}; choose from {list(ENVS)}")
    for name in args.only or list(ENVS):
        env = ENVS[name]
        print(ensure(force=args.force, env=env))
        for dist, version in versions(env).items():
            print(f"  {dist}=={version}")


if __name__ == "__main__":
    main()
