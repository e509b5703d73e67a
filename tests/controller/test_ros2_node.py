"""The ROS 2 bridge: its mapping layer against a gantry on the simulated firmware over a
pseudo-terminal, and its rclpy glue against a stand-in rclpy (ROS 2 is not installed here)."""

from __future__ import annotations

import copy
import math
import subprocess
import sys
import types
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.gantry import Gantry, OutOfBoundsError
from controller.protocol import Echo, Reply
from controller.ros2_mapping import (
    INTERFACES,
    MOVE_TO_ACTION_DEFINITION,
    MOVE_TO_ACTION_TYPE,
    PERIPHERALS,
    Bool,
    GantryBridge,
    JointState,
    Kind,
    MoveToFeedback,
    MoveToGoal,
    MoveToResult,
    Point,
    TriggerResponse,
    coordinate_from_point,
    goal_target_mm,
    metres_to_mm,
    mm_to_metres,
    move_feedback,
    point_from_coordinate,
)
from controller.ros2_node import (
    GantryNode,
    fill_message,
    goal_from_message,
    main,
    service_handlers,
    split_ros_args,
)
from potager.robots import Axis, Coordinate
from sim.pty import PtyFirmware
from tests.controller.conftest import PROFILE

ROOT = Path(__file__).resolve().parents[2]
LONG_MOVE = MoveToGoal(x=2.0, y=1.0, z=0.0, speed_percent=20)
"""Minutes of simulated time, so a stop sent at its first position report lands mid-move."""


@pytest.fixture
def bridge(robot: Gantry) -> GantryBridge:
    return GantryBridge(robot)


def firmware_position(sim: PtyFirmware) -> tuple[float, float, float]:
    with sim.locked() as firmware:
        return firmware.position_mm


def commands_sent(robot: Gantry) -> list[str]:
    """From now on, every command line the firmware receives (it echoes each one, R08)."""
    lines: list[str] = []

    def record(reply: Reply) -> None:
        if isinstance(reply, Echo):
            lines.append(reply.text)

    robot.link.add_listener(record)
    return lines


# -- units -------------------------------------------------------------------------------


def test_metres_and_millimetres_convert_exactly_at_the_bed_edges() -> None:
    assert metres_to_mm(0.5) == 500.0
    assert metres_to_mm(1.001) == 1001.0  # not 1000.9999999999999
    assert metres_to_mm(-0.1) == -100.0
    assert mm_to_metres(1230.0) == 1.23
    assert point_from_coordinate(Coordinate(500, 300, -100)) == Point(0.5, 0.3, -0.1)
    assert coordinate_from_point(Point(0.5, 0.3, -0.1)) == Coordinate(500, 300, -100)


def test_a_goal_on_a_calibrated_edge_is_inside_the_bed() -> None:
    lengths_mm = {Axis.X: 1001.0, Axis.Y: 1000.2, Axis.Z: 400.6}
    edge = goal_target_mm(MoveToGoal(1.001, 1.0002, -0.4006), lengths_mm)
    assert edge == Coordinate(1001.0, 1000.2, -400.6)
    with pytest.raises(OutOfBoundsError, match=r"Y = 1000\.4 mm is outside the bed"):
        goal_target_mm(MoveToGoal(1.001, 1.0004, 0.0), lengths_mm)


@given(
    st.tuples(
        st.floats(0, 5900, allow_nan=False),
        st.floats(0, 2730, allow_nan=False),
        st.floats(-500, 0, allow_nan=False),
    )
)
def test_a_coordinate_survives_the_round_trip_through_metres(
    values: tuple[float, float, float],
) -> None:
    back = coordinate_from_point(point_from_coordinate(Coordinate(*values)))
    assert back == pytest.approx(values, abs=1e-6)


