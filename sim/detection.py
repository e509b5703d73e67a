"""Detection on the simulator: a dry run's `detect` steps see a rendered bed.

The simulator's camera looks at the sequence's own farm (a lettuce at each plant, a flush
of weeds around them) and the simulator-trained models read the photos, so a student's
`plant-detection` step does in a dry run what it would do on a robot with a camera.
"""

from __future__ import annotations

from controller.bed_jobs import Eyes
from controller.detectors import vision_detectors
from controller.sequence_models import Detector
from potager.farm import Farm
from potager.robots import RobotProfile
from potager.settings import load_settings
from sim.garden import garden_for_farm
from sim.vision_models import sim_eyes
from vision.camera_model import CameraModel

CAMERA = CameraModel(width_px=640, height_px=480, mm_per_px=1.0)


class SimulatorEyes:
    """A dry run's eyes: the simulator's camera over the sequence's farm (a lettuce at each
    plant, weeds around them), with the simulator-trained models, made at first use."""

    def __init__(self, profile: RobotProfile) -> None:
        self.profile = profile
        self.farm: Farm | None = None
        self._eyes: Eyes | None = None

    def __call__(self) -> Eyes:
        if self._eyes is None:
            garden = garden_for_farm(
                self.farm or Farm(), self.profile.length_x_mm, self.profile.length_y_mm
            )
            self._eyes = sim_eyes(garden, CAMERA, cache_dir=load_settings().data_dir / "models")
        return self._eyes


def simulator_detectors(profile: RobotProfile) -> tuple[dict[str, Detector], SimulatorEyes]:
    """`plant-detection` on the simulator, and its eyes (give them the farm once checked)."""
    eyes = SimulatorEyes(profile)
    return vision_detectors(eyes), eyes
