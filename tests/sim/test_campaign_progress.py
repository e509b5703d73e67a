import io

from sim.campaign_progress import BAR_CELLS, CampaignProgress


class Terminal(io.StringIO):
    """What the bar writes to when a person watches: a stream that is a terminal."""

    def isatty(self) -> bool:
        return True


class Ticks:
    def __init__(self) -> None:
        self.now_s = 100.0

    def __call__(self) -> float:
        return self.now_s


def test_a_log_gets_one_line_per_run_and_no_carriage_returns() -> None:
    log = io.StringIO()
    progress = CampaignProgress(log, total=12)
    progress.run_done("site lille season 0 seed 3", 4.06)
    progress.close()
    assert log.getvalue() == "[ 1/12] site lille season 0 seed 3: 4.1 s\n"


def test_a_terminal_gets_one_bar_redrawn_with_the_time_left() -> None:
    screen, ticks = Terminal(), Ticks()
    progress = CampaignProgress(screen, total=4, clock_s=ticks)
    ticks.now_s += 10.0
    progress.run_done("site avignon season 0 seed 0", 9.5)
    ticks.now_s += 10.0
    progress.run_done("site avignon season 0 seed 1", 9.9)
    ticks.now_s += 10.0
    progress.run_done("site avignon season 0 seed 2", 10.0)
    progress.run_done("site avignon season 0 seed 3", 0.1)
    progress.close()
    frames = screen.getvalue().split("\r")[1:]
    assert len(frames) == 5  # drawn empty, then after each run
    half = "#" * (BAR_CELLS // 2) + "-" * (BAR_CELLS // 2)
    assert frames[2].startswith(f"[{half}] 2/4 runs, 0:20, about 0:20 left, last: site avignon")
    assert "0:00" in frames[0] and "left" not in frames[0]
    assert frames[4].startswith(f"[{'#' * BAR_CELLS}] 4/4 runs, 0:30, last: site avignon")
    assert frames[4].endswith("seed 3 (0.1 s)\x1b[K\n")
    assert screen.getvalue().endswith("\x1b[K\n")


def test_resumed_runs_count_as_done_but_not_in_the_pace() -> None:
    screen, ticks = Terminal(), Ticks()
    progress = CampaignProgress(screen, total=10, already=8, clock_s=ticks)
    ticks.now_s += 30.0
    progress.run_done("site lille season 0 seed 9", 30.0)
    text = screen.getvalue()
    assert text.startswith("resuming: 8 of 10 runs already done\n")
    assert "9/10 runs, 0:30, about 0:30 left" in text


def test_long_campaigns_show_hours() -> None:
    screen, ticks = Terminal(), Ticks()
    progress = CampaignProgress(screen, total=2, clock_s=ticks)
    ticks.now_s += 3725.0
    progress.run_done("site a season 0 seed 0", 3725.0)
    assert "1:02:05, about 1:02:05 left" in screen.getvalue()
