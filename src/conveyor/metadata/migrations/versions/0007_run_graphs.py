"""What the pages need to draw a run: the traced graph, running steps, a step's own arguments.

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


def downgrade() -> None:
    with op.batch_alter_table("step_runs") as batch:
        batch.drop_column("arguments")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("running")
    with op.batch_alter_table("pipelines") as batch:
        batch.drop_column("graph")
