"""What robots sent, applied on the server: observations and photos into the trial store,
state, journal entries and command answers into the robots page.

The inbox keeps every envelope once; the applier takes those not yet applied, each robot's
in its own order. An observation or a photo is stored with its origin (`<robot>#<seq>`),
which the trial store keeps once, so applying again after a crash stores nothing twice.
An envelope that cannot be applied (its trial is not on this server, say) is marked with
the reason and kept: nothing a robot sent is dropped.
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from agent.messages import Envelope
from potager.errors import PotagerError
from trials.photos import PhotoFolder
from trials.store import ObservationIn, TrialStore, VariableIn
from web.inbox import Inbox
from web.network_robots import NetworkRobots

log = logging.getLogger(__name__)
BATCH = 1000
REPLAY_PER_ROBOT = 20
"""Envelopes per robot a restarted server reads back to show its robots again."""


class InboxApplier:
    """Applies the inbox; `apply_pending` may be called from any thread (the ingestor's
    writer, the server's start), one pass at a time."""

    def __init__(
        self,
        inbox: Inbox,
        trials: TrialStore,
        photos: PhotoFolder,
        robots: NetworkRobots,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.inbox, self.trials, self.photos, self.robots = inbox, trials, photos, robots
        self._now = now
        self._lock = threading.Lock()

    def replay(self) -> None:
        """Show the robots as their latest envelopes left them (a server's restart)."""
        latest = self.inbox.latest(REPLAY_PER_ROBOT)
        site_ids = self._site_ids(latest)
        self.robots.replay((envelope, site_ids[envelope.site]) for envelope in latest)

    def apply_pending(self) -> int:
        """Apply everything not yet applied; how many envelopes."""
        applied = 0
        with self._lock:
            while pending := self.inbox.unapplied(BATCH):
                site_ids = self._site_ids([envelope for _, envelope in pending])
                problems = {
                    row_id: self._apply(envelope, site_ids[envelope.site])
                    for row_id, envelope in pending
                }
                self.inbox.mark_applied(problems, self._now())
                applied += len(pending)
        return applied

    def _site_ids(self, envelopes: list[Envelope]) -> dict[str, int | None]:
        """The trial store's id of each site the robots name (None: not a site here yet),
        looked up once per batch: a site created meanwhile is found at the next."""
        return {site: self.trials.site_id(site) for site in {e.site for e in envelopes}}

    def _apply(self, envelope: Envelope, site_id: int | None) -> str | None:
        """Apply one envelope; why it could not be, or None."""
        problem = None
        try:
            if envelope.kind == "observation":
                self._observation(envelope)
            elif envelope.kind == "photo":
                self._photo(envelope)
        except (PotagerError, ValueError, KeyError, TypeError) as error:
            problem = f"{envelope.kind} #{envelope.seq} of {envelope.robot_id}: {error}"
            log.warning("not applied: %s", problem)
        self.robots.heard(envelope, site_id, problem)
        return problem

    def _observation(self, envelope: Envelope) -> None:
        body = envelope.body
        trial_id = self.trials.trial_id(body["trial"])
        variable = VariableIn.model_validate(body["variable"])
        self.trials.ensure_variable(trial_id, variable)
        self.trials.record_observation(
            ObservationIn(
                trial_id=trial_id,
                plot=int(body["plot"]),
                variable=variable.name,
                value=_value(variable.scale, body["value"]),
                observed_at=envelope.recorded_at,
                recorder_kind="robot",
                recorder=envelope.robot_id,
                source=str(body.get("source", "")),
                origin=_origin(envelope),
            )
        )

    def _photo(self, envelope: Envelope) -> None:
        body = envelope.body
        if body.get("problem"):
            raise ValueError(body["problem"])
        try:
            data = base64.b64decode(body["image_base64"], validate=True)
        except (binascii.Error, TypeError):
            raise ValueError("the photo's image is not base64") from None
        trial_id = self.trials.trial_id(body["trial"])
        self.photos.add_upload(
            trial_id, int(body["plot"]), data, envelope.recorded_at, origin=_origin(envelope)
        )


def _origin(envelope: Envelope) -> str:
    return f"{envelope.robot_id}#{envelope.seq}"


def _value(scale: str, raw: Any) -> Any:
    """The value as the trial store takes it for the scale (JSON has no dates, and keeps an
    ordinal score as a float when the robot stored it as one)."""
    if scale == "date":
        return date.fromisoformat(str(raw))
    if scale == "ordinal" and isinstance(raw, float) and raw.is_integer():
        return int(raw)
    return raw
