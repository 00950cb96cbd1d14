"""Run the app on uvicorn: one process, or `workers` processes sharing the port.

Workers are separate processes (the model is loaded in each, and each follows the alias and
writes its own prediction-log segments); they get their configuration through the environment.
SIGTERM (or Ctrl-C) stops accepting connections, lets in-flight requests finish, then flushes the
prediction log.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from typing import Any

from conveyor.serving.app import ServeConfig, create_app

__all__ = ["CONFIG_ENV", "app_from_env", "serve"]

CONFIG_ENV = "CONVEYOR_SERVE_CONFIG"


def app_from_env() -> Any:
    """The factory each worker calls (`uvicorn --factory`)."""
    raw = json.loads(os.environ[CONFIG_ENV])
    raw["allowed_hosts"] = tuple(raw.get("allowed_hosts", ()))
    return create_app(ServeConfig(**raw))


def serve(config: ServeConfig, port: int = 8000, workers: int = 1, log_level: str = "info") -> None:
    import uvicorn

    os.environ[CONFIG_ENV] = json.dumps(dataclasses.asdict(config))
    options: dict[str, Any] = {
        "host": config.host,
        "port": port,
        "log_level": log_level,
        "timeout_graceful_shutdown": 30,
        "server_header": False,
        "access_log": False,
    }
    if workers > 1:
        # one metrics directory for all workers, so /metrics reports the server, not one worker
        made = None
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            made = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(
                prefix="conveyor-prom-"
            )
        try:
            uvicorn.run(
                "conveyor.serving.server:app_from_env", factory=True, workers=workers, **options
            )
        finally:
            if made is not None:  # ours: no other process reads it once the workers are gone
                shutil.rmtree(made, ignore_errors=True)
    else:
        uvicorn.run(create_app(config), **options)
