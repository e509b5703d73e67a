"""A teacher's class: who is in it, which robots each student may run, their saved sequences.

A student belongs to one teacher's class. A teacher assigns robots to the students of their
own class only, and, if the teacher has a site, only that site's robots: a school must not
drive another school's garden. A student runs sequences only on the robots assigned to
them; operators and admins run them on the robots they control. Saved sequences keep
whether they passed the check when saved and how their last run on a robot ended, so the
class view shows who is stuck without opening each student's work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    delete,
    select,
)
from sqlalchemy.orm import Mapped, Session, aliased, mapped_column, sessionmaker

from potager.db import Base, UTCDateTime, run_in_transaction, utc_now
from potager.errors import PotagerError
from web.accounts import Account, Role, User

ROBOT_ID_LENGTH = 64
SEQUENCE_NAME_LENGTH = 120
DETAIL_LENGTH = 500
OUTCOMES = ("running", "done", "failed", "stopped")


class ClassroomError(PotagerError):
    """A class or sequence request that cannot be done as asked."""


class NotAllowedError(ClassroomError):
    """The account may not do this to this student, robot or sequence."""


class NotFoundError(ClassroomError):
    """No such student or saved sequence (or not one this account may see)."""


class ClassMember(Base):
    """A student in a teacher's class; one class per student."""

    __tablename__ = "class_members"

    student_id: Mapped[int] = mapped_column(ForeignKey(User.id), primary_key=True)
    teacher_id: Mapped[int] = mapped_column(ForeignKey(User.id))


