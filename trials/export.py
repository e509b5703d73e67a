"""Trials out and in: field book CSV, observations wide and long, a trait dictionary, BrAPI v2
JSON and an ISA-Tab (MIAPPE) archive.

Everything here works on tidy rows, the shape every other part of `trials` already speaks
(a field book's `field_book_rows()`, the store's observation rows), so a trial can be
exported straight from a design, from the database or from an imported CSV alike.

Field book columns follow agricolae's (`plot`, `block`, `row`, `col`, then one column per
factor) with Potager's `site`, `treatment` and `check` beside them; a factor column is
named after its factor. BrAPI: the PyPI package named `brapi` is an unrelated client for
stock markets, so the JSON is built here from the v2.1 specification's field names.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from trials import TrialError
from trials.design import FieldBook, PlotRecord

FIELD_BOOK_COLUMNS = ("plot", "site", "block", "rep", "row", "col", "treatment", "check")
"""The fixed columns, in order; factor columns follow them."""
STRUCTURE_COLUMNS = ("main_plot", "sub_plot", "strip_row", "strip_col")
"""Split- and strip-plot positions: written after the factors when a design has them."""
REQUIRED_COLUMNS = ("plot", "row", "col", "treatment")
TRUE_WORDS = frozenset({"1", "true", "yes", "y", "oui", "x"})
FALSE_WORDS = frozenset({"", "0", "false", "no", "n", "non"})


class PlotRow(BaseModel):
    """One plot of a field book (micro-parcelle), as read from or written to a CSV."""

    plot: int
    site: str | None = None
    block: int | None = None
    rep: int | None = None
    row: int
    col: int
    treatment: str
    check: bool = False
    factors: dict[str, str] = Field(default_factory=dict)
    structure: dict[str, int] = Field(default_factory=dict)
    """main_plot, sub_plot, strip_row, strip_col where the design has them"""


class Variable(BaseModel):
    """An observed variable, the trait dictionary's entry (MIAPPE: observed variable)."""

    name: str
    unit: str = ""
    method: str = ""
    scale: Literal["numeric", "ordinal", "categorical", "date", "text"] = "numeric"
    minimum: float | None = None
    maximum: float | None = None
    categories: list[str] = Field(default_factory=list)


class Observation(BaseModel):
    """One recorded value of one variable on one plot."""

    plot: int
    site: str | None = None
    variable: str
    value: float | str
    observed_at: datetime
    recorded_by: str = ""


class TrialInfo(BaseModel):
    """What exports say about the trial itself."""

    name: str
    design: str
    description: str = ""
    sites: list[str] = Field(default_factory=list)


def plot_rows(
    rows: Iterable[Mapping[str, Any]], where: str = "field book row", first: int = 1
) -> list[PlotRow]:
    """Tidy field book rows (a design's or a CSV's) as checked `PlotRow`s.

    Keys outside the fixed columns are factor levels; a row missing a required column, or
    with a number that is not one, is refused as `where` plus its number (from `first`).
    """
    plots = []
    for number, row in enumerate(rows, start=first):
        place = f"{where} {number}"
        missing = [name for name in REQUIRED_COLUMNS if row.get(name) in (None, "")]
        if missing:
            raise TrialError(f"{place}: no value for {', '.join(missing)}")
        known = (*FIELD_BOOK_COLUMNS, *STRUCTURE_COLUMNS, "factors")
        factors = {
            str(key): str(value)
            for key, value in row.items()
            if key not in known and value not in (None, "")
        }
        factors.update({str(k): str(v) for k, v in dict(row.get("factors") or {}).items()})
        plots.append(
            PlotRow(
                plot=_integer(row["plot"], "plot", place),
                site=_text_or_none(row.get("site")),
                block=_optional_integer(row.get("block"), "block", place),
                rep=_optional_integer(row.get("rep"), "rep", place),
                row=_integer(row["row"], "row", place),
                col=_integer(row["col"], "col", place),
                treatment=str(row["treatment"]),
                check=_flag(row.get("check"), place),
                factors=factors,
                structure={
                    name: _integer(row[name], name, place)
                    for name in STRUCTURE_COLUMNS
                    if row.get(name) not in (None, "")
                },
            )
        )
    _refuse_duplicates(plots, where, first)
    return plots


def _integer(value: Any, column: str, place: str) -> int:
    try:
        whole = float(value)
    except (TypeError, ValueError):
        raise TrialError(f"{place}: {column} {value!r} is not a number") from None
    if not whole.is_integer():
        raise TrialError(f"{place}: {column} {value!r} is not a whole number")
    return int(whole)


def _optional_integer(value: Any, column: str, place: str) -> int | None:
    return None if value in (None, "") else _integer(value, column, place)


