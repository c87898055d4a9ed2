"""The desk's searches and the pickup code's QR image."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import func, or_
from sqlmodel import col, select

from libs.auth.tokens import Principal
from libs.kit.errors import NotFound
from libs.kit.i18n import gettext as _
from libs.kit.runtime import ServiceRuntime
from services.pickup.desk.domain import code_qr_svg, desk_search, may_see_code
from services.pickup.domain import may_act_as
from services.pickup.tables import HubStaff, KnownUser, Pickup, Slot
from services.pickup.use_cases import PickupView, find_pickup, pickup_views, require_role

SEARCH_LIMIT = 20


@dataclass(frozen=True)
class FoundPickup:
    pickup: PickupView
    slot_starts_at: datetime
    slot_ends_at: datetime
    resident_email: str | None


async def search_pickups(runtime: ServiceRuntime, principal: Principal, hub_id: UUID,
                         typed: str) -> list[FoundPickup]:
    """The hub's pickups by code (typed or scanned) or by the resident's name or e-mail, the
    latest slots first."""
    search = desk_search(typed)
    async with runtime.database.sessions() as session:
        await require_role(session, principal, hub_id, "staff")
        matches = [func.lower(KnownUser.name).like(search.like, escape="\\"),
                   func.lower(KnownUser.email).like(search.like, escape="\\")]
        if search.code:
            matches.append(col(Pickup.code) == search.code)
        rows = (await session.exec(
            select(Pickup, Slot.starts_at, Slot.ends_at, KnownUser.email)
            .join(Slot, col(Slot.id) == col(Pickup.slot_id))
            .join(KnownUser, col(KnownUser.id) == col(Pickup.resident_id), isouter=True)
            .where(Pickup.hub_id == hub_id, or_(*matches))
            .order_by(col(Slot.starts_at).desc(), col(Pickup.order_id))
            .limit(SEARCH_LIMIT)
        )).all()
        views = await pickup_views(session, [pickup for pickup, *_ in rows])
    return [FoundPickup(view, starts_at, ends_at, email)
            for view, (_, starts_at, ends_at, email) in zip(views, rows, strict=True)]


async def code_image(runtime: ServiceRuntime, principal: Principal, order_id: UUID) -> bytes:
    """The pickup code as an SVG QR code, for its resident and the hub's staff; anyone else is
    told there is no such pickup, so order ids cannot be probed."""
    async with runtime.database.sessions() as session:
        pickup = await find_pickup(session, order_id)
        staff = await session.get(HubStaff, (pickup.hub_id, principal.user_id))
    works_at_hub = may_act_as(staff.role if staff else None, "staff",
                              platform_admin=principal.is_platform_admin)
    if not may_see_code(viewer_id=principal.user_id, resident_id=pickup.resident_id,
                        works_at_hub=works_at_hub):
        raise NotFound(_("aucun retrait n'est prévu pour la commande %(id)s") % {"id": order_id})
    return code_qr_svg(pickup.code)
