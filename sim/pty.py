"""A virtual Farmduino behind a real pseudo-terminal, so serial code runs unchanged against it.

The host opens `port` with pyserial exactly as it would a robot's USB cable. One daemon
thread owns the pseudo-terminal: it feeds what the host writes to the firmware at the
clock's time, writes back what the firmware emits, and sleeps until the firmware's next
event or the host's next byte, whichever comes first, so a command is answered within a
millisecond or two.

Thread safety: the firmware is shared under a lock. From any other thread, touch it only
inside `with pty.locked() as firmware:` (inspection, fault injection, reboots); that brings
the firmware up to the clock's present first and wakes the runner afterwards, so whatever
the firmware then emits reaches the host at once. `unplug`, `replug` and `stop` are safe
from any thread: the runner performs them, so no file descriptor is closed under its feet.

The clock must run by itself (`SystemClock`, `ScaledClock`): nothing advances a
`VirtualClock` while the runner waits.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import tempfile
import threading
import tty
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from queue import Empty, SimpleQueue
from types import TracebackType

from potager.clock import Clock
from sim import SimulatorError
from sim.firmware import VirtualFarmduino

PORT_NAME_PREFIX = "ttyFARMDUINO"
LONGEST_WAIT_S = 0.05
"""The runner never sleeps longer than this (real seconds), so requests are served promptly."""
SHORTEST_WAIT_S = 0.0001
"""Keeps the runner from spinning when the next event is due within a rounding error."""
READ_CHUNK_BYTES = 4096
MAX_UNSENT_BYTES = 1 << 16
"""Output nobody reads piles up to here, then the oldest is lost, as on a real line."""
REQUEST_TIMEOUT_S = 5.0


class PtyFirmware:
    """A `VirtualFarmduino` reachable at `port`, a stable symlink to the current pty.

    The link lives in `link_dir`, or in a private temporary directory when none is given.
    It survives host connections coming and going: the runner keeps the terminal's slave
    side open itself, so only `unplug` makes the host's reads and writes fail.
    """

    def __init__(
        self, firmware: VirtualFarmduino, clock: Clock, link_dir: Path | None = None
    ) -> None:
        self.firmware = firmware
        self.clock = clock
        self._private_dir = link_dir is None
        self._link_dir = (
            Path(tempfile.mkdtemp(prefix="potager-pty-")) if link_dir is None else link_dir
        )
        self.port = str(_free_port_path(self._link_dir))
        self._lock = threading.Lock()
        self._unsent = bytearray()
        self._master_fd: int | None = None
        self._slave_fd: int | None = None
        self._wake_fds: tuple[int, int] | None = None
        self._requests: SimpleQueue[tuple[Callable[[], None], Future[None]]] = SimpleQueue()
        self._runner: threading.Thread | None = None
        self._stopping = False

    # ------------------------------------------------------------------------ control

    def start(self) -> PtyFirmware:
        if self._runner is not None:
            raise SimulatorError(f"the simulated firmware on {self.port} was already started")
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        os.set_blocking(write_fd, False)
        self._wake_fds = (read_fd, write_fd)
        self._plug_in()
        self._runner = threading.Thread(
            target=self._serve, name=f"firmware on {self.port}", daemon=True
        )
        self._runner.start()
        return self

    def stop(self) -> None:
        """Stop the runner and remove the port; the firmware object stays inspectable."""
        if self._runner is not None:
            self._on_runner(self._request_stop)
            self._runner.join()
        self._pull_out()
        if self._wake_fds is not None:
            for fd in self._wake_fds:
                os.close(fd)
            self._wake_fds = None
        if self._private_dir:
            shutil.rmtree(self._link_dir, ignore_errors=True)

    def unplug(self) -> None:
        """Like pulling the USB cable: the host's port fails (EIO) and the link disappears."""
        self._on_runner(self._pull_out)

    def replug(self) -> None:
        """A fresh pty behind the same `port`; the reconnect resets the board, as on an Arduino."""
        self._on_runner(self._plug_back)

    @contextlib.contextmanager
    def locked(self) -> Iterator[VirtualFarmduino]:
        """The firmware, brought up to the clock's present, for exclusive use meanwhile."""
        with self._lock:
            self._unsent += self.firmware.advance(self.clock.now_s())
            yield self.firmware
        self._wake()

    def __enter__(self) -> PtyFirmware:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # ---------------------------------------------------------------- the terminal

    def _plug_in(self) -> None:
        master_fd, slave_fd = os.openpty()
        # Raw at once: the default line discipline would turn the host's CR into LF.
        tty.setraw(slave_fd)
        os.set_blocking(master_fd, False)
        _point_link(Path(self.port), os.ttyname(slave_fd))
        self._master_fd, self._slave_fd = master_fd, slave_fd

    def _pull_out(self) -> None:
        for fd in (self._master_fd, self._slave_fd):
            if fd is not None:
                os.close(fd)
        self._master_fd = self._slave_fd = None
        Path(self.port).unlink(missing_ok=True)
        with self._lock:
            self._unsent.clear()

    def _plug_back(self) -> None:
        self._pull_out()
        self._plug_in()
        with self._lock:
            self.firmware.reboot(self.clock.now_s())

    # ------------------------------------------------------------------ the runner

    def _on_runner(self, action: Callable[[], None]) -> None:
        """Run `action` on the runner thread (or here, when there is none) and wait for it."""
        runner = self._runner
        if runner is None or not runner.is_alive() or runner is threading.current_thread():
            action()
            return
        done: Future[None] = Future()
        self._requests.put((action, done))
        self._wake()
        try:
            done.result(timeout=REQUEST_TIMEOUT_S)
        except TimeoutError:
            raise SimulatorError(f"the firmware runner on {self.port} did not respond") from None

    def _request_stop(self) -> None:
        self._stopping = True

    def _serve(self) -> None:
        while True:
            self._serve_requests()
            if self._stopping:
                return
            self._wait_for_host(self._pump())

    def _serve_requests(self) -> None:
        while True:
            try:
                action, done = self._requests.get_nowait()
            except Empty:
                return
            try:
                action()
            except BaseException as error:  # handed back to the requester, who re-raises it
                done.set_exception(error)
            else:
                done.set_result(None)

    def _pump(self) -> float:
        """Run the firmware to now and send its output; real seconds until it next acts."""
        with self._lock:
            now_s = self.clock.now_s()
            self._unsent += self.firmware.advance(now_s)
            next_s = self.firmware.next_event_s()
            self._send_unsent()
        if next_s is None:
            return LONGEST_WAIT_S
        wait_s = self.clock.wall_timeout_s(next_s - now_s)
        return min(max(wait_s, SHORTEST_WAIT_S), LONGEST_WAIT_S)

    def _send_unsent(self) -> None:
        if self._master_fd is None:
            self._unsent.clear()
            return
        with contextlib.suppress(BlockingIOError):
            del self._unsent[: os.write(self._master_fd, self._unsent)]
        del self._unsent[:-MAX_UNSENT_BYTES]

    def _wait_for_host(self, wait_s: float) -> None:
        assert self._wake_fds is not None
        wake_fd = self._wake_fds[0]
        master_fd = self._master_fd
        readers = [wake_fd] if master_fd is None else [wake_fd, master_fd]
        writers = [master_fd] if master_fd is not None and self._unsent else []
        readable, _, _ = select.select(readers, writers, [], wait_s)
        if wake_fd in readable:
            _drain(wake_fd)
        if master_fd is not None and master_fd in readable:
            self._read_from_host(master_fd)

    def _read_from_host(self, master_fd: int) -> None:
        try:
            data = os.read(master_fd, READ_CHUNK_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        with self._lock:
            self.firmware.receive(data, self.clock.now_s())

    def _wake(self) -> None:
        if self._wake_fds is not None:
            with contextlib.suppress(BlockingIOError):
                os.write(self._wake_fds[1], b"\0")


def _free_port_path(link_dir: Path) -> Path:
    index = 0
    while os.path.lexists(link_dir / f"{PORT_NAME_PREFIX}{index}"):
        index += 1
    return link_dir / f"{PORT_NAME_PREFIX}{index}"


def _point_link(link: Path, target: str) -> None:
    """Make `link` point at `target` in one step, so a host never sees it missing."""
    staging = link.with_name(f".{link.name}.new")
    staging.unlink(missing_ok=True)
    staging.symlink_to(target)
    staging.replace(link)


def _drain(fd: int) -> None:
    with contextlib.suppress(BlockingIOError):
        while os.read(fd, READ_CHUNK_BYTES):
            pass
