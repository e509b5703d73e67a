"""The one migration chain (potager/migrations) against every model that uses it.

Tables come from several packages (the trials store, the scheduler); the chain is checked
here with all of them imported, so no package's tests depend on which others ran first.
"""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import agent.commands
import agent.outbox  # noqa: F401  (registers the robot's outbox)
import controller.action_journal  # (registers the action journal tables)
import controller.scheduler  # noqa: F401  (registers the schedule tables)
import trials.store  # noqa: F401  (registers the trial tables)
import web.accounts  # (registers the web accounts tables)
import web.classroom
import web.inbox  # noqa: F401  (registers the server's inbox)
from potager.db import Base, alembic_config, make_engine, upgrade_database


def test_upgrade_creates_every_table(database_url: str) -> None:
    upgrade_database(database_url)
    engine = make_engine(database_url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert tables == set(Base.metadata.tables) | {"alembic_version"}
    assert {"observations", "observation_history", "plots", "photos", "notes"} <= tables


def test_migration_matches_the_models(database_url: str) -> None:
    upgrade_database(database_url)
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_downgrade_to_base_removes_every_table(database_url: str) -> None:
    upgrade_database(database_url)
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), "base")
        assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    finally:
        engine.dispose()
