"""The shop's profile, status and journal, under /catalog/api/v1/shops/{id}."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from libs.auth.web import CurrentUser
from libs.kit.app import Runtime
from libs.kit.runtime import ServiceRuntime
from services.catalog.domain import Invitation, ShopProfile, StatusChange
from services.catalog.photos import use_cases as photo_use_cases
from services.catalog.photos.use_cases import ShopPicture
from services.catalog.shops import use_cases as shop_use_cases
from services.catalog.tables import Shop

router = APIRouter(prefix="/api/v1", tags=["shops"])


class ShopProfileOut(BaseModel):
    id: UUID
    hub_id: UUID
    name: str
    status: str
    description: str
    address: str
    opening_hours: str
    trade_category: str | None
    contact_email: str | None
    contact_phone: str | None
    photo: ShopPicture | None = None

    @classmethod
    async def of(cls, runtime: ServiceRuntime, shop: Shop) -> ShopProfileOut:
        photo = await photo_use_cases.shop_picture(runtime, shop.id)
        return cls.model_validate({**shop.model_dump(), "photo": photo})


class AuditEntryOut(BaseModel):
    id: UUID
    by_user_id: UUID
    by_email: str
    on_behalf: bool
    action: str
    summary: str
    changes: dict
    at: datetime


@router.get("/shops/{shop_id}", response_model=ShopProfileOut)
async def shop_profile(shop_id: UUID, runtime: Runtime):
    """Anyone: what the shop tells residents about itself, and its photo."""
    return await ShopProfileOut.of(runtime, await shop_use_cases.shop_profile(runtime, shop_id))


@router.patch("/shops/{shop_id}", response_model=ShopProfileOut)
async def change_profile(shop_id: UUID, profile: ShopProfile, principal: CurrentUser,
                         runtime: Runtime):
    """The owner, the hub's administrators acting for the shop, or a platform administrator."""
    shop = await shop_use_cases.change_profile(runtime, principal, shop_id, profile)
    return await ShopProfileOut.of(runtime, shop)


@router.post("/shops/{shop_id}/status", response_model=ShopProfileOut)
async def change_status(shop_id: UUID, change: StatusChange, principal: CurrentUser,
                        runtime: Runtime):
    """The hub's administrators: draft → active → suspended → active; the owner: draft → active.
    409 for any other change, and (with ``require_payout_account``) for going live before the
    shop's payout account is enabled."""
    shop = await shop_use_cases.change_status(runtime, principal, shop_id, change.status)
    return await ShopProfileOut.of(runtime, shop)


# Its offset stays a database INTEGER on either engine (page 2**57 crashed SQLite).
MAX_AUDIT_PAGE = 1_000_000


@router.get("/shops/{shop_id}/audit", response_model=list[AuditEntryOut])
async def audit_trail(shop_id: UUID, principal: CurrentUser, runtime: Runtime, response: Response,
                      page: Annotated[int, Query(ge=1, le=MAX_AUDIT_PAGE)] = 1):
    """The owner, the hub's administrators, platform administrators: every change to the shop
    and its catalogue, newest first, 50 a page; ``X-Total-Count`` tells how many in all.
    ``on_behalf`` is true when someone other than the owner made the change."""
    trail = await shop_use_cases.audit_trail(runtime, principal, shop_id, page)
    response.headers["X-Total-Count"] = str(trail.total)
    return trail.entries


class InvitationOut(BaseModel):
    id: UUID
    hub_id: UUID
    shop_id: UUID
    shop_name: str
    email: str
    status: str
    link: str


@router.post("/hubs/{hub_id}/invitations", status_code=201, response_model=InvitationOut)
async def invite(hub_id: UUID, invitation: Invitation, principal: CurrentUser, runtime: Runtime):
    """The hub's administrators, platform administrators: a draft shop for ``email`` (who may not
    have an account yet). ``link`` is the page where, signed in, they accept."""
    shop = await shop_use_cases.invite(runtime, principal, hub_id, invitation)
    return InvitationOut(id=shop.id, hub_id=shop.hub_id, shop_id=shop.id, shop_name=shop.name,
                         email=shop.owner_email, status=shop.status, link="/catalog/shops")


@router.post("/shops/{shop_id}/accept", response_model=ShopProfileOut)
async def accept(shop_id: UUID, principal: CurrentUser, runtime: Runtime):
    """The person invited, signed in with the address invited: the draft shop opens (403 for
    anyone else, or once it is no longer a draft; 409 with ``require_payout_account`` while
    its payout account is not enabled)."""
    return await ShopProfileOut.of(runtime, await shop_use_cases.accept(runtime, principal, shop_id))
