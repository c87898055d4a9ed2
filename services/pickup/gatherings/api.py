"""The gatherings' JSON API, under /pickup/api/v1/hubs/{hub_id}/gatherings."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from libs.auth.web import CurrentUser, MaybeUser
from libs.kit.app import Runtime
from services.pickup.gatherings import use_cases
from services.pickup.gatherings.domain import GatheringChanges, GatheringDetails

router = APIRouter(prefix="/api/v1/hubs/{hub_id}/gatherings", tags=["gatherings"])


class ShopOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    name: str


class GatheringOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    hub_id: UUID
    title: str
    description: str
    starts_at: datetime
    ends_at: datetime
    capacity: int = Field(description="Places to sign up for; 0: free entry, no sign-up.")
    taken: int
    places_left: int | None = Field(description="None for a free-entry gathering.")
    status: str = Field(description="scheduled or cancelled")
    cancel_reason: str | None
    slot_id: UUID | None = Field(description="The collection slot during the gathering, if any.")
    shops: list[ShopOut]
    signed_up: bool | None = Field(default=None,
                                   description="Whether the caller is signed up (when signed in).")


class CancellationIn(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


class ParticipantOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    user_id: UUID
    name: str
    email: str
    signed_up: bool
    attended: bool


class SignUpSheetOut(BaseModel):
    gathering: GatheringOut
    participants: list[ParticipantOut]
    attendance_closed: str | None = Field(
        description="Why attendance cannot be recorded now, if it cannot.")


class AttendanceIn(BaseModel):
    """Someone on the list (``user_id``) or who walked in with an account (``email``)."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    user_id: UUID | None = None
    email: str | None = Field(default=None, min_length=3, max_length=320)

    @model_validator(mode="after")
    def _one_of_them(self) -> AttendanceIn:
        if (self.user_id is None) == (self.email is None):
            raise ValueError("give either user_id or email")
        return self


@router.post("", status_code=201, response_model=GatheringOut)
async def schedule_gathering(hub_id: UUID, details: GatheringDetails, runtime: Runtime,
                             principal: CurrentUser):
    """The hub's admins schedule a gathering; times without an offset are Paris wall-clock time."""
    return await use_cases.schedule_gathering(runtime, principal, hub_id, details)


@router.get("", response_model=list[GatheringOut])
async def list_gatherings(hub_id: UUID, runtime: Runtime):
    """The hub's gatherings not over yet, soonest first (cancelled ones say so)."""
    return (await use_cases.hub_calendar(runtime, None, hub_id)).gatherings


@router.get("/{gathering_id}", response_model=GatheringOut)
async def get_gathering(hub_id: UUID, gathering_id: UUID, runtime: Runtime, principal: MaybeUser):
    page = await use_cases.gathering_page(runtime, principal, hub_id, gathering_id)
    return _out(page.gathering, page.signed_up if principal else None)


@router.patch("/{gathering_id}", response_model=GatheringOut)
async def change_gathering(hub_id: UUID, gathering_id: UUID, changes: GatheringChanges,
                           runtime: Runtime, principal: CurrentUser):
    return await use_cases.change_gathering(runtime, principal, hub_id, gathering_id, changes)


@router.post("/{gathering_id}/cancellation", response_model=GatheringOut)
async def cancel_gathering(hub_id: UUID, gathering_id: UUID, body: CancellationIn,
                           runtime: Runtime, principal: CurrentUser):
    """Cancelling twice changes nothing the second time."""
    return await use_cases.cancel_gathering(runtime, principal, hub_id, gathering_id, body.reason)


@router.post("/{gathering_id}/sign-ups", status_code=201, response_model=GatheringOut,
             responses={200: {"description": "Already signed up: nothing changed"}})
async def sign_up(hub_id: UUID, gathering_id: UUID, runtime: Runtime, principal: CurrentUser,
                  response: Response):
    gathering, new = await use_cases.sign_up(runtime, principal, hub_id, gathering_id)
    if not new:
        response.status_code = 200
    return _out(gathering, True)


@router.delete("/{gathering_id}/sign-ups/me", response_model=GatheringOut)
async def cancel_sign_up(hub_id: UUID, gathering_id: UUID, runtime: Runtime,
                         principal: CurrentUser):
    """Gives the caller's place back; without a sign-up, nothing changes."""
    return _out(await use_cases.cancel_sign_up(runtime, principal, hub_id, gathering_id), False)


@router.get("/{gathering_id}/sign-ups", response_model=SignUpSheetOut)
async def sign_up_sheet(hub_id: UUID, gathering_id: UUID, runtime: Runtime,
                        principal: CurrentUser):
    """For the hub's staff: who signed up, who came."""
    sheet = await use_cases.sign_up_sheet(runtime, principal, hub_id, gathering_id)
    return SignUpSheetOut(gathering=_out(sheet.gathering), participants=sheet.participants,
                          attendance_closed=sheet.attendance_closed)


@router.post("/{gathering_id}/attendance", status_code=201, response_model=ParticipantOut,
             responses={200: {"description": "Already recorded: nothing changed"}})
async def record_attendance(hub_id: UUID, gathering_id: UUID, body: AttendanceIn,
                            runtime: Runtime, principal: CurrentUser, response: Response):
    """Staff record someone who came: on the list by ``user_id``, a walk-in by ``email``."""
    seen, new = await use_cases.record_attendance(runtime, principal, hub_id, gathering_id,
                                                  user_id=body.user_id, email=body.email)
    if not new:
        response.status_code = 200
    return seen


def _out(gathering: use_cases.GatheringView, signed_up: bool | None = None) -> GatheringOut:
    return GatheringOut.model_validate(gathering).model_copy(update={"signed_up": signed_up})
