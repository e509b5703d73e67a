"""The JSON API (documented at /docs): trials, their plots, observations and analysis.

Robots and scripts authenticate with `Authorization: Bearer <API token>`.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from potager.db import utc_now
from trials import TrialError
from trials.store import ObservationIn, PlotOut, RecorderKind, TidyRow, TrialOut
from web.accounts import Role
from web.deps import MAX_ID, ApiAccount, DbId, Svc, allow

router = APIRouter(prefix="/api", tags=["trials"])


class TrialDetail(BaseModel):
    trial: TrialOut
    plots: list[PlotOut]


class AnalysisOut(BaseModel):
    variable: str | None
    variables: list[str]
    analysis: dict[str, Any] | None = Field(description="None until the variable is analysable")
    problem: str | None


class NewObservation(BaseModel):
    plot: int = Field(ge=1, le=MAX_ID)
    variable: str = Field(min_length=1, max_length=120)
    value: float | str
    source: str = Field(default="", max_length=200)


@router.get("/trials")
def list_trials(svc: Svc, account: ApiAccount) -> list[TrialOut]:
    return svc.trials.trials()


@router.get("/trials/{trial_id}")
def trial_detail(svc: Svc, account: ApiAccount, trial_id: DbId) -> TrialDetail:
    try:
        return TrialDetail(trial=svc.trials.trial(trial_id), plots=svc.trials.plots(trial_id))
    except TrialError as error:
        raise HTTPException(404, str(error)) from None


@router.get("/trials/{trial_id}/observations")
def trial_observations(svc: Svc, account: ApiAccount, trial_id: DbId) -> list[TidyRow]:
    try:
        return svc.trials.tidy_observations(trial_id)
    except TrialError as error:
        raise HTTPException(404, str(error)) from None


@router.post("/trials/{trial_id}/observations", status_code=201)
def record_observations(
    svc: Svc, account: ApiAccount, trial_id: DbId, observations: list[NewObservation]
) -> dict[str, list[int]]:
    """Record observations all-or-nothing (a robot's or a person's), as the caller."""
    allow(account, Role.RESEARCHER, Role.OPERATOR)
    kind: RecorderKind = "robot" if account.role is Role.OPERATOR else "person"
    now = utc_now()
    try:
        stored = svc.trials.record_observations(
            [
                ObservationIn(
                    trial_id=trial_id, plot=o.plot, variable=o.variable, value=o.value,
                    observed_at=now, recorder_kind=kind, recorder=account.name, source=o.source,
                )
                for o in observations
            ]
        )  # fmt: skip
    except TrialError as error:
        raise HTTPException(422, str(error)) from None
    return {"ids": stored}


@router.get("/trials/{trial_id}/analysis")
def trial_analysis(
    svc: Svc, account: ApiAccount, trial_id: DbId, variable: str | None = None
) -> AnalysisOut:
    try:
        view = svc.dashboards.get(trial_id, variable).view
    except TrialError as error:
        raise HTTPException(404, str(error)) from None
    return AnalysisOut(
        variable=view.variable,
        variables=view.variables,
        analysis=None if view.analysis is None else asdict(view.analysis),
        problem=view.problem,
    )
