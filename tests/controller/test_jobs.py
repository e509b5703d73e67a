"""Planned jobs carried out on the simulated robot: every action reported, water measured."""

from __future__ import annotations

import pytest

from controller.gantry import Gantry
from controller.jobs import Action, JobError, run_plan
from controller.link import LoopbackLink
from controller.trial_jobs import sowing_tasks, watering_tasks
from planner.jobs import PhotographTask, SowTask, Tool, ToolBay, WaterTask, plan_job
from potager.clock import VirtualClock
from potager.robots import Coordinate, get_profile
from sim.serve import firmware_for
from trials.design import Factor, rcbd
from trials.plots import BedArea, Spacing, lay_out, sowing_points

PROFILE = get_profile("genesis")
BAY = ToolBay.seeded(nozzle_flow_rate_ml_s=10.0)


def robot(clock: VirtualClock) -> Gantry:
    return Gantry(LoopbackLink(firmware_for(PROFILE), clock), PROFILE)


def test_a_watering_job_gives_every_plant_its_millilitres_and_reports_each_action() -> None:
    plants = ((400.0, 300.0), (800.0, 300.0), (600.0, 700.0))
    tasks = [WaterTask(name="plot 101", points_mm=plants, z_mm=-200.0, ml=50.0)]
    plan = plan_job(tasks, PROFILE, BAY, end_parked=True)
    clock = VirtualClock()
    journal: list[Action] = []
    with robot(clock) as gantry:
        start_s = clock.now_s()
        actions = run_plan(gantry, plan, tasks, clock, on_action=journal.append)
        elapsed_s = clock.now_s() - start_s
        assert gantry.read_pin(PROFILE.water_valve_pin) == 0  # the valve is closed
        assert gantry.position == plan.steps[-1].position
    assert journal == actions and len(actions) == len(plan.steps)
    waterings = [a for a in actions if a.kind == "water"]
    assert {(a.x_mm, a.y_mm) for a in waterings} == set(plants) and len(waterings) == 3
    assert sum(a.volume_ml for a in waterings) == pytest.approx(150.0)
    assert elapsed_s == pytest.approx(plan.duration_s, rel=0.02)  # the plan's own prediction


def test_a_long_watering_chains_pulses_past_the_firmwares_limit() -> None:
    tasks = [WaterTask(name="soak", points_mm=((500.0, 500.0),), z_mm=-200.0, ml=450.0)]
    plan = plan_job(tasks, PROFILE, BAY, mounted=Tool.WATERING_NOZZLE)
    clock = VirtualClock()
    with robot(clock) as gantry:
        start_s = clock.now_s()
        actions = run_plan(gantry, plan, tasks, clock)
        elapsed_s = clock.now_s() - start_s
    (watering,) = [a for a in actions if a.kind == "water"]
    assert watering.volume_ml == pytest.approx(450.0)
    assert elapsed_s >= 45.0  # 45 s of valve, as two firmware-timed pulses


def test_sowing_releases_each_seed_and_photos_go_to_the_camera() -> None:
    tasks = [
        SowTask(name="row 1", points_mm=((300.0, 200.0), (350.0, 200.0)), z_mm=-250.0),
        PhotographTask(name="grid", points_mm=((1000.0, 600.0),)),
    ]
    plan = plan_job(tasks, PROFILE, BAY)
    clock = VirtualClock()
    photos: list[Coordinate] = []
    with robot(clock) as gantry:
        actions = run_plan(gantry, plan, tasks, clock, take_photo=photos.append)
    assert [a.kind for a in actions].count("sow") == 2
    assert photos == [Coordinate(1000.0, 600.0, 0.0)]  # with the seeder still mounted
    assert [a.kind for a in actions].count("photograph") == 1


def test_a_plan_from_elsewhere_or_without_a_camera_is_refused_before_moving() -> None:
    tasks = [PhotographTask(name="grid", points_mm=((1000.0, 600.0),))]
    clock = VirtualClock()
    with robot(clock) as gantry:
        with pytest.raises(JobError, match="give take_photo"):
            run_plan(gantry, plan_job(tasks, PROFILE, BAY), tasks, clock)
        elsewhere = plan_job(tasks, PROFILE, BAY, start_mm=Coordinate(500.0, 500.0, 0.0))
        with pytest.raises(JobError, match="pass the same tasks"):
            run_plan(gantry, plan_job(tasks, PROFILE, BAY), [], clock, take_photo=print)
        with pytest.raises(JobError, match="plan again from where the robot is"):
            run_plan(gantry, elsewhere, tasks, clock, take_photo=lambda _: None)
        assert gantry.position == Coordinate(0.0, 0.0, 0.0)  # nothing moved


def test_a_watering_trial_gives_each_regime_its_amount_plot_by_plot() -> None:
    book = rcbd(Factor("water", ["W0", "W1", "W2"]), 2, seed=1)
    rectangles = lay_out(book, BedArea(0, 0, 1500, 1000), 400, 300, Spacing(50, 100, 50))
    points = sowing_points(rectangles, 200, 150)
    treatment = {plot.plot: plot.treatment for plot in book.plots}
    amounts = {"W0": 0.0, "W1": 20.0, "W2": 40.0}
    tasks = [*sowing_tasks(points, -250.0), *watering_tasks(points, treatment, amounts, -200.0)]
    assert [task.name for task in tasks] == ["sow", "water W1", "water W2"]  # dry control: none
    plan = plan_job(tasks, PROFILE, BAY, end_parked=True)
    clock = VirtualClock()
    with robot(clock) as gantry:
        actions = run_plan(gantry, plan, tasks, clock)
    per_plot = {plot: 0.0 for plot in treatment}
    plot_of = {(p.x_mm, p.y_mm): p.plot for p in points}
    for action in actions:
        if action.kind == "water":
            per_plot[plot_of[(action.x_mm, action.y_mm)]] += action.volume_ml
    plants_per_plot = len(points) // len(treatment)
    for plot, given_ml in per_plot.items():
        assert given_ml == pytest.approx(plants_per_plot * amounts[treatment[plot]])
    assert [a.kind for a in actions].count("sow") == len(points)


def test_a_regime_without_an_amount_is_refused_by_name() -> None:
    book = rcbd(Factor("water", ["W0", "W1"]), 2, seed=1)
    points = sowing_points(lay_out(book, BedArea(0, 0, 1500, 1000), 400, 300), 200, 150)
    treatment = {plot.plot: plot.treatment for plot in book.plots}
    with pytest.raises(JobError, match=r"no watering amount for \['W1'\]"):
        watering_tasks(points, treatment, {"W0": 10.0}, -200.0)
    with pytest.raises(JobError, match="have no treatment"):
        watering_tasks(points, {}, {"W0": 10.0, "W1": 5.0}, -200.0)
