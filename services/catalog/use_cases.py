"""What the catalog service does: load, change, write the outbox, commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID, uuid4

from sqlalchemy import and_, case, delete, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from libs.auth.tokens import Principal
from libs.contracts import Event
from libs.contracts.accounts import UserRegistered
from libs.contracts.catalog import (
    ProductChanged,
    ProductListed,
    ReservedLine,
    ShopOpened,
    ShopStatusChanged,
    StockLevelChanged,
    StockReleased,
    StockReservationFailed,
    StockReserved,
)
from libs.contracts.catalog import ProductVariant as ProductVariantState
from libs.contracts.order import (
    OrderCancelled,
    OrderCompleted,
    OrderLinesCancelled,
    OrderPartCancelled,
    OrderPlaced,
    OrderRejected,
)
from libs.contracts.pickup import HubOpened, HubStaffAssigned, NoShowRecorded, SlotUnavailable
from libs.kit.errors import Forbidden, NotFound
from libs.kit.runtime import ServiceRuntime, UnitOfWork
from libs.sqltypes import conflict_insert
from services.catalog.domain import (
    MAX_STOCK,
    MAX_VARIANTS,
    NewProduct,
    ProductChanges,
    ReservationStatus,
    ShopDetails,
    ShopStatus,
    SkuTaken,
    StockAdjustmentRequest,
    StockCount,
    TooManyVariants,
    UnknownAccount,
    VariantChanges,
    VariantDetails,
    VariantKey,
    VariantStock,
    adjusted_on_hand,
    check_member_price,
    check_new_label,
    checked_on_hand,
    headline,
    may_run_shop,
    normalized_email,
    opening_status,
    quantities_by_variant,
    searchable,
    shortage,
    sku_base,
    unused_sku,
)
from services.catalog.shops import audit
from services.catalog.storefront import search
from services.catalog.tables import (
    HubAdmin,
    KnownHub,
    KnownUser,
    Product,
    ProductCategory,
    ProductVariant,
    Reservation,
    Shop,
    StockAdjustment,
)

RECENT_ADJUSTMENTS = 20

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
        status = opening_status(payouts_required=payouts_required(uow))
        shop = Shop(id=uuid4(), hub_id=details.hub_id, name=details.name, owner_id=owner.id,
                    owner_email=owner.email, opened_at=datetime.now(UTC), status=status.value)
        uow.session.add(shop)
        audit.record(uow.session, shop, principal, "shop_opened", f"Boutique ouverte : {shop.name}",
                     {"name": shop.name, "owner_email": shop.owner_email, "status": shop.status})
        await uow.emit(ShopOpened(shop_id=shop.id, hub_id=shop.hub_id, name=shop.name,
                                  owner_id=shop.owner_id, owner_email=shop.owner_email))
        if status is not ShopStatus.ACTIVE:
            await uow.emit(ShopStatusChanged(shop_id=shop.id, hub_id=shop.hub_id,
                                             status=shop.status))
    return shop


def payouts_required(uow: UnitOfWork) -> bool:
    """Whether a shop must be able to be paid out before it goes live (where payments go
    through Stripe)."""
    return bool(uow.settings and uow.settings.require_payout_account)


async def list_shops(runtime: ServiceRuntime, hub_id: UUID | None) -> list[Shop]:
    query = select(Shop).where(Shop.status == "active").order_by(Shop.name)
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


@dataclass(frozen=True)
class ProductView:
    """A product with its variants (in the order they were added) and its categories."""

    product: Product
    variants: list[ProductVariant]
    categories: list[str]

    @property
    def id(self) -> UUID:
        return self.product.id

    @property
    def name(self) -> str:
        return self.product.name

    @property
    def price_cents(self) -> int:
        return headline(self.variants)[0]

    @property
    def stock_available(self) -> int:
        return headline(self.variants)[1]


@dataclass(frozen=True)
class ShopCatalog:
    """A shop's back office: every product of it, and the latest stock adjustments."""

    shop: Shop
    products: list[ProductView]
    adjustments: list[StockAdjustment]

    def articles(self) -> dict[UUID, str]:
        """Each variant's name as the shop says it: "Miel · 500 g"."""
        return {variant.id: " · ".join(filter(None, (view.product.name, variant.label)))
                for view in self.products for variant in view.variants}


