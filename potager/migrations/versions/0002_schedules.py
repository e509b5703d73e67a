"""Schedules: robots' farm events and regimens, and the journal of their executions.

Revision ID: 0002_schedules
Revises: 0001_trials
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_schedules"
down_revision = "0001_trials"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("robot_id", sa.String(length=120), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("rule", sa.JSON(), nullable=False),
        sa.Column("grace_s", sa.Float(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("cursor_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cursor_item", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("grace_s >= 0", name=op.f("ck_schedules_grace_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedules")),
        sa.UniqueConstraint("robot_id", "name", name=op.f("uq_schedules_robot_id_name")),
    )
    op.create_index(op.f("ix_schedules_robot_id"), "schedules", ["robot_id"], unique=False)
    op.create_table(
        "schedule_executions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("schedule_id", sa.Integer(), nullable=False),
        sa.Column("robot_id", sa.String(length=120), nullable=False),
        sa.Column("item", sa.Integer(), nullable=False),
        sa.Column("job", sa.String(length=120), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("progress", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('done', 'failed', 'interrupted', 'skipped_late')",
            name=op.f("ck_schedule_executions_outcome"),
        ),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["schedules.id"],
            name=op.f("fk_schedule_executions_schedule_id_schedules"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_executions")),
        sa.UniqueConstraint(
            "schedule_id",
            "scheduled_at",
            "item",
            name=op.f("uq_schedule_executions_schedule_id_scheduled_at_item"),
        ),
    )
    op.create_index(
        op.f("ix_schedule_executions_robot_id"), "schedule_executions", ["robot_id"], unique=False
    )
    op.create_index(
        op.f("ix_schedule_executions_schedule_id"),
        "schedule_executions",
        ["schedule_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("schedule_executions")
    op.drop_table("schedules")
