"""`conveyor artifacts show` and `conveyor lineage`: what an artifact is and where it came from."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from conveyor.cli._output import out, print_json, reported_errors, size, when
from conveyor.cli._typer import group
from conveyor.cli.maintenance import verify

app = group("Inspect artifacts.")


@app.command("show")
def show(
    artifact_id: Annotated[
        str,
        typer.Argument(help="Artifact id or unique prefix, or a model NAME:VERSION/NAME@ALIAS."),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show an artifact: type, size, producer and a preview (DataFrame head, array shape, value).

    Example: conveyor artifacts show 3fa2c9
    """
    from conveyor.workspace import open_workspace

    with reported_errors():
        meta = open_workspace().metadata
        record = meta.get_artifact(meta.resolve_artifact_id(artifact_id))
        producer = meta.get_step_run(record.producer_id) if record.producer_id else None
    if as_json:
        data = dataclasses.asdict(record)
        data["producer"] = (
            {"step_run_id": producer.id, "run_id": producer.run_id, "step": producer.name}
            if producer
            else None
        )
        print_json(data)
        return
    out.print(f"[bold]artifact {record.id}[/]")
    out.print(f"  type: {record.type_name}")
    safety = "" if record.safe else "  [yellow](unsafe: loading needs --trust)[/]"
    out.print(f"  format: {record.materializer} v{record.materializer_version}{safety}")
    out.print(f"  size: {size(record.size)}   created {when(record.created_at)}")
    out.print(f"  uri: {escape(record.uri)}")
    if producer:
        out.print(f"  produced by step {producer.name!r} of run {producer.run_id[:12]}")
    _preview(record.summary)


def _preview(summary: dict[str, Any]) -> None:
    if "shape" in summary:
        out.print(f"  shape: {tuple(summary['shape'])}")
    if "dtype" in summary:
        out.print(f"  dtype: {summary['dtype']}")
    if "dtypes" in summary:
        out.print(
            "  dtypes: " + escape(", ".join(f"{c}: {t}" for c, t in summary["dtypes"].items()))
        )
    head = summary.get("head")
    if isinstance(head, dict) and "columns" in head:
        table = Table(title="head", title_justify="left")
        table.add_column("")
        for column in head["columns"]:
            table.add_column(escape(str(column)))
        for index, row in zip(head.get("index", []), head.get("data", []), strict=False):
            table.add_row(escape(str(index)), *(escape(str(v)) for v in row))
        out.print(table)
    for key in ("value", "preview", "repr", "estimator", "params"):
        if key in summary:
            out.print(
                f"  {key}: {escape(repr(summary[key]) if key == 'value' else str(summary[key]))}"
            )


def lineage(
    artifact_id: Annotated[
        str,
        typer.Argument(help="Artifact id or unique prefix, or a model NAME:VERSION/NAME@ALIAS."),
    ],
    depth: Annotated[int, typer.Option(min=1, max=50, help="How many steps up and down.")] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show where an artifact came from (upstream) and what used it (downstream).

    Examples:

      conveyor lineage 3fa2c9 --depth 5

      conveyor lineage churn@production     (the data and code behind a model version)
    """
    from conveyor.workspace import open_workspace

    with reported_errors():
        ws = open_workspace()
        meta = ws.metadata
        if _is_model_ref(artifact_id):
            from conveyor.registry import ModelRegistry

            full = ModelRegistry(ws).get(artifact_id).artifact_id
        else:
            full = meta.resolve_artifact_id(artifact_id)
        record = meta.get_artifact(full)
        upstream = _upstream(meta, full, depth, set())
        downstream = _downstream(meta, full, depth, set())
        from conveyor.metadata.model_store import ModelStore

        models = [
            {
                "model": v.name,
                "version": v.version,
                "role": "model"
                if v.artifact_id == full
                else ", ".join(k for k, a in v.data.items() if a == full),
                "aliases": list(v.aliases),
            }
            for v in ModelStore(meta).versions_of_artifact(full)
        ]
    if as_json:
        print_json(
            {
                "artifact": full,
                "type": record.type_name,
                "upstream": upstream,
                "downstream": downstream,
                "models": models,
            }
        )
        return
    root = Tree(f"[bold]{full[:12]}[/] {record.type_name}")
    up = root.add("[bold]upstream[/] (produced by)")
    _render(up, upstream, "inputs")
    down = root.add("[bold]downstream[/] (consumed by)")
    _render(down, downstream, "outputs")
    if models:
        registered = root.add("[bold]model versions[/]")
        for m in models:
            registered.add(f"{escape(m['model'])}:{m['version']} ({m['role']})")
    out.print(root)


def _is_model_ref(text: str) -> bool:
    """Artifact ids are hex; a model reference has a name with `:VERSION` or `@ALIAS`."""
    return ("@" in text or ":" in text) and not all(c in "0123456789abcdef" for c in text)


def _upstream(meta: Any, artifact: str, depth: int, seen: set[str]) -> list[dict[str, Any]]:
    record = meta.get_artifact(artifact)
    if depth <= 0 or record.producer_id is None or artifact in seen:
        return []
    seen.add(artifact)
    producer = meta.get_step_run(record.producer_id)
    return [
        {
            "step_run_id": producer.id,
            "run_id": producer.run_id,
            "step": producer.name,
            "code": producer.step,
            "git_commit": meta.get_run(producer.run_id).git_commit,
            "output": next((k for k, v in producer.outputs.items() if v == artifact), None),
            "inputs": [
                {"name": name, "artifact": aid, "upstream": _upstream(meta, aid, depth - 1, seen)}
                for name, aid in producer.inputs.items()
            ],
        }
    ]


def _downstream(meta: Any, artifact: str, depth: int, seen: set[str]) -> list[dict[str, Any]]:
    if depth <= 0 or artifact in seen:
        return []
    seen.add(artifact)
    consumers: dict[tuple[str, str], Any] = {}
    for edge in meta.edges(artifact_id=artifact):
        if edge.direction == "in":
            consumers.setdefault((edge.node, edge.name), edge)  # once per step, not per run
    result = []
    for edge in consumers.values():
        step = meta.get_step_run(edge.step_run_id)
        result.append(
            {
                "step_run_id": step.id,
                "run_id": step.run_id,
                "step": step.name,
                "input": edge.name,
                "outputs": [
                    {
                        "name": name,
                        "artifact": aid,
                        "downstream": _downstream(meta, aid, depth - 1, seen),
                    }
                    for name, aid in step.outputs.items()
                ],
            }
        )
    return result


def _render(tree: Tree, entries: list[dict[str, Any]], key: str) -> None:
    for entry in entries:
        code = ""
        if "code" in entry:
            commit = entry["git_commit"][:12] if entry["git_commit"] else "no commit"
            code = f", code {escape(entry['code'])} @ {commit}"
        branch = tree.add(
            f"step [cyan]{escape(entry['step'])}[/] (run {entry['run_id'][:12]}{code})"
        )
        for item in entry[key]:
            node = branch.add(f"{escape(item['name'])}: {item['artifact'][:12]}")
            _render(node, item.get("upstream" if key == "inputs" else "downstream", []), key)


app.command("verify")(verify)
