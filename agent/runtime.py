"""`potager agent`'s moving parts: a robot on duty that also reports to the network.

The robot keeps running its schedules from its own database whether the network is up or
not; the network is a side road. A pump thread copies what the robot records into the
outbox (`agent.relay`), adds the robot's state when it changes (and every few minutes, so
the server knows it is alive), and forwards the outbox whenever the broker is reachable.
It wakes at each journalled action, so a dashboard hears of it within moments. Commands
from the server reach the robot's `CommandDesk`: e-stop, pause, resume, unlock, and
running one of the robot's own sequences (between scheduled jobs, never during one).
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Self

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from agent import AgentError
from agent.broker_client import BrokerSettings
from agent.commands import CommandDesk, CommandKind, Handler
from agent.forwarder import Forwarder
from agent.outbox import Outbox
from agent.relay import Relay
from controller.duty import RobotDuty
from controller.gantry import EmergencyStopError

log = logging.getLogger(__name__)

PUMP_PERIOD_S = 1.0
"""How often the pump looks for new records when nothing wakes it (real seconds)."""
STATE_EVERY = timedelta(minutes=5)
"""A state envelope at least this often (robot time), changed or not: a heartbeat."""


class RobotAgent:
    """Reports `duty`'s robot as `site`/`duty.plan.robot_id` to the broker while started."""

    def __init__(
        self,
        duty: RobotDuty,
        sessions: sessionmaker[Session],
        site: str,
        broker: BrokerSettings,
        photo_dir: Path,
    ) -> None:
        self.duty = duty
        self.outbox = Outbox(sessions, site, duty.plan.robot_id)
        self.relay = Relay(sessions, self.outbox, photo_dir)
        self.desk = CommandDesk(self.outbox, sessions, self._handlers(), duty.now)
        self.forwarder = Forwarder(self.outbox, broker, commands=self.desk)
        self._wake, self._stopping = threading.Event(), threading.Event()
        self._pump = threading.Thread(target=self._pump_loop, name="agent-pump", daemon=True)
        self._last_state: dict[str, Any] | None = None
        self._last_state_at: datetime | None = None
        duty.gantry.add_estop_listener(self.wake)
        duty.add_action_listener(lambda action: self.wake())

    def start(self) -> Self:
        self.desk.start()
        self.forwarder.start()
        self._pump.start()
        return self

    def stop(self) -> None:
        """Stop pumping after one last pass (what is recorded stays in the outbox)."""
        self._stopping.set()
        self._wake.set()
        self._pump.join(timeout=30)
        self.forwarder.stop()
        self.desk.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wake(self) -> None:
        """Something was recorded: pump now rather than at the next period."""
        self._wake.set()

    def pump_once(self) -> int:
        """Copy new records and the state into the outbox, forward what the broker takes;
        how many envelopes went."""
        self.relay.copy_new()
        self._report_state()
        return self.forwarder.deliver_pending()

    def _pump_loop(self) -> None:
        while True:
            self._wake.clear()
            try:
                self.pump_once()
            except SQLAlchemyError:  # a locked or full disk: the records wait, try again
                log.exception("the agent could not copy or forward the robot's records")
            if self._stopping.is_set():
                return
            self._wake.wait(PUMP_PERIOD_S)

    # -- state -------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """The robot as the server's robots page shows it."""
        gantry, scheduler = self.duty.gantry, self.duty.scheduler
        position = gantry.position
        return {
            "position_mm": [
                round(position.x_mm, 1),
                round(position.y_mm, 1),
                round(position.z_mm, 1),
            ],
            "estopped": gantry.estopped,
            "paused": scheduler.pause_reason,
            "job": self.duty.job,
            "pins_on": sorted(gantry.outputs_on),
            "firmware": gantry.firmware_version,
            "sequences": sorted(self.duty.plan.sequences),
            "schedules": len(self.duty.plan.schedules),
        }

    def _report_state(self) -> None:
        state, now = self.state(), self.duty.now()
        due = self._last_state_at is None or now - self._last_state_at >= STATE_EVERY
        if state != self._last_state or due:
            self.outbox.put("state", state, now)
            self._last_state, self._last_state_at = state, now

    # -- commands ----------------------------------------------------------------------

    def _handlers(self) -> dict[CommandKind, Handler]:
        return {
            "estop": self._estop,
            "pause": self._pause,
            "resume": self._resume,
            "unlock": self._unlock,
            "run_sequence": self._run_sequence,
        }

    def _estop(self, args: dict[str, Any]) -> str:
        self.duty.gantry.emergency_stop()
        return "emergency stop sent to the firmware; schedules paused"

    def _pause(self, args: dict[str, Any]) -> str:
        reason = str(args.get("reason") or "paused from the server")
        self.duty.scheduler.pause(reason)
        self.wake()
        return f"schedules paused: {reason}"

    def _resume(self, args: dict[str, Any]) -> str:
        if self.duty.gantry.estopped:
            raise AgentError("the robot is emergency-stopped: unlock it before resuming")
        self.duty.scheduler.resume()
        self.wake()
        return "schedules resumed"

    def _unlock(self, args: dict[str, Any]) -> str:
        self.duty.gantry.unlock()
        self.wake()
        return "unlocked; schedules stay paused until resumed"

    def _run_sequence(self, args: dict[str, Any]) -> str:
        name, params = args.get("name"), args.get("params") or {}
        known = self.duty.plan.sequences
        if name not in known:
            names = ", ".join(sorted(known)) or "none"
            raise AgentError(f"this robot has no sequence {name!r}; its sequences: {names}")
        if not isinstance(params, dict):
            raise AgentError(f"a sequence's params must be a mapping, not {params!r}")
        if self.duty.gantry.estopped:
            raise AgentError("the robot is emergency-stopped: unlock it first")
        try:
            result = self.duty.run_job(str(name), params)
        except EmergencyStopError:
            raise
        except Exception:
            self.duty.runner.make_safe()  # valve closed, tool parked, as after a schedule
            raise
        return f"{name}: {result}"
