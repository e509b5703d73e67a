"""A robot on duty: its schedules stored, its jobs run one at a time, on one gantry.

`potager run` and `potager agent` both put a robot on duty from its schedule file; the
agent also takes jobs from the network (a sequence to run now), so every job, scheduled or
asked for, goes through one lock: two jobs never share the gantry.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from controller.action_journal import ActionJournal
from controller.gantry import Gantry
from controller.job_runner import JobRunner
from controller.jobs import Action, ActionListener
from controller.schedule_file import RobotSchedules
from controller.scheduler import JobContext, Scheduler, ScheduleStore
from planner.jobs import ToolBay
from potager.clock import Clock
from potager.db import utc_now


def install_schedules(store: ScheduleStore, plan: RobotSchedules) -> list[str]:
    """Store the file's schedules (a changed one keeps what already ran); the names of the
    stored ones the file no longer has, which are disabled."""
    for entry in plan.schedules:
        store.put(plan.robot_id, entry.name, entry.rule, entry.grace_s)
    return store.retire_except(plan.robot_id, [entry.name for entry in plan.schedules])


class RobotDuty:
    """The robot's job runner and scheduler over `gantry`, on `clock`.

    `alert` hears what a person should know (a failed or interrupted job); `done` hears
    each finished job with its result; listeners added with `add_action_listener` hear
    every journalled action.
    """

    def __init__(
        self,
        plan: RobotSchedules,
        gantry: Gantry,
        clock: Clock,
        store: ScheduleStore,
        journal: ActionJournal,
        *,
        alert: Callable[[str], None],
        done: Callable[[str, Mapping[str, Any]], None] = lambda name, result: None,
    ) -> None:
        self.plan, self.gantry, self.clock, self._done = plan, gantry, clock, done
        self._epoch, self._origin_s = utc_now(), clock.now_s()
        self._lock = threading.Lock()
        self._action_listeners: list[ActionListener] = []
        self.job: str | None = None
        """the job running now, if any"""
        slots = {
            s.tool: s for sequence in plan.sequences.values() for s in sequence.farm.tool_slots
        }
        self.runner = JobRunner(
            gantry, clock, ToolBay(slots=tuple(slots.values())), journal, plan.robot_id,
            self.now, sequences=plan.sequences, on_action=self._heard,
        )  # fmt: skip
        self.scheduler = Scheduler(
            store, clock, self.run_job, plan.robot_id, self.runner.make_safe, alert,
            epoch=self._epoch - timedelta(seconds=self._origin_s),
        )  # fmt: skip
        self.scheduler.watch(gantry)

    def add_action_listener(self, listener: ActionListener) -> None:
        """`listener` hears each action once it is in the journal."""
        self._action_listeners.append(listener)

    def _heard(self, action: Action) -> None:
        for listener in self._action_listeners:
            listener(action)

    def now(self) -> datetime:
        """Wall time in UTC as the robot's clock sees it (scaled on a simulated robot)."""
        return self._epoch + timedelta(seconds=self.clock.now_s() - self._origin_s)

    def run_job(
        self, name: str, params: Mapping[str, Any], context: JobContext | None = None
    ) -> dict[str, Any]:
        """Run one job, journalled, once the gantry is free."""
        with self._lock:
            self.job = name
            try:
                result = self.runner(name, params, context)
            finally:
                self.job = None
        self._done(name, result)
        return result

    def run_until(self, until: datetime) -> int:
        """Run the schedules up to `until`; how many jobs ran."""
        return self.scheduler.run_until(until)
