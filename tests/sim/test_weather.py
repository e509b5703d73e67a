"""Weather for a season: station CSVs checked line by line, ET0 by FAO-56, and made-up
weather that is reproducible and looks like its climate."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest

from sim import SimulatorError
from sim.weather import (
    Climate,
    DailyWeather,
    Weather,
    WeatherError,
    extraterrestrial_radiation_mj_m2,
    hargreaves_samani_et0_mm,
    load_weather_csv,
    synthetic_weather,
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "station.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_file_loads_with_its_et0(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "date,t_min_c,t_max_c,rain_mm,et0_mm\n"
        "2026-05-01,8.5,19.0,0,3.2\n"
        "2026-05-02,9.0,17.5,4.5,2.1\n",
    )
    weather = load_weather_csv(path)
    assert len(weather) == 2 and weather.on(1).rain_mm == 4.5 and weather[0].et0_mm == 3.2
    assert weather.on(0).t_mean_c == pytest.approx(13.75)


def test_every_problem_is_reported_with_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "date,t_min_c,t_max_c,rain_mm,et0_mm\n"
        "2026-05-01,8.5,19.0,0,3.2\n"
        "2026-05-02,warm,17.5,0,2.1\n"
        "2026-05-03,20.0,17.5,0,2.1\n"
        "2026-05-04,9.0,17.5,-2,2.1\n"
        "2026-05-06,9.0,17.5,0,2.1\n",
    )
    with pytest.raises(WeatherError) as caught:
        load_weather_csv(path)
    message = str(caught.value)
    assert f"{path}:3: t_min_c 'warm' is not a number" in message
    assert f"{path}:4: t_min_c 20.0 > t_max_c 17.5" in message
    assert f"{path}:5: rain_mm -2.0 is negative" in message
    assert f"{path}:6: date 2026-05-06 does not follow 2026-05-04" in message
    assert isinstance(caught.value, SimulatorError)


def test_missing_columns_and_empty_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(WeatherError, match=r"station.csv:1: missing column 'rain_mm'"):
        load_weather_csv(write(tmp_path, "date,t_min_c,t_max_c,et0_mm\n2026-05-01,1,2,3\n"))
    with pytest.raises(WeatherError, match=r"station.csv:1: no 'et0_mm' or 'radiation_mj_m2'"):
        load_weather_csv(write(tmp_path, "date,t_min_c,t_max_c,rain_mm\n2026-05-01,1,2,3\n"))
    with pytest.raises(WeatherError, match=r"station.csv:1: the file is empty"):
        load_weather_csv(write(tmp_path, ""))
    with pytest.raises(WeatherError, match=r"station.csv:2: no days after the header"):
        load_weather_csv(write(tmp_path, "date,t_min_c,t_max_c,rain_mm,et0_mm\n"))


def test_et0_comes_from_radiation_or_from_the_latitude(tmp_path: Path) -> None:
    rows = "2026-07-01,14,28,0"
    radiation = load_weather_csv(
        write(tmp_path, f"date,t_min_c,t_max_c,rain_mm,radiation_mj_m2\n{rows},25\n")
    )
    latitude = load_weather_csv(
        write(tmp_path, f"date,t_min_c,t_max_c,rain_mm\n{rows}\n"), latitude_deg=48.8
    )
    # a clear July day in northern France: 5 to 7 mm either way
    assert 5.0 < radiation.on(0).et0_mm < 7.0 and 5.0 < latitude.on(0).et0_mm < 7.0


def test_extraterrestrial_radiation_matches_fao56_example_8() -> None:
    """FAO-56 Example 8: 20 degrees south, 3 September: Ra = 32.2 MJ/m2/day."""
    assert extraterrestrial_radiation_mj_m2(-20.0, 246) == pytest.approx(32.2, abs=0.1)
    winter = hargreaves_samani_et0_mm(-2.0, 4.0, 55.0, date(2026, 12, 21))
    summer = hargreaves_samani_et0_mm(12.0, 26.0, 55.0, date(2026, 6, 21))
    assert winter < 0.5 < 4.0 < summer


def test_a_series_is_consecutive_and_ends_unless_held() -> None:
    day = DailyWeather(day=date(2026, 5, 1), t_min_c=5, t_max_c=15, rain_mm=0, et0_mm=2)
    later = day.model_copy(update={"day": date(2026, 5, 3)})
    with pytest.raises(WeatherError, match="consecutive"):
        Weather((day, later))
    with pytest.raises(WeatherError, match="no weather for day 1"):
        Weather((day,)).on(1)
    assert Weather((day,), hold_last=True).on(100) == day


def test_synthetic_weather_is_reproducible_and_looks_like_its_climate() -> None:
    climate = Climate(mean_temp_c=11.0, seasonal_amplitude_c=8.0)
    year = synthetic_weather(climate, date(2026, 1, 1), 365, seed=3)
    assert synthetic_weather(climate, date(2026, 1, 1), 365, seed=3) == year
    assert synthetic_weather(climate, date(2026, 1, 1), 365, seed=4) != year
    means = np.array([day.t_mean_c for day in year])
    assert means.mean() == pytest.approx(11.0, abs=1.0)
    assert means[170:230].mean() - means[:30].mean() > 10  # summer is warmer than January
    assert all(day.t_min_c <= day.t_max_c and day.rain_mm >= 0 for day in year)
    wet = np.array([day.rain_mm > 0 for day in year])
    assert wet.mean() == pytest.approx(climate.wet_day_share, abs=0.08)
    rain = np.array([day.rain_mm for day in year])[wet]
    assert rain.mean() == pytest.approx(climate.mean_rain_mm, rel=0.3)
    summer_et0 = np.mean([day.et0_mm for day in year[160:220]])
    assert 3.0 < summer_et0 < 6.0