def _text_or_none(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _flag(value: Any, place: str) -> bool:
    if isinstance(value, bool):
        return value
    word = "" if value is None else str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise TrialError(f"{place}: check {value!r} is not yes/no (or 1/0)")


def _refuse_duplicates(plots: Sequence[PlotRow], where: str, first: int) -> None:
    seen: dict[tuple[str | None, int], int] = {}
    for index, plot in enumerate(plots, start=first):
        key = (plot.site, plot.plot)
        if key in seen:
            at = f" at site {plot.site}" if plot.site else ""
            raise TrialError(
                f"{where}s {seen[key]} and {index}: plot {plot.plot}{at} appears twice"
            )
        seen[key] = index


def field_book_csv(plots: Sequence[PlotRow]) -> str:
    """The field book as CSV text: fixed columns, then one column per factor."""
    factors = sorted({name for plot in plots for name in plot.factors})
    structure = [name for name in STRUCTURE_COLUMNS if any(name in p.structure for p in plots)]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*FIELD_BOOK_COLUMNS, *factors, *structure])
    for plot in plots:
        fixed = [plot.plot, plot.site or "", _blank(plot.block), _blank(plot.rep)]
        fixed += [plot.row, plot.col, plot.treatment, "yes" if plot.check else "no"]
        levels = [plot.factors.get(name, "") for name in factors]
        writer.writerow([*fixed, *levels, *(_blank(plot.structure.get(n)) for n in structure)])
    return buffer.getvalue()


def _blank(value: int | None) -> int | str:
    return "" if value is None else value


def design_book(plots: Sequence[PlotRow], design: str = "imported") -> FieldBook:
    """A field book read from CSV as the design module's `FieldBook`, to lay it out."""
    if not plots:
        raise TrialError("the field book has no plots")
    factor_names = sorted({name for plot in plots for name in plot.factors})
    levels = {
        name: sorted({plot.factors[name] for plot in plots if name in plot.factors})
        for name in factor_names
    }
    records = [
        PlotRecord(
            plot=plot.plot,
            block=plot.block,
            rep=plot.rep,
            row=plot.row,
            col=plot.col,
            treatment=plot.treatment,
            factors=dict(plot.factors),
            check=plot.check,
            site=plot.site,
            **plot.structure,
        )
        for plot in plots
    ]
    sites = sorted({plot.site for plot in plots if plot.site})
    return FieldBook(design=design, factors=levels, seed=0, plots=records, sites=sites)


def read_field_book_csv(source: str | Path) -> list[PlotRow]:
    """A field book CSV (ours, or agricolae's with `plots` for `plot`), checked row by row."""
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise TrialError(f"cannot read field book {path}: {error.strerror or error}") from None
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None:
        raise TrialError(f"{path} is empty: a field book needs a header row")
    renamed = [{"plots": "plot"}.get(name.strip(), name.strip()) for name in reader.fieldnames]
    absent = [name for name in REQUIRED_COLUMNS if name not in renamed]
    if absent:
        raise TrialError(
            f"{path} has no column {', '.join(absent)}; a field book needs "
            f"{', '.join(REQUIRED_COLUMNS)} (and may have site, block, check, factors)"
        )
    rows = [dict(zip(renamed, values.values(), strict=False)) for values in reader]
    return plot_rows(rows, where=f"{path} line", first=2)  # the header is line 1


IMPORT_COLUMNS = ("plot", "variable", "value", "observed_at", "source")


def csv_records(text: str, where: str) -> list[dict[str, str]]:
    """The data lines of a CSV text as dicts by header; `;`-separated files (as French
    spreadsheets save) are read too."""
    sample = text[:4096]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    records = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff")), delimiter=delimiter))
    if not records:
        raise TrialError(f"{where} has no data lines under its header")
    return records


def observation_rows(records: Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
    """The columns an observation import reads (plot, variable, value, observed_at, source)."""
    return [
        {key: row[key] for key in IMPORT_COLUMNS if row.get(key) not in (None, "")}
        for row in records
    ]


def observations_long_csv(
    observations: Sequence[Observation], variables: Sequence[Variable]
) -> str:
    """One line per observation: plot, site, variable, value, unit, time, who."""
    units = {variable.name: variable.unit for variable in variables}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["plot", "site", "variable", "value", "unit", "observed_at", "recorded_by"])
    for item in sorted(
        observations, key=lambda o: (o.site or "", o.plot, o.variable, o.observed_at)
    ):
        writer.writerow(
            [
                item.plot,
                item.site or "",
                item.variable,
                item.value,
                units.get(item.variable, ""),
                item.observed_at.isoformat(),
                item.recorded_by,
            ]
        )
    return buffer.getvalue()


