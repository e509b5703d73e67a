"""The network of sites: the robot's outbox and command log, the server's inbox.

Revision ID: 0006_network
Revises: 0005_classroom
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_network"
down_revision = "0005_classroom"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("robot_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_outbox")),
    )
    op.create_index(op.f("ix_outbox_robot_id"), "outbox", ["robot_id"], unique=False)
    op.create_table(
        "inbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("robot_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox")),
        sa.UniqueConstraint("robot_id", "seq", name=op.f("uq_inbox_robot_id_seq")),
    )
    op.create_index(op.f("ix_inbox_site"), "inbox", ["site"], unique=False)
    op.create_table(
        "agent_commands",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_commands")),
    )


def downgrade() -> None:
    op.drop_table("agent_commands")
    op.drop_index(op.f("ix_inbox_site"), table_name="inbox")
    op.drop_table("inbox")
    op.drop_index(op.f("ix_outbox_robot_id"), table_name="outbox")
    op.drop_table("outbox")