async def shop_with_products(runtime: ServiceRuntime, principal: Principal,
                             shop_id: UUID) -> ShopCatalog:
    """A shop and every product of it, available or not, for its owner."""
    async with runtime.database.sessions() as session:
        shop = await _owned_shop(session, principal, shop_id)
        products = await session.exec(
            select(Product).where(Product.shop_id == shop_id).order_by(Product.search_name)
        )
        adjustments = await session.exec(
            select(StockAdjustment).where(StockAdjustment.shop_id == shop_id)
            .order_by(col(StockAdjustment.at).desc()).limit(RECENT_ADJUSTMENTS)
        )
        return ShopCatalog(shop, await _views(session, list(products.all())),
                           list(adjustments.all()))


# --- products ------------------------------------------------------------------------------


async def list_product(
    runtime: ServiceRuntime, principal: Principal, shop_id: UUID, new: NewProduct
) -> ProductView:
    async with runtime.unit_of_work() as uow:
        session = uow.session
        shop = await _owned_shop(session, principal, shop_id)
        product = Product(id=uuid4(), shop_id=shop.id, name=new.name, search_name=searchable(new.name),
                          description=new.description, unit=new.unit,
                          vat_rate_bps=new.vat_rate_bps, tags=new.tags, listed_at=datetime.now(UTC))
        session.add(product)
        session.add_all(ProductCategory(product_id=product.id, category=category)
                        for category in new.categories)
        await session.flush()
        skus = await _skus_for(session, shop.id, new.name, new.variants)
        variants = [_new_variant(product, details, sku, position)
                    for position, (details, sku) in enumerate(zip(new.variants, skus, strict=True))]
        await _add_variants(session, variants)
        view = ProductView(product, variants, list(new.categories))
        await search.reindex_products(session, [product.id])
        await uow.emit(_state(ProductListed, shop, view))
        await announce_stock_levels(uow, [level_of(variant) for variant in variants])
        audit.record(session, shop, principal, "product_listed", f"Produit ajouté : {product.name}",
                     {"product_id": product.id, "name": product.name,
                      "variants": [variant.label for variant in variants]})
    return view


async def change_product(
    runtime: ServiceRuntime, principal: Principal, product_id: UUID, changes: ProductChanges
) -> ProductView:
    async with runtime.unit_of_work() as uow:
        session = uow.session
        product, shop = await _owned_product(session, principal, product_id)
        before = _state(ProductChanged, shop, await _view(session, product))
        if changes.name is not None:
            product.name, product.search_name = changes.name, searchable(changes.name)
        for field in ("description", "unit", "vat_rate_bps", "tags", "available"):
            if getattr(changes, field) is not None:
                setattr(product, field, getattr(changes, field))
        if changes.categories is not None:
            await session.execute(delete(ProductCategory).where(
                col(ProductCategory.product_id) == product.id))
            session.add_all(ProductCategory(product_id=product.id, category=category)
                            for category in changes.categories)
        changed = changes.model_dump(exclude_none=True)
        audit.record(session, shop, principal, "product_changed",
                     f"Produit modifié : {product.name} ({', '.join(changed)})",
                     {"product_id": product.id, **changed})
        view = await _announce_change(uow, shop, product, before)
    return view


