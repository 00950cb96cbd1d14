"""Resume, reproduction and retries: pipeline reference, resumed-from link, heartbeat, step seeds,
and one row per attempt.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("pipeline_ref", sa.Text(), nullable=True))
        batch.add_column(sa.Column("resumed_from", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("heartbeat_at", sa.Float(), nullable=True))
    with op.batch_alter_table("step_runs") as batch:
        batch.add_column(sa.Column("seed", sa.BigInteger(), nullable=True))
    op.create_table(
        "step_attempts",
        sa.Column("step_run_id", sa.String(length=32), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("ended_at", sa.Float(), nullable=False),
        sa.Column("error_type", sa.String(length=300), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["step_run_id"], ["step_runs.id"]),
        sa.PrimaryKeyConstraint("step_run_id", "attempt"),
    )


def downgrade() -> None:
    op.drop_table("step_attempts")
    with op.batch_alter_table("step_runs") as batch:
        batch.drop_column("seed")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("heartbeat_at")
        batch.drop_column("resumed_from")
        batch.drop_column("pipeline_ref")
