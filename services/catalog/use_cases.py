"""What the catalog service does: load, change, write the outbox, commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID, uuid4

from sqlalchemy import delete, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from libs.auth.tokens import Principal
from libs.contracts.accounts import UserRegistered
from libs.contracts.catalog import (
    ProductChanged,
    ProductListed,
    ReservedLine,
    ShopOpened,
    StockReleased,
    StockReservationFailed,
    StockReserved,
)
from libs.contracts.order import (
    OrderCancelled,
    OrderCompleted,
    OrderPartCancelled,
    OrderPlaced,
    OrderRejected,
)
from libs.contracts.pickup import HubOpened, HubStaffAssigned, SlotUnavailable
from libs.kit.errors import Forbidden, NotFound
from libs.kit.runtime import ServiceRuntime, UnitOfWork
from services.catalog.domain import (
    MAX_STOCK,
    NewProduct,
    ProductChanges,
    ProductStock,
    ReservationStatus,
    ShopDetails,
    UnknownAccount,
    checked_on_hand,
    normalized_email,
    quantities_by_product,
    searchable,
    shortage,
)
from services.catalog.tables import HubAdmin, KnownHub, KnownUser, Product, Reservation, Shop

# --- read models ---------------------------------------------------------------------------


async def record_opened_hub(event: HubOpened, uow: UnitOfWork) -> None:
    hub = await uow.session.get(KnownHub, event.hub_id)
    if hub is None:
        uow.session.add(KnownHub(id=event.hub_id, name=event.name, town=event.town))
    else:
        hub.name, hub.town = event.name, event.town


async def record_registered_user(event: UserRegistered, uow: UnitOfWork) -> None:
    email = normalized_email(event.email)
    # An address names one account: the latest to claim it wins, so the event never fails.
    await uow.session.execute(
        delete(KnownUser).where(KnownUser.email == email, KnownUser.id != event.user_id)
    )
    user = await uow.session.get(KnownUser, event.user_id)
    if user is None:
        uow.session.add(KnownUser(id=event.user_id, email=email))
    else:
        user.email = email


async def record_assigned_hub_staff(event: HubStaffAssigned, uow: UnitOfWork) -> None:
    """The latest assignment is the person's role at the hub: only admins may open shops."""
    admin = await uow.session.get(HubAdmin, (event.hub_id, event.user_id))
    if event.role == "admin" and admin is None:
        uow.session.add(HubAdmin(hub_id=event.hub_id, user_id=event.user_id))
    elif event.role != "admin" and admin is not None:
        await uow.session.delete(admin)


async def list_known_hubs(runtime: ServiceRuntime) -> list[KnownHub]:
    async with runtime.database.sessions() as session:
        return list((await session.exec(select(KnownHub).order_by(KnownHub.town))).all())


# --- shops ---------------------------------------------------------------------------------


async def open_shop(runtime: ServiceRuntime, principal: Principal, details: ShopDetails) -> Shop:
    async with runtime.unit_of_work() as uow:
        await _require_hub_admin(uow.session, principal, details.hub_id)
        await _known_hub(uow.session, details.hub_id)
        owner = (
            await uow.session.exec(select(KnownUser).where(KnownUser.email == details.owner_email))
        ).first()
        if owner is None:
            raise UnknownAccount(
                f"no account with this e-mail: {details.owner_email}; the owner signs up first"
            )
        shop = Shop(id=uuid4(), hub_id=details.hub_id, name=details.name, owner_id=owner.id,
                    owner_email=owner.email, opened_at=datetime.now(UTC))
        uow.session.add(shop)
        await uow.emit(ShopOpened(shop_id=shop.id, hub_id=shop.hub_id, name=shop.name,
                                  owner_id=shop.owner_id, owner_email=shop.owner_email))
    return shop


async def list_shops(runtime: ServiceRuntime, hub_id: UUID | None) -> list[Shop]:
    query = select(Shop).order_by(Shop.name)
    if hub_id is not None:
        query = query.where(Shop.hub_id == hub_id)
    async with runtime.database.sessions() as session:
        return list((await session.exec(query)).all())


async def hub_with_shops(
    runtime: ServiceRuntime, principal: Principal, hub_id: UUID
) -> tuple[KnownHub, list[Shop]]:
    """A hub and its shops, for those who may open more there."""
    async with runtime.database.sessions() as session:
        await _require_hub_admin(session, principal, hub_id)
        hub = await _known_hub(session, hub_id)
        shops = (await session.exec(select(Shop).where(Shop.hub_id == hub_id).order_by(Shop.name)))
        return hub, list(shops.all())


async def shop_with_products(
    runtime: ServiceRuntime, principal: Principal, shop_id: UUID
) -> tuple[Shop, list[Product]]:
    """A shop and every product of it, available or not, for its owner."""
    async with runtime.database.sessions() as session:
        shop = await _owned_shop(session, principal, shop_id)
        products = await session.exec(
            select(Product).where(Product.shop_id == shop_id).order_by(Product.search_name)
        )
        return shop, list(products.all())