def test_feedback_is_progress_along_the_straight_line() -> None:
    start, target = Coordinate(0, 0, 0), Coordinate(300, 400, 0)
    halfway = move_feedback(start, target, Coordinate(150, 200, 0))
    assert halfway == MoveToFeedback(Point(0.15, 0.2, 0.0), 0.5, 0.25)
    assert move_feedback(start, target, start).fraction_done == 0.0
    assert move_feedback(start, target, target).distance_remaining == 0.0
    assert move_feedback(target, target, target).fraction_done == 1.0


# -- topics ------------------------------------------------------------------------------


def test_the_joint_state_is_the_gantry_position_in_metres(robot: Gantry) -> None:
    robot.move_to(500, 300, -100)
    assert GantryBridge(robot).joint_state() == JointState(("x", "y", "z"), (0.5, 0.3, -0.1))
    named = GantryBridge(robot, joint_prefix="bed1_").joint_state()
    assert named.name == ("bed1_x", "bed1_y", "bed1_z")


def test_the_estopped_message_is_sent_once_per_change(bridge: GantryBridge) -> None:
    assert bridge.estopped_change() == Bool(False)
    assert bridge.estopped_change() is None
    bridge.estop()
    assert bridge.estopped_change() == Bool(True)
    assert bridge.estopped_change() is None
    assert bridge.estopped() == Bool(True)


# -- the move action ---------------------------------------------------------------------


def test_a_move_goal_moves_the_robot_and_reports_where_it_ended(
    bridge: GantryBridge, sim: PtyFirmware
) -> None:
    progress: list[MoveToFeedback] = []
    result = bridge.move_to(MoveToGoal(x=1.0, y=0.5, z=-0.1), progress.append)
    assert result == MoveToResult(True, "reached (1, 0.5, -0.1) m", Point(1.0, 0.5, -0.1))
    assert firmware_position(sim) == pytest.approx((1000, 500, -100))
    assert progress, "the firmware reports its position during a move"
    done = [step.fraction_done for step in progress]
    remaining = [step.distance_remaining for step in progress]
    assert done == sorted(done) and all(0 <= value <= 1 for value in done)
    assert remaining == sorted(remaining, reverse=True)
    assert remaining[0] <= math.dist((0, 0, 0), (1.0, 0.5, -0.1))
    assert all(0 <= step.position.x <= 1.0 for step in progress)


def test_a_slower_goal_is_sent_with_reduced_axis_speeds(
    bridge: GantryBridge, robot: Gantry
) -> None:
    sent = commands_sent(robot)
    assert bridge.move_to(MoveToGoal(x=0.2, y=0.1, z=0.0, speed_percent=50)).success
    moves = [line.strip().rsplit(" Q", 1)[0] for line in sent if line.startswith("G00")]
    # genesis axes run at up to 400 steps/s: half of it on each
    assert moves == ["G00 X200.00 Y100.00 Z0.00 A200.00 B200.00 C200.00"]


def test_a_goal_outside_the_bed_is_refused_with_the_soft_limit_and_nothing_moves(
    bridge: GantryBridge, robot: Gantry, sim: PtyFirmware
) -> None:
    robot.move_to(100, 100, 0)
    sent = commands_sent(robot)
    result = bridge.move_to(MoveToGoal(x=5.0, y=0.5, z=0.0))
    assert not result.success
    assert "X = 5000 mm is outside the bed: X must be between 0 and 2900 mm" in result.message
    assert "x = 5 m, allowed 0 to 2.9 m" in result.message
    assert result.final_position == Point(0.1, 0.1, 0.0)
    assert sent == []
    assert firmware_position(sim) == pytest.approx((100, 100, 0))


def test_a_goal_above_the_top_of_z_is_refused(bridge: GantryBridge, robot: Gantry) -> None:
    sent = commands_sent(robot)
    result = bridge.move_to(MoveToGoal(x=0.1, y=0.1, z=0.05))
    assert not result.success
    assert "Z = 50 mm is outside the bed: Z must be between -500 and 0 mm" in result.message
    assert sent == []


