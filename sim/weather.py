"""Daily weather for a season: read from a station's CSV, or made up from a climate.

A bed needs four numbers a day: the minimum and maximum temperature (thermal time), the
rain (soil water) and the reference evapotranspiration ET0 (the demand of crops and bare
soil). A CSV may give ET0 directly or the solar radiation it is computed from; without
either, ET0 comes from temperatures alone by Hargreaves-Samani (FAO-56 eq. 52) with the
extraterrestrial radiation of the site's latitude (FAO-56 eq. 21).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sim import SimulatorError

SOLAR_CONSTANT_MJ_M2_MIN = 0.0820
MJ_M2_TO_MM = 0.408
"""Radiation as the depth of water its energy would evaporate (FAO-56 eq. 20)."""
HARGREAVES_RADIATION_COEFF = 0.0135
"""ET0 = 0.0135 (T + 17.8) Rs, Rs in mm/day (Hargreaves 1975; FAO-56 ch. 3)."""
HARGREAVES_SAMANI_COEFF = 0.0023
"""ET0 = 0.0023 (T + 17.8) sqrt(Tmax - Tmin) Ra (FAO-56 eq. 52)."""
REQUIRED_COLUMNS = ("date", "t_min_c", "t_max_c", "rain_mm")


class WeatherError(SimulatorError):
    """Weather that cannot drive a season; the message lists every problem found."""


class DailyWeather(BaseModel):
    """One day's weather; `et0_mm` is the FAO-56 grass reference evapotranspiration."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    day: date
    t_min_c: float
    t_max_c: float
    rain_mm: float = Field(ge=0)
    et0_mm: float = Field(ge=0)

    @model_validator(mode="after")
    def _min_below_max(self) -> DailyWeather:
        if self.t_min_c > self.t_max_c:
            raise ValueError(f"{self.day}: t_min_c {self.t_min_c} > t_max_c {self.t_max_c}")
        return self

    @property
    def t_mean_c(self) -> float:
        return (self.t_min_c + self.t_max_c) / 2.0


@dataclass(frozen=True)
class Weather(Sequence[DailyWeather]):
    """Consecutive days of weather; `on(i)` is day i of a season starting on the first.

    `hold_last` keeps the last day's weather for ever after: a constant climate is one day.
    """

    days: tuple[DailyWeather, ...]
    hold_last: bool = False

    def __post_init__(self) -> None:
        if not self.days:
            raise WeatherError("weather needs at least one day")
        gaps = [
            f"{before.day} is followed by {after.day}"
            for before, after in zip(self.days, self.days[1:], strict=False)
            if after.day - before.day != timedelta(days=1)
        ]
        if gaps:
            raise WeatherError(f"weather days must be consecutive: {'; '.join(gaps)}")

    def on(self, day_index: int) -> DailyWeather:
        """Day `day_index` (0 = the first); past the end only if `hold_last`."""
        if day_index < 0 or (day_index >= len(self.days) and not self.hold_last):
            raise WeatherError(
                f"no weather for day {day_index}: the series covers days 0 to "
                f"{len(self.days) - 1} ({self.days[0].day} to {self.days[-1].day}); "
                "give a longer series or a shorter season"
            )
        return self.days[min(day_index, len(self.days) - 1)]

    def __len__(self) -> int:
        return len(self.days)

    def __getitem__(self, index: int) -> DailyWeather:  # type: ignore[override]
        return self.days[index]

    def __iter__(self) -> Iterator[DailyWeather]:
        return iter(self.days)


# --- ET0 (FAO-56) ---------------------------------------------------------------------


def extraterrestrial_radiation_mj_m2(latitude_deg: float, day_of_year: int) -> float:
    """Ra, the daily solar radiation at the top of the atmosphere (FAO-56 eqs. 21-25)."""
    latitude = math.radians(latitude_deg)
    angle = 2 * math.pi * day_of_year / 365
    inverse_distance = 1 + 0.033 * math.cos(angle)
    declination = 0.409 * math.sin(angle - 1.39)
    cos_sunset = max(-1.0, min(1.0, -math.tan(latitude) * math.tan(declination)))
    sunset = math.acos(cos_sunset)
    return (
        24 * 60 / math.pi * SOLAR_CONSTANT_MJ_M2_MIN * inverse_distance
        * (sunset * math.sin(latitude) * math.sin(declination)
           + math.cos(latitude) * math.cos(declination) * math.sin(sunset))
    )  # fmt: skip