# --- products ------------------------------------------------------------------------------


async def list_product(
    runtime: ServiceRuntime, principal: Principal, shop_id: UUID, new: NewProduct
) -> Product:
    async with runtime.unit_of_work() as uow:
        shop = await _owned_shop(uow.session, principal, shop_id)
        product = Product(id=uuid4(), shop_id=shop.id, name=new.name, search_name=searchable(new.name),
                          price_cents=new.price_cents, on_hand=new.stock, listed_at=datetime.now(UTC))
        uow.session.add(product)
        await uow.emit(ProductListed(product_id=product.id, shop_id=shop.id, hub_id=shop.hub_id,
                                     name=product.name, price_cents=product.price_cents))
    return product


async def change_product(
    runtime: ServiceRuntime, principal: Principal, product_id: UUID, changes: ProductChanges
) -> Product:
    async with runtime.unit_of_work() as uow:
        # Locked, so that reservations wait while the stock on hand is compared and set.
        product = (
            await uow.session.exec(select(Product).where(Product.id == product_id).with_for_update())
        ).first()
        if product is None:
            raise NotFound(f"no product {product_id}")
        shop = await _owned_shop(uow.session, principal, product.shop_id)
        offered_before = (product.name, product.price_cents, product.available)
        if changes.name is not None:
            product.name, product.search_name = changes.name, searchable(changes.name)
        if changes.price_cents is not None:
            product.price_cents = changes.price_cents
        if changes.available is not None:
            product.available = changes.available
        if changes.stock is not None:
            product.on_hand = checked_on_hand(changes.stock, reserved=product.reserved)
        if (product.name, product.price_cents, product.available) != offered_before:
            await uow.emit(ProductChanged(product_id=product.id, shop_id=shop.id, hub_id=shop.hub_id,
                                          name=product.name, price_cents=product.price_cents,
                                          available=product.available))
    return product


async def search_products(runtime: ServiceRuntime, hub_id: UUID, q: str | None) -> list[Product]:
    """The hub's products on sale, those whose name contains ``q`` (case and accents ignored)."""
    query = (
        select(Product)
        .join(Shop, Shop.id == Product.shop_id)
        .where(Shop.hub_id == hub_id, Product.available)
        .order_by(Product.search_name, Product.id)
    )
    if q and q.strip():
        query = query.where(Product.search_name.like(f"%{_like_escaped(searchable(q.strip()))}%",
                                                     escape="\\"))
    async with runtime.database.sessions() as session:
        return list((await session.exec(query)).all())


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# --- stock for orders ----------------------------------------------------------------------


async def reserve_stock_for_order(event: OrderPlaced, uow: UnitOfWork) -> None:
    """Every line of the order, or none: concurrent orders never take more than is on hand."""
    session = uow.session
    if (await session.exec(select(Reservation).where(Reservation.order_id == event.order_id))).first():
        return
    wanted = quantities_by_product(event.parts)
    # A short line undoes the lines taken before it, and only them: the inbox claim stays.
    savepoint = await session.begin_nested()
    short = [(product_id, quantity) for product_id, quantity in wanted
             if not await _take_units(session, product_id, quantity)]
    if short:
        await savepoint.rollback()
        stocks = await _stocks(session, [product_id for product_id, _ in short])
        await uow.emit(StockReservationFailed(
            order_id=event.order_id,
            shortages=[shortage(product_id, quantity, stocks.get(product_id))
                       for product_id, quantity in short],
        ))
        return
    await savepoint.commit()
    shops = await _shop_ids(session, [product_id for product_id, _ in wanted])
    now = datetime.now(UTC)
    session.add_all(
        Reservation(order_id=event.order_id, product_id=product_id, shop_id=shops[product_id],
                    quantity=quantity, status=ReservationStatus.RESERVED, reserved_at=now)
        for product_id, quantity in wanted
    )
    await uow.emit(StockReserved(
        order_id=event.order_id,
        lines=[ReservedLine(product_id=product_id, quantity=quantity) for product_id, quantity in wanted],
    ))


async def release_stock_of_order(
    event: SlotUnavailable | OrderRejected | OrderCancelled, uow: UnitOfWork
) -> None:
    await _release(uow, event.order_id, shop_id=None)


async def release_stock_of_cancelled_part(event: OrderPartCancelled, uow: UnitOfWork) -> None:
    await _release(uow, event.order_id, shop_id=event.shop_id)


async def sell_stock_of_completed_order(event: OrderCompleted, uow: UnitOfWork) -> None:
    """The goods left the hub: the reserved units are gone from the shop's stock."""
    for reservation in await _held(uow.session, event.order_id, shop_id=None):
        await _settle(uow.session, reservation, ReservationStatus.SOLD)


async def _take_units(session: AsyncSession, product_id: UUID, quantity: int) -> bool:
    if quantity > MAX_STOCK:
        return False  # no stock is that large, and the figure may not even fit the column
    taken = await session.execute(
        update(Product)
        .where(Product.id == product_id, Product.available,
               Product.on_hand - Product.reserved >= quantity)
        .values(reserved=Product.reserved + quantity)
        .execution_options(synchronize_session=False)
    )
    return taken.rowcount == 1


