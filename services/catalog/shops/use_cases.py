"""A shop's life beyond its products: its profile, its status, and its journal of changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID, uuid4

from sqlmodel import col, select

from libs.auth.tokens import Principal
from libs.contracts.accounts import UserRegistered
from libs.contracts.catalog import ShopOpened, ShopStatusChanged
from libs.contracts.payment import PayoutAccountUpdated
from libs.kit.errors import Forbidden, NotFound
from libs.kit.runtime import ServiceRuntime, UnitOfWork
from services.catalog.domain import (
    SHOP_STATUSES,
    Invitation,
    NotInvited,
    ShopProfile,
    ShopStatus,
    check_may_go_live,
    check_status_change,
    normalized_email,
)
from services.catalog.shops import audit
from services.catalog.storefront import search
from services.catalog.tables import AuditEntry, HubAdmin, KnownHub, KnownUser, Product, Shop
from services.catalog.use_cases import payouts_required, require_running


@dataclass(frozen=True)
class AuditPage:
    total: int
    entries: list[AuditEntry]


async def shop_profile(runtime: ServiceRuntime, shop_id: UUID) -> Shop:
    async with runtime.database.sessions() as session:
        return await _shop(session, shop_id)


async def change_profile(runtime: ServiceRuntime, principal: Principal, shop_id: UUID,
                         profile: ShopProfile) -> Shop:
    async with runtime.unit_of_work() as uow:
        shop = await _shop(uow.session, shop_id)
        await require_running(uow.session, principal, shop)
        changed = {field: value for field, value in profile.model_dump(exclude_unset=True).items()
                   if getattr(shop, field) != value}
        if not changed:
            return shop
        for field, value in changed.items():
            setattr(shop, field, value)
        audit.record(uow.session, shop, principal, "profile_changed",
                     f"Profil modifié ({', '.join(changed)})", changed)
        if "name" in changed:
            await search.reindex_shop(uow.session, shop.id)
    return shop


async def change_status(runtime: ServiceRuntime, principal: Principal, shop_id: UUID,
                        wanted: ShopStatus) -> Shop:
    """The hub's administrators (and the platform's) open, suspend and reopen a shop; its owner
    may only open a draft shop (accepting the invitation)."""
    async with runtime.unit_of_work() as uow:
        shop = await _shop(uow.session, shop_id)
        await require_running(uow.session, principal, shop)
        current = ShopStatus(shop.status)
        if not await _runs_hub(uow, principal, shop) and not (
                current is ShopStatus.DRAFT and shop.owner_id == principal.user_id):
            raise Forbidden("only the hub's administrators may suspend or reopen a shop")
        check_status_change(current, wanted)
        await set_status(uow, shop, wanted)
        audit.record(uow.session, shop, principal, "status_changed",
                     f"Boutique {SHOP_STATUSES[wanted]} (était {SHOP_STATUSES[current]})",
                     {"status": wanted.value, "was": current.value})
    return shop


async def set_status(uow: UnitOfWork, shop: Shop, status: ShopStatus) -> None:
    """The shop's products leave the public catalogue, or come back to it, with its status; it
    goes live only when it can be paid (``require_payout_account``)."""
    check_may_go_live(shop.id, status, payouts_required=payouts_required(uow),
                      payouts_enabled=shop.payouts_enabled)
    shop.status = status.value
    product_ids = (await uow.session.exec(
        select(Product.id).where(Product.shop_id == shop.id))).all()
    await search.reindex_products(uow.session, list(product_ids))
    await uow.emit(ShopStatusChanged(shop_id=shop.id, hub_id=shop.hub_id, status=status.value))


async def record_payout_account(event: PayoutAccountUpdated, uow: UnitOfWork) -> None:
    """Where the shop stands with its payout account; a shop the catalog does not know (yet)
    is none of its business."""
    shop = await uow.session.get(Shop, event.shop_id)
    if shop is not None:
        shop.payouts_enabled = event.payouts_enabled
        shop.payout_details_submitted = event.details_submitted


async def audit_trail(runtime: ServiceRuntime, principal: Principal, shop_id: UUID,
                      page: int = 1) -> AuditPage:
    async with runtime.database.sessions() as session:
        await require_running(session, principal, await _shop(session, shop_id))
        total, entries = await audit.entries(session, shop_id, page=page)
    return AuditPage(total, entries)


async def _runs_hub(uow: UnitOfWork, principal: Principal, shop: Shop) -> bool:
    return await _runs_hub_id(uow, principal, shop.hub_id)


async def _shop(session, shop_id: UUID) -> Shop:
    shop = await session.get(Shop, shop_id)
    if shop is None:
        raise NotFound(f"no shop {shop_id}")
    return shop


# --- onboarding by invitation --------------------------------------------------------------


async def invite(runtime: ServiceRuntime, principal: Principal, hub_id: UUID,
                 invitation: Invitation) -> Shop:
    """A draft shop reserved for ``invitation.email``: theirs at once when they have an account,
    else as soon as they sign up with that address."""
    async with runtime.unit_of_work() as uow:
        if not await _runs_hub_id(uow, principal, hub_id):
            raise Forbidden("only a platform administrator or an administrator of this hub may "
                            "invite a shop")
        if await uow.session.get(KnownHub, hub_id) is None:
            raise NotFound(f"no hub {hub_id}")
        shop = Shop(id=uuid4(), hub_id=hub_id, name=invitation.shop_name, owner_id=None,
                    owner_email=invitation.email, opened_at=datetime.now(UTC),
                    status=ShopStatus.DRAFT.value)
        uow.session.add(shop)
        audit.record(uow.session, shop, principal, "shop_invited",
                     f"Invitation envoyée à {shop.owner_email} pour {shop.name}",
                     {"name": shop.name, "email": shop.owner_email})
        account = (await uow.session.exec(
            select(KnownUser).where(KnownUser.email == invitation.email))).first()
        if account is not None:
            await _hand_over(uow, shop, account.id)
    return shop


async def attach_invited_shops(event: UserRegistered, uow: UnitOfWork) -> None:
    """The shops awaiting this address become the new account's (drafts until accepted)."""
    waiting = (await uow.session.exec(select(Shop).where(
        Shop.owner_email == normalized_email(event.email), col(Shop.owner_id).is_(None)))).all()
    for shop in waiting:
        await _hand_over(uow, shop, event.user_id)


