"""Points to visit, read from a CSV file with `x_mm` and `y_mm` columns.

Shared by the command line and (later) the web app's upload, so that both refuse a bad file
with the same message. Rows are numbered as a spreadsheet shows them: the header is row 1,
the first point row 2. Points themselves are numbered from 0 in data order, the numbering
the planner's visiting order uses.
"""

from __future__ import annotations

import bisect
import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from planner import PlannerError
from planner.tour import check_on_bed
from potager.robots import RobotProfile

COLUMNS = ("x_mm", "y_mm")
ROW_NUMBERING = "counting the header as row 1"


class PointsFileError(PlannerError):
    """A points file that cannot be read, or a row in it that is not a point."""


@dataclass(frozen=True)
class PointsTable:
    """The points of one file, (N, 2) millimetres, with the spreadsheet row of each."""

    source: str
    points_mm: NDArray[np.float64]
    rows: tuple[int, ...]

    def check_on_bed(self, profile: RobotProfile) -> None:
        """Refuse the first point outside the bed, naming its row in the file."""
        try:
            check_on_bed(self.points_mm, profile)
        except PlannerError as error:
            culprit = self._first_refused(profile)
            raise PointsFileError(
                f"{self.source} row {self.rows[culprit]} ({ROW_NUMBERING}): {error}"
            ) from None

    def _first_refused(self, profile: RobotProfile) -> int:
        """Index of the first point `check_on_bed` refuses: the shortest refused prefix."""
        return bisect.bisect_left(
            range(1, len(self.points_mm) + 1),
            True,
            key=lambda count: _refused(self.points_mm[:count], profile),
        )


def _refused(points_mm: NDArray[np.float64], profile: RobotProfile) -> bool:
    try:
        check_on_bed(points_mm, profile)
    except PlannerError:
        return True
    return False


def read_points_csv(path: str | Path) -> PointsTable:
    """The points of a CSV file on disk (UTF-8, an optional byte-order mark, comma-separated)."""
    source = str(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as file:
            return parse_points_csv(file, source)
    except FileNotFoundError:
        raise PointsFileError(f"points file {source} not found") from None
    except UnicodeDecodeError:
        raise PointsFileError(f"{source} is not a text (UTF-8) CSV file") from None
    except OSError as error:
        raise PointsFileError(f"cannot read points file {source}: {error.strerror}") from None


def parse_points_csv(lines: Iterable[str], source: str = "points") -> PointsTable:
    """The points of CSV text: a header naming x_mm and y_mm, then one point per row.

    Other columns are ignored; blank lines are skipped.
    """
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None:
        raise PointsFileError(f"{source} is empty: it needs a header row with x_mm and y_mm")
    columns = _column_indices([name.strip() for name in header], source)
    points: list[tuple[float, float]] = []
    rows: list[int] = []
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue
        where = f"{source} row {reader.line_num} ({ROW_NUMBERING})"
        x_mm, y_mm = (_number(cells, index, name, where) for name, index in columns)
        points.append((x_mm, y_mm))
        rows.append(reader.line_num)
    if not points:
        raise PointsFileError(f"{source} has a header but no points")
    return PointsTable(source, np.asarray(points, dtype=np.float64), tuple(rows))


def _column_indices(header: list[str], source: str) -> list[tuple[str, int]]:
    missing = [name for name in COLUMNS if name not in header]
    if missing:
        raise PointsFileError(
            f"{source} has no {' or '.join(missing)} column; its header has: "
            f"{', '.join(repr(name) for name in header)}"
        )
    return [(name, header.index(name)) for name in COLUMNS]


def _number(cells: list[str], index: int, name: str, where: str) -> float:
    text = cells[index].strip() if index < len(cells) else ""
    if not text:
        raise PointsFileError(f"{where}: {name} is empty")
    try:
        value = float(text)
    except ValueError:
        raise PointsFileError(f"{where}: {name} {text!r} is not a number") from None
    if not np.isfinite(value):
        raise PointsFileError(f"{where}: {name} {text!r} is not a finite number")
    return value
