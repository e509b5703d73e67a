"""The ROS 2 node of the bridge: rclpy glue over `controller.ros2_mapping`.

    source /opt/ros/jazzy/setup.bash
    python -m controller.ros2_node --port /dev/ttyACM0 --profile genesis

rclpy and the message packages are imported only when the node starts, so this module
imports on machines without ROS 2. What the bridge does lives in the mapping layer; here the
ROS entities are created from `INTERFACES`, and fields are copied across by name.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import fields, is_dataclass
from typing import Any, TypeVar

from controller.gantry import Gantry
from controller.link import SerialLink
from controller.ros2_mapping import (
    INTERFACES,
    PERIPHERALS,
    GantryBridge,
    Interface,
    Kind,
    MoveToFeedback,
    MoveToGoal,
    Ros2BridgeError,
    TriggerResponse,
)
from potager.errors import PotagerError
from potager.robots import PROFILES, get_profile

log = logging.getLogger(__name__)

NODE_NAME = "potager_gantry"
DEFAULT_RATE_HZ = 10.0
SOURCE_HINT = "source /opt/ros/jazzy/setup.bash"
JOINT_STATES_DEPTH = 10

T = TypeVar("T")
RequestHandler = Callable[[Any], TriggerResponse]
"""A service: the ROS request in, the response fields out."""


class RosUnavailableError(Ros2BridgeError):
    """ROS 2 (rclpy or a message package) cannot be imported by this Python."""


# -- ROS imports ----------------------------------------------------------------------


def import_rclpy() -> Any:
    """The rclpy package, or `RosUnavailableError` saying how to make it importable."""
    try:
        import rclpy
    except ImportError as error:
        raise RosUnavailableError(
            f"the ROS 2 bridge needs rclpy, which this Python cannot import ({error}). "
            f"Source ROS 2 in this shell first (`{SOURCE_HINT}`, or your distribution's "
            "setup file) and run the bridge with a Python of the same version that has "
            "potager installed: see docs/ros2.md"
        ) from None
    return rclpy


def ros_type(name: str) -> Any:
    """The Python class of a ROS 2 interface named like `sensor_msgs/msg/JointState`."""
    package, kind, type_name = name.split("/")
    try:
        return getattr(importlib.import_module(f"{package}.{kind}"), type_name)
    except (ImportError, AttributeError) as error:
        raise RosUnavailableError(
            f"the ROS 2 interface {name} cannot be imported ({error}): is the workspace "
            f"that builds {package} sourced? (`{SOURCE_HINT}`; docs/ros2.md)"
        ) from None


# -- fields ---------------------------------------------------------------------------


def fill_message(message: T, value: object) -> T:
    """Copy a mapping-layer dataclass into a ROS message, field by field, nested ones too."""
    if not is_dataclass(value) or isinstance(value, type):
        raise TypeError(f"expected a message dataclass instance, got {value!r}")
    for item in fields(value):
        content = getattr(value, item.name)
        if is_dataclass(content):
            fill_message(getattr(message, item.name), content)
        elif isinstance(content, tuple):
            setattr(message, item.name, list(content))
        else:
            setattr(message, item.name, content)
    return message


def goal_from_message(request: Any) -> MoveToGoal:
    return MoveToGoal(
        x=float(request.x),
        y=float(request.y),
        z=float(request.z),
        speed_percent=float(request.speed_percent),
    )


def service_handlers(bridge: GantryBridge) -> dict[str, RequestHandler]:
    """Each service name of `INTERFACES`, with what answers it."""
    handlers: dict[str, RequestHandler] = {
        "~/estop": lambda _request: bridge.estop(),
        "~/unlock": lambda _request: bridge.unlock(),
        "~/find_home": lambda _request: bridge.find_home(),
        "~/go_home": lambda _request: bridge.go_home(),
    }
    for peripheral in PERIPHERALS:
        handlers[f"~/set_{peripheral}"] = _switch(bridge, peripheral)
    return handlers


def _switch(bridge: GantryBridge, peripheral: str) -> RequestHandler:
    return lambda request: bridge.set_peripheral(peripheral, bool(request.data))


# -- the node -------------------------------------------------------------------------


class GantryNode:
    """A ROS 2 node serving one gantry: the `INTERFACES` table, made real."""

    def __init__(
        self,
        gantry: Gantry,
        *,
        node_name: str = NODE_NAME,
        rate_hz: float = DEFAULT_RATE_HZ,
        joint_prefix: str = "",
    ) -> None:
        from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
        from rclpy.node import Node

        self.bridge = GantryBridge(gantry, joint_prefix)
        self.node: Any = Node(node_name)
        # The e-stop has a group of its own so that a long move never holds it up; other
        # requests may overlap, and the bridge answers "busy" instead of queueing them.
        self._estop_group = MutuallyExclusiveCallbackGroup()
        self._requests_group = ReentrantCallbackGroup()
        self._publishers: dict[str, Any] = {}
        self._types: dict[str, Any] = {}
        self._estop_publishing = threading.Lock()
        self._handlers = service_handlers(self.bridge)
        for interface in INTERFACES:
            self._create(interface)
        gantry.add_estop_listener(self.publish_estopped)
        self.node.create_timer(1.0 / rate_hz, self.publish_state)
        self.publish_state()

    def publish_state(self) -> None:
        message = fill_message(self._types["~/joint_states"](), self.bridge.joint_state())
        message.header.stamp = self.node.get_clock().now().to_msg()
        self._publishers["~/joint_states"].publish(message)
        self.publish_estopped()

    def publish_estopped(self) -> None:
        with self._estop_publishing:
            change = self.bridge.estopped_change()
            if change is not None:
                self._publishers["~/estopped"].publish(
                    fill_message(self._types["~/estopped"](), change)
                )

    def destroy(self) -> None:
        self.node.destroy_node()

    # -- creation -----------------------------------------------------------------------

    def _create(self, interface: Interface) -> None:
        if interface.kind is Kind.ACTION:
            self._create_move_action(interface)
            return
        self._types[interface.name] = ros_type(interface.type)
        if interface.kind is Kind.PUBLISHER:
            self._publishers[interface.name] = self.node.create_publisher(
                self._types[interface.name], interface.name, _qos(interface)
            )
            return
        group = self._estop_group if interface.name == "~/estop" else self._requests_group
        self.node.create_service(
            self._types[interface.name],
            interface.name,
            self._serve(self._handlers[interface.name]),
            callback_group=group,
        )

    def _serve(self, handler: RequestHandler) -> Callable[[Any, Any], Any]:
        def answer(request: Any, response: Any) -> Any:
            fill_message(response, handler(request))
            self.publish_estopped()
            return response

        return answer

    def _create_move_action(self, interface: Interface) -> None:
        from rclpy.action import ActionServer

        try:
            self._types[interface.name] = ros_type(interface.type)
        except RosUnavailableError as error:
            self.node.get_logger().warning(
                f"{interface.name} is not served: {error}. Topics and services still are."
            )
            return
        ActionServer(
            self.node,
            self._types[interface.name],
            interface.name,
            execute_callback=self._execute_move,
            cancel_callback=self._cancel_move,
            callback_group=self._requests_group,
        )

    # -- the move action ----------------------------------------------------------------

    def _execute_move(self, goal_handle: Any) -> Any:
        action = self._types["~/move_to"]

        def feedback(progress: MoveToFeedback) -> None:
            goal_handle.publish_feedback(fill_message(action.Feedback(), progress))

        result = self.bridge.move_to(goal_from_message(goal_handle.request), feedback)
        if result.success:
            goal_handle.succeed()
        elif goal_handle.is_cancel_requested:
            goal_handle.canceled()
        else:
            goal_handle.abort()
        self.publish_estopped()
        return fill_message(action.Result(), result)

    def _cancel_move(self, _goal_handle: Any) -> Any:
        from rclpy.action import CancelResponse

        self.bridge.cancel_move()
        return CancelResponse.ACCEPT


def _qos(interface: Interface) -> Any:
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

    if not interface.latched:
        return JOINT_STATES_DEPTH
    # Latched: a subscriber that joins late still hears whether the robot is e-stopped.
    return QoSProfile(
        depth=1,
        reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.TRANSIENT_LOCAL,
    )


# -- command line ---------------------------------------------------------------------


def split_ros_args(arguments: Sequence[str]) -> tuple[list[str], list[str]]:
    """Our own arguments, and the `--ros-args ... [--]` sections that belong to ROS."""
    own: list[str] = []
    ros: list[str] = []
    inside = False
    for argument in arguments:
        if argument == "--ros-args":
            inside = True
        (ros if inside else own).append(argument)
        if inside and argument == "--":
            inside = False
    return own, ros


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m controller.ros2_node",
        description="Serve a Potager gantry to ROS 2: joint states, e-stop, homing, moves.",
        epilog="ROS arguments go after --ros-args, e.g. --ros-args -r __ns:=/bed1",
    )
    parser.add_argument("--port", required=True, help="serial port, e.g. /dev/ttyACM0")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="genesis")
    parser.add_argument(
        "--rate", type=_positive, default=DEFAULT_RATE_HZ, help="joint_states per second"
    )
    parser.add_argument("--joint-prefix", default="", help="prefix of the joint names x, y, z")
    return parser


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def serve(options: argparse.Namespace, arguments: Sequence[str]) -> None:
    """Run the node until Ctrl-C or a ROS shutdown; the port opens after ROS is found."""
    import_rclpy()
    import rclpy.executors

    for interface in INTERFACES:
        if interface.kind is not Kind.ACTION:
            ros_type(interface.type)  # fail before the robot is touched, not halfway
    profile = get_profile(options.profile)
    rclpy.init(args=[NODE_NAME, *arguments])
    # rclpy's own SIGINT handler shuts the context down, which ends spin() with this
    shut_down = getattr(rclpy.executors, "ExternalShutdownException", KeyboardInterrupt)
    try:
        with Gantry(SerialLink(options.port), profile) as gantry:
            node = GantryNode(gantry, rate_hz=options.rate, joint_prefix=options.joint_prefix)
            executor = rclpy.executors.MultiThreadedExecutor()
            executor.add_node(node.node)
            try:
                executor.spin()
            except (KeyboardInterrupt, shut_down):
                pass
            finally:
                executor.shutdown()
                node.destroy()
    finally:
        rclpy.try_shutdown()


def main(argv: Sequence[str] | None = None) -> None:
    arguments = list(sys.argv[1:] if argv is None else argv)
    own, _ros = split_ros_args(arguments)
    options = build_parser().parse_args(own)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        serve(options, arguments)
    except PotagerError as error:
        raise SystemExit(f"error: {error}") from None
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