@pytest.mark.parametrize(
    ("goal", "complaint"),
    [
        (MoveToGoal(math.nan, 0.1, 0.0), "goal x = nan is not a finite number"),
        (MoveToGoal(0.1, math.inf, 0.0), "goal y = inf is not a finite number"),
        (MoveToGoal(0.1, 0.1, -math.inf), "goal z = -inf is not a finite number"),
        (MoveToGoal(0.1, 0.1, 0.0, math.nan), "speed_percent = nan must be between 1 and 100"),
        (MoveToGoal(0.1, 0.1, 0.0, 0.0), "speed_percent = 0.0 must be between 1 and 100"),
        (MoveToGoal(0.1, 0.1, 0.0, 150.0), "speed_percent = 150.0 must be between 1 and 100"),
    ],
)
def test_goals_that_are_not_numbers_in_range_are_refused_before_the_robot(
    goal: MoveToGoal, complaint: str, bridge: GantryBridge, robot: Gantry, sim: PtyFirmware
) -> None:
    sent = commands_sent(robot)
    result = bridge.move_to(goal)
    assert not result.success
    assert result.message.startswith("goal refused, the robot did not move")
    assert complaint in result.message
    assert sent == []
    assert firmware_position(sim) == (0, 0, 0)


def test_a_firmware_failure_becomes_a_failed_result(bridge: GantryBridge, sim: PtyFirmware) -> None:
    with sim.locked() as firmware:
        firmware.inject_stall(Axis.X, at_mm=300)
    result = bridge.move_to(MoveToGoal(x=1.0, y=0.0, z=0.0))
    assert not result.success
    assert "stall detected on the X axis" in result.message
    assert result.final_position.x == pytest.approx(0.3, abs=0.01)


def test_other_requests_during_a_move_are_refused_as_busy(bridge: GantryBridge) -> None:
    answers: list[TriggerResponse] = []

    def meanwhile(_progress: MoveToFeedback) -> None:
        if not answers:
            answers.append(bridge.find_home())
            answers.append(bridge.set_peripheral("water_valve", True))

    assert bridge.move_to(MoveToGoal(x=1.0, y=0.2, z=0.0), meanwhile).success
    assert [answer.success for answer in answers] == [False, False]
    assert "busy with move_to" in answers[0].message
    assert bridge.find_home().success


def test_cancelling_aborts_the_move_and_the_robot_stays_usable(
    bridge: GantryBridge, robot: Gantry, sim: PtyFirmware
) -> None:
    assert not bridge.cancel_move(), "nothing to cancel while idle"
    cancelled: list[bool] = []

    def cancel(_progress: MoveToFeedback) -> None:
        if not cancelled:
            cancelled.append(bridge.cancel_move())

    result = bridge.move_to(LONG_MOVE, cancel)
    assert cancelled == [True]
    assert not result.success and "movement aborted" in result.message
    assert firmware_position(sim)[0] < 2000
    assert not robot.estopped
    assert bridge.move_to(MoveToGoal(x=0.3, y=0.2, z=0.0)).success
    assert firmware_position(sim) == pytest.approx((300, 200, 0))


# -- services ----------------------------------------------------------------------------


def test_the_estop_service_stops_a_moving_robot(bridge: GantryBridge, sim: PtyFirmware) -> None:
    assert bridge.estopped_change() == Bool(False)
    answers: list[TriggerResponse] = []

    def press(_progress: MoveToFeedback) -> None:
        if not answers:
            answers.append(bridge.estop())

    result = bridge.move_to(LONG_MOVE, press)
    assert answers[0].success and "e-stopped" in answers[0].message
    assert not result.success and "emergency stop" in result.message
    with sim.locked() as firmware:
        assert firmware.estopped
        assert not firmware.busy
    assert firmware_position(sim)[0] < 2000
    assert bridge.estopped_change() == Bool(True)
    refused = bridge.move_to(MoveToGoal(x=0.1, y=0.1, z=0.0))
    assert not refused.success and "e-stopped; unlock it first" in refused.message