def observations_wide_csv(plots: Sequence[PlotRow], observations: Sequence[Observation]) -> str:
    """One line per plot with its design columns and one column per variable.

    A plot observed more than once for a variable shows its latest value: the wide table
    is what analysis reads; the long table keeps every value and its time.
    """
    latest: dict[tuple[str | None, int, str], Observation] = {}
    for item in sorted(observations, key=lambda o: o.observed_at):
        latest[(item.site, item.plot, item.variable)] = item
    names = sorted({item.variable for item in observations})
    book = field_book_csv(plots).splitlines()
    rows = list(csv.reader(book))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*rows[0], *names])
    for plot, cells in zip(plots, rows[1:], strict=True):
        values = [latest.get((plot.site, plot.plot, name)) for name in names]
        writer.writerow([*cells, *("" if value is None else value.value for value in values)])
    return buffer.getvalue()


def trait_dictionary_csv(variables: Sequence[Variable]) -> str:
    """The variables with their unit, method, scale and valid values."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["variable", "unit", "method", "scale", "minimum", "maximum", "categories"])
    for variable in variables:
        bounds = ["" if bound is None else bound for bound in (variable.minimum, variable.maximum)]
        categories = "|".join(variable.categories)
        writer.writerow(
            [variable.name, variable.unit, variable.method, variable.scale, *bounds, categories]
        )
    return buffer.getvalue()


BRAPI_DATA_TYPES = {
    "numeric": "Numerical",
    "ordinal": "Ordinal",
    "categorical": "Nominal",
    "date": "Date",
    "text": "Text",
}


def brapi_json(
    trial: TrialInfo,
    plots: Sequence[PlotRow],
    variables: Sequence[Variable],
    observations: Sequence[Observation],
) -> dict[str, list[dict[str, Any]]]:
    """The trial as BrAPI v2 objects: one study per site (a single site when none is named),
    observation units with their grid position, block and treatments."""
    sites = sorted({plot.site or trial.name for plot in plots})
    trial_id = _identifier(trial.name)
    units = [_brapi_unit(trial, trial_id, plot) for plot in plots]
    return {
        "trials": [
            {
                "trialDbId": trial_id,
                "trialName": trial.name,
                "trialDescription": trial.description,
                "active": True,
            }
        ],
        "locations": [
            {"locationDbId": _identifier(site), "locationName": site, "locationType": "Field"}
            for site in sites
        ],
        "studies": [
            {
                "studyDbId": f"{trial_id}-{_identifier(site)}",
                "studyName": f"{trial.name} ({site})",
                "trialDbId": trial_id,
                "locationDbId": _identifier(site),
                "experimentalDesign": {"PUI": trial.design, "description": trial.description},
            }
            for site in sites
        ],
        "observationVariables": [_brapi_variable(variable) for variable in variables],
        "observationUnits": units,
        "observations": [
            _brapi_observation(trial, trial_id, number, item)
            for number, item in enumerate(observations, start=1)
        ],
    }


def _identifier(name: str) -> str:
    """A stable id made from a name: lower case, runs of anything else as one dash."""
    word = "".join(character if character.isalnum() else "-" for character in name.lower())
    return "-".join(part for part in word.split("-") if part) or "unnamed"


def _unit_id(trial_id: str, site: str | None, plot: int) -> str:
    return f"{trial_id}-{_identifier(site)}-{plot}" if site else f"{trial_id}-{plot}"


def _brapi_unit(trial: TrialInfo, trial_id: str, plot: PlotRow) -> dict[str, Any]:
    site = plot.site or trial.name
    relationships = []
    if plot.block is not None:
        relationships.append({"levelName": "block", "levelCode": str(plot.block)})
    return {
        "observationUnitDbId": _unit_id(trial_id, plot.site, plot.plot),
        "observationUnitName": f"plot {plot.plot}",
        "studyDbId": f"{trial_id}-{_identifier(site)}",
        "trialDbId": trial_id,
        "locationDbId": _identifier(site),
        "germplasmName": plot.treatment,
        "treatments": [
            {"factor": factor, "modality": level} for factor, level in sorted(plot.factors.items())
        ]
        or [{"factor": "treatment", "modality": plot.treatment}],
        "observationUnitPosition": {
            "entryType": "CHECK" if plot.check else "TEST",
            "observationLevel": {"levelName": "plot", "levelCode": str(plot.plot)},
            "observationLevelRelationships": relationships,
            "positionCoordinateX": str(plot.col),
            "positionCoordinateXType": "GRID_COL",
            "positionCoordinateY": str(plot.row),
            "positionCoordinateYType": "GRID_ROW",
        },
    }


def _brapi_variable(variable: Variable) -> dict[str, Any]:
    valid: dict[str, Any] = {}
    if variable.minimum is not None:
        valid["min"] = variable.minimum
    if variable.maximum is not None:
        valid["max"] = variable.maximum
    if variable.categories:
        valid["categories"] = [{"value": category} for category in variable.categories]
    return {
        "observationVariableDbId": _identifier(variable.name),
        "observationVariableName": variable.name,
        "trait": {"traitName": variable.name},
        "method": {"methodName": variable.method or "unspecified"},
        "scale": {
            "scaleName": variable.unit or variable.scale,
            "dataType": BRAPI_DATA_TYPES[variable.scale],
            "validValues": valid,
        },
    }


def _brapi_observation(
    trial: TrialInfo, trial_id: str, number: int, item: Observation
) -> dict[str, Any]:
    return {
        "observationDbId": f"{trial_id}-obs-{number}",
        "observationUnitDbId": _unit_id(trial_id, item.site, item.plot),
        "studyDbId": f"{trial_id}-{_identifier(item.site or trial.name)}",
        "observationVariableDbId": _identifier(item.variable),
        "observationVariableName": item.variable,
        "value": str(item.value),
        "observationTimeStamp": item.observed_at.isoformat(),
        "collector": item.recorded_by,
    }


def isa_tab_archive(
    trial: TrialInfo,
    plots: Sequence[PlotRow],
    variables: Sequence[Variable],
    observations: Sequence[Observation],
) -> bytes:
    """A zip of an ISA-Tab investigation laid out as MIAPPE asks: the investigation file,
    one study file (observation units with their factor values), one assay file pointing
    at the observations data file, the data file itself and the trait dictionary."""
    study_file, assay_file = "s_study.txt", "a_phenotyping.txt"
    data_file, traits_file = "d_observations.csv", "trait_dictionary.csv"
    factors = sorted({name for plot in plots for name in plot.factors} or {"treatment"})
    files = {
        "i_investigation.txt": _investigation(trial, factors, study_file, assay_file),
        study_file: _study_table(trial, plots, factors),
        assay_file: _assay_table(trial, plots, data_file),
        data_file: observations_long_csv(observations, variables),
        traits_file: trait_dictionary_csv(variables),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def _tab_lines(rows: Iterable[Sequence[object]]) -> str:
    return "".join("\t".join(_tab_cell(cell) for cell in row) + "\n" for row in rows)


def _tab_cell(cell: object) -> str:
    text = str(cell)
    return f'"{text}"' if any(mark in text for mark in '\t\n"') or text == "" else text


def _investigation(trial: TrialInfo, factors: Sequence[str], study: str, assay: str) -> str:
    identifier = _identifier(trial.name)
    sections: list[Sequence[object]] = [
        ["INVESTIGATION"],
        ["Investigation Identifier", identifier],
        ["Investigation Title", trial.name],
        ["Investigation Description", trial.description],
        ["MIAPPE version", "1.1"],
        ["STUDY"],
        ["Study Identifier", identifier],
        ["Study Title", trial.name],
        ["Study Description", trial.description],
        ["Study File Name", study],
        ["Study Experimental Site", *(trial.sites or [trial.name])],
        ["STUDY DESIGN DESCRIPTORS"],
        ["Study Design Type", trial.design],
        ["STUDY FACTORS"],
        ["Study Factor Name", *factors],
        ["STUDY ASSAYS"],
        ["Study Assay File Name", assay],
        ["Study Assay Measurement Type", "phenotyping"],
    ]
    return _tab_lines(sections)


def _study_table(trial: TrialInfo, plots: Sequence[PlotRow], factors: Sequence[str]) -> str:
    header = ["Source Name", "Characteristics[Site]", "Characteristics[Block]"]
    header += ["Characteristics[Row]", "Characteristics[Col]"]
    header += [f"Factor Value[{name}]" for name in factors]
    header += ["Sample Name"]
    rows: list[Sequence[object]] = [header]
    for plot in plots:
        unit = _unit_id(_identifier(trial.name), plot.site, plot.plot)
        levels = [
            plot.factors.get(name, plot.treatment if name == "treatment" else "")
            for name in factors
        ]
        block = "" if plot.block is None else plot.block
        rows.append([trial.name, plot.site or "", block, plot.row, plot.col, *levels, unit])
    return _tab_lines(rows)


def _assay_table(trial: TrialInfo, plots: Sequence[PlotRow], data_file: str) -> str:
    rows: list[Sequence[object]] = [["Sample Name", "Protocol REF", "Derived Data File"]]
    for plot in plots:
        unit = _unit_id(_identifier(trial.name), plot.site, plot.plot)
        rows.append([unit, "phenotyping", data_file])
    return _tab_lines(rows)