async def add_variant(
    runtime: ServiceRuntime, principal: Principal, product_id: UUID, details: VariantDetails
) -> ProductView:
    async with runtime.unit_of_work() as uow:
        session = uow.session
        product, shop = await _owned_product(session, principal, product_id)
        view = await _view(session, product)
        if len(view.variants) >= MAX_VARIANTS:
            raise TooManyVariants(f"a product has at most {MAX_VARIANTS} variants")
        check_new_label(details.label, [variant.label for variant in view.variants])
        before = _state(ProductChanged, shop, view)
        [sku] = await _skus_for(session, shop.id, product.name, [details])
        position = max(variant.position for variant in view.variants) + 1
        added = _new_variant(product, details, sku, position)
        await _add_variants(session, [added])
        audit.record(session, shop, principal, "variant_added",
                     f"Variante ajoutée à {product.name} : {details.label or sku}",
                     {"product_id": product.id, "sku": sku, **details.model_dump()})
        view = await _announce_change(uow, shop, product, before)
        await announce_stock_levels(uow, [level_of(added)])
    return view


async def change_variant(
    runtime: ServiceRuntime, principal: Principal, variant_id: UUID, changes: VariantChanges
) -> tuple[ProductView, ProductVariant]:
    """The variant changed, and the product it belongs to as it now is."""
    async with runtime.unit_of_work() as uow:
        session = uow.session
        variant = await _variant(session, variant_id)
        product, shop = await _owned_product(session, principal, variant.product_id)
        view = await _view(session, product)
        before = _state(ProductChanged, shop, view)
        if changes.label is not None:
            check_new_label(changes.label, [v.label for v in view.variants if v.id != variant.id])
            variant.label = changes.label
        if changes.sku is not None and changes.sku != variant.sku:
            await _check_skus_free(session, shop.id, [changes.sku])
            variant.sku = changes.sku
        if changes.price_cents is not None:
            variant.price_cents = changes.price_cents
        if changes.changes_member_price:
            variant.member_price_cents = changes.member_price_cents
        check_member_price(variant.price_cents, variant.member_price_cents)
        if changes.available is not None:
            variant.available = changes.available
        changed = changes.model_dump(exclude_unset=True)
        audit.record(session, shop, principal, "variant_changed",
                     f"Variante modifiée : {product.name} {variant.label} ({', '.join(changed)})",
                     {"product_id": product.id, "variant_id": variant.id, **changed})
        await _flush_variants(session)
        view = await _announce_change(uow, shop, product, before)
    return view, variant


async def _views(session: AsyncSession, products: list[Product]) -> list[ProductView]:
    """``products`` with their variants and categories, in two queries whatever their number."""
    ids = [product.id for product in products]
    if not ids:
        return []
    variants = (await session.exec(
        select(ProductVariant).where(col(ProductVariant.product_id).in_(ids))
        .order_by(ProductVariant.position))).all()
    categories = (await session.exec(
        select(ProductCategory).where(col(ProductCategory.product_id).in_(ids))
        .order_by(ProductCategory.category))).all()
    variants_of: dict[UUID, list[ProductVariant]] = {product_id: [] for product_id in ids}
    for variant in variants:
        variants_of[variant.product_id].append(variant)
    categories_of: dict[UUID, list[str]] = {product_id: [] for product_id in ids}
    for category in categories:
        categories_of[category.product_id].append(category.category)
    return [ProductView(product, variants_of[product.id], categories_of[product.id])
            for product in products]


async def _view(session: AsyncSession, product: Product) -> ProductView:
    [view] = await _views(session, [product])
    return view


def _state(kind: type[ProductListed | ProductChanged], shop: Shop,
           view: ProductView) -> ProductListed | ProductChanged:
    """The product as its event tells it to the other services."""
    product = view.product
    return kind(
        product_id=product.id, shop_id=shop.id, hub_id=shop.hub_id, name=product.name,
        description=product.description, unit=product.unit, vat_rate_bps=product.vat_rate_bps,
        categories=view.categories, available=product.available,
        variants=[ProductVariantState(variant_id=v.id, label=v.label, sku=v.sku,
                                      price_cents=v.price_cents, available=v.available,
                                      member_price_cents=v.member_price_cents)
                  for v in view.variants],
    )