def test_unlock_releases_the_estop_and_the_robot_moves_again(
    bridge: GantryBridge, sim: PtyFirmware
) -> None:
    bridge.estop()
    assert bridge.estopped_change() == Bool(True)
    assert not bridge.find_home().success
    answer = bridge.unlock()
    assert answer.success, answer.message
    with sim.locked() as firmware:
        assert not firmware.estopped
    assert bridge.estopped_change() == Bool(False)
    assert bridge.move_to(MoveToGoal(x=0.4, y=0.0, z=0.0)).success
    assert firmware_position(sim) == pytest.approx((400, 0, 0))


def test_find_home_and_go_home_bring_the_robot_to_zero(
    bridge: GantryBridge, robot: Gantry, sim: PtyFirmware
) -> None:
    robot.move_to(700, 400, -50)
    answer = bridge.find_home()
    assert answer.success, answer.message
    assert firmware_position(sim) == pytest.approx((0, 0, 0))
    assert bridge.joint_state().position == (0.0, 0.0, 0.0)
    robot.move_to(300, 200, -20)
    assert bridge.go_home().success
    assert firmware_position(sim) == pytest.approx((0, 0, 0))


def test_peripheral_services_switch_the_profile_pins(
    bridge: GantryBridge, robot: Gantry, sim: PtyFirmware
) -> None:
    answer = bridge.set_peripheral("water_valve", True)
    assert answer == TriggerResponse(True, f"water_valve (pin {PROFILE.water_valve_pin}) on")
    assert bridge.set_peripheral("lighting", True).success
    with sim.locked() as firmware:
        assert firmware.pins[PROFILE.water_valve_pin] == 1
        assert firmware.pins[PROFILE.lighting_pin] == 1
    assert bridge.set_peripheral("water_valve", False).success
    with sim.locked() as firmware:
        assert firmware.pins[PROFILE.water_valve_pin] == 0
    assert robot.outputs_on == {PROFILE.lighting_pin}
    unknown = bridge.set_peripheral("sprinkler", True)
    assert not unknown.success and "unknown peripheral 'sprinkler'" in unknown.message


def test_the_service_handlers_answer_ros_requests(bridge: GantryBridge, sim: PtyFirmware) -> None:
    handlers = service_handlers(bridge)
    turned_on = handlers["~/set_vacuum"](types.SimpleNamespace(data=True))
    assert turned_on.success
    with sim.locked() as firmware:
        assert firmware.pins[PROFILE.vacuum_pin] == 1
    assert handlers["~/estop"](types.SimpleNamespace()).success
    # `E` goes out of band: a refused command proves the firmware has read it
    assert not handlers["~/go_home"](types.SimpleNamespace()).success
    with sim.locked() as firmware:
        assert firmware.estopped


# -- names and message shapes ------------------------------------------------------------


def test_the_name_table_is_complete_and_unique(bridge: GantryBridge) -> None:
    names = [interface.name for interface in INTERFACES]
    assert len(names) == len(set(names))
    assert all(name.startswith("~/") for name in names)
    assert {"~/joint_states", "~/estopped"} <= {
        i.name for i in INTERFACES if i.kind is Kind.PUBLISHER
    }
    services = {i.name for i in INTERFACES if i.kind is Kind.SERVICE}
    assert {"~/estop", "~/unlock", "~/find_home", "~/go_home"} <= services
    assert {f"~/set_{peripheral}" for peripheral in PERIPHERALS} <= services
    assert [i.name for i in INTERFACES if i.kind is Kind.ACTION] == ["~/move_to"]
    kind_folder = {Kind.PUBLISHER: "msg", Kind.SERVICE: "srv", Kind.ACTION: "action"}
    for interface in INTERFACES:
        package, folder, type_name = interface.type.split("/")
        assert folder == kind_folder[interface.kind], interface
        assert package and type_name[0].isupper(), interface
    assert set(service_handlers(bridge)) == services
    assert [i.name for i in INTERFACES if i.latched] == ["~/estopped"]


