"""`conveyor models list|show|promote|rollback`: the model registry from the command line.

Exit codes as everywhere: a reference to no model, version or alias is a usage error (2), as an
unknown run or artifact id is for `runs show` and `artifacts show`.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from conveyor.cli._output import out, print_json, reported_errors, when
from conveyor.cli._typer import group
from conveyor.exceptions import NotFoundError

app = group("Registered models: versions, aliases, promotion.")


def _registry() -> Any:
    """The project's registry; a NotFoundError when there is no project store here (a command
    that reads the registry must not create one, as opening a SQLite database would)."""
    from conveyor.config import Settings
    from conveyor.registry import ModelRegistry
    from conveyor.workspace import open_workspace

    settings = Settings.load()
    missing = _missing_database(settings.db)
    if missing is not None:
        raise NotFoundError(
            f"no project store here: {missing} does not exist (no run has been recorded in "
            f"{settings.root}; run a pipeline first, or work in a project's folder)"
        )
    return ModelRegistry(open_workspace(settings))


def _missing_database(url: str) -> str | None:
    """The file of a SQLite metadata store that does not exist yet, else None."""
    from pathlib import Path

    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:
        return None  # opening it says what is wrong with it
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:"):
        return None
    return None if Path(database).exists() else database


def _version_json(v: Any) -> dict[str, Any]:
    return dataclasses.asdict(v) | {"aliases": list(v.aliases)}


def _id(value: str) -> str:
    """An id or commit as shown: 12 characters in a terminal, whole when piped or captured."""
    return value[:12] if out.is_terminal else value


@app.command("list")
def list_models(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List every model with its versions and aliases.

    Example: conveyor models list
    """
    try:
        registry = _registry()
    except NotFoundError as error:  # no store: no models, and it says why
        if as_json:
            print_json([])
        else:
            out.print(escape(str(error)))
        return
    with reported_errors():
        versions = registry.list()
    if as_json:
        print_json([_version_json(v) for v in versions])
        return
    if not versions:
        out.print("no models registered yet")
        return
    table = Table(box=None)
    for column in ("model", "version", "aliases", "created", "metrics"):
        table.add_column(column, no_wrap=column != "metrics")
    for v in versions:
        metrics = ", ".join(f"{k}={val:.4g}" for k, val in list(v.metrics.items())[:4])
        table.add_row(v.name, str(v.version), ", ".join(v.aliases), when(v.created_at), metrics)
    out.print(table)


