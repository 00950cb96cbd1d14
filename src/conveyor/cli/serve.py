"""`conveyor serve`, `conveyor predict` and `conveyor predictions`: models at work."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from conveyor.cli._output import fail, out, print_json, reported_errors, when


def serve(
    ref: Annotated[str, typer.Argument(help="NAME, NAME:VERSION or NAME@ALIAS (followed live).")],
    host: Annotated[str, typer.Option(help="Address to bind; 0.0.0.0 exposes it.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
    api_key_env: Annotated[
        str | None,
        typer.Option(help="Require 'Authorization: Bearer $VAR' on every endpoint but /health."),
    ] = None,
    allow_host: Annotated[
        list[str] | None,
        typer.Option(help="Extra Host header names to accept (e.g. a DNS name of this server)."),
    ] = None,
    max_body_mb: Annotated[float, typer.Option(min=0.001, help="Largest request body.")] = 10.0,
    poll: Annotated[float, typer.Option(min=0.1, help="Seconds between alias checks.")] = 1.0,
    flush: Annotated[
        float, typer.Option(min=0.05, help="Seconds between prediction-log writes.")
    ] = 1.0,
) -> None:
    """Serve a registered model over HTTP: /predict, /feedback, /health, /ready, /metadata,
    /metrics and /docs. With NAME@ALIAS the server follows the alias: a promotion or rollback
    swaps the model in a few seconds with no failed request.

    Examples:

      conveyor serve penguins@production

      conveyor serve churn:3 --port 9000 --workers 2 --api-key-env CHURN_KEY
    """
    import importlib.util
    import os

    missing = [m for m in ("fastapi", "uvicorn", "orjson") if importlib.util.find_spec(m) is None]
    if missing:
        raise fail(f"conveyor serve needs {missing}: pip install 'conveyor[serve]'")
    with reported_errors():
        from conveyor.registry import ModelRegistry

        record = ModelRegistry().get(ref)  # a wrong name or alias fails here, clearly
        if api_key_env is not None and not os.environ.get(api_key_env):
            raise fail(f"--api-key-env {api_key_env}: that environment variable is not set")
    from conveyor.serving.app import ServeConfig
    from conveyor.serving.server import serve as run_server

    config = ServeConfig(
        ref=ref,
        root=str(Path.cwd()),
        host=host,
        api_key_env=api_key_env,
        allowed_hosts=tuple(allow_host or ()),
        max_body=int(max_body_mb * 1024 * 1024),
        poll_s=poll,
        flush_s=flush,
    )
    out.print(
        f"serving {record.name}:{record.version}"
        + (f" (following {ref})" if "@" in ref else "")
        + f" on http://{host}:{port}  (docs at /docs)"
    )
    run_server(config, port=port, workers=workers)


def predict(
    ref: Annotated[str, typer.Argument(help="NAME, NAME:VERSION or NAME@ALIAS.")],
    input: Annotated[Path, typer.Option("--input", "-i", help="CSV or Parquet file of rows.")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write rows + predictions.")
    ],
    proba: Annotated[bool, typer.Option(help="Add a probability column per class.")] = False,
) -> None:
    """Batch inference: predict every row of a file with a registered model.

    Example: conveyor predict penguins@production --input new.csv --output scored.parquet
    """
    with reported_errors():
        from conveyor.components._batch import predict_file

        rows = predict_file(ref, input, output, proba=proba)
    out.print(f"wrote {rows} rows to {output}")


def predictions(
    name: Annotated[str, typer.Argument(help="Model name.")],
    since: Annotated[
        str | None,
        typer.Option(help="Only records since: seconds ago like 3600, or an ISO time."),
    ] = None,
    feedback: Annotated[bool, typer.Option(help="Show the feedback labels instead.")] = False,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest last.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Read a model's prediction log (what `conveyor serve` recorded).

    Examples:

      conveyor predictions penguins --since 3600

      conveyor predictions penguins --feedback --json
    """
    with reported_errors():
        from conveyor.predictions import read_log
        from conveyor.workspace import open_workspace

        frame = read_log(
            open_workspace(), name, "feedback" if feedback else "predictions", _since(since)
        )
    total = len(frame)
    frame = frame.tail(limit)
    if as_json:
        print_json(
            {
                "model": name,
                "total": total,
                "records": [_clean(r) for r in frame.to_dict("records")],
            }
        )
        return
    from rich.table import Table

    if not total:
        out.print(f"no {'feedback' if feedback else 'predictions'} logged for {name!r}")
        return
    table = Table(box=None, pad_edge=False)
    shown = [c for c in frame.columns if c not in ("probabilities",)]
    for column in shown:
        table.add_column(column)
    for record in frame.to_dict("records"):
        table.add_row(*(_cell(column, record[column]) for column in shown))
    out.print(table)
    out.print(f"{len(frame)} of {total} records")


def _since(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return time.time() - float(text)
    except ValueError:
        pass
    import datetime as dt

    try:
        return dt.datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise fail(f"--since {text!r}: give seconds ago (3600) or an ISO time") from None


def _cell(column: str, value: Any) -> str:
    if column == "at":
        return when(value)
    if column == "request_id":
        return str(value)[:12]
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


def _clean(record: dict[str, Any]) -> dict[str, Any]:
    import math

    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in record.items()}
