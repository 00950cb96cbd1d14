"""Run the dashboard on uvicorn: `serve(config)` from Python, `app_from_env` for `conveyor ui`.

The CLI and the UI are sibling layers that do not import each other (DESIGN.md), so `conveyor ui`
hands uvicorn this module's factory by name, with the configuration in `CONVEYOR_UI_CONFIG`.
"""

from __future__ import annotations

import json
import os
from typing import Any

from conveyor.ui.app import UiConfig, create_app

__all__ = ["CONFIG_ENV", "app_from_env", "serve"]

CONFIG_ENV = "CONVEYOR_UI_CONFIG"


def app_from_env() -> Any:
    """The app for the configuration in `CONVEYOR_UI_CONFIG` (uvicorn's `factory=True`)."""
    raw = json.loads(os.environ.get(CONFIG_ENV) or "{}")
    raw["allowed_hosts"] = tuple(raw.get("allowed_hosts", ()))
    return create_app(UiConfig(**raw))


def serve(config: UiConfig, port: int = 8765, log_level: str = "warning") -> None:
    import uvicorn

    uvicorn.run(
        create_app(config),
        host=config.host,
        port=port,
        log_level=log_level,
        server_header=False,
        access_log=False,
        timeout_graceful_shutdown=5,
    )