async def _stocks(session: AsyncSession, product_ids: Sequence[UUID]) -> dict[UUID, ProductStock]:
    rows = await session.exec(
        select(Product.id, Product.available, Product.on_hand - Product.reserved)
        .where(Product.id.in_(product_ids))
    )
    return {product_id: ProductStock(available, units) for product_id, available, units in rows}


async def _shop_ids(session: AsyncSession, product_ids: Sequence[UUID]) -> dict[UUID, UUID]:
    rows = await session.exec(select(Product.id, Product.shop_id).where(Product.id.in_(product_ids)))
    return dict(rows.all())


async def _release(uow: UnitOfWork, order_id: UUID, *, shop_id: UUID | None) -> None:
    released = [
        reservation for reservation in await _held(uow.session, order_id, shop_id=shop_id)
        if await _settle(uow.session, reservation, ReservationStatus.RELEASED)
    ]
    if released:
        await uow.emit(StockReleased(
            order_id=order_id,
            lines=[ReservedLine(product_id=r.product_id, quantity=r.quantity) for r in released],
        ))


async def _held(session: AsyncSession, order_id: UUID, *, shop_id: UUID | None) -> list[Reservation]:
    query = select(Reservation).where(Reservation.order_id == order_id,
                                      Reservation.status == ReservationStatus.RESERVED)
    if shop_id is not None:
        query = query.where(Reservation.shop_id == shop_id)
    held = (await session.exec(query)).all()
    return sorted(held, key=lambda reservation: str(reservation.product_id))


async def _settle(session: AsyncSession, reservation: Reservation, status: ReservationStatus) -> bool:
    """Moves a reservation out of ``reserved`` and its units with it; False when a concurrent
    handler already did (the conditional update lets exactly one of them through)."""
    claimed = await session.execute(
        update(Reservation)
        .where(Reservation.order_id == reservation.order_id,
               Reservation.product_id == reservation.product_id,
               Reservation.status == ReservationStatus.RESERVED)
        .values(status=status)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        return False
    units = {"reserved": Product.reserved - reservation.quantity}
    if status == ReservationStatus.SOLD:
        units["on_hand"] = Product.on_hand - reservation.quantity
    await session.execute(
        update(Product).where(Product.id == reservation.product_id).values(**units)
        .execution_options(synchronize_session=False)
    )
    return True


# --- who may do what -----------------------------------------------------------------------


async def _require_hub_admin(session: AsyncSession, principal: Principal, hub_id: UUID) -> None:
    if principal.is_platform_admin:
        return
    if await session.get(HubAdmin, (hub_id, principal.user_id)) is None:
        raise Forbidden("only a platform administrator or an administrator of this hub may do this")


async def _known_hub(session: AsyncSession, hub_id: UUID) -> KnownHub:
    hub = await session.get(KnownHub, hub_id)
    if hub is None:
        raise NotFound(f"no hub {hub_id}")
    return hub


async def _owned_shop(session: AsyncSession, principal: Principal, shop_id: UUID) -> Shop:
    shop = await session.get(Shop, shop_id)
    if shop is None:
        raise NotFound(f"no shop {shop_id}")
    if shop.owner_id != principal.user_id:
        raise Forbidden("only the shop's owner may do this")
    return shop


# --- a person's shops ----------------------------------------------------------------------


@dataclass(frozen=True)
class RunHub:
    """A hub the person runs, and its shops."""

    hub: KnownHub
    shops: list[Shop]


@dataclass(frozen=True)
class ShopsOf:
    """The shops a person owns (with their hubs' names), and the hubs they run: every hub for a
    platform administrator, the hubs they administer for a hub's administrator."""

    owned: list[Shop]
    hub_names: dict[UUID, str]
    run: list[RunHub]


async def shops_of(runtime: ServiceRuntime, principal: Principal) -> ShopsOf:
    async with runtime.database.sessions() as session:
        owned = list((await session.exec(
            select(Shop).where(Shop.owner_id == principal.user_id).order_by(Shop.name))).all())
        hubs_run = select(KnownHub).order_by(KnownHub.town, KnownHub.name)
        if not principal.is_platform_admin:
            hubs_run = hubs_run.join(HubAdmin, col(HubAdmin.hub_id) == KnownHub.id).where(
                HubAdmin.user_id == principal.user_id)
        run = list((await session.exec(hubs_run)).all())
        hub_ids = {hub.id for hub in run} | {shop.hub_id for shop in owned}
        hubs = (await session.exec(select(KnownHub).where(col(KnownHub.id).in_(hub_ids)))).all()
        shops = (await session.exec(
            select(Shop).where(col(Shop.hub_id).in_({hub.id for hub in run}))
            .order_by(Shop.name))).all()
    return ShopsOf(owned=owned, hub_names={hub.id: hub.name for hub in hubs},
                   run=[RunHub(hub, [shop for shop in shops if shop.hub_id == hub.id])
                        for hub in run])
