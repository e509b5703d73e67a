"""A research scenario file: sites, a trial, a strategy, seasons and seeds, checked up front.

A campaign of a hundred simulated seasons must not die at run 57 on a typo, so the whole
file is checked before anything runs: its shape (unknown keys get a "did you mean"), the
robot profiles and crops, every weather CSV it names, and that the trial fits each bed.
Every problem found is reported at once as `file:line:column: key.path: message`:

    name: weeding every 3 days
    seeds: 10                    # or a list: [1, 2, 7]
    seasons: 1                   # season k starts k years after `start`, with other seeds
    days: 60
    start: 2026-04-15
    sites:
      - name: avignon
        profile: genesis
        weather: {csv: weather/avignon-2025.csv, latitude_deg: 43.9}   # relative to this file
      - name: lille
        weather: {synthetic: {latitude_deg: 50.6, mean_temp_c: 10.8, mean_rain_mm: 4.5}}
    trial: {blocks: 4, crop: lettuce, treatments: {dry: 0, wet: 150}, control: dry}
    strategy:
      watering: {kind: fixed, every_days: 2}
      weed_every_days: 3

The file then expands into one `SiteSeason` per site, season and seed.
"""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, Self, get_args

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, ValidationError, model_validator

from controller.sequence_load import DataPath, Loaded, SequenceError, load_file
from potager.robots import UnknownProfileError, get_profile
from sim import SimulatorError
from sim.crops import CropError, crop
from sim.research import ResearchError, SiteSeason, Watering, check_layout
from sim.season import check_control
from sim.soil import SoilParams
from sim.weather import Climate, Weather, WeatherError, load_weather_csv, synthetic_weather


class ScenarioError(SimulatorError):
    """A scenario that cannot run; the message lists every problem, one per line."""

    def __init__(self, problems: list[str], source: str = "") -> None:
        self.problems = problems
        heading = f"{source}: " if source else ""
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(f"{heading}{count} to fix:\n" + "\n".join(f"  {p}" for p in problems))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WeatherSource(_Strict):
    """A site's weather: a recorded (or prepared) CSV file, or days drawn from a climate."""

    csv: str | None = Field(default=None, description="path relative to the scenario file")
    latitude_deg: float | None = Field(default=None, ge=-90, le=90)
    synthetic: Climate | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.csv is None) == (self.synthetic is None):
            raise ValueError("give either `csv` (with `latitude_deg`) or `synthetic`, not both")
        if self.csv is not None and self.latitude_deg is None:
            raise ValueError("a CSV weather file needs the site's `latitude_deg`")
        if self.synthetic is not None and self.latitude_deg is not None:
            raise ValueError("`latitude_deg` goes with `csv`; a synthetic climate has its own")
        return self


class Site(_Strict):
    """A place the trial is run: its robot, its weather and how weedy its ground is."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=60)
    profile: str = "genesis-xl"
    bed_mm: tuple[PositiveFloat, PositiveFloat] | None = Field(
        default=None, description="x, y; default: all the robot reaches"
    )
    weather: WeatherSource | None = None
    weed_pressure: float = Field(default=1.0, ge=0, description="x the usual weed emergence")
    soil: SoilParams | None = Field(default=None, description="default: a sandy loam")


class Trial(_Strict):
    """The field design laid onto every site's bed."""

    design: Literal["rcbd"] = "rcbd"
    blocks: int = Field(default=4, ge=2)
    crop: str = "lettuce"
    treatments: dict[str, Annotated[float, Field(ge=0)]] = Field(
        min_length=2, description="ml per plant per watering"
    )
    control: str
    plot_mm: tuple[float, float] = Field(default=(400.0, 400.0), description="x, y")
    gap_mm: tuple[float, float] = Field(default=(150.0, 150.0), description="between plots")
    origin_mm: tuple[float, float] = Field(default=(300.0, 300.0), description="bed margin")
    plant_spacing_mm: float = Field(default=200.0, gt=0)

    @model_validator(mode="after")
    def _control_is_a_treatment(self) -> Self:
        check_control(self.control, self.treatments)
        return self


