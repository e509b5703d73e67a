"""Tasks into moves: every point once, one mount per tool, limits and keep-outs, honest timing."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence

import numpy as np
import pytest

from controller.gantry import Gantry
from controller.link import LoopbackLink
from planner import PlannerError
from planner.jobs import (
    PLAN_ORDERS,
    JobPlan,
    KeepOut,
    PhotographTask,
    SowTask,
    StepKind,
    Task,
    Tool,
    ToolBay,
    ToolSlot,
    WaterTask,
    WeedTask,
    parse_tasks,
    plan_job,
)
from planner.motion import move_time_s
from planner.sorts import FARMBOT_SORTS
from potager import farm
from potager.clock import VirtualClock
from potager.robots import Coordinate, get_profile
from sim.serve import firmware_for

GENESIS = get_profile("genesis")
FLOW_ML_S = 4.0
BAY = ToolBay.seeded(nozzle_flow_rate_ml_s=FLOW_ML_S)
SPARE_PIN = 10  # peripheral 4: a pin the simulated board can pulse for any dwell


def garden_tasks() -> list[Task]:
    """Tasks that name the seeder twice, interleaved with other tools."""
    return [
        SowTask(name="sow row 1", points_mm=[(500, 400), (700, 400), (900, 400)], z_mm=-450),
        WeedTask(name="weed", points_mm=[(1200, 800), (300, 1000)], z_mm=-480),
        SowTask(name="sow row 2", points_mm=[(500, 700), (700, 700)], z_mm=-440),
        WaterTask(name="water", points_mm=[(500, 400), (700, 400)], z_mm=-300, ml=20),
        PhotographTask(name="photos", points_mm=[(1000, 600), (2000, 600)]),
    ]


def plan(tasks: Sequence[Task], **options: object) -> JobPlan:
    return plan_job(tasks, GENESIS, BAY, **options)  # type: ignore[arg-type]


def arrivals(job: JobPlan, tasks: list[Task]) -> Counter[tuple[str, int]]:
    """How many times each (task, point) stop is reached at its own X, Y and Z."""
    wanted = {
        (task.name, index): Coordinate(x_mm, y_mm, task.z_mm)
        for task in tasks
        for index, (x_mm, y_mm) in enumerate(task.points_mm)
    }
    return Counter(
        (step.task, step.point_index)
        for step in job.steps
        if step.task is not None
        and step.point_index is not None
        and step.kind is not StepKind.DWELL
        and step.position == wanted[(step.task, step.point_index)]
    )


def test_every_point_of_every_task_is_visited_once() -> None:
    tasks = garden_tasks()
    job = plan(tasks)
    expected = {(t.name, i) for t in tasks for i in range(len(t.points_mm))}
    assert arrivals(job, tasks) == Counter(dict.fromkeys(expected, 1))


def test_each_tool_is_mounted_once_in_the_order_the_tasks_first_name_it() -> None:
    job = plan(garden_tasks())
    assert job.tool_changes == 3
    mounts = [step.note for step in job.steps if step.note.startswith("mount")]
    assert [note for note, _ in itertools.groupby(mounts)] == [
        "mount the seeder",
        "mount the weeder",
        "mount the watering nozzle",
    ]
    tools_in_use = [step.tool for step in job.steps if step.kind is StepKind.WORK]
    assert [tool for tool, _ in itertools.groupby(tools_in_use)] == [
        Tool.SEEDER,
        Tool.WEEDER,
        Tool.WATERING_NOZZLE,
    ]


def test_the_mounted_tool_goes_first_and_needs_no_mount() -> None:
    job = plan(garden_tasks(), mounted=Tool.WEEDER)
    assert job.tool_changes == 2
    first_stop = next(step for step in job.steps if step.task is not None)
    assert first_stop.task == "weed"
    assert job.steps[0].note == "safe-Z hop"


def test_photographs_need_no_tool_change() -> None:
    photos = [PhotographTask(name="photos", points_mm=[(100, 100), (900, 900)])]
    job = plan(photos)
    assert job.tool_changes == 0
    assert {step.kind for step in job.steps} == {StepKind.TRAVEL, StepKind.DWELL}


def test_every_x_y_leg_outside_the_bay_is_flown_at_safe_height() -> None:
    job = plan(garden_tasks(), start_mm=Coordinate(50, 50, -100))
    here = job.start_mm
    for step in job.steps:
        if (here.x_mm, here.y_mm) != (step.x_mm, step.y_mm) and step.kind is StepKind.TRAVEL:
            assert here.z_mm == step.z_mm == GENESIS.safe_z_mm
        here = step.position


def test_the_duration_is_the_motion_model_applied_to_the_plans_own_steps() -> None:
    overhead_s = 0.15
    job = plan(garden_tasks(), command_overhead_s=overhead_s, end_parked=True)
    corners = [job.start_mm, *(step.position for step in job.steps)]
    travel_s = sum(move_time_s(GENESIS, a, b) for a, b in itertools.pairwise(corners))
    dwell_s = sum(step.dwell_s for step in job.steps)
    assert job.duration_s == pytest.approx(travel_s + dwell_s + overhead_s * len(job.steps))
    length_mm = sum(
        sum((p - q) ** 2 for p, q in zip(a, b, strict=True)) ** 0.5
        for a, b in itertools.pairwise(corners)
    )
    assert job.length_mm == pytest.approx(length_mm)


def test_the_simulated_firmware_takes_the_predicted_time() -> None:
    job = plan(garden_tasks(), end_parked=True)
    clock = VirtualClock()
    with Gantry(LoopbackLink(firmware_for(GENESIS), clock), GENESIS) as robot:
        began_s = clock.now_s()
        for step in job.steps:
            if step.kind is StepKind.DWELL:
                robot.pulse_pin(SPARE_PIN, step.dwell_s)
            else:
                robot.move_to(step.x_mm, step.y_mm, step.z_mm)
        assert clock.now_s() - began_s == pytest.approx(job.duration_s, rel=0.02)


def test_watering_dwells_for_the_millilitres_over_the_nozzle_flow_rate() -> None:
    water = WaterTask(name="water", points_mm=[(400, 400)], z_mm=-300, ml=30)
    dwells = [step for step in plan([water]).steps if step.kind is StepKind.DWELL]
    assert len(dwells) == 1
    assert dwells[0].dwell_s == pytest.approx(30 / FLOW_ML_S)
    assert dwells[0].note == "water 30 ml"


def test_ending_parked_puts_the_last_tool_back_in_its_slot() -> None:
    job = plan(garden_tasks(), end_parked=True)
    last = job.steps[-1]
    nozzle_slot = BAY.slot_for(Tool.WATERING_NOZZLE)
    assert (last.x_mm, last.y_mm, last.z_mm) == (nozzle_slot.x_mm, nozzle_slot.y_mm, 0.0)
    assert last.tool is None
    assert last.note == "dismount the watering nozzle"


def test_a_job_with_no_tasks_does_nothing() -> None:
    job = plan([])
    assert (job.steps, job.duration_s, job.length_mm, job.tool_changes) == ((), 0.0, 0.0, 0)


def test_with_no_tasks_ending_parked_just_puts_the_tool_away() -> None:
    job = plan([], mounted=Tool.SEEDER, end_parked=True)
    assert {step.note for step in job.steps} == {"dismount the seeder"}
    assert job.tool_changes == 0


def test_a_point_outside_the_bed_is_refused_naming_task_point_and_range() -> None:
    weeds = WeedTask(name="weeds", points_mm=[(100, 100), (3500, 200)], z_mm=-480)
    with pytest.raises(PlannerError) as refused:
        plan([weeds])
    message = str(refused.value)
    assert "task 'weeds'" in message
    assert "point 1 at X 3500, Y 200 mm" in message
    assert "X 0-2900, Y 0-1230 mm" in message


def test_a_depth_outside_the_z_range_is_refused() -> None:
    deep = SowTask(name="deep", points_mm=[(100, 100)], z_mm=-600)
    with pytest.raises(PlannerError, match=r"task 'deep': z_mm -600 is outside the Z range -500"):
        plan([deep])


def test_a_stop_inside_a_keep_out_for_its_tool_is_refused() -> None:
    lettuce = KeepOut(x_mm=700, y_mm=400, radius_mm=50, tools={Tool.WEEDER}, label="lettuce")
    weeds = WeedTask(name="weeds", points_mm=[(100, 100), (720, 410)], z_mm=-480)
    with pytest.raises(PlannerError) as refused:
        plan([weeds], keep_outs=[lettuce])
    assert str(refused.value) == (
        "task 'weeds' point 1 at X 720, Y 410 mm is inside keep-out 'lettuce' "
        "(centre X 700, Y 400 mm, radius 50 mm) for the weeder; move the point or drop it"
    )


def test_a_keep_out_for_the_weeder_lets_the_nozzle_water_the_crop() -> None:
    lettuce = KeepOut(x_mm=700, y_mm=400, radius_mm=50, tools={Tool.WEEDER})
    water = WaterTask(name="water", points_mm=[(700, 400)], z_mm=-300, ml=10)
    assert plan([water], keep_outs=[lettuce]).tool_changes == 1


def test_legs_at_safe_height_may_cross_a_keep_out() -> None:
    crop = KeepOut(x_mm=500, y_mm=500, radius_mm=80, tools=set(Tool))
    weeds = WeedTask(name="weeds", points_mm=[(300, 500), (700, 500)], z_mm=-480)
    assert len(plan([weeds], keep_outs=[crop]).steps) > 0


def test_a_keep_out_across_the_bays_pull_out_is_refused() -> None:
    near_slot = KeepOut(x_mm=60, y_mm=100, radius_mm=20, tools={Tool.SEEDER})
    sow = SowTask(name="sow", points_mm=[(500, 500)], z_mm=-450)
    with pytest.raises(PlannerError, match=r"mount the seeder: .* below safe height and crosses"):
        plan([sow], keep_outs=[near_slot])


def test_a_tool_without_a_slot_is_named() -> None:
    bay = ToolBay.seeded([Tool.SEEDER])
    weeds = WeedTask(name="weeds", points_mm=[(100, 100)], z_mm=-480)
    with pytest.raises(PlannerError, match=r"no slot for the weeder \(it holds: seeder\)"):
        plan_job([weeds], GENESIS, bay)


def test_task_names_must_be_distinct() -> None:
    twice = [WeedTask(name="a", points_mm=[(1, 1)], z_mm=-1)] * 2
    with pytest.raises(PlannerError, match="two tasks are called 'a'"):
        plan(twice)


def test_tasks_from_json_are_validated_at_the_boundary() -> None:
    tasks = parse_tasks(
        [
            {"kind": "water", "name": "w", "points_mm": [[10, 20]], "z_mm": -100, "ml": 5},
            {"kind": "photograph", "name": "p", "points_mm": [[30, 40]]},
        ]
    )
    assert [type(task) for task in tasks] == [WaterTask, PhotographTask]
    with pytest.raises(PlannerError, match="invalid task list"):
        parse_tasks([{"kind": "water", "name": "w", "points_mm": [[10, "nan"]], "z_mm": -1}])


# ------------------------------------------------------------------- one tool slot


def test_the_planner_and_the_farm_map_share_one_tool_slot() -> None:
    assert ToolSlot is farm.ToolSlot and Tool is farm.Tool
    slot = farm.ToolSlot(tool="watering_nozzle", x_mm=6, y_mm=100, z_mm=-340, flow_rate_ml_s=4)
    bay = ToolBay(slots=(slot,))
    assert bay.slot_for(Tool.WATERING_NOZZLE).position == Coordinate(6, 100, -340)


def test_watering_with_a_nozzle_of_unknown_flow_rate_is_refused_when_planned() -> None:
    bay = ToolBay.seeded()  # no flow rate: fine for every task but watering
    sow = SowTask(name="sow", points_mm=[(500, 500)], z_mm=-450)
    assert plan_job([sow], GENESIS, bay).tool_changes == 1
    water = WaterTask(name="water", points_mm=[(400, 400)], z_mm=-300, ml=30)
    with pytest.raises(PlannerError, match="task 'water': the watering nozzle's slot has no flow"):
        plan_job([water], GENESIS, bay)


# ------------------------------------------------------------------ FarmBot orders


def random_weeds(count: int, seed: int) -> WeedTask:
    points = np.random.default_rng(seed).uniform((50, 50), (2850, 1200), (count, 2))
    return WeedTask(name="weeds", points_mm=[(x, y) for x, y in points.tolist()], z_mm=-480)


def visited(job: JobPlan) -> list[tuple[float, float]]:
    """The X/Y of each stop, in the order the plan works at them."""
    return [
        (step.x_mm, step.y_mm)
        for step in job.steps
        if step.kind is StepKind.WORK and step.z_mm != GENESIS.safe_z_mm
    ]


def test_plan_orders_are_the_planner_then_farmbots_sorts() -> None:
    assert ("planner", *FARMBOT_SORTS) == PLAN_ORDERS
    assert PLAN_ORDERS[1] == "xy_ascending"


def test_xy_ascending_visits_the_stops_in_x_then_y_order() -> None:
    weeds = WeedTask(
        name="weeds", points_mm=[(900, 300), (100, 800), (900, 100), (100, 200)], z_mm=-480
    )
    job = plan([weeds], order="xy_ascending")
    assert visited(job) == [(100, 200), (100, 800), (900, 100), (900, 300)]


def test_every_farmbot_order_visits_every_stop_once() -> None:
    weeds = random_weeds(30, seed=5)
    for order in PLAN_ORDERS:
        job = plan([weeds], order=order)
        assert sorted(visited(job)) == sorted(weeds.points_mm), order


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_planners_order_is_never_slower_than_farmbots_default(seed: int) -> None:
    weeds = random_weeds(100, seed)
    ours = plan([weeds], end_parked=True)
    farmbots = plan([weeds], end_parked=True, order="xy_ascending")
    assert ours.duration_s <= farmbots.duration_s
    assert ours.tool_changes == farmbots.tool_changes == 1


def test_an_unknown_order_is_refused_naming_the_valid_ones() -> None:
    with pytest.raises(PlannerError) as refused:
        plan(garden_tasks(), order="zigzag")
    assert "unknown stop order 'zigzag'" in str(refused.value)
    assert ", ".join(PLAN_ORDERS) in str(refused.value)