def hargreaves_samani_et0_mm(
    t_min_c: float, t_max_c: float, latitude_deg: float, day: date
) -> float:
    """ET0 from temperatures alone (FAO-56 eq. 52): for sites without radiation data."""
    ra_mm = MJ_M2_TO_MM * extraterrestrial_radiation_mj_m2(latitude_deg, day.timetuple().tm_yday)
    t_mean_c = (t_min_c + t_max_c) / 2
    spread = math.sqrt(max(t_max_c - t_min_c, 0.0))
    return max(0.0, HARGREAVES_SAMANI_COEFF * (t_mean_c + 17.8) * spread * ra_mm)


def hargreaves_radiation_et0_mm(t_min_c: float, t_max_c: float, radiation_mj_m2: float) -> float:
    """ET0 from measured solar radiation Rs and the mean temperature (Hargreaves 1975)."""
    t_mean_c = (t_min_c + t_max_c) / 2
    return max(0.0, HARGREAVES_RADIATION_COEFF * (t_mean_c + 17.8) * radiation_mj_m2 * MJ_M2_TO_MM)


# --- CSV ------------------------------------------------------------------------------


def load_weather_csv(path: Path | str, latitude_deg: float | None = None) -> Weather:
    """Read `path` (columns date, t_min_c, t_max_c, rain_mm and et0_mm or radiation_mj_m2;
    neither only with `latitude_deg`) and check all of it before a season runs on it.

    Every problem is collected as `path:line: what is wrong and how to fix it`, so a
    file is fixed in one go; any problem raises WeatherError listing them all.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise WeatherError(f"{path}: cannot read the weather file: {error.strerror}") from None
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        raise WeatherError(f"{path}:1: the file is empty: give a header line and one row a day")
    header = [name.strip() for name in rows[0]]
    problems = _header_problems(path, header, latitude_deg)
    if problems:
        raise WeatherError("\n".join(problems))
    days: list[DailyWeather] = []
    previous: date | None = None
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        cells = dict(zip(header, row, strict=False))
        day = _day_or_none(cells)
        if day is not None and previous is not None and day != previous + timedelta(days=1):
            problems.append(
                f"{path}:{line}: date {day} does not follow {previous}: "
                "give one row per day, in order, with no gaps"
            )
        previous = day
        parsed = _parse_row(f"{path}:{line}", cells, latitude_deg)
        if isinstance(parsed, list):
            problems += parsed
        else:
            days.append(parsed)
    if not days and not problems:
        problems.append(f"{path}:2: no days after the header: add one row a day")
    if problems:
        raise WeatherError("\n".join(problems))
    return Weather(tuple(days))


def _header_problems(path: Path, header: list[str], latitude_deg: float | None) -> list[str]:
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    problems = [
        f"{path}:1: missing column {name!r}: the header needs {', '.join(REQUIRED_COLUMNS)}"
        for name in missing
    ]
    if "et0_mm" not in header and "radiation_mj_m2" not in header and latitude_deg is None:
        problems.append(
            f"{path}:1: no 'et0_mm' or 'radiation_mj_m2' column: add one, or pass "
            "latitude_deg to estimate ET0 from the temperatures"
        )
    return problems


def _day_or_none(cells: dict[str, str]) -> date | None:
    try:
        return date.fromisoformat(cells.get("date", "").strip())
    except ValueError:
        return None


def _parse_row(
    where: str, cells: dict[str, str], latitude_deg: float | None
) -> DailyWeather | list[str]:
    """One day, or the problems of its line."""
    problems: list[str] = []
    day = _day_or_none(cells)
    if day is None:
        problems.append(f"{where}: date {cells.get('date', '')!r} is not YYYY-MM-DD")
    numbers: dict[str, float] = {}
    for name in ("t_min_c", "t_max_c", "rain_mm", "et0_mm", "radiation_mj_m2"):
        if name not in cells:
            continue
        try:
            numbers[name] = float(cells[name])
            if not math.isfinite(numbers[name]):
                raise ValueError
        except ValueError:
            problems.append(f"{where}: {name} {cells[name]!r} is not a number: write e.g. 12.5")
    t_min_c, t_max_c = numbers.get("t_min_c"), numbers.get("t_max_c")
    if t_min_c is not None and t_max_c is not None and t_min_c > t_max_c:
        problems.append(f"{where}: t_min_c {t_min_c} > t_max_c {t_max_c}: swap them?")
    for name in ("rain_mm", "et0_mm", "radiation_mj_m2"):
        if numbers.get(name, 0.0) < 0:
            problems.append(f"{where}: {name} {numbers[name]} is negative: use 0 or more")
    if problems or day is None or t_min_c is None or t_max_c is None:
        return problems
    if "et0_mm" in numbers:
        et0_mm = numbers["et0_mm"]
    elif "radiation_mj_m2" in numbers:
        et0_mm = hargreaves_radiation_et0_mm(t_min_c, t_max_c, numbers["radiation_mj_m2"])
    else:
        assert latitude_deg is not None  # the header check asked for it
        et0_mm = hargreaves_samani_et0_mm(t_min_c, t_max_c, latitude_deg, day)
    return DailyWeather(
        day=day, t_min_c=t_min_c, t_max_c=t_max_c, rain_mm=numbers["rain_mm"], et0_mm=et0_mm
    )


# --- synthetic ------------------------------------------------------------------------


class Climate(BaseModel):
    """A site's climate, enough to make up plausible weather; the defaults are a temperate
    lowland site (northern France)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    latitude_deg: float = Field(default=48.8, ge=-66, le=66)
    mean_temp_c: float = 11.5
    seasonal_amplitude_c: float = Field(default=8.0, ge=0)
    warmest_day_of_year: int = Field(default=200, ge=1, le=366)
    diurnal_range_c: float = Field(default=9.0, ge=0)
    day_to_day_sd_c: float = Field(default=2.5, ge=0)
    wet_after_dry: float = Field(default=0.25, ge=0, le=1)
    wet_after_wet: float = Field(default=0.55, ge=0, le=1)
    mean_rain_mm: float = Field(default=5.0, gt=0)

    @property
    def wet_day_share(self) -> float:
        """The long-run share of wet days of the Markov chain."""
        leaving_dry, leaving_wet = self.wet_after_dry, 1.0 - self.wet_after_wet
        total = leaving_dry + leaving_wet
        return leaving_dry / total if total > 0 else 0.0


