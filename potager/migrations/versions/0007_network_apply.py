"""The network, applied: where each outbox row came from, which inbox rows the server has
applied, and the origin keys that make a robot's observation or photo land once.

Revision ID: 0007_network_apply
Revises: 0006_network
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_network_apply"
down_revision = "0006_network"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as outbox:
        outbox.add_column(sa.Column("source", sa.String(length=16), nullable=True))
        outbox.add_column(sa.Column("source_id", sa.Integer(), nullable=True))
        outbox.create_unique_constraint(
            op.f("uq_outbox_robot_id_source_source_id"), ["robot_id", "source", "source_id"]
        )
    with op.batch_alter_table("inbox") as inbox:
        inbox.add_column(sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True))
        inbox.add_column(sa.Column("problem", sa.Text(), nullable=True))
        inbox.create_index(op.f("ix_inbox_applied_at"), ["applied_at"], unique=False)
    for table in ("observations", "photos"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("origin", sa.String(length=160), nullable=True))
            batch.create_unique_constraint(op.f(f"uq_{table}_origin"), ["origin"])


def downgrade() -> None:
    for table in ("photos", "observations"):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(op.f(f"uq_{table}_origin"), type_="unique")
            batch.drop_column("origin")
    with op.batch_alter_table("inbox") as inbox:
        inbox.drop_index(op.f("ix_inbox_applied_at"))
        inbox.drop_column("problem")
        inbox.drop_column("applied_at")
    with op.batch_alter_table("outbox") as outbox:
        outbox.drop_constraint(op.f("uq_outbox_robot_id_source_source_id"), type_="unique")
        outbox.drop_column("source_id")
        outbox.drop_column("source")
