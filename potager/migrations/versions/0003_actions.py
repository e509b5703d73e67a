"""Actions: the robots' action journal (job runs and their actions) and persistent pauses.

Revision ID: 0003_actions
Revises: 0002_schedules
Create Date: 2026-12-09
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_actions"
down_revision = "0002_schedules"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("robot_id", sa.String(length=120), nullable=False),
        sa.Column("job", sa.String(length=120), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("execution_id", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('done', 'failed', 'interrupted')", name=op.f("ck_job_runs_outcome")
        ),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["schedule_executions.id"],
            name=op.f("fk_job_runs_execution_id_schedule_executions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_runs")),
    )
    op.create_index(op.f("ix_job_runs_robot_id"), "job_runs", ["robot_id"], unique=False)
    op.create_table(
        "actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("robot_id", sa.String(length=120), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("task", sa.String(length=120), nullable=True),
        sa.Column("point_index", sa.Integer(), nullable=True),
        sa.Column("x_mm", sa.Float(), nullable=False),
        sa.Column("y_mm", sa.Float(), nullable=False),
        sa.Column("z_mm", sa.Float(), nullable=False),
        sa.Column("volume_ml", sa.Float(), nullable=False),
        sa.Column("tool", sa.String(length=120), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["job_runs.id"], name=op.f("fk_actions_run_id_job_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_actions")),
        sa.UniqueConstraint("run_id", "step", name=op.f("uq_actions_run_id_step")),
    )
    op.create_index(op.f("ix_actions_robot_id"), "actions", ["robot_id"], unique=False)
    op.create_table(
        "robot_pauses",
        sa.Column("robot_id", sa.String(length=120), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("robot_id", name=op.f("pk_robot_pauses")),
    )


def downgrade() -> None:
    op.drop_table("robot_pauses")
    op.drop_table("actions")
    op.drop_table("job_runs")