class Strategy(_Strict):
    """What the robot is told to do: how it waters and how often it weeds."""

    watering: Watering
    weed_every_days: int = Field(ge=1)
    weed_miss_rate: float = Field(default=0.1, ge=0, le=1)


class Scenario(_Strict):
    """A whole campaign: the same trial and strategy at every site, season and seed."""

    name: str = Field(min_length=1, max_length=120)
    seeds: int | list[int] = 3
    seasons: int = Field(default=1, ge=1)
    days: int = Field(ge=1)
    start: date
    sites: list[Site] = Field(min_length=1)
    trial: Trial
    strategy: Strategy

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        names = [site.name for site in self.sites]
        doubled = sorted({name for name in names if names.count(name) > 1})
        if doubled:
            raise ValueError(f"site names must differ; used twice: {', '.join(doubled)}")
        if isinstance(self.seeds, int) and self.seeds < 1:
            raise ValueError("seeds must be a count of 1 or more, or a list of seeds")
        if isinstance(self.seeds, list) and (
            not self.seeds or len(set(self.seeds)) < len(self.seeds)
        ):
            raise ValueError("a list of seeds must not be empty nor repeat a seed")
        return self

    def seed_list(self) -> list[int]:
        """The seeds run at every site and season; a count n means seeds 1 to n."""
        return list(range(1, self.seeds + 1)) if isinstance(self.seeds, int) else list(self.seeds)


@dataclass(frozen=True)
class PlannedRun:
    """One site, season and seed of a scenario, with the exact inputs of its simulation."""

    site: str
    season: int
    seed: int
    inputs: SiteSeason

    @property
    def key(self) -> str:
        """The run's name in file names and progress lines: `lyon-s0-3`."""
        return f"{self.site}-s{self.season}-{self.seed}"


@dataclass(frozen=True)
class LoadedScenario:
    """A checked scenario and the weather its CSVs hold, by site."""

    scenario: Scenario
    recorded: dict[str, Weather]

    def runs(self) -> list[PlannedRun]:
        """Every site x season x seed, in that order."""
        return [
            self._run(site, season, seed)
            for site in self.scenario.sites
            for season in range(self.scenario.seasons)
            for seed in self.scenario.seed_list()
        ]

    def _run(self, site: Site, season: int, seed: int) -> PlannedRun:
        return PlannedRun(site.name, season, seed, site_season(self, site, season, seed))


def load_scenario(
    path: str | Path, *, days: int | None = None, seeds: int | None = None
) -> LoadedScenario:
    """Read and check a scenario; `days` and `seeds` shorten it (a smoke test, a class).

    ScenarioError lists every problem found, each with file, line and column.
    """
    try:
        loaded = load_file(path)
    except SequenceError as error:
        raise ScenarioError(error.problems) from None
    if isinstance(loaded.data, dict):
        loaded.data.update(_overrides(loaded.data, days, seeds))
    problems: list[str] = []
    try:
        scenario = Scenario.model_validate(loaded.data)
    except ValidationError as error:
        raise ScenarioError(located_problems(loaded, error, Scenario), loaded.source) from None
    recorded = _recorded_weather(loaded, scenario, Path(path).parent, problems)
    result = LoadedScenario(scenario, recorded)
    _check_sites(loaded, result, problems)
    if problems:
        raise ScenarioError(problems, loaded.source)
    return result


def _overrides(data: dict[str, Any], days: int | None, seeds: int | None) -> dict[str, Any]:
    """Shortening keeps a list of seeds' first ones, so a short run is a subset of the long."""
    update: dict[str, Any] = {}
    if days is not None:
        update["days"] = days
    if seeds is not None:
        listed = data.get("seeds")
        update["seeds"] = listed[:seeds] if isinstance(listed, list) else seeds
    return update


