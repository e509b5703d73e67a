"""The transport between host and firmware: one command in flight, replies matched by Q tag.

`SerialLink` speaks to a real port through pyserial (a robot's USB cable, or the simulator's
pseudo-terminal); `LoopbackLink` passes the same bytes to an in-process firmware and jumps a
virtual clock from event to event, so a simulated season runs in seconds. Both share
`LinkCore`: Q-tag allocation, matching replies to the command in flight, spotting a firmware
reboot, and the configuration upload that FarmBot OS performs on every connection (all
parameter writes, then `F22 P2 V1`).

Firmware failures (R03, R87, R88, R09) are not exceptions here: they come back in the
`CommandResult` and the gantry turns them into typed errors. This module raises only for
the transport itself: `LinkError` (port lost, firmware rebooted, no answer).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

import serial

from controller.protocol import (
    ABORT_MOVE,
    EMERGENCY_STOP,
    MAX_Q,
    Command,
    ControllerError,
    Debug,
    Echo,
    EmergencyLocked,
    FirmwareVersion,
    Idle,
    Invalid,
    LineFramer,
    NotConfigured,
    ParamValue,
    PinMonitorValue,
    ProtocolError,
    ReadPosition,
    ReadVersion,
    Reply,
    Started,
    WriteParam,
    decode_line,
    encode_command,
)
from potager.clock import Clock, SystemClock, VirtualClock, wait_on_clock

log = logging.getLogger(__name__)

BOOT_MARKERS = ("Serial connection started", "ARDUINO STARTUP COMPLETE")
"""Banner lines that mean the firmware has just been reset (reference 9)."""
DEFAULT_TIMEOUT_S = 5.0
HANDSHAKE_TIMEOUT_S = 2.0
HANDSHAKE_ATTEMPTS = 5
WALL_SLACK_S = 0.25
"""Real seconds granted to the firmware after a wait's clock deadline has passed: a thread
switch or a frozen host delays a reply by the same real time whatever the clock's speed,
and on a clock sped up 400 times a 5 s margin is only 12 ms."""


class LinkError(ControllerError):
    """The link to the firmware failed: port lost, firmware rebooted, or no answer."""


class CommandTimeoutError(LinkError):
    """A command got no terminal reply in time."""


class LinkState(StrEnum):
    CONNECTING = "connecting"
    CONFIGURING = "configuring"
    READY = "ready"
    LOST = "lost"
    CLOSED = "closed"


@dataclass
class CommandResult:
    """Everything the firmware said about one command, ending with its terminal reply."""

    command: Command
    q: int
    line: str
    replies: list[Reply]
    final: Reply


ReplyListener = Callable[[Reply], None]
StateListener = Callable[[LinkState, str], None]


@dataclass
class _Pending:
    command: Command
    q: int
    line: bytes
    replies: list[Reply] = field(default_factory=list)
    started: bool = False
    final: Reply | None = None
    error: LinkError | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def finish(self, final: Reply | None = None, error: LinkError | None = None) -> None:
        self.final, self.error = final, error
        self.done.set()


class LinkCore:
    """Transport-independent bookkeeping shared by both links."""

    def __init__(self, name: str, clock: Clock) -> None:
        self.name = name
        self.clock = clock
        self.firmware_version: str | None = None
        self.state = LinkState.CONNECTING
        self.garbage_lines: list[bytes] = []
        self._configuration: list[tuple[int, int]] = []
        self._reply_listeners: list[ReplyListener] = []
        self._state_listeners: list[StateListener] = []
        self._framer = LineFramer()
        self._lines_since_open = 0
        self._pending: _Pending | None = None
        self._last_q = 0
        self._dispatch_lock = threading.RLock()
        self.needs_setup = True

    # -- public --------------------------------------------------------------------

    def set_configuration(self, writes: Sequence[tuple[int, int]]) -> None:
        """The parameter writes to upload on every (re)connection, approval (P2) last."""
        self._configuration = list(writes)
        self.needs_setup = True

    def add_listener(self, listener: ReplyListener) -> None:
        """Call `listener` with every reply, tagged or not (position reports, pins...)."""
        self._reply_listeners.append(listener)

    def add_state_listener(self, listener: StateListener) -> None:
        self._state_listeners.append(listener)

    # -- for subclasses --------------------------------------------------------------

    def _set_state(self, state: LinkState, detail: str = "") -> None:
        self.state = state
        log.info("%s: %s %s", self.name, state.value, detail)
        for listener in list(self._state_listeners):
            listener(state, detail)

    def _next_q(self) -> int:
        self._last_q = self._last_q % MAX_Q + 1
        return self._last_q

    def _begin(self, command: Command) -> _Pending:
        q = self._next_q()
        pending = _Pending(command, q, encode_command(command, q))
        with self._dispatch_lock:
            self._pending = pending
        return pending

    def _end(self, pending: _Pending) -> None:
        with self._dispatch_lock:
            if self._pending is pending:
                self._pending = None

    def _fail_pending(self, error: LinkError) -> None:
        with self._dispatch_lock:
            if self._pending is not None and not self._pending.done.is_set():
                self._pending.finish(error=error)

    def _receive_bytes(self, data: bytes) -> None:
        for line in self._framer.feed(data):
            self._receive_line(line)

    def _receive_line(self, line: bytes) -> None:
        if not line.strip():
            return
        self._lines_since_open += 1
        try:
            reply = decode_line(line)
        except ProtocolError as error:
            # A port opens (and pyserial flushes its input) anywhere inside a line.
            level = logging.DEBUG if self._lines_since_open == 1 else logging.WARNING
            log.log(level, "%s: ignored garbage from firmware: %s", self.name, error)
            self.garbage_lines = [*self.garbage_lines[-99:], line]
            return
        with self._dispatch_lock:
            self._route(reply)
        for listener in list(self._reply_listeners):
            listener(reply)

    def _route(self, reply: Reply) -> None:
        if isinstance(reply, Debug) and any(marker in reply.text for marker in BOOT_MARKERS):
            self._on_firmware_reset()
            return
        if isinstance(reply, NotConfigured | Idle | EmergencyLocked) and reply.q == 0:
            if isinstance(reply, NotConfigured) and self.state is LinkState.READY:
                self._on_firmware_reset()
            return
        pending = self._pending
        if pending is None or pending.done.is_set():
            return
        if isinstance(reply, Echo):
            self._check_echo(pending, reply)
            return
        if reply.q is None:
            # Debug text and axis timeouts may come untagged; they belong to the command
            # running, but only a tagged reply may end it.
            if not isinstance(reply, PinMonitorValue):
                pending.replies.append(reply)
            return
        if reply.q != pending.q:
            return
        pending.replies.append(reply)
        if isinstance(reply, Started):
            pending.started = True
        elif reply.terminal and not (
            pending.started and isinstance(reply, EmergencyLocked | NotConfigured | Invalid)
        ):
            # After R01 an e-stop reports R87 and then the real end, R03 V1: wait for that.
            pending.finish(final=reply)

    def _check_echo(self, pending: _Pending, echo: Echo) -> None:
        sent = pending.line.decode("ascii").strip()
        received = echo.text.strip("\r\n")
        if received == sent:
            return
        if not received.endswith(f" Q{pending.q}"):
            log.debug("%s: late echo of an earlier command: %r", self.name, received)
            return
        log.warning("%s: firmware received %r for %r: line corrupted", self.name, received, sent)

    def _on_firmware_reset(self) -> None:
        self.needs_setup = True
        self.firmware_version = None
        self._fail_pending(
            LinkError(f"{self.name}: the firmware restarted (power or reset); command lost")
        )

    def _setup(self, send: Callable[[Command, float], CommandResult]) -> None:
        """Handshake, then upload the configuration, as FarmBot OS does on connection."""
        self._set_state(LinkState.CONFIGURING)
        self.needs_setup = False
        version = self._handshake(send)
        self.firmware_version = version
        for param, value in self._configuration:
            result = send(WriteParam(param, value), DEFAULT_TIMEOUT_S)
            echoed = [r for r in result.replies if isinstance(r, ParamValue) and r.param == param]
            if not echoed or echoed[-1].value != value:
                raise LinkError(
                    f"{self.name}: firmware did not accept parameter {param} = {value} "
                    f"(answered {result.final!r})"
                )
        send(ReadPosition(), DEFAULT_TIMEOUT_S)
        self._set_state(LinkState.READY, f"firmware {version}")

    def _handshake(self, send: Callable[[Command, float], CommandResult]) -> str:
        last_error: LinkError | None = None
        for _attempt in range(HANDSHAKE_ATTEMPTS):
            try:
                result = send(ReadVersion(), HANDSHAKE_TIMEOUT_S)
            except LinkError as error:  # lost while booting, or reset under our feet
                last_error = error
                continue
            for reply in result.replies:
                if isinstance(reply, FirmwareVersion):
                    self.needs_setup = False
                    return reply.version
        raise LinkError(
            f"{self.name}: no firmware answered F83 after {HANDSHAKE_ATTEMPTS} tries "
            f"({last_error}); is this a Farmduino at 115200 baud?"
        )


class SerialLink(LinkCore):
    """A firmware on a serial port (115200 8N1), read by one background thread.

    When the port disappears (cable pulled) the command in flight fails with `LinkError`
    and a background thread reopens the port with growing back-off, then performs the
    handshake and configuration upload again; `state` and the state listeners follow it.
    """

    def __init__(
        self,
        port: str,
        *,
        clock: Clock | None = None,
        baudrate: int = 115200,
        reconnect_backoff_s: tuple[float, float] = (0.05, 2.0),
    ) -> None:
        super().__init__(port, clock or SystemClock())
        self.port = port
        self._baudrate = baudrate
        self._backoff_s = reconnect_backoff_s
        self._serial: Any = None
        self._write_lock = threading.Lock()
        self._command_lock = threading.Lock()
        self._ready = threading.Event()
        self._closing = threading.Event()

    def open(self) -> SerialLink:
        """Open the port and configure the firmware; raises `LinkError` if it cannot."""
        self._closing.clear()
        self._connect()
        return self

    def close(self) -> None:
        self._closing.set()
        self._ready.clear()
        self._fail_pending(LinkError(f"{self.port}: link closed"))
        self._close_port()
        self._set_state(LinkState.CLOSED)

    def __enter__(self) -> SerialLink:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def execute(self, command: Command, timeout_s: float = DEFAULT_TIMEOUT_S) -> CommandResult:
        """Send `command` and wait for its terminal reply (`timeout_s` in clock seconds)."""
        if not wait_on_clock(self._ready, self.clock, timeout_s, WALL_SLACK_S):
            raise LinkError(
                f"{self.port}: not connected ({self.state.value}); retry once it is back"
            )
        with self._command_lock:
            return self._send(command, timeout_s)

    def emergency_stop(self) -> None:
        """Send `E` at once, whatever is in flight: the firmware locks and stops."""
        self._write_out_of_band(EMERGENCY_STOP)

    def abort_move(self) -> None:
        """Send `@`: the firmware stops the current move (R86) and stays usable."""
        self._write_out_of_band(ABORT_MOVE)

    # -- internals -----------------------------------------------------------------

    def _connect(self) -> None:
        self._set_state(LinkState.CONNECTING)
        try:
            port = serial.Serial(
                self.port,
                self._baudrate,
                bytesize=8,
                parity="N",
                stopbits=1,
                timeout=0.05,
                write_timeout=2,
                exclusive=True,
            )
        except (serial.SerialException, OSError) as error:
            raise LinkError(f"cannot open serial port {self.port}: {error}") from None
        self._serial = port
        self._framer.reset()
        self._lines_since_open = 0
        threading.Thread(
            target=self._read_loop, args=(port,), daemon=True, name="link-reader"
        ).start()
        try:
            with self._command_lock:
                self._setup(self._send)
        except LinkError:
            self._close_port()
            raise
        self._ready.set()

    def _close_port(self) -> None:
        port, self._serial = self._serial, None
        if port is not None:
            port.close()

    def _read_loop(self, port: Any) -> None:
        while not self._closing.is_set() and self._serial is port:
            try:
                data = port.read(port.in_waiting or 1)
            except (serial.SerialException, OSError, TypeError, AttributeError) as error:
                if self._serial is port and not self._closing.is_set():
                    self._on_port_lost(str(error) or type(error).__name__)
                return
            if data:
                self._receive_bytes(data)
                if self.needs_setup and self._ready.is_set():
                    self._ready.clear()
                    threading.Thread(target=self._reconfigure, daemon=True).start()

    def _on_port_lost(self, reason: str) -> None:
        self._ready.clear()
        self._close_port()
        self._fail_pending(
            LinkError(f"serial port {self.port} lost ({reason}): is the USB cable plugged in?")
        )
        self._set_state(LinkState.LOST, reason)
        threading.Thread(target=self._reconnect_loop, daemon=True, name="link-reconnect").start()

    def _reconnect_loop(self) -> None:
        delay_s, max_delay_s = self._backoff_s
        while not self._closing.is_set():
            self.clock.sleep(delay_s)
            try:
                self._connect()
                return
            except LinkError as error:
                log.info("%s: reconnect failed: %s", self.port, error)
                self._set_state(LinkState.LOST, str(error))
            delay_s = min(delay_s * 2, max_delay_s)

    def _reconfigure(self) -> None:
        for _attempt in range(HANDSHAKE_ATTEMPTS):
            try:
                with self._command_lock:
                    self._setup(self._send)
            except LinkError as error:
                log.warning("%s: reconfiguring after a firmware reset failed: %s", self.port, error)
                continue
            if not self.needs_setup:
                self._ready.set()
                return
        self._set_state(LinkState.LOST, "firmware keeps resetting; check its power supply")

    def _send(self, command: Command, timeout_s: float) -> CommandResult:
        pending = self._begin(command)
        try:
            self._write(pending.line)
            if not wait_on_clock(pending.done, self.clock, timeout_s, WALL_SLACK_S):
                if command.moves:
                    self._write_out_of_band(ABORT_MOVE)
                raise CommandTimeoutError(
                    f"{self.port}: no answer to {pending.line.decode().strip()!r} "
                    f"within {timeout_s:.1f} s"
                )
        finally:
            self._end(pending)
        return _result(pending)

    def _write(self, data: bytes) -> None:
        with self._write_lock:
            port = self._serial
            if port is None:
                raise LinkError(f"serial port {self.port} is not open")
            try:
                port.write(data)
            except (serial.SerialException, OSError) as error:
                raise LinkError(f"cannot write to {self.port}: {error}") from None

    def _write_out_of_band(self, data: bytes) -> None:
        try:
            self._write(data)
        except LinkError:
            log.error("%s: could not send %r", self.port, data)
            raise


def _result(pending: _Pending) -> CommandResult:
    if pending.error is not None:
        raise pending.error
    assert pending.final is not None
    return CommandResult(
        pending.command,
        pending.q,
        pending.line.decode("ascii").strip(),
        pending.replies,
        pending.final,
    )


class FirmwareEndpoint(Protocol):
    """An in-process firmware (the simulator) driven by bytes and clock time."""

    def receive(self, data: bytes, now_s: float) -> None: ...

    def advance(self, now_s: float) -> bytes: ...

    def next_event_s(self) -> float | None: ...


class LoopbackLink(LinkCore):
    """The same bytes as `SerialLink`, handed to an in-process firmware, on a virtual clock.

    Waiting for a reply means jumping the clock to the firmware's next event, so a
    ten-minute watering run takes microseconds. Single-threaded: call it from one thread.
    """

    def __init__(self, firmware: FirmwareEndpoint, clock: VirtualClock | None = None) -> None:
        super().__init__("loopback", clock or VirtualClock())
        self.virtual_clock = self.clock if isinstance(self.clock, VirtualClock) else VirtualClock()
        self._firmware = firmware

    def open(self) -> LoopbackLink:
        self._drain()
        self._setup(self._send)
        return self

    def close(self) -> None:
        self._set_state(LinkState.CLOSED)

    def __enter__(self) -> LoopbackLink:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def execute(self, command: Command, timeout_s: float = DEFAULT_TIMEOUT_S) -> CommandResult:
        self._drain()
        if self.needs_setup and self._configuration:
            self._setup(self._send)
        return self._send(command, timeout_s)

    def emergency_stop(self) -> None:
        self._firmware.receive(EMERGENCY_STOP, self.virtual_clock.now_s())
        self._drain()

    def abort_move(self) -> None:
        self._firmware.receive(ABORT_MOVE, self.virtual_clock.now_s())
        self._drain()

    def run_until(self, time_s: float) -> None:
        """Let the firmware run (reports, pin guards) until clock time `time_s`."""
        clock = self.virtual_clock
        while (next_s := self._firmware.next_event_s()) is not None and next_s <= time_s:
            clock.advance_to(next_s)
            self._drain()
        clock.advance_to(time_s)
        self._drain()

    def _drain(self) -> None:
        self._receive_bytes(self._firmware.advance(self.virtual_clock.now_s()))

    def _send(self, command: Command, timeout_s: float) -> CommandResult:
        clock = self.virtual_clock
        deadline_s = clock.now_s() + timeout_s
        pending = self._begin(command)
        try:
            self._firmware.receive(pending.line, clock.now_s())
            self._drain()
            while not pending.done.is_set():
                next_s = self._firmware.next_event_s()
                if next_s is None or next_s > deadline_s:
                    clock.advance_to(deadline_s)
                    self._drain()
                    if pending.done.is_set():
                        break
                    if command.moves:
                        self.abort_move()
                    raise CommandTimeoutError(
                        f"loopback: no answer to {pending.line.decode().strip()!r} "
                        f"within {timeout_s:.1f} s"
                    )
                clock.advance_to(next_s)
                self._drain()
        finally:
            self._end(pending)
        return _result(pending)


Link = SerialLink | LoopbackLink
