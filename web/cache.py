"""Dashboards drawn once per change of their data, not once per visit.

The field map alone costs about 100 ms of matplotlib and the analysis 10 ms, while a visit
should cost a few: each dashboard is kept by (trial, variable asked for, the trial's data
version), so a new or edited observation or a new photo is shown at the next visit and
nothing stale is. Its HTML is kept too, per language and address (a share link's pages
have their own), since rendering the tables costs more than the rest of a visit.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from trials.store import PlotOut, PlotPhotos, TrialOut, TrialStore
from web.dashboard import Dashboard, dashboard, field_map_svg
from web.forest import PerSite, per_site

SIZE = 64


@dataclass(frozen=True)
class DrawnDashboard:
    trial: TrialOut
    plots: list[PlotOut]
    view: Dashboard
    field_map_svg: str | None
    per_site: PerSite | None = None  # the forest plot section, drawn with the field map
    plot_photos: list[PlotPhotos] = field(default_factory=list)
    _html: dict[tuple[str, ...], str] = field(default_factory=dict, compare=False)

    def html(self, key: tuple[str, ...], render: Callable[[], str]) -> str:
        """This dashboard's data drawn as HTML once per `key` (language, address): a page
        then only adds what is the visitor's own (forms with their CSRF token)."""
        found = self._html.get(key)
        if found is None:
            found = self._html[key] = render()
        return found


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
        drawn = DrawnDashboard(
            trial,
            plots,
            view,
            field_map_svg(plots, view.numeric_by_plot),
            per_site(plots, view),
            self._trials.plot_photos(trial_id),
        )
        with self._lock:
            self._kept[key] = drawn
            while len(self._kept) > self._size:
                self._kept.popitem(last=False)
        return drawn
