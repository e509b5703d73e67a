"""Field books, observation tables, BrAPI and ISA-Tab: what leaves and what comes back."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from trials import TrialError
from trials.design import Factor, split_plot
from trials.export import (
    Observation,
    PlotRow,
    TrialInfo,
    Variable,
    brapi_json,
    design_book,
    field_book_csv,
    isa_tab_archive,
    observations_long_csv,
    observations_wide_csv,
    plot_rows,
    read_field_book_csv,
    trait_dictionary_csv,
)
from trials.plots import BedArea, lay_out

TRIAL = TrialInfo(name="Irrigation 2026", design="rcbd", sites=["Lyon", "Rennes"])
PLOTS = plot_rows(
    {"plot": 100 + 10 * block + entry, "site": site, "block": block, "row": block,
     "col": entry, "treatment": level, "check": level == "W0", "water": level}
    for site in ("Lyon", "Rennes")
    for block in (1, 2)
    for entry, level in enumerate(("W0", "W1", "W2"), start=1)
)  # fmt: skip
VARIABLES = [
    Variable(name="canopy_cover", unit="%", method="photo grid", minimum=0, maximum=100),
    Variable(name="vigour", scale="ordinal", categories=["1", "2", "3"]),
]
MORNING = datetime(2026, 6, 1, 7, tzinfo=UTC)
EVENING = datetime(2026, 6, 1, 19, tzinfo=UTC)
OBSERVATIONS = [
    Observation(plot=111, site="Lyon", variable="canopy_cover", value=31.5,
                observed_at=MORNING, recorded_by="robot bed-1"),
    Observation(plot=111, site="Lyon", variable="canopy_cover", value=33.0,
                observed_at=EVENING, recorded_by="robot bed-1"),
    Observation(plot=112, site="Lyon", variable="vigour", value="2",
                observed_at=MORNING, recorded_by="Camille"),
]  # fmt: skip


def test_a_field_book_survives_a_round_trip_through_csv(tmp_path: Path) -> None:
    path = tmp_path / "book.csv"
    path.write_text(field_book_csv(PLOTS))
    assert read_field_book_csv(path) == PLOTS
    header = path.read_text().splitlines()[0]
    assert header == "plot,site,block,rep,row,col,treatment,check,water"


def test_agricolae_books_with_plots_and_no_site_are_read(tmp_path: Path) -> None:
    path = tmp_path / "agricolae.csv"
    path.write_text("plots,block,row,col,treatment,N\n101,1,1,1,N0,0\n102,1,1,2,N1,60\n")
    plots = read_field_book_csv(path)
    assert [(p.plot, p.block, p.factors) for p in plots] == [
        (101, 1, {"N": "0"}),
        (102, 1, {"N": "60"}),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("plot,row,col\n1,1,1\n", "no column treatment"),
        ("plot,row,col,treatment\n1,1,one,A\n", "line 2: col 'one' is not a number"),
        ("plot,row,col,treatment\n1,1,1,A\n2,1,2.5,B\n", "line 3: col '2.5' is not a whole"),
        ("plot,row,col,treatment\n1,1,1,A\n1,1,2,B\n", "lines 2 and 3: plot 1 appears twice"),
        ("plot,row,col,treatment,check\n1,1,1,A,maybe\n", "check 'maybe' is not yes/no"),
        ("plot,row,col,treatment\n1,1,1,\n", "line 2: no value for treatment"),
        ("", "is empty"),
    ],
)
def test_a_bad_field_book_names_the_line_and_the_fix(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(TrialError, match=message):
        read_field_book_csv(path)


def test_a_missing_file_is_a_trial_error() -> None:
    with pytest.raises(TrialError, match="cannot read field book"):
        read_field_book_csv("/nonexistent/book.csv")


def test_the_long_table_keeps_every_value_and_the_wide_one_the_latest() -> None:
    long_rows = list(csv.DictReader(io.StringIO(observations_long_csv(OBSERVATIONS, VARIABLES))))
    assert [(r["plot"], r["value"], r["unit"]) for r in long_rows] == [
        ("111", "31.5", "%"),
        ("111", "33.0", "%"),
        ("112", "2", ""),
    ]
    wide = list(csv.DictReader(io.StringIO(observations_wide_csv(PLOTS, OBSERVATIONS))))
    assert len(wide) == len(PLOTS)
    lyon_111 = next(r for r in wide if r["plot"] == "111" and r["site"] == "Lyon")
    assert lyon_111["canopy_cover"] == "33.0" and lyon_111["water"] == "W0"
    rennes_111 = next(r for r in wide if r["plot"] == "111" and r["site"] == "Rennes")
    assert rennes_111["canopy_cover"] == ""


def test_the_trait_dictionary_lists_bounds_and_categories() -> None:
    rows = list(csv.DictReader(io.StringIO(trait_dictionary_csv(VARIABLES))))
    assert rows[0]["minimum"] == "0.0" and rows[0]["maximum"] == "100.0"
    assert rows[1]["categories"] == "1|2|3" and rows[1]["scale"] == "ordinal"


def test_brapi_has_a_study_per_site_and_units_with_positions_and_treatments() -> None:
    document = brapi_json(TRIAL, PLOTS, VARIABLES, OBSERVATIONS)
    assert [study["studyName"] for study in document["studies"]] == [
        "Irrigation 2026 (Lyon)",
        "Irrigation 2026 (Rennes)",
    ]
    units = {unit["observationUnitDbId"]: unit for unit in document["observationUnits"]}
    assert len(units) == len(PLOTS)  # same plot number at two sites: two units
    unit = units["irrigation-2026-lyon-111"]
    position = unit["observationUnitPosition"]
    assert (
        position["positionCoordinateX"] == "1" and position["positionCoordinateXType"] == "GRID_COL"
    )
    assert position["observationLevelRelationships"] == [{"levelName": "block", "levelCode": "1"}]
    assert position["entryType"] == "CHECK"
    assert unit["treatments"] == [{"factor": "water", "modality": "W0"}]
    observation = document["observations"][0]
    assert observation["observationUnitDbId"] == "irrigation-2026-lyon-111"
    assert observation["value"] == "31.5" and observation["observationTimeStamp"].startswith("2026")
    scale = document["observationVariables"][0]["scale"]
    assert scale["dataType"] == "Numerical" and scale["validValues"] == {"min": 0, "max": 100}


def test_the_isa_tab_archive_links_study_assay_and_data() -> None:
    archive = zipfile.ZipFile(io.BytesIO(isa_tab_archive(TRIAL, PLOTS, VARIABLES, OBSERVATIONS)))
    names = set(archive.namelist())
    assert {
        "i_investigation.txt",
        "s_study.txt",
        "a_phenotyping.txt",
        "d_observations.csv",
    } <= names
    investigation = archive.read("i_investigation.txt").decode()
    assert "Study File Name\ts_study.txt" in investigation
    assert "Study Factor Name\twater" in investigation
    assert "Study Design Type\trcbd" in investigation
    study = archive.read("s_study.txt").decode().splitlines()
    assert study[0].split("\t")[-2] == "Factor Value[water]"
    assert len(study) == 1 + len(PLOTS)
    samples = {line.split("\t")[-1] for line in study[1:]}
    assay = archive.read("a_phenotyping.txt").decode().splitlines()[1:]
    assert {line.split("\t")[0] for line in assay} == samples  # every unit measured


def test_plot_rows_from_a_design_keep_factor_levels() -> None:
    rows = plot_rows([{"plot": 1, "row": 1, "col": 1, "treatment": "A:x", "factors": {"f": "A"}}])
    assert rows == [PlotRow(plot=1, row=1, col=1, treatment="A:x", factors={"f": "A"})]


def test_a_designed_split_plot_book_goes_to_csv_and_back_to_a_layout(tmp_path: Path) -> None:
    book = split_plot(Factor("N", ["N0", "N1"]), Factor("variety", ["a", "b", "c"]), 3, seed=4)
    path = tmp_path / "split.csv"
    path.write_text(field_book_csv(plot_rows(book.field_book_rows())))
    again = design_book(read_field_book_csv(path), design="split")
    assert [(p.plot, p.block, p.treatment, p.main_plot, p.sub_plot) for p in again.plots] == [
        (p.plot, p.block, p.treatment, p.main_plot, p.sub_plot) for p in book.plots
    ]
    bed = BedArea(0, 0, 3000, 1500)
    assert lay_out(again, bed, 400, 300) == lay_out(book, bed, 400, 300)