def site_season(loaded: LoadedScenario, site: Site, season: int, seed: int) -> SiteSeason:
    """The simulation inputs of one run. Its world seed mixes site, season and seed, so sites
    and seasons draw different worlds while two scenarios share them run for run (which is
    what lets `compare` pair their seeds)."""
    scenario, trial, strategy = loaded.scenario, loaded.scenario.trial, loaded.scenario.strategy
    start = _years_later(scenario.start, season)
    world_seed = _world_seed(site.name, season, seed)
    return SiteSeason(
        site=site.name,
        profile=site.profile,
        bed_mm=site.bed_mm,
        crop=trial.crop,
        days=scenario.days,
        start=start,
        treatments=trial.treatments,
        control=trial.control,
        blocks=trial.blocks,
        plot_mm=trial.plot_mm,
        gap_mm=trial.gap_mm,
        origin_mm=trial.origin_mm,
        plant_spacing_mm=trial.plant_spacing_mm,
        watering=strategy.watering,
        weed_every_days=strategy.weed_every_days,
        weed_miss_rate=strategy.weed_miss_rate,
        weather=_weather(loaded, site, start, scenario.days, world_seed),
        weed_pressure=site.weed_pressure,
        soil=site.soil,
        seed=world_seed,
    )


def _weather(
    loaded: LoadedScenario, site: Site, start: date, days: int, seed: int
) -> Weather | None:
    if site.weather is None:
        return None
    if site.weather.synthetic is not None:
        return synthetic_weather(site.weather.synthetic, start, days, seed)
    return season_slice(loaded.recorded[site.name], start, days)


def season_slice(recorded: Weather, start: date, days: int) -> Weather:
    """A recorded year replayed from the season's calendar day, so every season of a
    multi-year scenario meets the weather of its time of year; the days are dated anew."""
    first = next(
        (
            i
            for i, day in enumerate(recorded)
            if (day.day.month, day.day.day) == (start.month, start.day)
        ),
        None,
    )
    if first is None or first + days > len(recorded):
        raise WeatherError(
            f"the weather runs from {recorded[0].day} to {recorded[-1].day}: it must hold "
            f"{days} days from {start:%d %B} on"
        )
    replayed = recorded.days[first : first + days]
    return Weather(
        tuple(
            day.model_copy(update={"day": start + timedelta(days=i)})
            for i, day in enumerate(replayed)
        )
    )


def _years_later(start: date, years: int) -> date:
    """The same day `years` later; 29 February becomes the 28th in common years."""
    try:
        return start.replace(year=start.year + years)
    except ValueError:
        return start.replace(year=start.year + years, day=28)


def _world_seed(site: str, season: int, seed: int) -> int:
    digest = hashlib.sha256(f"{site}/{season}/{seed}".encode()).digest()
    return int.from_bytes(digest[:4], "big") >> 1


def _recorded_weather(
    loaded: Loaded, scenario: Scenario, folder: Path, problems: list[str]
) -> dict[str, Weather]:
    """Every site's weather CSV, read once; a bad line is reported under the site's key."""
    recorded: dict[str, Weather] = {}
    for index, site in enumerate(scenario.sites):
        source = site.weather
        if source is None or source.csv is None or source.latitude_deg is None:
            continue
        path = ("sites", index, "weather", "csv")
        try:
            recorded[site.name] = load_weather_csv(folder / source.csv, source.latitude_deg)
        except WeatherError as error:
            problems.append(_problem(loaded, path, str(error)))
    return recorded


def _check_sites(loaded: Loaded, scenario: LoadedScenario, problems: list[str]) -> None:
    """Every site's runs built and its trial laid out: robot, crop, weather covering every
    season, bed size, before any run (one seed stands for all: they share the sizes)."""
    try:
        crop(scenario.scenario.trial.crop)
    except CropError as error:
        problems.append(_problem(loaded, ("trial", "crop"), str(error)))
    for index, site in enumerate(scenario.scenario.sites):
        where: DataPath = ("sites", index)
        try:
            get_profile(site.profile)
        except UnknownProfileError as error:
            problems.append(_problem(loaded, (*where, "profile"), str(error)))
        if not problems:  # a run cannot be built on a problem already listed
            problems += _site_problems(loaded, scenario, site, where)