async def _announce_change(uow: UnitOfWork, shop: Shop, product: Product,
                           before: ProductChanged) -> ProductView:
    """The product as it now is; announced when what the other services see of it changed."""
    await uow.session.flush()
    await search.reindex_products(uow.session, [product.id])
    view = await _view(uow.session, product)
    after = _state(ProductChanged, shop, view)
    if after != before:
        await uow.emit(after)
    return view


def _new_variant(product: Product, details: VariantDetails, sku: str,
                 position: int) -> ProductVariant:
    return ProductVariant(id=uuid4(), product_id=product.id, shop_id=product.shop_id,
                          label=details.label, sku=sku, price_cents=details.price_cents,
                          member_price_cents=details.member_price_cents, on_hand=details.stock,
                          position=position)


async def _skus_for(session: AsyncSession, shop_id: UUID, name: str,
                    variants: Sequence[VariantDetails]) -> list[str]:
    """Each variant's SKU: the one it was given, unused in the shop, or one made for it."""
    given = [variant.sku for variant in variants if variant.sku is not None]
    await _check_skus_free(session, shop_id, given)
    bases = {sku_base(name, variant.label) for variant in variants if variant.sku is None}
    taken = set(given)
    if bases:
        taken |= set((await session.exec(select(ProductVariant.sku).where(
            ProductVariant.shop_id == shop_id,
            or_(*(col(ProductVariant.sku).startswith(base, autoescape=True) for base in bases)),
        ))).all())
    skus = []
    for variant in variants:
        sku = variant.sku or unused_sku(sku_base(name, variant.label), taken)
        taken.add(sku)
        skus.append(sku)
    return skus


async def _check_skus_free(session: AsyncSession, shop_id: UUID, skus: Sequence[str]) -> None:
    if not skus:
        return
    used = (await session.exec(select(ProductVariant.sku).where(
        ProductVariant.shop_id == shop_id, col(ProductVariant.sku).in_(skus)))).all()
    if used:
        raise SkuTaken(f"SKU already used in this shop: {', '.join(sorted(used))}")


async def _add_variants(session: AsyncSession, variants: list[ProductVariant]) -> None:
    session.add_all(variants)
    await _flush_variants(session)


async def _flush_variants(session: AsyncSession) -> None:
    try:
        await session.flush()
    except IntegrityError as error:
        # Checked before, but a concurrent request may have taken the SKU meanwhile.
        raise SkuTaken("SKU already used in this shop") from error


# --- stock by hand -------------------------------------------------------------------------


async def adjust_stock(runtime: ServiceRuntime, principal: Principal, variant_id: UUID,
                       adjustment: StockAdjustmentRequest) -> StockAdjustment:
    """Units in or out, never below those reserved for orders in progress."""
    async with runtime.unit_of_work() as uow:
        variant = await _variant(uow.session, variant_id, for_update=True)
        shop = await _owned_shop(uow.session, principal, variant.shop_id)
        on_hand = adjusted_on_hand(variant.on_hand, adjustment.delta, reserved=variant.reserved)
        return await _record_adjustment(uow, principal, shop, variant, on_hand,
                                        adjustment.reason)


async def set_on_hand(runtime: ServiceRuntime, principal: Principal, variant_id: UUID,
                      count: StockCount) -> StockAdjustment | None:
    """The units counted in the shop, recorded as the adjustment that leads there (none when the
    count is what was on hand)."""
    async with runtime.unit_of_work() as uow:
        variant = await _variant(uow.session, variant_id, for_update=True)
        shop = await _owned_shop(uow.session, principal, variant.shop_id)
        on_hand = checked_on_hand(count.stock, reserved=variant.reserved)
        if on_hand == variant.on_hand:
            return None
        return await _record_adjustment(uow, principal, shop, variant, on_hand, count.reason)


