"""`conveyor db`: manage the metadata database's schema."""

from __future__ import annotations

from conveyor.cli._output import out, reported_errors
from conveyor.cli._typer import group

app = group("Manage the metadata database.")


@app.command("upgrade")
def upgrade() -> None:
    """Apply pending schema migrations (Alembic) to the configured database.

    Example: CONVEYOR_DB=postgresql+psycopg://localhost/conveyor conveyor db upgrade
    """
    from conveyor.config import Settings
    from conveyor.metadata.store import MetadataStore

    with reported_errors():
        store = MetadataStore(Settings.load().db, check_schema=False)
        before = store.revision()
        store.upgrade()
        out.print(f"database upgraded from {before or 'empty'} to revision {store.revision()}")
        store.close()