def _definition_fields(section: str) -> list[str]:
    lines = (line.split("#")[0].split() for line in section.splitlines())
    return [words[1] for words in lines if words]


def test_the_action_definition_has_the_fields_of_the_dataclasses() -> None:
    goal, result, feedback = MOVE_TO_ACTION_DEFINITION.split("\n---\n")
    assert _definition_fields(goal) == [f.name for f in fields(MoveToGoal)]
    assert _definition_fields(result) == [f.name for f in fields(MoveToResult)]
    assert _definition_fields(feedback) == [f.name for f in fields(MoveToFeedback)]
    assert "float64 speed_percent 100.0" in goal
    assert MOVE_TO_ACTION_TYPE == "potager_interfaces/action/MoveTo"


def test_fields_are_copied_into_messages_by_name() -> None:
    message = types.SimpleNamespace(
        success=False, message="", final_position=types.SimpleNamespace(x=0.0, y=0.0, z=0.0)
    )
    nested = message.final_position
    fill_message(message, MoveToResult(True, "ok", Point(0.5, 0.25, -0.1)))
    assert (message.success, message.message) == (True, "ok")
    assert message.final_position is nested, "nested messages are filled, not replaced"
    assert (nested.x, nested.y, nested.z) == (0.5, 0.25, -0.1)
    joints = types.SimpleNamespace(name=[], position=[], velocity=[], effort=[])
    fill_message(joints, JointState(("x", "y", "z"), (0.1, 0.2, -0.3)))
    assert joints.name == ["x", "y", "z"] and joints.position == [0.1, 0.2, -0.3]
    assert joints.velocity == []
    with pytest.raises(TypeError):
        fill_message(joints, {"name": []})
    request = types.SimpleNamespace(x=1, y=0.5, z=-0.1, speed_percent=80)
    assert goal_from_message(request) == MoveToGoal(1.0, 0.5, -0.1, 80.0)


def test_ros_arguments_are_kept_apart_from_ours() -> None:
    own, ros = split_ros_args(
        ["--port", "/dev/ttyACM0", "--ros-args", "-r", "__ns:=/bed1", "--", "--rate", "5"]
    )
    assert own == ["--port", "/dev/ttyACM0", "--rate", "5"]
    assert ros == ["--ros-args", "-r", "__ns:=/bed1", "--"]
    assert split_ros_args(["--port", "p", "--ros-args", "-p", "a:=1"]) == (
        ["--port", "p"],
        ["--ros-args", "-p", "a:=1"],
    )


# -- without ROS 2 -----------------------------------------------------------------------

ROS_PACKAGES = ("rclpy", "std_msgs", "std_srvs", "sensor_msgs", "potager_interfaces")
BLOCK_ROS = f"import sys\nfor name in {ROS_PACKAGES!r}:\n    sys.modules[name] = None\n"


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCK_ROS + code], capture_output=True, text=True, cwd=ROOT
    )


def test_the_module_imports_without_rclpy() -> None:
    run = _python(
        "import controller.ros2_node\n"
        "loaded = [m for m in sys.modules if sys.modules[m] is not None\n"
        f"          and m.split('.')[0] in {ROS_PACKAGES!r}]\n"
        "print('loaded:', loaded)\n"
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "loaded: []"


def test_main_without_rclpy_exits_saying_to_source_ros(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "rclpy", None)
    port = tmp_path / "no-such-port"
    with pytest.raises(SystemExit) as stopped:
        main(["--port", str(port), "--profile", "express"])
    message = str(stopped.value.code)
    assert message.startswith("error: the ROS 2 bridge needs rclpy")
    assert "source /opt/ros/jazzy/setup.bash" in message
    assert str(port) not in message, "the port must not be opened before ROS is found"


def test_running_the_module_without_rclpy_prints_the_message_not_a_traceback() -> None:
    run = _python(
        "import runpy\n"
        "sys.argv = ['ros2_node', '--port', '/dev/null']\n"
        "runpy.run_module('controller.ros2_node', run_name='__main__', alter_sys=True)\n"
    )
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert "needs rclpy" in run.stderr and "source /opt/ros/jazzy/setup.bash" in run.stderr


def test_bad_arguments_are_refused_by_the_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "rclpy", None)
    with pytest.raises(SystemExit) as stopped:
        main(["--port", "/dev/null", "--rate", "0"])
    assert stopped.value.code == 2


