"""The database: one declarative base, engines, sessions and schema upgrades.

Trials and the robots' action journals share one database, so the base, the engine set-up
and the retry policy live here, in the shared vocabulary. SQLite (the default, a file in
the data directory) runs in WAL mode with foreign keys on. A writing transaction takes the
write lock at its start (`BEGIN IMMEDIATE`): one that read first and wrote later could
otherwise fail at once with "database is locked" instead of waiting its turn. Read-only
transactions (`read_only=True`) begin deferred, so a long export never holds robots back.
PostgreSQL, for a multi-site server, is reached through psycopg 3.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import DateTime, Dialect, Engine, MetaData, create_engine, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from potager.settings import Settings

SQLITE_BUSY_TIMEOUT_MS = 30_000
TRANSIENT_ATTEMPTS = 8
MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# Deterministic constraint names keep migrations identical on SQLite and PostgreSQL and
# let later revisions drop or alter constraints by name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# PostgreSQL error codes worth a retry: serialization failure and deadlock.
_TRANSIENT_SQLSTATES = frozenset({"40001", "40P01"})
_TRANSIENT_SQLITE_MESSAGES = ("database is locked", "database is busy")
# Execution option marking a session that only reads.
_READ_ONLY = "potager_read_only"

T = TypeVar("T")


class Base(DeclarativeBase):
    """The one declarative base of every Potager table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend.

    SQLite keeps no time zone, so naive values are refused on the way in (their zone is
    unknowable) and UTC is attached again on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"timestamp {value.isoformat()} has no time zone; give it UTC")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC, as every stored timestamp is."""
    return datetime.now(UTC)


def with_driver(url: str) -> str:
    """`url` with psycopg 3 as the PostgreSQL driver (SQLAlchemy would default to psycopg2)."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, *, throwaway: bool = False) -> Engine:
    """An engine for `url`, set up for concurrent writers on SQLite or PostgreSQL.

    A `throwaway` SQLite store (a simulated season's, deleted after) skips the disk flush
    at each commit: a crash loses the whole run anyway, and the flushes were a fifth of
    a season's time. Every other store flushes, so a power cut keeps what was committed.
    """
    sqlite = make_url(url).get_backend_name() == "sqlite"
    # A server can drop a pooled connection; a SQLite file cannot, and a ping per
    # transaction would cost a dashboard visit a third of its time.
    engine = create_engine(with_driver(url), pool_pre_ping=not sqlite)
    if sqlite:
        _configure_sqlite(engine, flush_each_commit=not throwaway)
    return engine


def engine_from_settings(settings: Settings) -> Engine:
    """The engine of the configured database; the data directory is made for the default file."""
    url = settings.effective_database_url
    if make_url(url).get_backend_name() == "sqlite":
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return make_engine(url)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions on `engine`; objects stay readable after commit, for returning them."""
    return sessionmaker(engine, expire_on_commit=False)


def _configure_sqlite(engine: Engine, flush_each_commit: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The driver's own implicit BEGIN is turned off so that ours (below) is the only one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        if not flush_each_commit:
            cursor.execute("PRAGMA synchronous = OFF")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        read_only = connection.get_execution_options().get(_READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def is_transient(error: DBAPIError) -> bool:
    """Whether `error` is contention that a fresh attempt of the transaction can get past."""
    if getattr(error.orig, "sqlstate", None) in _TRANSIENT_SQLSTATES:
        return True
    message = str(error.orig).lower()
    return any(text in message for text in _TRANSIENT_SQLITE_MESSAGES)


def run_in_transaction(
    sessions: sessionmaker[Session],
    work: Callable[[Session], T],
    *,
    attempts: int = TRANSIENT_ATTEMPTS,
    backoff_s: float = 0.05,
    read_only: bool = False,
) -> T:
    """Run `work` in one transaction, committed on return and rolled back on error.

    Lock contention (SQLite "database is locked" after the busy timeout, PostgreSQL
    serialization failures and deadlocks) rolls back and runs `work` again with growing
    pauses, so `work` must do nothing outside the session that cannot be repeated.
    `read_only` work does not wait for SQLite's write lock (and must not write).
    """
    for attempt in range(1, attempts):
        try:
            return _run_once(sessions, work, read_only)
        except DBAPIError as error:
            if not is_transient(error):
                raise
        time.sleep(backoff_s * 2 ** (attempt - 1))
    return _run_once(sessions, work, read_only)


def read_quickly(sessions: sessionmaker[Session], work: Callable[[Connection], T]) -> T:
    """Run read-only `work` on a plain connection of the sessions' engine.

    For the few reads every web request makes (who is signed in, has the trial changed):
    an ORM session costs about 0.6 ms to set up around a 0.1 ms query, which is most of a
    visit to a cached dashboard. `work` must only read (select columns, not entities).
    """
    engine: Engine = sessions.kw["bind"]
    with engine.connect().execution_options(**{_READ_ONLY: True}) as connection:
        return work(connection)


def _run_once(sessions: sessionmaker[Session], work: Callable[[Session], T], read_only: bool) -> T:
    with sessions(execution_options={_READ_ONLY: read_only}) as session, session.begin():
        return work(session)


def alembic_config(connection: Connection, target_metadata: MetaData | None = None) -> Config:
    """An Alembic configuration for the packaged migrations, run on `connection`.

    No alembic.ini is needed: the migrations ship as Python files inside the package.
    `target_metadata` is only used when comparing or autogenerating against models.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    config.attributes["target_metadata"] = target_metadata
    return config


def upgrade_database(url: str, revision: str = "head") -> None:
    """Bring the database at `url` to `revision` (the newest by default)."""
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), revision)
    finally:
        engine.dispose()


SCRATCH_ADMIN_URL = os.environ.get(
    "POTAGER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
"""The PostgreSQL server tests and benchmarks make their scratch databases on (a
superuser's URL): the machine's own, unless POTAGER_TEST_POSTGRES_URL says otherwise."""


@contextlib.contextmanager
def scratch_postgres_database(prefix: str, admin_url: str = SCRATCH_ADMIN_URL) -> Iterator[str]:
    """A new, empty PostgreSQL database on the server of `admin_url`, dropped on exit: what
    tests and benchmarks measure on, leaving the server as it was."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    execute_autocommit(admin_url, f'CREATE DATABASE "{name}"')
    try:
        yield (
            make_url(with_driver(admin_url))
            .set(database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        execute_autocommit(admin_url, f'DROP DATABASE "{name}" WITH (FORCE)')


def execute_autocommit(url: str, sql: str) -> None:
    """Run one statement outside a transaction (CREATE DATABASE cannot run in one)."""
    engine = create_engine(with_driver(url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(sql))
    finally:
        engine.dispose()
