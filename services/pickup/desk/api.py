"""The desk's search (JSON, under /pickup/api/v1) and the pickup code's QR image
(/pickup/pickups/{order_id}/code.svg, for the resident's order page and the e-mails' readers)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response

from libs.auth.web import CurrentUser
from libs.kit.app import Runtime
from services.pickup.api import PickupOut
from services.pickup.desk import use_cases
from services.pickup.desk.domain import SEARCH_MAX_LENGTH

router = APIRouter(prefix="/api/v1", tags=["desk"])
code_router = APIRouter(include_in_schema=False)


class FoundPickupOut(PickupOut):
    slot_starts_at: datetime
    slot_ends_at: datetime
    resident_email: str | None


@router.get("/hubs/{hub_id}/pickups/search", response_model=list[FoundPickupOut])
async def search_pickups(hub_id: UUID, runtime: Runtime, principal: CurrentUser,
                         q: Annotated[str, Query(max_length=SEARCH_MAX_LENGTH,
                                                 description="a pickup code, or part of the "
                                                             "resident's name or e-mail")]):
    """The hub's pickups matching ``q`` (its staff only), the latest slots first, 20 at most."""
    found = await use_cases.search_pickups(runtime, principal, hub_id, q)
    return [FoundPickupOut(**PickupOut.model_validate(f.pickup).model_dump(),
                           slot_starts_at=f.slot_starts_at, slot_ends_at=f.slot_ends_at,
                           resident_email=f.resident_email) for f in found]


@code_router.get("/pickups/{order_id}/code.svg", name="pickup_code_svg")
async def pickup_code_svg(order_id: UUID, runtime: Runtime, principal: CurrentUser) -> Response:
    """The resident's own pickup code (or any at their hub, for staff) as a QR code."""
    svg = await use_cases.code_image(runtime, principal, order_id)
    # The image is the code itself: never in a shared cache.
    return Response(svg, media_type="image/svg+xml",
                    headers={"Cache-Control": "private, max-age=3600"})
