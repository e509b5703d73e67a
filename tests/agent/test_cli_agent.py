"""The network from the command line: `potager broker-files` configures a real Mosquitto,
`potager agent` runs a simulated robot's schedules against it as its own account, and the
server (`potager serve --broker`'s parts) receives the journal. Bad input is refused with
a message before the robot moves."""

from __future__ import annotations

import getpass
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

from agent.broker_client import BrokerSettings
from potager.db import make_engine, session_factory, upgrade_database
from tests.agent.conftest import Broker
from tests.agent.test_store_and_forward import WAIT_S, eventually
from tests.conftest import SIM_TIME_SCALE
from tests.test_cli_run import PARIS, POTAGER, robot_file
from web.network_server import ServerNetwork
from web.robots import RobotHub


def configured(broker: Broker, folder: Path) -> Path:
    """`potager broker-files` for one robot, the broker started on what it wrote."""
    network = folder / "network.yaml"
    network.write_text(
        f"listener: {{host: 127.0.0.1, port: {broker.port}}}\n"
        "robots:\n  - {site: lyon, robot: greenhouse-1}\n  - {site: lille, robot: serre-2}\n"
    )
    out = folder / "broker"
    done = subprocess.run(
        [*POTAGER, "broker-files", str(network), "--out", str(out)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "new password for greenhouse-1" in done.stdout
    config = (out / "mosquitto.conf").read_text()
    assert "allow_anonymous false" in config and "max_queued_messages 10000000" in config
    # run as us (as root it would drop to a user who cannot read our folder)
    broker.config.write_text(config + f"user {getpass.getuser()}\n")
    broker.start()
    return out


def test_an_agent_from_the_command_line_reports_its_runs_as_its_own_account(
    broker: Broker, sim_port: str, tmp_path: Path
) -> None:
    out = configured(broker, tmp_path)
    server_password = (out / "credentials" / "potager-server.password").read_text().strip()
    url = f"sqlite:///{tmp_path / 'server.sqlite3'}"
    upgrade_database(url)
    settings = BrokerSettings(
        port=broker.port, username="potager-server", password=server_password, keepalive_s=5
    )
    start = datetime.now(PARIS).replace(microsecond=0) + timedelta(minutes=2)
    schedule = robot_file(tmp_path, start)
    hub = RobotHub()
    with ServerNetwork(session_factory(make_engine(url)), settings, hub, tmp_path) as network:
        assert network.ingestor.wait_ready(WAIT_S)
        done = subprocess.run(
            [*POTAGER, "agent", str(schedule), "--port", sim_port, "--site", "lyon",
             "--broker", f"127.0.0.1:{broker.port}",
             "--password-file", str(out / "credentials" / "greenhouse-1.password"),
             "--database", f"sqlite:///{tmp_path / 'robot.sqlite3'}",
             "--until", (start + timedelta(minutes=14)).isoformat(),
             "--time-scale", SIM_TIME_SCALE],
            capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "reporting to 127.0.0.1" in done.stdout and "outbox delivered" in done.stdout
        assert eventually(lambda: not network.inbox.unapplied(10) and "greenhouse-1" in hub.ids())
        kept = network.inbox.received("greenhouse-1")
    runs = [e.body for e in kept if e.kind == "journal" and e.body["entry"] == "run"]
    assert [(run["job"], run["outcome"]) for run in runs] == [("water lettuces", "done")] * 3
    assert {e.site for e in kept} == {"lyon"} and network.ingestor.refused == []
    outbox = subprocess.run(
        [*POTAGER, "agent", str(schedule), "--site", "lyon", "--outbox",
         "--database", f"sqlite:///{tmp_path / 'robot.sqlite3'}"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert outbox.stdout == "robot greenhouse-1 at lyon: 0 envelope(s) wait\n", outbox.stderr


def test_the_agent_refuses_what_it_cannot_use_before_the_robot_moves(tmp_path: Path) -> None:
    start = datetime.now(PARIS) + timedelta(minutes=2)
    schedule = robot_file(tmp_path, start)
    common = [*POTAGER, "agent", str(schedule), "--port", "/dev/null", "--site", "lyon"]

    def refused(*extra: str) -> str:
        done = subprocess.run(
            [*common, *extra, "--database", f"sqlite:///{tmp_path / 'r.sqlite3'}"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 1, done.stdout
        return done.stderr

    assert "the network's broker (--broker HOST)" in refused()
    missing = refused("--broker", "localhost", "--password-file", str(tmp_path / "nope"))
    assert "--password-file" in missing and "No such file" in missing
    assert "the port must be a number" in refused("--broker", "localhost:mqtt")
    schedule.write_text(schedule.read_text().replace("greenhouse-1", "Greenhouse 1"))
    named = refused("--broker", "localhost")
    assert "robot name 'Greenhouse 1' must be 1-64 lower-case letters" in named


def test_a_network_file_with_a_bad_name_is_refused_with_its_line(tmp_path: Path) -> None:
    network = tmp_path / "network.yaml"
    network.write_text("robots:\n  - {site: lyon, robot: Serre 2}\n")
    done = subprocess.run(
        [*POTAGER, "broker-files", str(network), "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert f"{network}:2:" in done.stderr and "lower-case letters" in done.stderr
    assert not (tmp_path / "out").exists()