# -- the rclpy glue, on a stand-in rclpy -------------------------------------------------
# Not rclpy: these stand-ins record what the glue asks of the rclpy API (as documented for
# Jazzy), so the wiring of every table entry runs here; the robot behind it is the simulator.


def _message_type(type_name: str, /, **defaults: Any) -> type:
    def init(self: Any) -> None:
        self.__dict__.update(copy.deepcopy(defaults))

    return type(type_name, (), {"__init__": init})


def _point() -> types.SimpleNamespace:
    return types.SimpleNamespace(x=0.0, y=0.0, z=0.0)


class StandInPublisher:
    def __init__(self, message_type: type, qos: Any) -> None:
        self.message_type, self.qos = message_type, qos
        self.sent: list[Any] = []

    def publish(self, message: Any) -> None:
        self.sent.append(message)


class StandInNode:
    def __init__(self, name: str) -> None:
        self.name = name
        self.publishers: dict[str, StandInPublisher] = {}
        self.services: dict[str, tuple[Any, Any, Any]] = {}
        self.actions: dict[str, Any] = {}
        self.timers: list[tuple[float, Any]] = []
        self.warnings: list[str] = []
        self.destroyed = False

    def create_publisher(self, message_type: type, name: str, qos: Any) -> StandInPublisher:
        self.publishers[name] = StandInPublisher(message_type, qos)
        return self.publishers[name]

    def create_service(self, service_type: type, name: str, callback: Any, **kw: Any) -> None:
        self.services[name] = (service_type, callback, kw["callback_group"])

    def create_timer(self, period_s: float, callback: Any) -> None:
        self.timers.append((period_s, callback))

    def get_clock(self) -> Any:
        time = types.SimpleNamespace(to_msg=lambda: "stamp")
        return types.SimpleNamespace(now=lambda: time)

    def get_logger(self) -> Any:
        return types.SimpleNamespace(warning=self.warnings.append)

    def destroy_node(self) -> None:
        self.destroyed = True


class StandInActionServer:
    def __init__(self, node: StandInNode, action_type: type, name: str, **kw: Any) -> None:
        self.action_type, self.callbacks = action_type, kw
        node.actions[name] = self


class StandInGoalHandle:
    def __init__(self, request: Any) -> None:
        self.request, self.status = request, "executing"
        self.feedback: list[Any] = []
        self.is_cancel_requested = False

    def publish_feedback(self, message: Any) -> None:
        self.feedback.append(message)

    def succeed(self) -> None:
        self.status = "succeeded"

    def abort(self) -> None:
        self.status = "aborted"

    def canceled(self) -> None:
        self.status = "canceled"


MoveTo = types.SimpleNamespace(
    Goal=_message_type("Goal", x=0.0, y=0.0, z=0.0, speed_percent=100.0),
    Result=_message_type("Result", success=False, message="", final_position=_point()),
    Feedback=_message_type(
        "Feedback", position=_point(), fraction_done=0.0, distance_remaining=0.0
    ),
)


