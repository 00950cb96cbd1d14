"""`conveyor ui`: the web dashboard over this project's stores."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from conveyor.cli._output import fail, out, reported_errors

#: where the dashboard's app factory is found; the CLI names it and does not import the UI layer
APP_FACTORY = "conveyor.ui.server:app_from_env"
CONFIG_ENV = "CONVEYOR_UI_CONFIG"


def ui(
    host: Annotated[
        str,
        typer.Option(
            help="Address to bind. 0.0.0.0 (or ::) exposes it on every interface, reached by "
            "this machine's IP addresses or host name; other names need --allow-host."
        ),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8765,
    api_key_env: Annotated[
        str | None,
        typer.Option(
            help="Enable the actions (promote, rollback, re-run), which then need "
            "'Authorization: Bearer $VAR'. Without it the dashboard is read-only."
        ),
    ] = None,
    allow_host: Annotated[
        list[str] | None,
        typer.Option(
            help="Another Host header name to accept (e.g. a DNS alias of this machine); "
            "repeat for more. Other names are refused (DNS-rebinding protection)."
        ),
    ] = None,
) -> None:
    """Serve the dashboard: runs and their DAGs (live while running), artifacts and lineage,
    run comparison, models and aliases, drift and triggers; its JSON API is under /api/.

    Examples:

      conveyor ui

      conveyor ui --host 0.0.0.0 --allow-host ml-box.example.com

      CONVEYOR_UI_KEY=s3cret conveyor ui --port 9000 --api-key-env CONVEYOR_UI_KEY
    """
    import importlib.util
    import os

    missing = [m for m in ("fastapi", "uvicorn") if importlib.util.find_spec(m) is None]
    if missing:
        raise fail(f"conveyor ui needs {missing}: pip install 'conveyor[ui]'")
    if api_key_env is not None and not os.environ.get(api_key_env):
        raise fail(f"--api-key-env {api_key_env}: that environment variable is not set")
    with reported_errors():
        from conveyor.workspace import open_workspace

        open_workspace()  # a wrong database URL or schema fails here, with its message
    import uvicorn

    os.environ[CONFIG_ENV] = json.dumps(
        {
            "root": str(Path.cwd()),
            "host": host,
            "api_key_env": api_key_env,
            "allowed_hosts": list(allow_host or ()),
        }
    )
    shown = f"[{host}]" if ":" in host else host
    mode = "actions enabled with the API key" if api_key_env else "read-only"
    out.print(f"Conveyor dashboard on http://{shown}:{port}  ({mode}; JSON API under /api/)")
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        log_level="warning",
        server_header=False,
        access_log=False,
        timeout_graceful_shutdown=5,
    )