@app.command("show")
def show(
    ref: Annotated[str, typer.Argument(help="NAME, NAME:VERSION or NAME@ALIAS.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a model version: metrics, input schema, evaluation, lineage and alias history.

    Examples:

      conveyor models show churn@production

      conveyor models show churn:3 --json
    """
    with reported_errors():
        registry = _registry()
        version = registry.get(ref)
        history = registry.history(version.name)
        run = registry.ws.metadata.get_run(version.run_id) if version.run_id else None
        sources = registry.models.sources(list(version.data.values()))
    lineage = {
        "run_id": version.run_id,
        "pipeline": run.pipeline if run else None,
        "git_commit": run.git_commit if run else None,
        "git_dirty": run.git_dirty if run else None,
        "model_artifact": version.artifact_id,
        "data": version.data,
        "sources": sources,
    }
    if as_json:
        print_json(
            _version_json(version)
            | {"lineage": lineage, "history": [dataclasses.asdict(e) for e in history]}
        )
        return
    aliases = f"  ({', '.join(version.aliases)})" if version.aliases else ""
    out.print(f"[bold]{escape(version.name)}:{version.version}[/]{escape(aliases)}")
    out.print(f"  registered {when(version.created_at)} by {version.created_by}")
    if version.description:
        out.print(f"  {escape(version.description)}")
    out.print(f"  model artifact {_id(version.artifact_id)}")
    if run:
        code = _id(run.git_commit) if run.git_commit else "no git commit"
        dirty = " + uncommitted changes" if run.git_dirty else ""
        out.print(f"  trained by run {_id(run.id)} ({escape(run.pipeline)}), code {code}{dirty}")
    for name, artifact in version.data.items():
        out.print(f"  data {escape(name)}: {_id(artifact)}")
    for source in sources:
        facts = ", ".join(
            f"{k} {source[k]}" for k in ("format", "content_hash", "query") if source.get(k)
        )
        out.print(
            f"  data source {escape(str(source['source']))} ({escape(facts)}), "
            f"read as {_id(source['artifact'])}"
        )
    for key, value in version.metrics.items():
        out.print(f"  metric {escape(key)} = {value:.6g}")
    for line in _signature_lines(version.signature) + _evaluation_lines(version.evaluation):
        out.print("  " + escape(line))
    for event in history:
        was = f" (was {event.previous_version})" if event.previous_version else ""
        why = f": {escape(event.reason)}" if event.reason else ""
        out.print(
            f"  {when(event.at)} {event.action} @{event.alias} → {event.version}{was} "
            f"by {event.by}{why}"
        )


def _signature_lines(signature: dict[str, Any]) -> list[str]:
    """The input schema as the components record it ({"inputs", "target", ...}), or as given."""
    if not signature:
        return []
    if "inputs" not in signature:
        return ["input schema: " + ", ".join(f"{k}: {v}" for k, v in signature.items())]
    inputs = signature["inputs"]
    lines = ["inputs " + ", ".join(f"{k} ({v})" for k, v in inputs.items())]
    if signature.get("target"):
        task = f" ({signature['task']})" if signature.get("task") else ""
        lines.append(f"target {signature['target']}{task}")
    if signature.get("classes"):
        lines.append("classes " + ", ".join(map(str, signature["classes"])))
    return lines


def _evaluation_lines(evaluation: dict[str, Any]) -> list[str]:
    """The gate decision and per-slice metrics of a version registered by the components."""
    if not evaluation:
        return []
    if "gate" not in evaluation and "slices" not in evaluation:
        return [f"evaluation: {evaluation}"]
    lines = []
    gate = evaluation.get("gate")
    if gate:
        verdict = "passed" if gate.get("passed") else "refused"
        lines.append(f"gate {verdict}: " + "; ".join(gate.get("reasons", [])))
    for column, groups in (evaluation.get("slices") or {}).items():
        for value, entry in groups.items():
            numbers = ", ".join(f"{k}={v:.4g}" for k, v in sorted(entry["metrics"].items()))
            lines.append(f"slice {column}={value} (n={entry['n']}): {numbers}")
    return lines


@app.command("promote")
def promote(
    name: Annotated[str, typer.Argument(help="The model name.")],
    version: Annotated[int, typer.Argument(min=1, help="The version to promote.")],
    alias: Annotated[str, typer.Option("--alias", help="The alias to point at it.")] = "production",
    reason: Annotated[str | None, typer.Option("--reason", help="Why, for the record.")] = None,
) -> None:
    """Point an alias (default: production) at a model version.

    Without --reason the move is recorded as "promoted by hand".

    Example: conveyor models promote churn 4 --alias production --reason "better recall"
    """
    with reported_errors():
        registry = _registry()
        already = registry.models.alias_target(name, alias) == version
        event = registry.promote(name, version, alias, reason=reason)
    if already:
        out.print(f"{escape(name)}@{escape(alias)} is already version {version}; nothing recorded")
        return
    was = f" (was {event.previous_version})" if event.previous_version else ""
    out.print(f"{escape(name)}@{escape(alias)} → version {event.version}{was}")


@app.command("rollback")
def rollback(
    name: Annotated[str, typer.Argument(help="The model name.")],
    alias: Annotated[str, typer.Option("--alias", help="The alias to move back.")] = "production",
    reason: Annotated[str | None, typer.Option("--reason", help="Why, for the record.")] = None,
) -> None:
    """Move an alias back to the version it pointed at before (undoing promotions in turn).

    Without --reason the move is recorded as "rolled back by hand".

    Example: conveyor models rollback churn --alias production --reason "latency regression"
    """
    with reported_errors():
        event = _registry().rollback(name, alias, reason=reason)
    out.print(
        f"{escape(name)}@{escape(alias)} → version {event.version} (was {event.previous_version})"
    )