def _standard_interfaces() -> dict[str, types.ModuleType]:
    modules: dict[str, types.ModuleType] = {}

    def module(name: str, **members: Any) -> None:
        modules[name] = types.ModuleType(name)
        modules[name].__dict__.update(members)

    def service(name: str, **request: Any) -> type:
        made = type(name, (), {})
        made.Request = _message_type("Request", **request)  # type: ignore[attr-defined]
        made.Response = _message_type("Response", success=False, message="")  # type: ignore[attr-defined]
        return made

    stamped = types.SimpleNamespace(stamp=None, frame_id="")
    module("rclpy", init=lambda args: None, try_shutdown=lambda: None)
    module("rclpy.node", Node=StandInNode)
    module(
        "rclpy.callback_groups",
        MutuallyExclusiveCallbackGroup=lambda: "exclusive group",
        ReentrantCallbackGroup=lambda: "reentrant group",
    )
    module(
        "rclpy.action",
        ActionServer=StandInActionServer,
        CancelResponse=types.SimpleNamespace(ACCEPT="accept"),
    )
    module(
        "rclpy.qos",
        QoSProfile=lambda **kw: kw,
        DurabilityPolicy=types.SimpleNamespace(TRANSIENT_LOCAL="transient local"),
        ReliabilityPolicy=types.SimpleNamespace(RELIABLE="reliable"),
    )
    module("sensor_msgs")
    module(
        "sensor_msgs.msg",
        JointState=_message_type(
            "JointState", header=stamped, name=[], position=[], velocity=[], effort=[]
        ),
    )
    module("std_msgs")
    module("std_msgs.msg", Bool=_message_type("Bool", data=False))
    module("std_srvs")
    module("std_srvs.srv", Trigger=service("Trigger"), SetBool=service("SetBool", data=False))
    return modules


@pytest.fixture
def stand_in_ros(monkeypatch: pytest.MonkeyPatch) -> dict[str, types.ModuleType]:
    modules = _standard_interfaces()
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    return modules


@pytest.fixture
def with_move_action(
    monkeypatch: pytest.MonkeyPatch, stand_in_ros: dict[str, types.ModuleType]
) -> None:
    monkeypatch.setitem(sys.modules, "potager_interfaces", types.ModuleType("potager_interfaces"))
    action = types.ModuleType("potager_interfaces.action")
    action.MoveTo = MoveTo  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "potager_interfaces.action", action)


def _call(node: StandInNode, name: str, **request: Any) -> Any:
    service_type, callback, _group = node.services[name]
    ros_request = service_type.Request()
    ros_request.__dict__.update(request)
    response = callback(ros_request, service_type.Response())
    assert isinstance(response, service_type.Response)
    return response


@pytest.mark.usefixtures("with_move_action")
def test_the_node_serves_every_entry_of_the_table(
    robot: Gantry, stand_in_ros: dict[str, types.ModuleType]
) -> None:
    glue = GantryNode(robot, rate_hz=20, joint_prefix="bed1_")
    node: StandInNode = glue.node
    assert node.name == "potager_gantry"
    created = {**node.publishers, **node.services, **node.actions}
    assert set(created) == {interface.name for interface in INTERFACES}
    assert node.publishers["~/joint_states"].message_type is (
        stand_in_ros["sensor_msgs.msg"].JointState
    )
    assert node.services["~/set_water_valve"][0] is stand_in_ros["std_srvs.srv"].SetBool
    assert node.actions["~/move_to"].action_type is MoveTo
    assert node.publishers["~/estopped"].qos == {
        "depth": 1,
        "reliability": "reliable",
        "durability": "transient local",
    }
    groups = {name: service[2] for name, service in node.services.items()}
    assert groups.pop("~/estop") == "exclusive group"
    assert set(groups.values()) == {"reentrant group"}
    assert [period for period, _ in node.timers] == [0.05]
    glue.destroy()
    assert node.destroyed


