"""Firmware parameters (F21/F22 ids) and the configuration a robot profile implies.

Ids and compiled defaults are the facts of reference `farmbot.md` 1.8. The configuration
upload follows FarmBot OS: write every parameter the profile decides, then approve it with
`F22 P2 V1`, without which the firmware refuses to move.
"""

from __future__ import annotations

from enum import IntEnum

from potager.robots import Axis, RobotProfile


class Param(IntEnum):
    VERSION = 0
    CONFIG_OK = 2
    USE_EEPROM = 3
    E_STOP_ON_MOVE_ERROR = 4
    MOVE_RETRIES = 5
    TIMEOUT_X = 11
    TIMEOUT_Y = 12
    TIMEOUT_Z = 13
    KEEP_ACTIVE_X = 15
    KEEP_ACTIVE_Y = 16
    KEEP_ACTIVE_Z = 17
    HOME_AT_BOOT_X = 18
    HOME_AT_BOOT_Y = 19
    HOME_AT_BOOT_Z = 20
    INVERT_ENDPOINTS_X = 21
    INVERT_ENDPOINTS_Y = 22
    INVERT_ENDPOINTS_Z = 23
    ENABLE_ENDPOINTS_X = 25
    ENABLE_ENDPOINTS_Y = 26
    ENABLE_ENDPOINTS_Z = 27
    RAMP_STEPS_X = 41
    RAMP_STEPS_Y = 42
    RAMP_STEPS_Z = 43
    RAMP_STEPS_Z_TOWARD_HOME = 44
    STOP_AT_HOME_X = 45
    STOP_AT_HOME_Y = 46
    STOP_AT_HOME_Z = 47
    HOME_UP_X = 51
    HOME_UP_Y = 52
    HOME_UP_Z = 53
    STEPS_PER_MM_X = 55
    STEPS_PER_MM_Y = 56
    STEPS_PER_MM_Z = 57
    MIN_SPEED_X = 61
    MIN_SPEED_Y = 62
    MIN_SPEED_Z = 63
    MIN_SPEED_Z_TOWARD_HOME = 64
    HOME_SPEED_X = 65
    HOME_SPEED_Y = 66
    HOME_SPEED_Z = 67
    MAX_SPEED_X = 71
    MAX_SPEED_Y = 72
    MAX_SPEED_Z = 73
    MAX_SPEED_Z_TOWARD_HOME = 74
    AXIS_STEPS_X = 141
    AXIS_STEPS_Y = 142
    AXIS_STEPS_Z = 143
    STOP_AT_MAX_X = 145
    STOP_AT_MAX_Y = 146
    STOP_AT_MAX_Z = 147
    PIN_REPORT_1 = 198
    PIN_REPORT_2 = 199
    PIN_GUARD_1_PIN = 201
    PIN_GUARD_1_TIMEOUT_S = 202
    PIN_GUARD_1_ACTIVE_STATE = 203


# Compiled defaults of firmware 6.6.23 (what a blank EEPROM gets), id -> value.
FIRMWARE_DEFAULTS: dict[int, int] = {
    0: 1,
    2: 0,
    3: 0,
    4: 0,
    5: 3,
    11: 120,
    12: 120,
    13: 120,
    15: 0,
    16: 0,
    17: 1,
    18: 0,
    19: 0,
    20: 0,
    21: 0,
    22: 0,
    23: 0,
    25: 0,
    26: 0,
    27: 0,
    31: 0,
    32: 0,
    33: 0,
    36: 1,
    37: 1,
    41: 300,
    42: 300,
    43: 300,
    44: 300,
    45: 0,
    46: 0,
    47: 0,
    51: 0,
    52: 0,
    53: 1,
    55: 5,
    56: 5,
    57: 25,
    61: 50,
    62: 50,
    63: 50,
    64: 50,
    65: 50,
    66: 50,
    67: 50,
    71: 400,
    72: 400,
    73: 400,
    74: 400,
    75: 0,
    76: 0,
    77: 0,
    81: 600,
    82: 600,
    83: 600,
    85: 30,
    86: 30,
    87: 30,
    91: 0,
    92: 0,
    93: 0,
    101: 0,
    102: 0,
    103: 0,
    105: 0,
    106: 0,
    107: 0,
    111: 5,
    112: 5,
    113: 5,
    115: 5556,
    116: 5556,
    117: 5556,
    121: 5,
    122: 5,
    123: 5,
    125: 0,
    126: 0,
    127: 0,
    131: 0,
    132: 0,
    133: 0,
    141: 0,
    142: 0,
    143: 0,
    145: 0,
    146: 0,
    147: 0,
    161: 3,
    162: 3,
    163: 3,
    165: 0,
    166: 0,
    167: 0,
    171: 10,
    172: 10,
    173: 10,
    175: 10,
    176: 10,
    177: 10,
    198: 0,
    199: 0,
    **{
        201 + 4 * k + offset: value for k in range(5) for offset, value in ((0, 0), (1, 60), (2, 1))
    },
}


def profile_configuration(profile: RobotProfile) -> list[tuple[int, int]]:
    """The (id, value) writes that configure a blank firmware for `profile`, approval last.

    Axis lengths are written so that the firmware's own stop-at-home / stop-at-max limits
    back up the controller's soft limits; the water valve gets pin guard 1, so a valve left
    open by a crash closes itself after `valve_guard_s`.
    """
    writes: dict[int, int] = {
        Param.USE_EEPROM: 1,
        Param.MOVE_RETRIES: profile.movement_retries,
        Param.PIN_GUARD_1_PIN: profile.water_valve_pin,
        Param.PIN_GUARD_1_TIMEOUT_S: profile.valve_guard_s,
        Param.PIN_GUARD_1_ACTIVE_STATE: 1,
        Param.HOME_UP_Z: 1,
        Param.KEEP_ACTIVE_Z: 1,
    }
    for index, axis in enumerate((Axis.X, Axis.Y, Axis.Z)):
        motion = profile.motion(axis)
        writes[Param.TIMEOUT_X + index] = profile.movement_timeout_s
        writes[Param.STEPS_PER_MM_X + index] = round(motion.steps_per_mm)
        writes[Param.MIN_SPEED_X + index] = round(motion.min_speed_steps_s)
        writes[Param.MAX_SPEED_X + index] = round(motion.max_speed_steps_s)
        writes[Param.RAMP_STEPS_X + index] = motion.ramp_steps
        writes[Param.HOME_SPEED_X + index] = round(motion.home_speed_steps_s)
        writes[Param.AXIS_STEPS_X + index] = round(profile.length_mm(axis) * motion.steps_per_mm)
        writes[Param.STOP_AT_HOME_X + index] = 1
        writes[Param.STOP_AT_MAX_X + index] = 1
    up = profile.z_toward_home
    writes[Param.MIN_SPEED_Z_TOWARD_HOME] = round(up.min_speed_steps_s)
    writes[Param.MAX_SPEED_Z_TOWARD_HOME] = round(up.max_speed_steps_s)
    writes[Param.RAMP_STEPS_Z_TOWARD_HOME] = up.ramp_steps
    ordered = sorted((int(param), value) for param, value in writes.items())
    return [*ordered, (int(Param.CONFIG_OK), 1)]
