"""What the pages need to draw a run: the traced graph, running steps, a step's own arguments;
and what each trigger's checks found wrong, shared by every watcher of the store.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pipelines") as batch:
        batch.add_column(sa.Column("graph", sa.Text(), nullable=True))
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("running", sa.Text(), nullable=True))
    with op.batch_alter_table("step_runs") as batch:
        batch.add_column(sa.Column("arguments", sa.Text(), nullable=True))
    op.create_table(
        "trigger_checks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("trigger", sa.String(length=200), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("warnings", sa.Text(), nullable=False),
        sa.Column("host", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("trigger_checks") as batch:
        batch.create_index("ix_trigger_checks_trigger_id", ["trigger", "id"], unique=False)


def downgrade() -> None:
    op.drop_table("trigger_checks")
    with op.batch_alter_table("step_runs") as batch:
        batch.drop_column("arguments")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("running")
    with op.batch_alter_table("pipelines") as batch:
        batch.drop_column("graph")
