"""What a trial asks of the robot, as planner tasks: sow every plot, water each by its regime.

A trial's layout gives the sowing points of every plot (`trials.plots.sowing_points`) and its
field book the treatment of every plot; a watering regime is millilitres per plant for each
treatment. One task per treatment keeps a regime's plots together under one name in the
journal, and the planner still orders all their stops by travel time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from controller.jobs import JobError
from planner.jobs import SowTask, WaterTask
from trials.plots import SowingPoint


def sowing_tasks(points: Sequence[SowingPoint], z_mm: float) -> list[SowTask]:
    """One task sowing every point (guard rows too: they shelter the measured plants)."""
    if not points:
        raise JobError("no sowing points: lay the trial out and generate them first")
    return [SowTask(name="sow", points_mm=tuple((p.x_mm, p.y_mm) for p in points), z_mm=z_mm)]


def watering_tasks(
    points: Sequence[SowingPoint],
    treatment_by_plot: Mapping[int, str],
    ml_by_treatment: Mapping[str, float],
    z_mm: float,
) -> list[WaterTask]:
    """A task per treatment watering each of its plots' plants with that treatment's ml.

    A treatment with 0 ml (a dry control) gets no task; a plot without a treatment, or a
    treatment without an amount, is refused by name before anything is planned.
    """
    unassigned = sorted({p.plot for p in points} - set(treatment_by_plot))
    if unassigned:
        raise JobError(f"plots {unassigned} have no treatment: give the field book's treatments")
    missing = sorted({treatment_by_plot[p.plot] for p in points} - set(ml_by_treatment))
    if missing:
        raise JobError(f"no watering amount for {missing}: give ml per plant for every treatment")
    tasks = []
    for treatment, ml in sorted(ml_by_treatment.items()):
        stops = tuple((p.x_mm, p.y_mm) for p in points if treatment_by_plot[p.plot] == treatment)
        if ml < 0:
            raise JobError(f"{treatment}: {ml} ml is not an amount of water")
        if ml > 0 and stops:
            tasks.append(WaterTask(name=f"water {treatment}", points_mm=stops, z_mm=z_mm, ml=ml))
    return tasks
