"""Classes: students in a teacher's class, robots assigned to students, saved sequences.

Revision ID: 0005_classroom
Revises: 0004_web
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_classroom"
down_revision = "0004_web"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "class_members",
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("teacher_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["student_id"], ["users.id"], name=op.f("fk_class_members_student_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["teacher_id"], ["users.id"], name=op.f("fk_class_members_teacher_id_users")
        ),
        sa.PrimaryKeyConstraint("student_id", name=op.f("pk_class_members")),
    )
    op.create_table(
        "robot_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("robot_id", sa.String(length=64), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("assigned_by", sa.Integer(), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["assigned_by"], ["users.id"], name=op.f("fk_robot_assignments_assigned_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["student_id"], ["users.id"], name=op.f("fk_robot_assignments_student_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_robot_assignments")),
        sa.UniqueConstraint(
            "robot_id", "student_id", name=op.f("uq_robot_assignments_robot_id_student_id")
        ),
    )
    op.create_table(
        "saved_sequences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("profile", sa.String(length=32), nullable=False),
        sa.Column("checks", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_robot_id", sa.String(length=64), nullable=True),
        sa.Column("last_outcome", sa.String(length=16), nullable=True),
        sa.Column("last_detail", sa.String(length=500), nullable=True),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "last_outcome IN ('running', 'done', 'failed', 'stopped')",
            name=op.f("ck_saved_sequences_last_outcome"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_saved_sequences_owner_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_sequences")),
        sa.UniqueConstraint("owner_id", "name", name=op.f("uq_saved_sequences_owner_id_name")),
    )


def downgrade() -> None:
    op.drop_table("saved_sequences")
    op.drop_table("robot_assignments")
    op.drop_table("class_members")