def _site_problems(
    loaded: Loaded, scenario: LoadedScenario, site: Site, where: DataPath
) -> list[str]:
    first_seed = scenario.scenario.seed_list()[0]
    try:
        seasons = [
            site_season(scenario, site, season, first_seed)
            for season in range(scenario.scenario.seasons)
        ]
        check_layout(seasons[0])
    except WeatherError as error:
        return [_problem(loaded, (*where, "weather"), str(error))]
    except ResearchError as error:
        return [_problem(loaded, ("trial",), str(error))]
    except ValidationError as error:
        return [_problem(loaded, _origin(where, d["loc"]), d["msg"]) for d in error.errors()]
    return []


_FROM_TRIAL = {"crop", "treatments", "control", "blocks", "plot_mm", "gap_mm", "origin_mm"}
_FROM_STRATEGY = {"watering", "weed_every_days", "weed_miss_rate"}


def _origin(site: DataPath, loc: tuple[Any, ...]) -> DataPath:
    """Where in the file a SiteSeason input came from, for its validation errors."""
    field = str(loc[0]) if loc else ""
    if field in _FROM_TRIAL or field == "plant_spacing_mm":
        return ("trial", field)
    if field in _FROM_STRATEGY:
        return ("strategy", field)
    if field in ("days", "start"):
        return (field,)
    return (*site, field) if field else site


def _problem(loaded: Loaded, path: DataPath, message: str) -> str:
    key = f" {_dotted(path)}:" if path else ""  # the whole file has no key to name
    return f"{loaded.at(path)}:{key} {message}"


# ------------------------------------------------------ pydantic errors at their lines


def located_problems(loaded: Loaded, error: ValidationError, model: type[BaseModel]) -> list[str]:
    """pydantic's errors as `file:line:column: key.path: message`, unknown keys with a
    suggestion taken from the keys `model` allows at that place."""
    messages: dict[DataPath, list[str]] = {}
    for detail in error.errors():
        path = _data_path(loaded.data, tuple(detail["loc"]))
        message = str(detail["msg"])
        if detail["type"] == "extra_forbidden":
            message = _unknown_key(str(path[-1]), _allowed_keys(model, path[:-1]))
        messages.setdefault(path, []).append(message)
    # A union (`seeds: 3` or `seeds: [1, 2]`) fails once per choice: one line says it all.
    return [_problem(loaded, path, "; or ".join(texts)) for path, texts in messages.items()]


def _data_path(data: Any, loc: tuple[Any, ...]) -> DataPath:
    """pydantic's location as a path through the data: union tags (`int`, `fixed`) are
    steps of the validator, not of the file, so parts the data does not have are dropped,
    except the last (a missing or unknown key)."""
    path: list[str | int] = []
    node = data
    for position, part in enumerate(loc):
        if _holds(node, part):
            node = node[part]
        elif position < len(loc) - 1 or not isinstance(node, dict):
            continue  # a union's tag, not a key of the file
        path.append(part)
    return tuple(path)


def _holds(node: Any, part: Any) -> bool:
    if isinstance(node, dict):
        return part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)


def _allowed_keys(model: type[BaseModel], path: DataPath) -> list[str]:
    models = [model]
    for part in path:
        if isinstance(part, str):
            fields = [m.model_fields[part] for m in models if part in m.model_fields]
            models = [found for field in fields for found in _models_in(field.annotation)]
    return sorted({name for m in models for name in m.model_fields})


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The models a field holds, through lists, unions and `Annotated`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for argument in get_args(annotation) for model in _models_in(argument)]


def _unknown_key(key: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        return f"unknown key {key!r}; did you mean {close[0]!r}?"
    return f"unknown key {key!r}; the keys here are: {', '.join(allowed)}"


def _dotted(path: DataPath) -> str:
    return ".".join(str(part) for part in path)
