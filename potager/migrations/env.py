"""Alembic's entry point: runs the migrations on the connection `potager.db` hands over.

Only online mode is supported: the caller always owns the connection and its transaction.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection


def _run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=context.config.attributes.get("target_metadata"),
        compare_type=True,
        # SQLite cannot ALTER most things; batch mode rebuilds tables for later revisions.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("run migrations through potager.db.upgrade_database, not the alembic CLI")
_run_migrations(connection)
