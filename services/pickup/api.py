"""The pickup service's JSON API, under /pickup/api/v1."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from libs.auth.web import CurrentUser, PlatformAdmin
from libs.kit.app import Runtime
from services.pickup import use_cases
from services.pickup.desk.domain import SHELF_MAX_LENGTH
from services.pickup.domain import HubDetails, SlotDetails, StaffAssignment, paris_today

router = APIRouter(prefix="/api/v1", tags=["hubs"])


class HubOut(BaseModel):
    id: UUID
    name: str
    town: str
    address: str
    opened_at: datetime


class StaffOut(BaseModel):
    hub_id: UUID
    user_id: UUID
    email: str
    name: str
    role: str


class SlotOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    hub_id: UUID
    starts_at: datetime
    ends_at: datetime
    capacity: int
    remaining: int
    gathering_id: UUID | None = None
    label: str = ""


class PartOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    shop_id: UUID
    shop_name: str | None
    status: str
    dropped_off_at: datetime | None
    shelf: str = ""
    prepared_at: datetime | None = Field(default=None, description="When the shop said the part "
                                         "was prepared; null until it does (staff may check in "
                                         "a part all the same).")


class PickupOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    order_id: UUID
    hub_id: UUID
    slot_id: UUID
    status: str
    ready_at: datetime | None
    picked_up_at: datetime | None
    parts: list[PartOut]
    resident_name: str | None = None
    held_until: datetime | None = None


class SlotPickupsOut(SlotOut):
    pickups: list[PickupOut]


class DayOut(BaseModel):
    hub_id: UUID
    date: date
    slots: list[SlotPickupsOut]


class DropOffIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shop_id: UUID
    shelf: str = Field(default="", max_length=SHELF_MAX_LENGTH,
                       description="Where staff put it, free text (« étagère B2 »)")


class HandoverIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=32)


@router.post("/hubs", status_code=201, response_model=HubOut)
async def open_hub(details: HubDetails, runtime: Runtime, _: PlatformAdmin):
    return await use_cases.open_hub(runtime, details)


@router.get("/hubs", response_model=list[HubOut])
async def list_hubs(runtime: Runtime):
    return await use_cases.list_hubs(runtime)


@router.get("/hubs/{hub_id}", response_model=HubOut)
async def get_hub(hub_id: UUID, runtime: Runtime):
    return await use_cases.get_hub(runtime, hub_id)


@router.post("/hubs/{hub_id}/staff", status_code=201, response_model=StaffOut,
             responses={200: {"description": "Already on the staff: role changed or unchanged"}})
async def assign_staff(hub_id: UUID, assignment: StaffAssignment, runtime: Runtime,
                       principal: CurrentUser, response: Response):
    """The platform's or the hub's admins name someone staff or admin of the hub, by e-mail."""
    staff, added = await use_cases.assign_staff(runtime, principal, hub_id, assignment)
    if not added:
        response.status_code = 200
    return staff


@router.post("/hubs/{hub_id}/slots", status_code=201, response_model=SlotOut)
async def open_slot(hub_id: UUID, details: SlotDetails, runtime: Runtime, principal: CurrentUser):
    slot = await use_cases.open_slot(runtime, principal, hub_id, details)
    return SlotOut.model_validate(slot)


@router.get("/hubs/{hub_id}/slots", response_model=list[SlotOut])
async def list_upcoming_slots(hub_id: UUID, runtime: Runtime):
    """The slots residents can still choose, soonest first."""
    return [SlotOut.model_validate(slot) for slot in await use_cases.upcoming_slots(runtime, hub_id)]


# Days whose Paris midnight is a UTC time too (0001-01-01 is not: it was a 500).
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)


@router.get("/hubs/{hub_id}/pickups", response_model=DayOut)
async def day_pickups(hub_id: UUID, runtime: Runtime, principal: CurrentUser,
                      day: Annotated[date | None, Query(alias="date", ge=FIRST_DAY, le=LAST_DAY,
                                                        description="Europe/Paris; today by default")
                                     ] = None):
    """The day's slots at the hub, each with its pickups (for the desk)."""
    sheet = await use_cases.day_sheet(runtime, principal, hub_id,
                                      day or paris_today(use_cases.utc_now()))
    return DayOut(hub_id=hub_id, date=sheet.day, slots=[
        SlotPickupsOut(**SlotOut.model_validate(group.slot).model_dump(), pickups=group.pickups)
        for group in sheet.slots
    ])


@router.get("/pickups/{order_id}", response_model=PickupOut)
async def get_pickup(order_id: UUID, runtime: Runtime, principal: CurrentUser):
    return await use_cases.pickup_of(runtime, principal, order_id)


@router.post("/pickups/{order_id}/drop-offs", response_model=PickupOut)
async def drop_off(order_id: UUID, body: DropOffIn, runtime: Runtime, principal: CurrentUser):
    """Staff check in one shop's part, on a shelf if they say which; checking it in again
    only moves it to the shelf named."""
    return await use_cases.drop_off(runtime, principal, order_id, body.shop_id, body.shelf)


@router.post("/pickups/{order_id}/handover", response_model=PickupOut)
async def hand_over(order_id: UUID, body: HandoverIn, runtime: Runtime, principal: CurrentUser):
    """Staff hand the order over against the resident's code."""
    return await use_cases.hand_over(runtime, principal, order_id, body.code)
