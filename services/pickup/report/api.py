"""The funders' report as JSON, under /pickup/api/v1/hubs/{hub_id}/report."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from libs.auth.web import CurrentUser
from libs.kit.app import Runtime
from services.pickup.domain import paris_today
from services.pickup.report import use_cases
from services.pickup.report.domain import Period, Report

router = APIRouter(prefix="/api/v1/hubs/{hub_id}/report", tags=["report"])

MONTH = r"^\d{4}-\d{2}$"


@router.get("", response_model=Report)
async def hub_report(hub_id: UUID, runtime: Runtime, principal: CurrentUser,
                     first: Annotated[str | None, Query(alias="from", pattern=MONTH)] = None,
                     last: Annotated[str | None, Query(alias="to", pattern=MONTH)] = None
                     ) -> Report:
    """Sales (counted when orders are handed over) per month and per shop, buyers new and
    returning, members gained (residents' first memberships; a renewal is none), gatherings'
    sign-ups and attendance, and visits to the hub by slot, week and hour; for the hub's
    admins. Money in cents; months in Europe/Paris; six months up to this one unless told."""
    period = Period.asked(first, last, paris_today(use_cases.utc_now()))
    return await use_cases.hub_report(runtime, principal, hub_id, period)
