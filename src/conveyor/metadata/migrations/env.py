"""Alembic environment: runs on the connection `conveyor db upgrade` (or the store) hands it."""

from __future__ import annotations

from alembic import context

from conveyor.metadata.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # `alembic` CLI use: build an engine from the ini's URL
    import sqlalchemy as sa

    engine = sa.create_engine(context.config.get_main_option("sqlalchemy.url"))
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
        context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
