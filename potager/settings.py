"""One settings object for the whole program.

Values come, strongest first, from keyword arguments, `POTAGER_*` environment variables,
then a TOML file (`POTAGER_CONFIG`, default `potager.toml` in the working directory if it
exists), then the embedded defaults: a SQLite file in the data directory and a simulated
robot. Nothing is needed to run the demo.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from potager.errors import SettingsError
from potager.robots import PROFILES


def _config_file() -> Path:
    return Path(os.environ.get("POTAGER_CONFIG", "potager.toml"))


class Settings(BaseSettings):
    """Potager's settings; every field can be set as `POTAGER_<FIELD>`."""

    model_config = SettingsConfigDict(env_prefix="POTAGER_", extra="forbid")

    data_dir: Path = Field(default=Path("var"), description="where the database and photos go")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file in data_dir"
    )
    robot_profile: str = Field(default="genesis-xl", description="genesis, genesis-xl, ...")
    serial_port: str | None = Field(
        default=None, description="the robot's serial port; unset means a simulated robot"
    )
    sim_time_scale: float = Field(default=100.0, gt=0, description="simulated clock speed-up")

    @model_validator(mode="after")
    def _known_profile(self) -> Settings:
        if self.robot_profile not in PROFILES:
            known = ", ".join(PROFILES)
            raise ValueError(f"robot_profile {self.robot_profile!r} is not one of: {known}")
        return self

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'potager.sqlite3'}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, _config_file()))


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, turning validation failures into one readable `SettingsError`."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in issue['loc']) or 'settings'}: {issue['msg']}"
            for issue in error.errors()
        )
        raise SettingsError(
            f"invalid settings ({_config_file()} or POTAGER_*): {problems}"
        ) from None
