"""Dashboards drawn once per change of their data, not once per visit.

The field map alone costs about 100 ms of matplotlib and the analysis 10 ms, while a visit
should cost a few: each dashboard is kept by (trial, variable asked for, the trial's data
version), so a new or edited observation is shown at the next visit and nothing stale is.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from trials.store import PlotOut, TrialOut, TrialStore
from web.dashboard import Dashboard, dashboard, field_map_svg

SIZE = 64


@dataclass(frozen=True)
class DrawnDashboard:
    trial: TrialOut
    plots: list[PlotOut]
    view: Dashboard
    field_map_svg: str | None


class DashboardCache:
    """The most recently asked dashboards, at most SIZE; thread-safe."""

    def __init__(self, trials: TrialStore, size: int = SIZE) -> None:
        self._trials, self._size = trials, size
        self._kept: OrderedDict[tuple[object, ...], DrawnDashboard] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, trial_id: int, variable: str | None) -> DrawnDashboard:
        """The trial's dashboard of `variable`; TrialError for an unknown trial."""
        key = (trial_id, variable, self._trials.data_version(trial_id))
        with self._lock:
            found = self._kept.get(key)
            if found is not None:
                self._kept.move_to_end(key)
                return found
        trial = self._trials.trial(trial_id)
        plots = self._trials.plots(trial_id)
        view = dashboard(plots, self._trials.tidy_observations(trial_id), variable)
        drawn = DrawnDashboard(trial, plots, view, field_map_svg(plots, view.numeric_by_plot))
        with self._lock:
            self._kept[key] = drawn
            while len(self._kept) > self._size:
                self._kept.popitem(last=False)
        return drawn
