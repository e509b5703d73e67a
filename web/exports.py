"""A stored trial in the export formats of `trials.export`: field book, observations, BrAPI."""

from __future__ import annotations

import json
from collections.abc import Sequence

from trials.export import (
    Observation,
    PlotRow,
    TrialInfo,
    Variable,
    brapi_json,
    field_book_csv,
    observations_long_csv,
)
from trials.store import PlotOut, TidyRow, TrialOut


def plot_rows(plots: Sequence[PlotOut]) -> list[PlotRow]:
    return [
        PlotRow(
            plot=p.plot,
            block=p.block,
            row=p.row if p.row is not None else 1,
            col=p.col if p.col is not None else p.plot,
            treatment=p.treatment,
            check=p.check,
        )
        for p in plots
    ]


def observations(rows: Sequence[TidyRow]) -> list[Observation]:
    return [
        Observation(
            plot=r.plot,
            variable=r.variable,
            value=r.value if isinstance(r.value, int | float) else str(r.value),
            observed_at=r.observed_at,
            recorded_by=r.recorder,
        )
        for r in rows
    ]


def variables(rows: Sequence[TidyRow]) -> list[Variable]:
    units = {r.variable: r.unit for r in rows}
    return [Variable(name=name, unit=unit) for name, unit in units.items()]


def field_book(plots: Sequence[PlotOut]) -> str:
    return field_book_csv(plot_rows(plots))


def observations_csv(rows: Sequence[TidyRow]) -> str:
    return observations_long_csv(observations(rows), variables(rows))


def brapi(trial: TrialOut, plots: Sequence[PlotOut], rows: Sequence[TidyRow]) -> str:
    info = TrialInfo(
        name=trial.name, design=trial.design, description=trial.protocol,
        sites=[trial.site] if trial.site else [],
    )  # fmt: skip
    document = brapi_json(info, plot_rows(plots), variables(rows), observations(rows))
    return json.dumps(document, default=str, indent=1)