async def stock_history(runtime: ServiceRuntime, principal: Principal,
                        variant_id: UUID) -> list[StockAdjustment]:
    """A variant's stock adjustments, newest first, for the shop's owner."""
    async with runtime.database.sessions() as session:
        variant = await _variant(session, variant_id)
        await _owned_shop(session, principal, variant.shop_id)
        return list((await session.exec(
            select(StockAdjustment).where(StockAdjustment.variant_id == variant_id)
            .order_by(col(StockAdjustment.at).desc()))).all())


async def _record_adjustment(uow: UnitOfWork, principal: Principal, shop: Shop,
                             variant: ProductVariant, on_hand: int,
                             reason: str) -> StockAdjustment:
    """The variant's new stock, its trace, and its announcement; the variant is locked."""
    session = uow.session
    adjustment = StockAdjustment(id=uuid4(), variant_id=variant.id, shop_id=variant.shop_id,
                                 delta=on_hand - variant.on_hand, reason=reason,
                                 on_hand_after=on_hand, by_user_id=principal.user_id,
                                 by_email=principal.email, at=datetime.now(UTC))
    why = f" ({reason})" if reason else ""
    audit.record(session, shop, principal, "stock_adjusted",
                 f"Stock {variant.sku} : {variant.on_hand} → {on_hand}{why}",
                 {"variant_id": variant.id, "on_hand": on_hand, "delta": adjustment.delta,
                  "reason": reason})
    variant.on_hand = on_hand
    variant.stock_revision += 1
    session.add(adjustment)
    await announce_stock_levels(uow, [level_of(variant)])
    return adjustment


# --- stock for orders ----------------------------------------------------------------------


async def reserve_stock_for_order(event: OrderPlaced, uow: UnitOfWork) -> None:
    """Every line of the order, or none: concurrent orders never take more than is on hand. A
    repeated OrderPlaced finds the order's reservations and changes nothing."""
    session = uow.session
    wanted = quantities_by_variant(event.parts)
    levels, short = [], []
    for key, quantity in wanted:
        level = await _take_units(session, key, quantity)
        if level is None:
            short.append((key, quantity))
        else:
            levels.append(level)
    if not short and await _record_reservations(session, event.order_id, wanted, levels):
        await uow.emit(StockReserved(
            order_id=event.order_id,
            lines=[ReservedLine(product_id=product_id, variant_id=variant_id, quantity=quantity)
                   for (product_id, variant_id), quantity in wanted],
        ))
        await announce_stock_levels(uow, levels)
        return
    # The units taken go back, and only them: the inbox claim stays. Their rows stay locked
    # until the commit, so nobody saw them taken.
    await _give_back_units(session, levels, dict(wanted))
    if short and not await _reserved_before(session, event.order_id):
        stocks = await _stocks(session, [key for key, _ in short])
        await uow.emit(StockReservationFailed(
            order_id=event.order_id,
            shortages=[shortage(key, quantity, stocks.get(key)) for key, quantity in short],
        ))


async def _record_reservations(session: AsyncSession, order_id: UUID,
                               wanted: Sequence[tuple[VariantKey, int]],
                               levels: Sequence[StockLevel]) -> bool:
    """The order's reservations, in one statement; False when it had them already (on
    PostgreSQL a concurrent delivery waits for the first, then writes nothing)."""
    shops = {level.variant_id: level.shop_id for level in levels}
    now = datetime.now(UTC)
    # Its rows as parameters, not values: the statement stays the same, and cached.
    written = await session.execute(
        conflict_insert(session, Reservation).on_conflict_do_nothing().returning(Reservation.variant_id),
        [{"order_id": order_id, "variant_id": variant_id, "product_id": product_id,
          "shop_id": shops[variant_id], "quantity": quantity,
          "status": ReservationStatus.RESERVED, "reserved_at": now}
         for (product_id, variant_id), quantity in wanted])
    return written.first() is not None


