"""`potager trial`: design -> layout -> export, and analyse on published data sets."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import pytest

from potager.cli import main

from .analysis_data import OATS, OATS_NITROGEN, SWEETPOTATO


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["trial", *argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_a_designed_book_lays_out_on_a_bed_and_exports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    book = tmp_path / "book.csv"
    status, _, _ = run(
        capsys, "design", "rcbd", "--treatments", "W0,W1,W2", "--blocks", "4",
        "--seed", "3", "--serpentine", "--out", str(book),
    )  # fmt: skip
    assert status == 0
    rows = list(csv.DictReader(book.open()))
    assert len(rows) == 12
    for block in "1234":  # each treatment once per block
        assert sorted(r["treatment"] for r in rows if r["block"] == block) == ["W0", "W1", "W2"]
    status, out, _ = run(
        capsys, "layout", str(book), "--bed", "0,0,3000,2000", "--plot", "400x300",
        "--gap", "50,100", "--sow", "100,50", "--json",
    )  # fmt: skip
    layout = json.loads(out)
    assert status == 0 and len(layout["plots"]) == 12
    assert all(p["x_max_mm"] <= 3000 and p["y_max_mm"] <= 2000 for p in layout["plots"])
    assert len(layout["sowing"]) == 12 * 4 * 6  # 400/100 rows x 300/50 seeds a plot
    observations = tmp_path / "obs.csv"
    observations.write_text(
        "plot,variable,value,observed_at,recorded_by\n"
        "101,canopy_cover,31.5,2026-06-01T07:00:00+00:00,robot\n"
    )
    status, out, _ = run(
        capsys, "export", str(book), "--observations", str(observations), "--format", "brapi",
        "--name", "Eau 2026", "--design", "rcbd",
    )  # fmt: skip
    document = json.loads(out)
    assert status == 0 and len(document["observationUnits"]) == 12
    assert document["observations"][0]["value"] == "31.5"
    archive = tmp_path / "trial.zip"
    status, _, _ = run(
        capsys, "export", str(book), "--observations", str(observations), "--format", "isa",
        "--out", str(archive),
    )  # fmt: skip
    assert status == 0 and "i_investigation.txt" in zipfile.ZipFile(archive).namelist()


def test_the_same_protocol_gets_its_own_randomization_at_each_site(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, _ = run(
        capsys, "design", "rcbd", "--treatments", "A,B,C,D", "--blocks", "3",
        "--sites", "Lyon,Rennes",
    )  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(out)))
    by_site = {
        site: [r["treatment"] for r in rows if r["site"] == site] for site in ("Lyon", "Rennes")
    }
    assert status == 0 and len(by_site["Lyon"]) == len(by_site["Rennes"]) == 12
    assert by_site["Lyon"] != by_site["Rennes"]


def test_a_layout_that_does_not_fit_says_what_to_change(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    book = tmp_path / "book.csv"
    run(capsys, "design", "rcbd", "--treatments", "A,B,C", "--blocks", "6", "--out", str(book))
    status, _, err = run(capsys, "layout", str(book), "--bed", "0,0,1500,1000", "--plot", "400x300")
    assert status == 1 and "1000" in err and "error:" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["design", "rcbd", "--blocks", "3"], "needs --treatments"),
        (["design", "rcbd", "--treatments", "A,B"], "needs --blocks"),
        (["design", "split", "--factor", "N=1,2", "--blocks", "3"], "two --factor"),
        (["design", "rcbd", "--factor", "N", "--blocks", "3"], "write NAME=LEVEL1,LEVEL2"),
    ],
)
def test_incomplete_design_commands_name_the_missing_option(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    status, _, err = run(capsys, *argv)
    assert status == 1 and message in err


def write_oats(path: Path) -> None:
    lines = ["block;variety;nitrogen;yield"]  # semicolons, as a French spreadsheet saves
    for block, varieties in OATS.items():
        for variety, yields in varieties.items():
            lines += [
                f"{block};{variety};{n};{y}" for n, y in zip(OATS_NITROGEN, yields, strict=True)
            ]
    path.write_text("\n".join(lines) + "\n")


def test_analyse_reproduces_the_oats_split_plot_strata(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "oats.csv"
    write_oats(data)
    status, out, _ = run(
        capsys, "analyse", str(data), "--design", "split", "--response", "yield",
        "--main", "variety", "--sub", "nitrogen", "--block", "block", "--test", "lsd", "--json",
    )  # fmt: skip
    assert status == 0
    report = json.loads(out)
    table = {row["source"]: row for row in report["anova"]}
    # Yates (1935) / MASS: variety F = 1.485 on (2, 10), nitrogen F = 37.69 on (3, 45)
    assert table["variety"]["df"] == 2 and table["variety"]["f"] == pytest.approx(1.485, abs=5e-4)
    assert table["nitrogen"]["f"] == pytest.approx(37.686, abs=5e-3)
    assert table["variety:nitrogen"]["f"] == pytest.approx(0.303, abs=5e-4)
    letters = {group["level"]: group["letters"] for group in report["comparison"]["groups"]}
    assert letters["0.6cwt"].startswith("a") and letters["0.0cwt"] != letters["0.6cwt"]


def test_analyse_prints_the_table_and_letters_for_people(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "sweetpotato.csv"
    lines = ["virus,yield"] + [f"{v},{y}" for v, ys in SWEETPOTATO.items() for y in ys]
    data.write_text("\n".join(lines) + "\n")
    status, out, _ = run(
        capsys, "analyse", str(data), "--design", "crd", "--response", "yield",
        "--treatment", "virus", "--test", "lsd", "--control", "cc",
    )  # fmt: skip
    assert status == 0
    assert "residual" in out and "CV" in out and "lsd at alpha 0.05 on virus" in out
    assert "means of virus" in out and "± 2.74 " in out  # sqrt(MSE 22.489 / 3)
    assert "between two virus means: 3.872" in out  # sqrt(2 x 22.489 / 3)
    assert " %" in out  # percent of the control


def test_analyse_refuses_a_missing_column_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "bad.csv"
    data.write_text("variety,yield\na,1\nb,2\n")
    status, _, err = run(
        capsys, "analyse", str(data), "--design", "rcbd", "--response", "yield",
        "--treatment", "variety",
    )  # fmt: skip
    assert status == 1 and "block" in err


def test_a_stored_trial_takes_hand_and_robot_observations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = ["--database", f"sqlite:///{tmp_path / 'trials.sqlite3'}"]
    book = tmp_path / "book.csv"
    run(capsys, "design", "rcbd", "--treatments", "W0,W1", "--blocks", "2", "--out", str(book))
    status, out, _ = run(
        capsys, "create", str(book), "--name", "Eau 2026", "--site", "Lyon",
        "--bed-size", "2000x1000", "--plot", "400x300", "--design", "rcbd", *database,
    )  # fmt: skip
    assert status == 0 and "4 plots" in out
    assert run(capsys, "variable", "cover", "--trial", "Eau 2026", "--unit", "%", "--min", "0",
               "--max", "100", *database)[0] == 0  # fmt: skip
    status, _, _ = run(
        capsys, "record", "--trial", "Eau 2026", "--plot", "101", "--variable", "cover",
        "--value", "31,5", "--by", "Camille", "--at", "2026-06-01T07:00+02:00", *database,
    )  # fmt: skip
    assert status == 0
    status, _, err = run(
        capsys, "record", "--trial", "Eau 2026", "--plot", "101", "--variable", "cover",
        "--value", "131", "--by", "Camille", *database,
    )  # fmt: skip
    assert status == 1 and "out of range" in err and "0 to 100" in err
    data = tmp_path / "robot.csv"
    data.write_text(
        "plot,variable,value,observed_at\n"
        "102,cover,20,2026-06-02T07:00:00+00:00\n"
        "201,cover,25,2026-06-02T07:01:00+00:00\n"
        "202,cover,oops,2026-06-02T07:02:00+00:00\n"
    )
    status, _, err = run(capsys, "import", str(data), "--trial", "Eau 2026", "--by", "robot",
                         "--batch", "2", *database)  # fmt: skip
    assert status == 1 and "2 data lines are stored" in err and "--skip 2" in err
    data.write_text(data.read_text().replace("oops", "27"))
    status, _, _ = run(capsys, "import", str(data), "--trial", "Eau 2026", "--by", "robot",
                       "--skip", "2", *database)  # fmt: skip
    assert status == 0
    status, out, _ = run(capsys, "observations", "--trial", "Eau 2026", *database)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["plot"], r["value"]) for r in rows] == [
        ("101", "31.5"), ("102", "20.0"), ("201", "25.0"), ("202", "27.0")
    ]  # fmt: skip
    assert rows[0]["recorded_by"] == "person: Camille" and rows[1]["recorded_by"] == "import: robot"
    status, _, err = run(capsys, "observations", "--trial", "Nope", *database)
    assert status == 1 and "the trials are: Eau 2026" in err


def test_a_strip_trial_is_analysed_strip_by_strip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "strips.csv"
    values = (10, 12, 10, 13, 11, 9, 12, 9, 13, 10)
    lines = ["rep,col,treatment,yield"] + [
        f"{1 + i // 5},{i + 1},{name},{v}"
        for i, (name, v) in enumerate(zip("CTCTCCTCTC", values, strict=True))
    ]
    data.write_text("\n".join(lines) + "\n")
    status, out, _ = run(
        capsys, "analyse", str(data), "--design", "strip-trial", "--response", "yield",
        "--block", "rep", "--control", "C", "--json",
    )  # fmt: skip
    (row,) = json.loads(out)["differences"]
    assert status == 0 and row["treatment"] == "T" and row["difference"] == pytest.approx(2.75)


@pytest.mark.parametrize(
    "action",
    ["design", "layout", "create", "variable", "record", "import", "observations", "analyse",
     "export"],
)  # fmt: skip
def test_every_action_explains_itself(capsys: pytest.CaptureFixture[str], action: str) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["trial", action, "--help"])
    assert stopped.value.code == 0 and "usage: potager trial" in capsys.readouterr().out
