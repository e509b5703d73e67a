"""Accounts and access rules on a real Mosquitto: each robot speaks only for itself."""

from __future__ import annotations

import base64
import hashlib
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent import AgentError
from agent.broker_access import Account, RobotAccount, acl_file, password_line
from agent.broker_client import BrokerSettings
from agent.forwarder import Forwarder
from agent.messages import Envelope
from potager.db import make_engine, session_factory, upgrade_database
from tests.agent.conftest import Broker
from tests.agent.test_store_and_forward import WAIT_S, eventually, robot_outbox
from web.inbox import Inbox
from web.ingest import Ingestor

LYON = RobotAccount(site="lyon", username="bot-1", password="lyon-robot-secret")
LILLE = RobotAccount(site="lille", username="bot-2", password="lille-robot-secret")
SERVER = Account(username="server", password="the-server-secret")
START = datetime(2026, 5, 4, 6, 0, tzinfo=UTC)


def signed_in(broker: Broker, account: Account, password: str | None = None) -> BrokerSettings:
    secret = password if password is not None else account.password.get_secret_value()
    return broker.settings.model_copy(update={"username": account.username, "password": secret})


def test_a_password_line_is_what_mosquitto_checks() -> None:
    line = password_line(LYON, salt=b"0123456789ab")
    user, _, entry = line.partition(":")
    _, kind, iterations, salt, digest = entry.split("$")
    expected = hashlib.pbkdf2_hmac(
        "sha512", b"lyon-robot-secret", base64.b64decode(salt), int(iterations), 64
    )
    assert (user, kind) == ("bot-1", "7")
    assert base64.b64decode(digest) == expected
    assert password_line(LYON) != password_line(LYON)  # a fresh salt each time


def test_each_robot_writes_only_its_own_topics() -> None:
    rules = acl_file([LYON, LILLE], SERVER)
    assert "user bot-1\ntopic write potager/lyon/bot-1/+\n" in rules
    assert "topic read potager/lyon/bot-1/commands/#" in rules
    assert "user server\ntopic read potager/+/+/+\n" in rules
    with pytest.raises(AgentError, match=r"\['bot-1'\] appear twice"):
        acl_file([LYON, LYON], SERVER)


def test_only_signed_in_robots_publish_and_only_as_themselves(
    broker: Broker, database_url: str, tmp_path: Path
) -> None:
    broker.secure([LYON, LILLE], SERVER)
    broker.start()
    upgrade_database(database_url)
    inbox = Inbox(session_factory(make_engine(database_url)))
    honest = robot_outbox(tmp_path, "lyon", "bot-1")
    honest.put("journal", {"step": 1}, START)
    # bot-2's credentials, but an outbox that says it is bot-1 at lyon: a robot lying
    liar = robot_outbox(tmp_path / "..", "lyon", "bot-1")
    liar.put("journal", {"step": "forged"}, START)
    liar.put("journal", {"step": "forged"}, START)  # a seq 2 that only the liar has
    with (
        Ingestor(inbox, signed_in(broker, SERVER), client_id="server") as ingestor,
        Forwarder(honest, signed_in(broker, LYON)) as good,
        Forwarder(liar, signed_in(broker, LILLE)) as forged,
        Forwarder(
            robot_outbox(tmp_path, "lille", "bot-2"), signed_in(broker, LILLE, "wrong")
        ) as shut,
    ):
        assert ingestor.wait_ready(WAIT_S)
        assert good.wait_ready(WAIT_S) and forged.wait_ready(WAIT_S)
        assert good.deliver_pending() == 1
        assert forged.deliver_pending() == 2  # the broker takes them and drops them
        assert eventually(lambda: len(inbox.received("bot-1")) == 1)
        time.sleep(1.0)  # what the broker would have passed on has arrived by now
        assert not shut.connected.is_set()
    assert [envelope.body for envelope in inbox.received("bot-1")] == [{"step": 1}]
    assert ingestor.refused == []  # the forgery never reached the server
    assert inbox.received("bot-2") == []
    assert isinstance(inbox.received("bot-1")[0], Envelope)
