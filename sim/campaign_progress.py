"""How far a research campaign has got, told as its runs finish.

On a terminal, one bar redrawn in place (runs done, elapsed time, time left at the pace
so far, the latest run); anywhere else (a log file, a pipe, CI) one line per run, since
redrawn bars would only fill a log with carriage returns.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

BAR_CELLS = 28


class CampaignProgress:
    """Counts finished runs out of `total`, counting `already` resumed ones as done."""

    def __init__(
        self,
        out: TextIO | None,
        total: int,
        already: int = 0,
        *,
        clock_s: Callable[[], float] = time.monotonic,
    ) -> None:
        self._out, self._total, self._done = out, total, already
        self._resumed = already
        self._clock_s = clock_s
        self._started_s = clock_s()
        self._width = len(str(total))
        self._bar = out is not None and out.isatty()
        if out is not None and already:
            print(f"resuming: {already} of {total} runs already done", file=out, flush=True)
        if self._bar:
            self._draw("")

    def run_done(self, what: str, wall_s: float) -> None:
        """A run (`what`: which site, season and seed) finished after `wall_s` seconds."""
        self._done += 1
        if self._out is None:
            return
        if self._bar:
            self._draw(f"{what} ({wall_s:.1f} s)")
        else:
            count = f"[{self._done:>{self._width}}/{self._total}]"
            print(f"{count} {what}: {wall_s:.1f} s", file=self._out, flush=True)

    def close(self) -> None:
        """Ends the bar's line, so what is printed next starts on its own."""
        if self._bar and self._out is not None:
            print(file=self._out, flush=True)

    def _draw(self, latest: str) -> None:
        assert self._out is not None
        filled = round(BAR_CELLS * self._done / self._total) if self._total else BAR_CELLS
        bar = "#" * filled + "-" * (BAR_CELLS - filled)
        elapsed_s = self._clock_s() - self._started_s
        parts = [f"[{bar}] {self._done:>{self._width}}/{self._total} runs", _clock(elapsed_s)]
        left = self._seconds_left(elapsed_s)
        if left is not None:
            parts.append(f"about {_clock(left)} left")
        if latest:
            parts.append(f"last: {latest}")
        # \r back to the line's start, \x1b[K clears what a longer previous line left
        print("\r" + ", ".join(parts) + "\x1b[K", end="", file=self._out, flush=True)

    def _seconds_left(self, elapsed_s: float) -> float | None:
        """At the pace of the runs finished in this sitting (resumed ones took no time)."""
        ran = self._done - self._resumed
        if ran <= 0 or self._done >= self._total:
            return None
        return elapsed_s / ran * (self._total - self._done)


def _clock(seconds: float) -> str:
    """`1:05` or `1:02:05`, as a person reads a duration at a glance."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