class RobotAssignment(Base):
    """A robot of the server's hub that a student may run sequences on."""

    __tablename__ = "robot_assignments"
    __table_args__ = (UniqueConstraint("robot_id", "student_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    robot_id: Mapped[str] = mapped_column(String(ROBOT_ID_LENGTH))
    student_id: Mapped[int] = mapped_column(ForeignKey(User.id))
    assigned_by: Mapped[int] = mapped_column(ForeignKey(User.id))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class SavedSequence(Base):
    """A sequence's text under a name of its owner's, and how its last robot run ended."""

    __tablename__ = "saved_sequences"
    __table_args__ = (
        UniqueConstraint("owner_id", "name"),
        CheckConstraint(
            "last_outcome IN ('running', 'done', 'failed', 'stopped')", name="last_outcome"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey(User.id))
    name: Mapped[str] = mapped_column(String(SEQUENCE_NAME_LENGTH))
    text: Mapped[str] = mapped_column(Text)
    profile: Mapped[str] = mapped_column(String(32))
    checks: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    last_robot_id: Mapped[str | None] = mapped_column(String(ROBOT_ID_LENGTH))
    last_outcome: Mapped[str | None] = mapped_column(String(16))
    last_detail: Mapped[str | None] = mapped_column(String(DETAIL_LENGTH))
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


@dataclass(frozen=True)
class SequenceView:
    id: int
    name: str
    text: str
    profile: str
    checks: bool
    updated_at: datetime
    last_robot_id: str | None
    last_outcome: str | None
    last_detail: str | None
    last_run_at: datetime | None


@dataclass(frozen=True)
class StudentView:
    """A student as the class view shows them."""

    id: int
    name: str
    teacher: str | None
    robots: list[str]
    sequences: list[SequenceView]


def may_control(account: Account, site_id: int | None) -> bool:
    """Admins control every robot; an operator those of their own site."""
    if account.role is Role.ADMIN:
        return True
    return account.role is Role.OPERATOR and site_id is not None and account.site_id == site_id


def may_run(account: Account, site_id: int | None, assigned: bool) -> bool:
    """Who may run a sequence on a robot: whoever controls it, or a student it is assigned to."""
    return may_control(account, site_id) or (account.role is Role.STUDENT and assigned)


def may_assign_on_site(teacher: Account, robot_site_id: int | None) -> bool:
    """A teacher with a site hands out that site's robots only; admins any."""
    return teacher.role is Role.ADMIN or teacher.site_id is None or teacher.site_id == robot_site_id


def check_teaches(by: Account, student_teacher_id: int | None) -> None:
    """Refuse anyone but the student's own teacher (or an admin)."""
    if by.role is Role.ADMIN:
        return
    if by.role is not Role.TEACHER:
        raise NotAllowedError(f"a {by.role.value} may not assign robots")
    if student_teacher_id != by.id:
        raise NotAllowedError("this student is not in your class")


def check_may_assign(
    by: Account, student_teacher_id: int | None, robot_site_id: int | None
) -> None:
    """Refuse a teacher who is not the student's, or a robot of another site than theirs."""
    check_teaches(by, student_teacher_id)
    if not may_assign_on_site(by, robot_site_id):
        raise NotAllowedError("this robot belongs to another site than yours")


class Classroom:
    """Classes, robot assignments and saved sequences; one transaction a method."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def enrol(self, student_id: int, teacher_id: int) -> None:
        """Put the student in the teacher's class (moving them from another class)."""

        def work(session: Session) -> None:
            _user(session, student_id, Role.STUDENT)
            _user(session, teacher_id, Role.TEACHER)
            member = session.get(ClassMember, student_id)
            if member is None:
                session.add(ClassMember(student_id=student_id, teacher_id=teacher_id))
            else:
                member.teacher_id = teacher_id

        run_in_transaction(self._sessions, work)

    def teacher_id(self, name: str) -> int:
        """The teacher called `name`, for putting students in their class."""

        def work(session: Session) -> int:
            found = session.scalars(select(User).where(User.name == name)).first()
            if found is None or found.role != Role.TEACHER.value:
                raise NotFoundError(f"there is no teacher called {name!r}; add the teacher first")
            return found.id

        return run_in_transaction(self._sessions, work, read_only=True)

    def students(self, viewer: Account) -> list[StudentView]:
        """A teacher's own students; every student for an admin."""

        def work(session: Session) -> list[StudentView]:
            teacher = aliased(User)
            query = (
                select(User, teacher.name)
                .outerjoin(ClassMember, ClassMember.student_id == User.id)
                .outerjoin(teacher, teacher.id == ClassMember.teacher_id)
                .where(User.role == Role.STUDENT.value)
                .order_by(User.name)
            )
            if viewer.role is not Role.ADMIN:
                query = query.where(ClassMember.teacher_id == viewer.id)
            return [
                StudentView(
                    user.id,
                    user.name,
                    teacher_name,
                    _robots_of(session, user.id),
                    _sequences_of(session, user.id),
                )
                for user, teacher_name in session.execute(query).all()
            ]

        return run_in_transaction(self._sessions, work, read_only=True)

    def assign(
        self, by: Account, student_id: int, robot_id: str, robot_site_id: int | None
    ) -> None:
        def work(session: Session) -> None:
            check_may_assign(by, _teacher_of(session, student_id), robot_site_id)
            if robot_id not in _robots_of(session, student_id):
                session.add(
                    RobotAssignment(robot_id=robot_id, student_id=student_id, assigned_by=by.id)
                )

        run_in_transaction(self._sessions, work)

    def unassign(self, by: Account, student_id: int, robot_id: str) -> None:
        """Any robot, even one gone from the server: taking a robot back harms no one."""

        def work(session: Session) -> None:
            check_teaches(by, _teacher_of(session, student_id))
            session.execute(
                delete(RobotAssignment).where(
                    RobotAssignment.student_id == student_id, RobotAssignment.robot_id == robot_id
                )
            )

        run_in_transaction(self._sessions, work)

    def assigned_robots(self, student_id: int) -> list[str]:
        def work(session: Session) -> list[str]:
            return _robots_of(session, student_id)

        return run_in_transaction(self._sessions, work, read_only=True)

    def save(self, owner_id: int, name: str, text: str, profile: str, checks: bool) -> int:
        """Save under `name`, replacing the owner's sequence of that name; its id."""

        def work(session: Session) -> int:
            found = session.scalars(
                select(SavedSequence).where(
                    SavedSequence.owner_id == owner_id, SavedSequence.name == name
                )
            ).first()
            if found is None:
                found = SavedSequence(owner_id=owner_id, name=name)
                session.add(found)
            found.text, found.profile, found.checks = text, profile, checks
            found.updated_at = utc_now()
            session.flush()
            return found.id

        return run_in_transaction(self._sessions, work)

    def sequences(self, owner_id: int) -> list[SequenceView]:
        def work(session: Session) -> list[SequenceView]:
            return _sequences_of(session, owner_id)

        return run_in_transaction(self._sessions, work, read_only=True)

    def sequence(self, owner_id: int, sequence_id: int) -> SequenceView:
        """One of the owner's sequences; another's is as unknown as a missing one."""

        def work(session: Session) -> SequenceView:
            found = session.get(SavedSequence, sequence_id)
            if found is None or found.owner_id != owner_id:
                raise NotFoundError(f"you have no saved sequence {sequence_id}")
            return _view(found)

        return run_in_transaction(self._sessions, work, read_only=True)

    def record_run(self, sequence_id: int, robot_id: str, outcome: str, detail: str = "") -> None:
        """How the sequence's latest run on a robot stands (running, done, failed, stopped)."""
        if outcome not in OUTCOMES:
            raise ClassroomError(f"no run outcome {outcome!r}: one of {', '.join(OUTCOMES)}")

        def work(session: Session) -> None:
            found = session.get(SavedSequence, sequence_id)
            if found is None:
                raise NotFoundError(f"there is no saved sequence {sequence_id}")
            found.last_robot_id, found.last_outcome = robot_id, outcome
            found.last_detail, found.last_run_at = detail[:DETAIL_LENGTH], utc_now()

        run_in_transaction(self._sessions, work)


def _user(session: Session, user_id: int, role: Role) -> User:
    user = session.get(User, user_id)
    if user is None or user.role != role.value:
        raise NotFoundError(f"there is no {role.value} with id {user_id}")
    return user


def _teacher_of(session: Session, student_id: int) -> int | None:
    _user(session, student_id, Role.STUDENT)
    member = session.get(ClassMember, student_id)
    return None if member is None else member.teacher_id


def _robots_of(session: Session, student_id: int) -> list[str]:
    return list(
        session.scalars(
            select(RobotAssignment.robot_id)
            .where(RobotAssignment.student_id == student_id)
            .order_by(RobotAssignment.robot_id)
        )
    )


def _sequences_of(session: Session, owner_id: int) -> list[SequenceView]:
    rows = session.scalars(
        select(SavedSequence).where(SavedSequence.owner_id == owner_id).order_by(SavedSequence.name)
    )
    return [_view(row) for row in rows]


def _view(row: SavedSequence) -> SequenceView:
    return SequenceView(
        row.id,
        row.name,
        row.text,
        row.profile,
        row.checks,
        row.updated_at,
        row.last_robot_id,
        row.last_outcome,
        row.last_detail,
        row.last_run_at,
    )
