"""Opening hours, exceptions, slot settings and slot generation, under /pickup/api/v1."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from libs.auth.web import CurrentUser
from libs.kit.app import Runtime
from services.pickup.api import SlotOut
from services.pickup.schedule import use_cases
from services.pickup.schedule.domain import ExceptionDetails, SlotSettings, TimeRange, WeeklyHours
from services.pickup.schedule.tables import ScheduleException

router = APIRouter(prefix="/api/v1", tags=["opening hours"])


class ExceptionOut(BaseModel):
    id: UUID
    first_day: date
    last_day: date
    label: str
    hours: list[TimeRange] = Field(description="empty: closed those days")

    @classmethod
    def of(cls, exception: ScheduleException) -> ExceptionOut:
        return cls(id=exception.id, first_day=exception.first_day, last_day=exception.last_day,
                   label=exception.label, hours=exception.hours)


class ScheduleOut(BaseModel):
    hub_id: UUID
    weekly: WeeklyHours = Field(description="Europe/Paris wall-clock hours")
    settings: SlotSettings
    exceptions: list[ExceptionOut] = Field(description="those not over yet")

    @classmethod
    def of(cls, schedule: use_cases.Schedule) -> ScheduleOut:
        return cls(hub_id=schedule.hub.id, weekly=schedule.weekly, settings=schedule.settings,
                   exceptions=[ExceptionOut.of(e) for e in schedule.exceptions])


class GenerationOut(BaseModel):
    opened: list[SlotOut]
    closed: list[SlotOut]
    kept_held: list[SlotOut] = Field(
        description="slots that no longer fit the hours but hold orders: still open")


class SlotClosing(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str = Field(min_length=1, max_length=500)


class ClosedSlotOut(SlotOut):
    closed_at: datetime


@router.get("/hubs/{hub_id}/opening-hours", response_model=ScheduleOut)
async def get_opening_hours(hub_id: UUID, runtime: Runtime):
    """The hub's weekly hours, lead time and slot settings, and its exceptions to come."""
    return ScheduleOut.of(await use_cases.schedule_of(runtime, hub_id))


@router.put("/hubs/{hub_id}/opening-hours", response_model=ScheduleOut)
async def set_opening_hours(hub_id: UUID, weekly: WeeklyHours, runtime: Runtime,
                            principal: CurrentUser):
    """Hub admins replace the weekly hours; slots follow at the next generation."""
    return ScheduleOut.of(await use_cases.set_schedule(runtime, principal, hub_id, weekly=weekly))


@router.put("/hubs/{hub_id}/slot-settings", response_model=ScheduleOut)
async def set_slot_settings(hub_id: UUID, settings: SlotSettings, runtime: Runtime,
                            principal: CurrentUser):
    """Hub admins set the slots' length and capacity, the lead time and the horizon."""
    return ScheduleOut.of(
        await use_cases.set_schedule(runtime, principal, hub_id, settings=settings))


@router.post("/hubs/{hub_id}/opening-hours/exceptions", status_code=201,
             response_model=ExceptionOut)
async def add_exception(hub_id: UUID, details: ExceptionDetails, runtime: Runtime,
                        principal: CurrentUser):
    """Days closed (no ``hours``) or on special hours; 409 when they overlap another's."""
    return ExceptionOut.of(await use_cases.add_exception(runtime, principal, hub_id, details))


@router.delete("/hubs/{hub_id}/opening-hours/exceptions/{exception_id}", status_code=204)
async def remove_exception(hub_id: UUID, exception_id: UUID, runtime: Runtime,
                           principal: CurrentUser):
    await use_cases.remove_exception(runtime, principal, hub_id, exception_id)
    return Response(status_code=204)


@router.post("/hubs/{hub_id}/slots/generate", response_model=GenerationOut)
async def generate_slots(hub_id: UUID, runtime: Runtime, principal: CurrentUser):
    """Hub admins make the horizon's slots from the hours now, rather than at the next hourly
    run; slots that no longer fit are closed unless they hold orders."""
    generation = await use_cases.generate_hub_slots(runtime, principal, hub_id)
    return GenerationOut(**{name: [SlotOut.model_validate(s) for s in getattr(generation, name)]
                            for name in ("opened", "closed", "kept_held")})


@router.post("/hubs/{hub_id}/slots/{slot_id}/close", response_model=ClosedSlotOut)
async def close_slot(hub_id: UUID, slot_id: UUID, closing: SlotClosing, runtime: Runtime,
                     principal: CurrentUser):
    """Staff withdraw a slot: no new order may choose it; places held there stay held."""
    slot = await use_cases.close_hub_slot(runtime, principal, hub_id, slot_id, closing.reason)
    return ClosedSlotOut.model_validate(slot)
