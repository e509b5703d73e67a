"""The server's place on the network: one broker connection that ingests what robots send
and carries the server's commands to them, with the applier behind it."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from sqlalchemy.orm import Session, sessionmaker

from agent.broker_client import BrokerSettings
from trials.photos import PhotoFolder
from trials.store import TrialStore
from web.inbox import Inbox
from web.ingest import Ingestor
from web.network_apply import InboxApplier
from web.remote_commands import RemoteCommands
from web.robots import RobotHub

SERVER_ACCOUNT = "potager-server"


class ServerNetwork:
    """While started: robots' envelopes flow into the database and the hub, and the hub's
    network robots take commands."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        broker: BrokerSettings,
        hub: RobotHub,
        photo_dir: Path,
    ) -> None:
        self.inbox = Inbox(sessions)
        trials = TrialStore(sessions)
        self.applier = InboxApplier(self.inbox, trials, PhotoFolder(photo_dir, trials), hub.network)
        self.ingestor = Ingestor(
            self.inbox,
            broker,
            client_id=broker.username or SERVER_ACCOUNT,
            after_batch=self.applier.apply_pending,
        )
        self.commands = RemoteCommands(self.ingestor, self.inbox)
        self._hub = hub

    def start(self) -> Self:
        self.applier.replay()
        self.applier.apply_pending()  # what a stopped server had stored but not applied
        self._hub.network.sender = self.commands.send
        self.ingestor.start()
        return self

    def stop(self) -> None:
        self._hub.network.sender = None
        self.ingestor.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
