"""The memberships' JSON API, under /pickup/api/v1/hubs/{hub_id}."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from libs.auth.web import CurrentUser
from libs.kit.app import Runtime
from services.pickup.membership import use_cases
from services.pickup.membership.domain import MembershipTermsDetails, pay_path

router = APIRouter(prefix="/api/v1/hubs/{hub_id}", tags=["membership"])


class TermsOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    hub_id: UUID
    open: bool = Field(description="Whether residents may join now.")
    fee_cents: int = Field(description="0: free.")
    duration_months: int | None = Field(description="None: a membership without end.")
    benefits: str


class MembershipOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    hub_id: UUID
    resident_id: UUID
    name: str
    status: str = Field(description="awaiting_payment, active, ended or lapsed (its fee never "
                                    "came)")
    fee_cents: int
    number: str | None = Field(description="The member's number at the hub, once a member.")
    member_since: datetime | None
    requested_at: datetime
    pay_by: datetime | None
    started_at: datetime | None
    expires_at: datetime | None
    ended_at: datetime | None
    end_reason: str | None = Field(description="expired, left, renewed, or unpaid (lapsed)")
    valid: bool = Field(description="Whether the member card is valid now.")
    pay_url: str | None = Field(default=None,
                                description="Where the resident pays the fee, while it awaits.")


class MemberOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: str
    resident_id: UUID
    name: str
    email: str
    since: datetime
    status: str
    expires_at: datetime | None
    valid: bool


@router.get("/membership-terms", response_model=TermsOut)
async def membership_terms(hub_id: UUID, runtime: Runtime):
    """What joining the hub costs and brings; anyone may read it."""
    return await use_cases.membership_terms(runtime, hub_id)


@router.put("/membership-terms", response_model=TermsOut)
async def set_membership_terms(hub_id: UUID, details: MembershipTermsDetails, runtime: Runtime,
                               principal: CurrentUser):
    """For the hub's admins; memberships already asked for keep the terms they were offered."""
    return await use_cases.set_terms(runtime, principal, hub_id, details)


@router.post("/memberships", status_code=201, response_model=MembershipOut)
async def join(hub_id: UUID, runtime: Runtime, principal: CurrentUser):
    """The caller joins the hub (or renews, in the last 30 days of their membership or after
    it): free, active at once; with a fee, ``awaiting_payment`` until it is paid at
    ``pay_url``. 409 while a membership runs or awaits its fee, or when the hub takes none."""
    return _out(await use_cases.join(runtime, principal, hub_id))


@router.get("/memberships/mine", response_model=MembershipOut)
async def my_membership(hub_id: UUID, runtime: Runtime, principal: CurrentUser):
    """The caller's running membership, else the one awaiting its fee, else their last one."""
    return _out(await use_cases.my_membership(runtime, principal, hub_id))


@router.delete("/memberships/mine", response_model=MembershipOut)
async def leave(hub_id: UUID, runtime: Runtime, principal: CurrentUser):
    """The caller leaves the hub; 409 when they are not a member."""
    return _out(await use_cases.leave(runtime, principal, hub_id))


@router.get("/members", response_model=list[MemberOut])
async def hub_members(hub_id: UUID, runtime: Runtime, principal: CurrentUser):
    """Everyone who has been a member, by number, with whether their card is valid now; for
    the hub's admins."""
    return (await use_cases.hub_members(runtime, principal, hub_id)).members


@router.get("/members/check", response_model=MemberOut)
async def check_member(hub_id: UUID, runtime: Runtime, principal: CurrentUser,
                       number: Annotated[str, Query(min_length=1, max_length=40)]):
    """For the hub's staff: the member with this number (LAN-0042, or 42), valid or not."""
    return (await use_cases.check_member(runtime, principal, hub_id, number)).member


def _out(membership: use_cases.MembershipView) -> MembershipOut:
    return MembershipOut.model_validate(membership).model_copy(
        update={"pay_url": pay_path(membership.id, membership.status)})
