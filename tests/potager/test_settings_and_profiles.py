"""Settings sources, robot profiles and the configuration they imply."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.params import FIRMWARE_DEFAULTS, Param, profile_configuration
from potager.errors import PotagerError, SettingsError
from potager.robots import PROFILES, Axis, UnknownProfileError, get_profile
from potager.settings import load_settings


def test_embedded_defaults_need_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.serial_port is None
    assert settings.effective_database_url.startswith("sqlite:///")


def test_environment_beats_the_toml_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "robot.toml"
    config.write_text('robot_profile = "express"\nserial_port = "/dev/ttyACM0"\n')
    monkeypatch.setenv("POTAGER_CONFIG", str(config))
    assert load_settings().robot_profile == "express"
    monkeypatch.setenv("POTAGER_ROBOT_PROFILE", "genesis")
    settings = load_settings()
    assert (settings.robot_profile, settings.serial_port) == ("genesis", "/dev/ttyACM0")


def test_bad_settings_name_the_field(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("sim_time_scale = -3\ncolour = 'green'\n")
    monkeypatch.setenv("POTAGER_CONFIG", str(config))
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "sim_time_scale" in str(caught.value)
    assert "colour" in str(caught.value)
    assert isinstance(caught.value, PotagerError)


def test_unknown_profile_lists_the_known_ones() -> None:
    with pytest.raises(UnknownProfileError, match="genesis-xl"):
        get_profile("genesys")


def test_profiles_match_the_seeded_bed_sizes() -> None:
    sizes = {name: (p.length_x_mm, p.length_y_mm) for name, p in PROFILES.items()}
    assert sizes == {
        "genesis": (2900, 1230),
        "genesis-xl": (5900, 2730),
        "express": (2900, 930),
        "express-xl": (5900, 2130),
    }
    assert get_profile("express").y.max_speed_steps_s == 900
    assert get_profile("genesis").allowed_range_mm(Axis.Z) == (-500, 0)


def test_configuration_approves_last_and_only_writes_known_params() -> None:
    writes = profile_configuration(get_profile("genesis-xl"))
    assert writes[-1] == (Param.CONFIG_OK, 1)
    assert all(param in FIRMWARE_DEFAULTS for param, _ in writes)
    values = dict(writes)
    assert values[Param.AXIS_STEPS_X] == 5900 * 5
    assert values[Param.PIN_GUARD_1_PIN] == 8
    assert values[Param.USE_EEPROM] == 1
    assert all(0 <= value <= 32767 or param in (141, 142, 143) for param, value in writes)
