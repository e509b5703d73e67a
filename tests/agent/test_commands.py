"""The server's commands through a real broker: e-stop first, each once, each answered."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.commands import CommandDesk, CommandKind, Handler
from agent.forwarder import Forwarder
from agent.outbox import Outbox
from controller.protocol import ControllerError
from potager.db import make_engine, session_factory, upgrade_database
from tests.agent.conftest import Broker
from tests.agent.test_store_and_forward import WAIT_S, eventually
from web.inbox import Inbox
from web.ingest import Ingestor
from web.remote_commands import RemoteCommands


def now() -> datetime:
    return datetime.now(UTC)


@contextmanager
def robot(
    folder: Path, broker: Broker, handlers: Mapping[CommandKind, Handler]
) -> Iterator[Forwarder]:
    """`potager agent`'s network half for robot bot-1 at lyon, its database in `folder`."""
    url = f"sqlite:///{folder / 'bot-1.sqlite3'}"
    upgrade_database(url)
    sessions = session_factory(make_engine(url))
    outbox = Outbox(sessions, "lyon", "bot-1")
    desk = CommandDesk(outbox, sessions, handlers, now).start()
    forwarder = Forwarder(outbox, broker.settings, commands=desk).start()
    try:
        assert forwarder.wait_ready(WAIT_S)
        yield forwarder
    finally:
        forwarder.stop()
        desk.stop()


def answered(
    forwarder: Forwarder, server: RemoteCommands, command_id: str, count: int = 1
) -> list[dict[str, Any]]:
    """The robot's answers, once `count` have reached the server through the outbox."""

    def arrived() -> bool:
        forwarder.deliver_pending()
        return len(server.answers("bot-1", command_id)) >= count

    assert eventually(arrived)
    return server.answers("bot-1", command_id)


def test_an_estop_overtakes_a_running_sequence(
    broker: Broker, ingestor: Ingestor, inbox: Inbox, tmp_path: Path
) -> None:
    sequence_started, release, estopped = threading.Event(), threading.Event(), threading.Event()

    def run_sequence(args: dict[str, Any]) -> str:
        sequence_started.set()
        release.wait(WAIT_S)  # a long sequence: the worker is busy
        return f"ran {args['name']}"

    def estop(args: dict[str, Any]) -> str:
        estopped.set()
        return "motors stopped, valve closed"

    handlers: dict[CommandKind, Handler] = {"run_sequence": run_sequence, "estop": estop}
    server = RemoteCommands(ingestor, inbox)
    with robot(tmp_path, broker, handlers) as forwarder:
        run = server.send("lyon", "bot-1", "run_sequence", {"name": "water row 1"})
        assert sequence_started.wait(WAIT_S)
        stop = server.send("lyon", "bot-1", "estop")
        assert estopped.wait(5.0) and not release.is_set()  # while the sequence still runs
        (stop_answer,) = answered(forwarder, server, stop.id)
        release.set()
        (run_answer,) = answered(forwarder, server, run.id)
    assert stop_answer["outcome"] == "done"
    assert stop_answer["detail"] == "motors stopped, valve closed"
    assert run_answer == {
        "command_id": run.id,
        "kind": "run_sequence",
        "outcome": "done",
        "detail": "ran water row 1",
        "repeat": False,
    }


def test_a_command_sent_while_offline_runs_once_on_reconnect_and_a_resend_is_answered_again(
    broker: Broker, ingestor: Ingestor, inbox: Inbox, tmp_path: Path
) -> None:
    pauses: list[dict[str, Any]] = []

    def pause(args: dict[str, Any]) -> str:
        pauses.append(args)
        return "schedules paused"

    handlers: dict[CommandKind, Handler] = {"pause": pause}
    with robot(tmp_path, broker, handlers):
        pass  # the robot's session (and its subscription) now waits at the broker
    server = RemoteCommands(ingestor, inbox)
    command = server.send("lyon", "bot-1", "pause", {"until": "monday"})
    with robot(tmp_path, broker, handlers) as forwarder:
        (first,) = answered(forwarder, server, command.id)
        server.resend("lyon", "bot-1", command)
        first_again, second = answered(forwarder, server, command.id, count=2)
    assert pauses == [{"until": "monday"}]
    assert first == first_again and first["outcome"] == "done" and not first["repeat"]
    assert second == {**first, "repeat": True}


def test_failures_and_unknown_commands_are_answered_not_dropped(
    broker: Broker, ingestor: Ingestor, inbox: Inbox, tmp_path: Path
) -> None:
    def run_sequence(args: dict[str, Any]) -> str:
        raise ControllerError("the sequence 'weed' does not exist on this robot")

    server = RemoteCommands(ingestor, inbox)
    with robot(tmp_path, broker, {"run_sequence": run_sequence}) as forwarder:
        failing = server.send("lyon", "bot-1", "run_sequence", {"name": "weed"})
        unknown = server.send("lyon", "bot-1", "resume", {})
        (failed,) = answered(forwarder, server, failing.id)
        (refused,) = answered(forwarder, server, unknown.id)
    assert failed["outcome"] == "failed" and "does not exist" in failed["detail"]
    assert refused["outcome"] == "refused"
    assert refused["detail"] == "this robot does not take 'resume' commands"