WET_DAY_RANGE_SHARE = 0.6
"""Clouds on a wet day narrow the diurnal range to about 60 % of a dry day's."""
TEMPERATURE_PERSISTENCE = 0.7
"""Lag-one autocorrelation of daily temperature anomalies: spells of warm or cold days."""


def synthetic_weather(climate: Climate, start: date, days: int, seed: int) -> Weather:
    """`days` days of weather from `start`: a seasonal temperature cycle with persistent
    anomalies, rain from a two-state Markov chain with exponential depths, and ET0 by
    Hargreaves-Samani. The same seed gives the same series."""
    if days < 1:
        raise WeatherError(f"synthetic weather needs 1 day or more, got {days}")
    rng = np.random.default_rng([seed, 7])
    wet = _wet_days(rng, climate, days)
    rain_mm = np.where(wet, rng.exponential(climate.mean_rain_mm, days), 0.0)
    anomaly_c = _anomalies(rng, climate.day_to_day_sd_c, days)
    series = []
    for i in range(days):
        day = start + timedelta(days=i)
        phase = 2 * math.pi * (day.timetuple().tm_yday - climate.warmest_day_of_year) / 365
        mean_c = climate.mean_temp_c + climate.seasonal_amplitude_c * math.cos(phase)
        half_range_c = climate.diurnal_range_c / 2 * (WET_DAY_RANGE_SHARE if wet[i] else 1.0)
        t_min_c = mean_c + anomaly_c[i] - half_range_c
        t_max_c = mean_c + anomaly_c[i] + half_range_c
        series.append(
            DailyWeather(
                day=day,
                t_min_c=t_min_c,
                t_max_c=t_max_c,
                rain_mm=float(rain_mm[i]),
                et0_mm=hargreaves_samani_et0_mm(t_min_c, t_max_c, climate.latitude_deg, day),
            )
        )
    return Weather(tuple(series))


def _wet_days(rng: np.random.Generator, climate: Climate, days: int) -> list[bool]:
    draws = rng.uniform(0, 1, days)
    wet = [bool(draws[0] < climate.wet_day_share)]
    for draw in draws[1:]:
        wet.append(bool(draw < (climate.wet_after_wet if wet[-1] else climate.wet_after_dry)))
    return wet


def _anomalies(rng: np.random.Generator, sd_c: float, days: int) -> list[float]:
    """An AR(1) series with standard deviation `sd_c` and TEMPERATURE_PERSISTENCE."""
    innovation_sd = sd_c * math.sqrt(1 - TEMPERATURE_PERSISTENCE**2)
    shocks = rng.normal(0.0, innovation_sd, days)
    values = [float(rng.normal(0.0, sd_c))]
    for shock in shocks[1:]:
        values.append(TEMPERATURE_PERSISTENCE * values[-1] + float(shock))
    return values
