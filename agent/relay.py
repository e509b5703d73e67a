"""Copies what the robot records into its outbox: journal entries, observations, photos.

The robot's parts keep writing where they always write (the action journal, the trial
store, the photo folder) and know nothing of the network. A relay pass reads what is newer
than the last copy of each kind (the outbox remembers the source of every row it copied)
and adds one envelope per record, in the order the records were made. A record is copied
once: the outbox's `(robot, source, source_id)` key refuses a second copy, so two passes
at once, or a pass cut by a power failure, double nothing. A run is copied once it has
ended, after its actions; one still running waits for a later pass.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from agent.messages import Kind
from agent.outbox import Outbox
from controller.action_journal import ActionRecord, JobRun
from controller.jobs import Action
from potager.db import run_in_transaction
from trials.store import Observation, Photo, Plot, Trial, Variable

BATCH = 500
"""Records of one source per pass: a week offline is copied over a few passes."""
PHOTO_BATCH = 20
"""Photos are large; fewer per pass keep a pass's memory small."""
Copy = tuple[Kind, dict[str, Any], datetime, int]
"""One record as an envelope's kind, body and time, with its id at the source."""


class Relay:
    """One robot's records into its outbox; `photo_dir` is where its photos' files are."""

    def __init__(self, sessions: sessionmaker[Session], outbox: Outbox, photo_dir: Path) -> None:
        self._sessions, self.outbox, self.photo_dir = sessions, outbox, photo_dir
        self._sources: dict[str, Callable[[Session, int], list[Copy]]] = {
            "action": self._actions,
            "run": self._runs,
            "observation": self._observations,
            "photo": self._photos,
        }

    def copy_new(self) -> int:
        """One pass over every source, each in its own transaction; how many envelopes it
        added."""
        added = 0
        for source in self._sources:
            added += run_in_transaction(self._sessions, functools.partial(self._copy, source))
        return added

    def _copy(self, source: str, session: Session) -> int:
        copies = self._sources[source](session, self.outbox.last_copied(session, source))
        for kind, body, at, source_id in copies:
            self.outbox.record(session, kind, body, at, source=(source, source_id))
        return len(copies)

    def _actions(self, session: Session, after: int) -> list[Copy]:
        rows = session.execute(
            select(ActionRecord, JobRun.job)
            .join(JobRun, ActionRecord.run_id == JobRun.id)
            .where(ActionRecord.robot_id == self.outbox.robot_id, ActionRecord.id > after)
            .order_by(ActionRecord.id)
            .limit(BATCH)
        )
        return [
            ("journal", _action_body(action, job), action.at, action.id) for action, job in rows
        ]

    def _runs(self, session: Session, after: int) -> list[Copy]:
        rows = session.scalars(
            select(JobRun)
            .where(JobRun.robot_id == self.outbox.robot_id, JobRun.id > after)
            .order_by(JobRun.id)
            .limit(BATCH)
        )
        copies: list[Copy] = []
        for run in rows:
            if run.finished_at is None:  # its end is not known yet; nor is what follows
                break
            copies.append(("journal", _run_body(run), run.finished_at, run.id))
        return copies

    def _observations(self, session: Session, after: int) -> list[Copy]:
        rows = session.execute(
            select(Observation, Plot.plot_number, Variable, Trial.name)
            .join(Plot, Observation.plot_id == Plot.id)
            .join(Variable, Observation.variable_id == Variable.id)
            .join(Trial, Observation.trial_id == Trial.id)
            .where(
                Observation.recorder_kind == "robot",
                Observation.recorder == self.outbox.robot_id,
                Observation.id > after,
            )
            .order_by(Observation.id)
            .limit(BATCH)
        )
        return [
            ("observation", _observation_body(obs, plot, variable, trial), obs.observed_at, obs.id)
            for obs, plot, variable, trial in rows
        ]

    def _photos(self, session: Session, after: int) -> list[Copy]:
        rows = session.execute(
            select(Photo, Plot.plot_number, Trial.name)
            .join(Plot, Photo.plot_id == Plot.id)
            .join(Trial, Plot.trial_id == Trial.id)
            .where(Photo.id > after, Photo.origin.is_(None))  # the robot's own, not copies
            .order_by(Photo.id)
            .limit(PHOTO_BATCH)
        )
        return [
            ("photo", self._photo_body(photo, plot, trial), photo.taken_at, photo.id)
            for photo, plot, trial in rows
        ]

    def _photo_body(self, photo: Photo, plot: int, trial: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "trial": trial,
            "plot": plot,
            "taken_at": photo.taken_at.isoformat(),
            "camera_z_mm": photo.camera_z_mm,
            "image_base64": None,
            "problem": None,
        }
        try:
            data = (self.photo_dir / photo.path).read_bytes()
        except OSError as error:  # the row goes anyway: the server says what is missing
            body["problem"] = f"the robot could not read the photo's file: {error.strerror}"
        else:
            body["image_base64"] = base64.b64encode(data).decode("ascii")
        return body


def _action_body(action: ActionRecord, job: str) -> dict[str, Any]:
    """The action as `run_plan` reported it, with its run and job."""
    said = {field.name: getattr(action, field.name) for field in dataclasses.fields(Action)}
    return {"entry": "action", "run_id": action.run_id, "job": job, **said}


def _run_body(run: JobRun) -> dict[str, Any]:
    return {
        "entry": "run",
        "run_id": run.id,
        "job": run.job,
        "params": run.params,
        "started_at": run.started_at.isoformat(),
        "outcome": run.outcome,
        "detail": run.detail,
    }


def _observation_body(
    observation: Observation, plot: int, variable: Variable, trial: str
) -> dict[str, Any]:
    value: Any = observation.value_num if observation.value_text is None else observation.value_text
    return {
        "trial": trial,
        "plot": plot,
        "variable": {
            "name": variable.name,
            "unit": variable.unit,
            "method": variable.method,
            "scale": variable.scale,
            "minimum": variable.minimum,
            "maximum": variable.maximum,
            "categories": variable.categories,
        },
        "value": value,
        "source": observation.source,
    }