async def _reserved_before(session: AsyncSession, order_id: UUID) -> bool:
    held = select(Reservation.variant_id).where(Reservation.order_id == order_id).limit(1)
    return (await session.exec(held)).first() is not None


async def _give_back_units(session: AsyncSession, levels: Sequence[StockLevel],
                           quantities: dict[VariantKey, int]) -> None:
    """Undoes _take_units in the same transaction: the variants as they were, revision included."""
    for level in levels:
        await session.execute(
            update(ProductVariant).where(ProductVariant.id == level.variant_id)
            .values(reserved=ProductVariant.reserved
                    - quantities[(level.product_id, level.variant_id)],
                    stock_revision=ProductVariant.stock_revision - 1)
            .execution_options(synchronize_session=False))


# The events whose handlers release or sell what an order holds.
_SETTLING = (SlotUnavailable, OrderRejected, OrderCancelled, OrderPartCancelled, NoShowRecorded,
             OrderCompleted)


async def lock_stock_of_batch(session: AsyncSession, events: Sequence[Event]) -> None:
    """Locks the variants every event of a consumer's batch will reserve, release or sell, at
    once and in id order (the order quantities_by_variant gives one order's): batches from two
    partitions then wait for each other instead of deadlocking. SQLite has one writer at a time."""
    if session.bind.dialect.name != "postgresql":
        return
    variant_ids = {line.variant_id for event in events if isinstance(event, OrderPlaced)
                   for part in event.parts for line in part.lines}
    variant_ids |= {line.variant_id for event in events if isinstance(event, OrderLinesCancelled)
                    for line in event.lines}
    settling = [event.order_id for event in events if isinstance(event, _SETTLING)]
    if settling:
        variant_ids.update((await session.execute(
            select(Reservation.variant_id).where(col(Reservation.order_id).in_(settling),
                                                 Reservation.status == ReservationStatus.RESERVED)
        )).scalars())
    if len(variant_ids) > 1:
        await session.execute(select(ProductVariant.id)
                              .where(col(ProductVariant.id).in_(variant_ids))
                              .order_by(ProductVariant.id).with_for_update())


async def release_stock_of_order(
    event: SlotUnavailable | OrderRejected | OrderCancelled, uow: UnitOfWork
) -> None:
    await _release(uow, event.order_id, shop_id=None)


async def release_stock_of_cancelled_part(event: OrderPartCancelled, uow: UnitOfWork) -> None:
    await _release(uow, event.order_id, shop_id=event.shop_id)


async def release_stock_of_cancelled_lines(event: OrderLinesCancelled, uow: UnitOfWork) -> None:
    """A shop withdrew some units of its lines: those units, and only them, are free again; the
    rest of the reservation stays held for the order."""
    released, levels = [], []
    for line in sorted(event.lines, key=lambda line: str(line.variant_id)):
        level = await _release_units(uow.session, event.order_id, line.variant_id, line.quantity)
        if level is not None:
            released.append(ReservedLine(product_id=line.product_id, variant_id=line.variant_id,
                                         quantity=line.quantity))
            levels.append(level)
    if released:
        await uow.emit(StockReleased(order_id=event.order_id, lines=released))
        await announce_stock_levels(uow, levels)


