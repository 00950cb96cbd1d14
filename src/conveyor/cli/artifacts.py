"""`conveyor artifacts show` and `conveyor lineage`: what an artifact is and where it came from."""

from __future__ import annotations

import dataclasses
import sys
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
        typer.Argument(
            help="Artifact id or unique prefix, or a model NAME, NAME:VERSION or NAME@ALIAS."
        ),
    ],
    depth: Annotated[int, typer.Option(min=1, max=50, help="How many steps up and down.")] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show where an artifact came from (upstream), what used it (downstream), and the model
    versions it went into (as their model, their data, or upstream of their data).

    Examples:

      conveyor lineage 3fa2c9 --depth 5

      conveyor lineage churn@production     (the data and code behind a model version)

      conveyor lineage <ingested data id>   (the model versions trained on that data)
    """
    from conveyor.workspace import open_workspace

    with reported_errors():
        ws = open_workspace()
        meta = ws.metadata
        full = _resolve(ws, artifact_id)
        record = meta.get_artifact(full)
        upstream = _upstream(meta, full, depth, set())
        downstream = _downstream(meta, full, depth, set())
        from conveyor.metadata.model_store import ModelStore

        models = [
            {
                "model": use.version.name,
                "version": use.version.version,
                "role": use.role,
                "aliases": list(use.version.aliases),
            }
            for use in ModelStore(meta).uses_of_artifact(full)
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
    # In a terminal: a tree with short ids; piped or captured: whole ids, lines never wrapped.
    short = out.is_terminal
    root = _Node(f"{_short(full, short)} {record.type_name}", bold=True)
    root.add("upstream (produced by)", bold=True).extend(_nodes(upstream, "inputs", short))
    root.add("downstream (consumed by)", bold=True).extend(_nodes(downstream, "outputs", short))
    if models:
        registered = root.add("model versions", bold=True)
        for m in models:
            registered.add(f"{m['model']}:{m['version']} ({m['role']})")
    if short:
        out.print(root.rich())
    else:
        for line in root.lines():
            sys.stdout.write(line + "\n")
        sys.stdout.flush()


def _resolve(ws: Any, text: str) -> str:
    """The artifact id meant by an id prefix or a model reference (a bare NAME included)."""
    from conveyor.exceptions import NotFoundError, ParameterError
    from conveyor.registry import ModelRegistry
    from conveyor.registry.names import valid_name

    meta = ws.metadata
    if text and all(c in "0123456789abcdef" for c in text):
        try:
            return meta.resolve_artifact_id(text)
        except NotFoundError as err:
            not_an_artifact = err
    else:
        not_an_artifact = None
    name = text.partition("@")[0].partition(":")[0]
    if not valid_name(name):
        raise NotFoundError(
            f"{text!r} is neither an artifact id nor a model reference "
            "(NAME, NAME:VERSION or NAME@ALIAS)"
        )
    try:
        return ModelRegistry(ws).get(text).artifact_id
    except ParameterError as err:
        raise NotFoundError(str(err)) from None
    except NotFoundError as err:
        if not_an_artifact is not None:
            raise NotFoundError(f"{not_an_artifact}, and {err}") from None
        raise


def _short(value: str, short: bool) -> str:
    return value[:12] if short else value


class _Node:
    """A line of the lineage tree and the lines under it: drawn by rich, or as plain text."""

    def __init__(self, label: str, bold: bool = False) -> None:
        self.label, self.bold, self.children = label, bold, []

    def add(self, label: str, bold: bool = False) -> _Node:
        child = _Node(label, bold)
        self.children.append(child)
        return child

    def extend(self, children: list[_Node]) -> None:
        self.children += children

    def rich(self, tree: Tree | None = None) -> Tree:
        label = f"[bold]{escape(self.label)}[/]" if self.bold else escape(self.label)
        node = Tree(label) if tree is None else tree.add(label)
        for child in self.children:
            child.rich(node)
        return node

    def lines(self, prefix: str = "", last: bool = True, top: bool = True) -> list[str]:
        if top:
            found = [self.label]
            inner = ""
        else:
            found = [f"{prefix}{'└── ' if last else '├── '}{self.label}"]
            inner = prefix + ("    " if last else "│   ")
        for i, child in enumerate(self.children):
            found += child.lines(inner, i == len(self.children) - 1, top=False)
        return found


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


def _nodes(entries: list[dict[str, Any]], key: str, short: bool) -> list[_Node]:
    nodes = []
    for entry in entries:
        code = ""
        if "code" in entry:
            commit = _short(entry["git_commit"], short) if entry["git_commit"] else "no commit"
            code = f", code {entry['code']} @ {commit}"
        branch = _Node(f"step {entry['step']} (run {_short(entry['run_id'], short)}{code})")
        for item in entry[key]:
            node = branch.add(f"{item['name']}: {_short(item['artifact'], short)}")
            below = item.get("upstream" if key == "inputs" else "downstream", [])
            node.extend(_nodes(below, key, short))
        nodes.append(branch)
    return nodes


app.command("verify")(verify)
