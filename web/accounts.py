"""Who may do what: users with roles, login sessions, API tokens and share links.

Passwords are hashed with Argon2id (memory-hard). Every secret handed out (a session
cookie, an API token, a share link) is a random token of 32 bytes, and only its SHA-256
is stored: a stolen database opens nothing. Share links open one trial's dashboard read
only; they can expire and be revoked, and a revoked link is refused at once.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, bindparam, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from potager.db import Base, UTCDateTime, read_quickly, run_in_transaction, utc_now
from potager.errors import PotagerError
from trials.store import Site, Trial

SESSION_DAYS = 14
_NAME = 120
_HASH = 64


class AccessError(PotagerError):
    """Wrong password, unknown or revoked token, or a role that may not do this."""


class Role(StrEnum):
    ADMIN = "admin"
    RESEARCHER = "researcher"  # edits trials
    OPERATOR = "operator"  # controls the robots of their site
    TEACHER = "teacher"  # assigns robots, sees the class
    STUDENT = "student"  # sequences on assigned robots
    VIEWER = "viewer"  # reads


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            "role IN ('admin', 'researcher', 'operator', 'teacher', 'student', 'viewer')",
            name="role",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(_NAME), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    site_id: Mapped[int | None] = mapped_column(ForeignKey(Site.id))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class LoginSession(Base):
    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(_HASH), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(_HASH))
    user_id: Mapped[int] = mapped_column(ForeignKey(User.id))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(_HASH), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey(User.id))
    label: Mapped[str] = mapped_column(String(_NAME))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ShareLink(Base):
    __tablename__ = "share_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(_HASH), unique=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey(Trial.id))
    created_by: Mapped[int] = mapped_column(ForeignKey(User.id))
    label: Mapped[str] = mapped_column(String(_NAME))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


@dataclass(frozen=True)
class Account:
    """A signed-in user, as routes see them."""

    id: int
    name: str
    role: Role
    site_id: int | None

    def may(self, *roles: Role) -> bool:
        """Admins may do everything; others what their role is listed for."""
        return self.role is Role.ADMIN or self.role in roles


@dataclass(frozen=True)
class SignedIn:
    account: Account
    session_token: str
    csrf_token: str


@dataclass(frozen=True)
class ShareView:
    id: int
    trial_id: int
    label: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    """Users, sessions, tokens and share links; one transaction a method."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._hasher = PasswordHasher()

    def create_user(self, name: str, password: str, role: Role, site_id: int | None = None) -> int:
        if len(password) < 8:
            raise AccessError("a password needs at least 8 characters")
        if not name.strip():
            raise AccessError("a user needs a name")
        password_hash = self._hasher.hash(password)

        def work(session: Session) -> int:
            if session.scalar(select(User.id).where(User.name == name)) is not None:
                raise AccessError(f"there is already a user called {name!r}")
            user = User(name=name, password_hash=password_hash, role=role.value, site_id=site_id)
            session.add(user)
            session.flush()
            return user.id

        return run_in_transaction(self._sessions, work)

    def user_id(self, name: str) -> int | None:
        def work(session: Session) -> int | None:
            return session.scalar(select(User.id).where(User.name == name))

        return run_in_transaction(self._sessions, work, read_only=True)

    def sign_in(self, name: str, password: str, now: datetime | None = None) -> SignedIn:
        """A new session for the right password; one message for any wrong pair, so a
        guesser learns nothing about which names exist."""
        now = now or utc_now()
        wrong = AccessError("wrong name or password")

        def find(session: Session) -> tuple[int, str, str, int | None] | None:
            user = session.scalars(select(User).where(User.name == name)).first()
            return None if user is None else (user.id, user.password_hash, user.role, user.site_id)

        found = run_in_transaction(self._sessions, find, read_only=True)
        if found is None:
            self._hasher.hash(password)  # the same time as a real check
            raise wrong
        user_id, password_hash, role, site_id = found
        try:
            self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            raise wrong from None
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)

        def open_session(session: Session) -> None:
            session.add(
                LoginSession(
                    token_hash=digest(token),
                    csrf_token=csrf,
                    user_id=user_id,
                    expires_at=now + timedelta(days=SESSION_DAYS),
                )
            )

        run_in_transaction(self._sessions, open_session)
        return SignedIn(Account(user_id, name, Role(role), site_id), token, csrf)

    def session(self, token: str, now: datetime | None = None) -> tuple[Account, str] | None:
        """The account and CSRF token of a live session, or None."""
        now = now or utc_now()
        row = read_quickly(
            self._sessions,
            lambda connection: connection.execute(
                _SESSION_ACCOUNT, {"token_hash": digest(token)}
            ).first(),
        )
        if row is None or row.expires_at <= now:
            return None
        return _account_of(row), row.csrf_token

    def sign_out(self, token: str) -> None:
        def work(session: Session) -> None:
            row = session.scalars(
                select(LoginSession).where(LoginSession.token_hash == digest(token))
            ).first()
            if row is not None:
                session.delete(row)

        run_in_transaction(self._sessions, work)

    def issue_api_token(self, user_id: int, label: str) -> str:
        """A token for scripts and robots (`Authorization: Bearer ...`); shown once."""
        token = secrets.token_urlsafe(32)

        def work(session: Session) -> None:
            session.add(ApiToken(token_hash=digest(token), user_id=user_id, label=label))

        run_in_transaction(self._sessions, work)
        return token

    def api_account(self, token: str) -> Account | None:
        row = read_quickly(
            self._sessions,
            lambda connection: connection.execute(
                _TOKEN_ACCOUNT, {"token_hash": digest(token)}
            ).first(),
        )
        if row is None or row.revoked_at is not None:
            return None
        return _account_of(row)

    def share(
        self, trial_id: int, created_by: int, label: str, expires_at: datetime | None = None
    ) -> tuple[int, str]:
        """A read-only link to one trial's dashboard: (its id, its token, shown once)."""
        token = secrets.token_urlsafe(32)

        def work(session: Session) -> int:
            if session.get(Trial, trial_id) is None:
                raise AccessError(f"there is no trial {trial_id} to share")
            link = ShareLink(
                token_hash=digest(token),
                trial_id=trial_id,
                created_by=created_by,
                label=label,
                expires_at=expires_at,
            )
            session.add(link)
            session.flush()
            return link.id

        return run_in_transaction(self._sessions, work), token

    def revoke_share(self, link_id: int, now: datetime | None = None) -> None:
        def work(session: Session) -> None:
            link = session.get(ShareLink, link_id)
            if link is None:
                raise AccessError(f"there is no share link {link_id}")
            link.revoked_at = link.revoked_at or now or utc_now()

        run_in_transaction(self._sessions, work)

    def shared_trial(self, token: str, now: datetime | None = None) -> int | None:
        """The trial a share link opens, if it is neither revoked nor expired."""
        now = now or utc_now()
        link = read_quickly(
            self._sessions,
            lambda connection: connection.execute(
                select(ShareLink.trial_id, ShareLink.revoked_at, ShareLink.expires_at).where(
                    ShareLink.token_hash == digest(token)
                )
            ).first(),
        )
        if link is None or link.revoked_at is not None:
            return None
        if link.expires_at is not None and link.expires_at <= now:
            return None
        trial_id: int = link.trial_id
        return trial_id

    def share_links(self, trial_id: int) -> list[ShareView]:
        """The trial's share links, oldest first (on its dashboard for those who share)."""
        rows = read_quickly(
            self._sessions,
            lambda connection: connection.execute(_TRIAL_LINKS, {"trial_id": trial_id}).all(),
        )
        return [ShareView(*row) for row in rows]


_ACCOUNT_COLUMNS = (User.id.label("user_id"), User.name, User.role, User.site_id)
# Every request asks one of these: built once, since building costs more than running.
_SESSION_ACCOUNT = (
    select(LoginSession.expires_at, LoginSession.csrf_token, *_ACCOUNT_COLUMNS)
    .join(User, LoginSession.user_id == User.id)
    .where(LoginSession.token_hash == bindparam("token_hash"))
)
_TRIAL_LINKS = (
    select(
        ShareLink.id,
        ShareLink.trial_id,
        ShareLink.label,
        ShareLink.created_at,
        ShareLink.expires_at,
        ShareLink.revoked_at,
    )
    .where(ShareLink.trial_id == bindparam("trial_id"))
    .order_by(ShareLink.id)
)
_TOKEN_ACCOUNT = (
    select(ApiToken.revoked_at, *_ACCOUNT_COLUMNS)
    .join(User, ApiToken.user_id == User.id)
    .where(ApiToken.token_hash == bindparam("token_hash"))
)


def _account_of(row: Any) -> Account:
    """The account in a row that selected `_ACCOUNT_COLUMNS`."""
    return Account(row.user_id, row.name, Role(row.role), row.site_id)
