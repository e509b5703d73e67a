"""The simulated world a Potager controller can run against: a virtual Farmduino and its port."""

from potager.errors import PotagerError


class SimulatorError(PotagerError):
    """A simulator was set up or driven in a way it cannot honour (bad settings, bad state)."""


__all__ = ["SimulatorError"]