async def accept(runtime: ServiceRuntime, principal: Principal, shop_id: UUID) -> Shop:
    async with runtime.unit_of_work() as uow:
        shop = await _shop(uow.session, shop_id)
        invited = shop.owner_id == principal.user_id or (
            shop.owner_id is None and shop.owner_email == normalized_email(principal.email))
        if not invited or shop.status != ShopStatus.DRAFT:
            raise NotInvited("only the person invited may accept, while the shop is a draft")
        if shop.owner_id is None:
            await _hand_over(uow, shop, principal.user_id)
        await set_status(uow, shop, ShopStatus.ACTIVE)
        audit.record(uow.session, shop, principal, "invitation_accepted",
                     "Invitation acceptée : boutique ouverte", {"status": "active"})
    return shop


async def _hand_over(uow: UnitOfWork, shop: Shop, owner_id: UUID) -> None:
    """The shop is the person's from now on; the others learn it is theirs, and still a draft."""
    shop.owner_id = owner_id
    await uow.emit(ShopOpened(shop_id=shop.id, hub_id=shop.hub_id, name=shop.name,
                              owner_id=owner_id, owner_email=shop.owner_email))
    await uow.emit(ShopStatusChanged(shop_id=shop.id, hub_id=shop.hub_id, status=shop.status))


async def _runs_hub_id(uow: UnitOfWork, principal: Principal, hub_id: UUID) -> bool:
    return principal.is_platform_admin or (
        await uow.session.get(HubAdmin, (hub_id, principal.user_id)) is not None)
