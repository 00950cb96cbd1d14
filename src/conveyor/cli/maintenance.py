"""`conveyor gc` and `conveyor artifacts verify`: keep the artifact store honest and tidy."""

from __future__ import annotations

from typing import Annotated

import typer

from conveyor.cli._output import EXIT_FAILED, out, print_json, reported_errors, size


def gc(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would go; delete nothing.")
    ] = False,
    grace: Annotated[
        float,
        typer.Option(min=0, help="Keep unreferenced files younger than this many seconds."),
    ] = 3600.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Delete blobs no artifact references, and stale temporary files. Safe while pipelines run.

    Example: conveyor gc --dry-run
    """
    from conveyor.run.maintenance import collect_garbage
    from conveyor.workspace import open_workspace

    with reported_errors():
        report = collect_garbage(open_workspace(), dry_run=dry_run, grace_s=grace)
    if as_json:
        print_json(
            {
                "dry_run": dry_run,
                "removed_blobs": report.removed_blobs,
                "removed_temporary": report.removed_temporary,
                "freed_bytes": report.freed_bytes,
                "kept_recent": report.kept_recent,
            }
        )
        return
    verb = "would remove" if dry_run else "removed"
    out.print(
        f"{verb} {len(report.removed_blobs)} unreferenced blobs and "
        f"{len(report.removed_temporary)} temporary files ({size(report.freed_bytes)}); "
        f"kept {report.kept_recent} younger than {grace:g} s"
    )


def verify(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Re-hash every artifact's bytes; exit 1 if any is missing or corrupted.

    Example: conveyor artifacts verify
    """
    from conveyor.run.maintenance import verify_artifacts
    from conveyor.workspace import open_workspace

    with reported_errors():
        report = verify_artifacts(open_workspace())
    if as_json:
        print_json(
            {
                "checked": report.checked,
                "missing": report.missing,
                "corrupt": report.corrupt,
                "errors": report.errors,
                "ok": report.ok,
            }
        )
    else:
        out.print(f"checked {report.checked} artifacts")
        for label, ids in (("missing", report.missing), ("corrupt", report.corrupt)):
            for artifact in ids:
                out.print(f"  [red]{label}[/] {artifact}")
        for error in report.errors:
            out.print(f"  [red]error[/] {error}")
        if report.ok:
            out.print("[green]all artifacts intact[/]")
    if not report.ok:
        raise typer.Exit(EXIT_FAILED)