async def _release_units(session: AsyncSession, order_id: UUID, variant_id: UUID,
                         quantity: int) -> StockLevel | None:
    """The variant's stock level once ``quantity`` units of the order's reservation are
    released (the reservation released when none is left); None when the reservation does not
    hold them (already settled, or never made)."""
    claimed = await session.execute(
        update(Reservation)
        .where(Reservation.order_id == order_id, Reservation.variant_id == variant_id,
               Reservation.status == ReservationStatus.RESERVED,
               Reservation.quantity >= quantity)
        .values(quantity=Reservation.quantity - quantity,
                status=case((Reservation.quantity == quantity, ReservationStatus.RELEASED.value),
                            else_=Reservation.status))
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        return None
    released = await session.execute(
        update(ProductVariant).where(ProductVariant.id == variant_id)
        .values(reserved=ProductVariant.reserved - quantity,
                stock_revision=ProductVariant.stock_revision + 1)
        .returning(*_STOCK_LEVEL).execution_options(synchronize_session=False)
    )
    return StockLevel(*released.one())


async def release_stock_after_no_show(event: NoShowRecorded, uow: UnitOfWork) -> None:
    """The resident never came: the goods are back at their shops, free to order again."""
    await _release(uow, event.order_id, shop_id=None)


async def sell_stock_of_completed_order(event: OrderCompleted, uow: UnitOfWork) -> None:
    """The goods left the hub: the reserved units are gone from the shop's stock."""
    levels = [level for reservation in await _held(uow.session, event.order_id, shop_id=None)
              if (level := await _settle(uow.session, reservation, ReservationStatus.SOLD))]
    await announce_stock_levels(uow, levels)


async def _take_units(session: AsyncSession, key: VariantKey, quantity: int) -> StockLevel | None:
    """The variant's stock level once ``quantity`` units are reserved; None when they cannot be."""
    if quantity > MAX_STOCK:
        return None  # no stock is that large, and the figure may not even fit the column
    product_id, variant_id = key
    product_on_sale = select(Product.id).where(Product.id == product_id, Product.available).exists()
    taken = await session.execute(
        update(ProductVariant)
        .where(ProductVariant.id == variant_id, ProductVariant.product_id == product_id,
               ProductVariant.available, product_on_sale,
               ProductVariant.on_hand - ProductVariant.reserved >= quantity)
        .values(reserved=ProductVariant.reserved + quantity,
                stock_revision=ProductVariant.stock_revision + 1)
        .returning(*_STOCK_LEVEL)
        .execution_options(synchronize_session=False)
    )
    level = taken.first()
    return StockLevel(*level) if level else None


async def _stocks(session: AsyncSession,
                  keys: Sequence[VariantKey]) -> dict[VariantKey, VariantStock]:
    rows = await session.exec(
        select(ProductVariant.product_id, ProductVariant.id,
               and_(ProductVariant.available, Product.available),
               ProductVariant.on_hand - ProductVariant.reserved)
        .join(Product, col(Product.id) == ProductVariant.product_id)
        .where(col(ProductVariant.id).in_([variant_id for _, variant_id in keys]))
    )
    return {(product_id, variant_id): VariantStock(bool(available), units)
            for product_id, variant_id, available, units in rows}


async def _release(uow: UnitOfWork, order_id: UUID, *, shop_id: UUID | None) -> None:
    released, levels = [], []
    for reservation in await _held(uow.session, order_id, shop_id=shop_id):
        if level := await _settle(uow.session, reservation, ReservationStatus.RELEASED):
            released.append(reservation)
            levels.append(level)
    if released:
        await uow.emit(StockReleased(
            order_id=order_id,
            lines=[ReservedLine(product_id=r.product_id, variant_id=r.variant_id,
                                quantity=r.quantity) for r in released],
        ))
        await announce_stock_levels(uow, levels)


async def _held(session: AsyncSession, order_id: UUID, *, shop_id: UUID | None) -> list[Reservation]:
    query = select(Reservation).where(Reservation.order_id == order_id,
                                      Reservation.status == ReservationStatus.RESERVED)
    if shop_id is not None:
        query = query.where(Reservation.shop_id == shop_id)
    held = (await session.exec(query)).all()
    return sorted(held, key=lambda reservation: str(reservation.variant_id))


async def _settle(session: AsyncSession, reservation: Reservation,
                  status: ReservationStatus) -> StockLevel | None:
    """Moves a reservation out of ``reserved`` and its units with it, giving the variant's stock
    level after; None when a concurrent handler already did (the conditional update lets exactly
    one of them through)."""
    claimed = await session.execute(
        update(Reservation)
        .where(Reservation.order_id == reservation.order_id,
               Reservation.variant_id == reservation.variant_id,
               Reservation.status == ReservationStatus.RESERVED)
        .values(status=status)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        return None
    units = {"reserved": ProductVariant.reserved - reservation.quantity,
             "stock_revision": ProductVariant.stock_revision + 1}
    if status == ReservationStatus.SOLD:
        units["on_hand"] = ProductVariant.on_hand - reservation.quantity
    settled = await session.execute(
        update(ProductVariant).where(ProductVariant.id == reservation.variant_id).values(**units)
        .returning(*_STOCK_LEVEL).execution_options(synchronize_session=False)
    )
    return StockLevel(*settled.one())


# --- stock levels, as the other services learn them ----------------------------------------


@dataclass(frozen=True)
class StockLevel:
    """A variant's units free to order once its stock changed, and that change's revision."""

    product_id: UUID
    variant_id: UUID
    shop_id: UUID
    available: int
    revision: int
    hub_id: UUID | None = None  # None: announce_stock_levels looks it up


# What a statement that changes a variant's stock returns of it, in StockLevel's order: its
# shop's hub too, which the announcement needs.
_STOCK_LEVEL = (ProductVariant.product_id, ProductVariant.id, ProductVariant.shop_id,
                ProductVariant.on_hand - ProductVariant.reserved, ProductVariant.stock_revision,
                select(Shop.hub_id).where(Shop.id == ProductVariant.shop_id).scalar_subquery())


def level_of(variant: ProductVariant) -> StockLevel:
    return StockLevel(variant.product_id, variant.id, variant.shop_id, variant.stock_available,
                      variant.stock_revision)


async def announce_stock_levels(uow: UnitOfWork, levels: Sequence[StockLevel]) -> None:
    """One StockLevelChanged per variant whose stock the transaction changed (the caller gives
    each variant once, as it stands at the end of the transaction)."""
    if not levels:
        return
    hubs = {level.shop_id: level.hub_id for level in levels if level.hub_id is not None}
    if unknown := {level.shop_id for level in levels} - hubs.keys():
        hubs.update((await uow.session.exec(
            select(Shop.id, Shop.hub_id).where(col(Shop.id).in_(unknown)))).all())
    await uow.emit_all([
        StockLevelChanged(product_id=level.product_id, variant_id=level.variant_id,
                          shop_id=level.shop_id, hub_id=hubs[level.shop_id],
                          available=max(level.available, 0), revision=level.revision)
        for level in levels])


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
    """The shop, when ``principal`` may run it: its owner, or someone acting on its behalf."""
    shop = await session.get(Shop, shop_id)
    if shop is None:
        raise NotFound(f"no shop {shop_id}")
    await require_running(session, principal, shop)
    return shop


async def require_running(session: AsyncSession, principal: Principal, shop: Shop | None) -> None:
    """The one check every owner-only path goes through."""
    if shop is not None and may_run_shop(
        is_owner=shop.owner_id == principal.user_id,
        is_hub_admin=await session.get(HubAdmin, (shop.hub_id, principal.user_id)) is not None,
        is_platform_admin=principal.is_platform_admin,
    ):
        return
    raise Forbidden("only the shop's owner or its hub's administrators may do this")


async def _owned_product(session: AsyncSession, principal: Principal,
                         product_id: UUID) -> tuple[Product, Shop]:
    product = await session.get(Product, product_id)
    if product is None:
        raise NotFound(f"no product {product_id}")
    return product, await _owned_shop(session, principal, product.shop_id)


async def _variant(session: AsyncSession, variant_id: UUID, *,
                   for_update: bool = False) -> ProductVariant:
    """The variant; locked when its stock is about to change, so that reservations wait."""
    query = select(ProductVariant).where(ProductVariant.id == variant_id)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    variant = (await session.exec(query)).first()
    if variant is None:
        raise NotFound(f"no variant {variant_id}")
    return variant


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