@pytest.mark.usefixtures("with_move_action")
def test_the_node_publishes_joint_states_and_the_estop(robot: Gantry, sim: PtyFirmware) -> None:
    glue = GantryNode(robot)
    node: StandInNode = glue.node
    robot.move_to(250, 125, -40)
    _period, tick = node.timers[0]
    tick()
    joints = node.publishers["~/joint_states"].sent[-1]
    assert joints.name == ["x", "y", "z"]
    assert joints.position == [0.25, 0.125, -0.04]
    assert joints.header.stamp == "stamp"
    estopped = node.publishers["~/estopped"].sent
    assert [message.data for message in estopped] == [False]
    answer = _call(node, "~/estop")
    assert answer.success
    assert [message.data for message in estopped] == [False, True]
    assert not _call(node, "~/go_home").success  # the firmware has read the out-of-band `E`
    with sim.locked() as firmware:
        assert firmware.estopped
    assert _call(node, "~/unlock").success
    assert [message.data for message in estopped] == [False, True, False]


@pytest.mark.usefixtures("with_move_action")
def test_the_node_switches_pins_and_homes(robot: Gantry, sim: PtyFirmware) -> None:
    node: StandInNode = GantryNode(robot).node
    assert _call(node, "~/set_lighting", data=True).success
    with sim.locked() as firmware:
        assert firmware.pins[PROFILE.lighting_pin] == 1
    robot.move_to(100, 100, 0)
    homed = _call(node, "~/find_home")
    assert homed.success and homed.message == "home found on Z, Y and X"
    assert firmware_position(sim) == pytest.approx((0, 0, 0))


@pytest.mark.usefixtures("with_move_action")
def test_the_move_action_succeeds_with_feedback_and_aborts_a_bad_goal(
    robot: Gantry, sim: PtyFirmware
) -> None:
    node: StandInNode = GantryNode(robot).node
    execute = node.actions["~/move_to"].callbacks["execute_callback"]
    goal = MoveTo.Goal()
    goal.x, goal.y, goal.z = 0.8, 0.4, -0.05
    handle = StandInGoalHandle(goal)
    result = execute(handle)
    assert handle.status == "succeeded"
    assert isinstance(result, MoveTo.Result) and result.success
    assert (result.final_position.x, result.final_position.y) == (0.8, 0.4)
    assert firmware_position(sim) == pytest.approx((800, 400, -50))
    assert handle.feedback and all(isinstance(f, MoveTo.Feedback) for f in handle.feedback)
    assert 0 < handle.feedback[-1].position.x <= 0.8

    far = MoveTo.Goal()
    far.x = 3.5
    refused = StandInGoalHandle(far)
    result = execute(refused)
    assert refused.status == "aborted" and not result.success
    assert "X = 3500 mm is outside the bed" in result.message
    assert firmware_position(sim) == pytest.approx((800, 400, -50))


@pytest.mark.usefixtures("with_move_action")
def test_a_cancelled_goal_ends_cancelled(robot: Gantry, sim: PtyFirmware) -> None:
    node: StandInNode = GantryNode(robot).node
    callbacks = node.actions["~/move_to"].callbacks
    goal = MoveTo.Goal()
    goal.x, goal.y, goal.speed_percent = LONG_MOVE.x, LONG_MOVE.y, LONG_MOVE.speed_percent
    handle = StandInGoalHandle(goal)

    def cancel_on_first_feedback(message: Any) -> None:
        if not handle.feedback:
            handle.is_cancel_requested = True
            assert callbacks["cancel_callback"](handle) == "accept"
        handle.feedback.append(message)

    handle.publish_feedback = cancel_on_first_feedback  # type: ignore[method-assign]
    result = callbacks["execute_callback"](handle)
    assert handle.status == "canceled"
    assert not result.success and "movement aborted" in result.message
    assert firmware_position(sim)[0] < 2000


def test_without_the_interface_package_the_node_serves_all_but_the_action(
    robot: Gantry, stand_in_ros: dict[str, types.ModuleType], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "potager_interfaces", None)
    node: StandInNode = GantryNode(robot).node
    assert node.actions == {}
    assert len(node.publishers) + len(node.services) == len(INTERFACES) - 1
    assert len(node.warnings) == 1
    assert "~/move_to is not served" in node.warnings[0]
    assert "potager_interfaces/action/MoveTo" in node.warnings[0]
