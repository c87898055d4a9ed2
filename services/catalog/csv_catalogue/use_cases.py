"""A shop's catalogue imported from, and exported to, a CSV file (the format: file_format.py).

An import reads the shop's whole catalogue in a few queries, checks every row against it, then
writes everything in one transaction or nothing at all; a variant is found by its SKU, so
importing the same file again changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol
from uuid import UUID, uuid4

from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from libs.auth.tokens import Principal
from libs.contracts.catalog import ProductChanged, ProductListed
from libs.kit.db import Database
from libs.kit.errors import NotFound
from libs.kit.runtime import UnitOfWork
from services.catalog.csv_catalogue.file_format import (
    MAX_VARIANTS,
    CatalogueRow,
    ParsedCatalogue,
    RowError,
    parse_catalogue,
    write_catalogue,
)
from services.catalog.domain import cents_to_euros, searchable
from services.catalog.shops import audit
from services.catalog.storefront import search
from services.catalog.tables import (
    Product,
    ProductCategory,
    ProductVariant,
    Shop,
    StockAdjustment,
)
from services.catalog.use_cases import (
    ProductView,
    _owned_shop,
    _state,
    announce_stock_levels,
    level_of,
)

IMPORT_REASON = "Import CSV"


class CatalogStore(Protocol):
    """The catalog database and its transactions: the running service's, or the command line's."""

    database: Database

    def unit_of_work(self) -> AbstractAsyncContextManager[UnitOfWork]: ...


Progress = Callable[[int], None]
"""Told how many more rows were handled."""


@dataclass
class ImportReport:
    dry_run: bool
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)


@dataclass
class _Catalogue:
    """The shop's catalogue as stored, as an import reads it."""

    shop: Shop
    products: dict[UUID, Product]
    variants: dict[UUID, list[ProductVariant]]  # by product, in their order
    categories: dict[UUID, tuple[str, ...]]  # by product, sorted
    by_sku: dict[str, ProductVariant]


@dataclass
class _ProductPlan:
    rows: list[CatalogueRow]
    product: Product | None  # None: a new product
    outcomes: list[str]  # per row: created, updated or unchanged


async def import_catalogue(store: CatalogStore, actor: Principal | None, shop_id: UUID,
                           data: bytes, *, dry_run: bool,
                           progress: Progress | None = None) -> ImportReport:
    """Checks every row (``actor`` must be allowed to manage the shop; None is the command line,
    which may do anything), then, unless ``dry_run`` or any row is bad, writes them all."""
    parsed = parse_catalogue(data)
    report = ImportReport(dry_run=dry_run, rows=len(parsed.rows) + _bad_lines(parsed))
    async with store.unit_of_work() as uow:
        shop = await _shop(uow.session, actor, shop_id)
        if parsed.errors:
            report.errors = parsed.errors
            return report
        catalogue = await _load(uow.session, shop, lock=not dry_run)
        plans = [_plan(rows, catalogue, report.errors) for rows in parsed.products().values()]
        report.errors.sort(key=lambda error: error.line)
        for plan in plans:
            for outcome in plan.outcomes:
                setattr(report, outcome, getattr(report, outcome) + 1)
        if dry_run or report.errors:
            return report
        await _apply(uow, actor, catalogue, plans, progress)
        if actor is not None:
            audit.record(uow.session, shop, actor, "catalogue_imported",
                         f"Catalogue importé : {report.created} variantes créées, "
                         f"{report.updated} modifiées, {report.unchanged} inchangées",
                         {"created": report.created, "updated": report.updated,
                          "unchanged": report.unchanged})
    return report


def _bad_lines(parsed: ParsedCatalogue) -> int:
    return len({error.line for error in parsed.errors if error.line > 1})


async def export_catalogue(store: CatalogStore, actor: Principal | None,
                           shop_id: UUID) -> str:
    """The shop's catalogue as a CSV file that imports back unchanged."""
    async with store.database.sessions() as session:
        catalogue = await _load(session, await _shop(session, actor, shop_id), lock=False)
    rows = []
    for product in sorted(catalogue.products.values(), key=lambda p: (p.search_name, p.name)):
        for variant in catalogue.variants[product.id]:
            rows.append(CatalogueRow(
                line=0, sku=variant.sku, name=product.name, label=variant.label,
                price_cents=variant.price_cents, stock=variant.on_hand, unit=product.unit,
                vat_rate_bps=product.vat_rate_bps, categories=catalogue.categories[product.id],
                tags=tuple(product.tags), description=product.description,
                available=variant.available, member_price_cents=variant.member_price_cents))
    return write_catalogue(rows)


async def _shop(session: AsyncSession, actor: Principal | None, shop_id: UUID) -> Shop:
    if actor is not None:
        return await _owned_shop(session, actor, shop_id)
    shop = await session.get(Shop, shop_id)
    if shop is None:
        raise NotFound(f"no shop {shop_id}")
    return shop


async def _load(session: AsyncSession, shop: Shop, *, lock: bool) -> _Catalogue:
    products = {product.id: product for product in (await session.exec(
        select(Product).where(Product.shop_id == shop.id))).all()}
    # Locked, so that reservations wait and the stock checked against them stays true.
    variant_query = (select(ProductVariant).where(ProductVariant.shop_id == shop.id)
                     .order_by(ProductVariant.position))
    if lock:
        variant_query = variant_query.with_for_update()
    variants: dict[UUID, list[ProductVariant]] = {product_id: [] for product_id in products}
    by_sku = {}
    for variant in (await session.exec(variant_query)).all():
        variants[variant.product_id].append(variant)
        by_sku[variant.sku] = variant
    categories: dict[UUID, list[str]] = {product_id: [] for product_id in products}
    for link in (await session.exec(select(ProductCategory).join(
            Product, col(Product.id) == ProductCategory.product_id).where(
            Product.shop_id == shop.id))).all():
        categories[link.product_id].append(link.category)
    return _Catalogue(shop, products, variants,
                      {product_id: tuple(sorted(found)) for product_id, found in categories.items()},
                      by_sku)


def _plan(rows: list[CatalogueRow], catalogue: _Catalogue, errors: list[RowError]) -> _ProductPlan:
    """What importing one product's rows does to the catalogue, or why it cannot."""
    known = [catalogue.by_sku[row.sku] for row in rows if row.sku in catalogue.by_sku]
    product_ids = list(dict.fromkeys(variant.product_id for variant in known))
    if len(product_ids) > 1:
        errors.append(RowError(rows[0].line, "ces SKU sont des variantes de produits différents "
                                             "de la boutique : un produit par nom", "sku"))
        return _ProductPlan(rows, None, [])
    product = catalogue.products[product_ids[0]] if product_ids else None
    if product is None:
        return _ProductPlan(rows, None, ["created"] * len(rows))
    skus = {row.sku for row in rows}
    kept = [variant for variant in catalogue.variants[product.id] if variant.sku not in skus]
    kept_labels = {variant.label.casefold(): variant.sku for variant in kept}
    for row in rows:
        if row.label.casefold() in kept_labels:
            errors.append(RowError(row.line, f"le produit a déjà une variante {row.label!r} "
                                             f"(SKU {kept_labels[row.label.casefold()]})",
                                   "variante"))
        variant = catalogue.by_sku.get(row.sku)
        if (variant is not None and row.keeps_member_price
                and variant.member_price_cents is not None
                and variant.member_price_cents >= row.price_cents):
            errors.append(RowError(row.line, f"le prix adhérent de la variante "
                                             f"({cents_to_euros(variant.member_price_cents)} €) "
                                             "doit rester inférieur au prix : ajoutez la colonne "
                                             "prix_adherent", "prix"))
        if variant is not None and row.stock < variant.reserved:
            errors.append(RowError(row.line, f"stock {row.stock} inférieur aux {variant.reserved} "
                                             "unités réservées par des commandes en cours",
                                   "stock"))
    if len(kept) + len(rows) > MAX_VARIANTS:
        errors.append(RowError(rows[0].line, f"le produit aurait plus de {MAX_VARIANTS} variantes"))
    product_changes = _product_changes(product, catalogue.categories[product.id], rows[0])
    outcomes = []
    for row in rows:
        variant = catalogue.by_sku.get(row.sku)
        if variant is None:
            outcomes.append("created")
        elif product_changes or _variant_changes(variant, row):
            outcomes.append("updated")
        else:
            outcomes.append("unchanged")
    return _ProductPlan(rows, product, outcomes)


def _product_changes(product: Product, categories: tuple[str, ...], row: CatalogueRow) -> dict:
    wanted = {"name": row.name, "description": row.description, "unit": row.unit,
              "vat_rate_bps": row.vat_rate_bps, "tags": list(row.tags)}
    changes = {name: value for name, value in wanted.items() if getattr(product, name) != value}
    if categories != row.categories:
        changes["categories"] = row.categories
    return changes


def _variant_changes(variant: ProductVariant, row: CatalogueRow) -> dict:
    wanted = {"label": row.label, "price_cents": row.price_cents, "on_hand": row.stock,
              "available": row.available}
    if not row.keeps_member_price:
        wanted["member_price_cents"] = row.member_price_cents
    return {name: value for name, value in wanted.items() if getattr(variant, name) != value}


async def _apply(uow: UnitOfWork, actor: Principal | None, catalogue: _Catalogue,
                 plans: list[_ProductPlan], progress: Progress | None) -> None:
    session, shop, now = uow.session, catalogue.shop, datetime.now(UTC)
    by_user_id, by_email = (actor.user_id, actor.email) if actor else (shop.owner_id,
                                                                       shop.owner_email)
    announced: list[tuple[type[ProductListed | ProductChanged], Product, ProductChanged | None]] = []
    recategorised: list[UUID] = []
    restocked: list[ProductVariant] = []
    for plan in plans:
        first = plan.rows[0]
        product = plan.product
        if product is None:
            product = Product(id=uuid4(), shop_id=shop.id, name=first.name,
                              search_name=searchable(first.name), description=first.description,
                              unit=first.unit, vat_rate_bps=first.vat_rate_bps,
                              tags=list(first.tags), listed_at=now)
            session.add(product)
            catalogue.products[product.id] = product
            catalogue.variants[product.id] = []
            catalogue.categories[product.id] = first.categories
            recategorised.append(product.id)
            announced.append((ProductListed, product, None))
        elif "updated" in plan.outcomes or "created" in plan.outcomes:
            before = _state(ProductChanged, shop, _view(catalogue, product))
            changes = _product_changes(product, catalogue.categories[product.id], first)
            if "categories" in changes:
                catalogue.categories[product.id] = changes.pop("categories")
                recategorised.append(product.id)
            for name, value in changes.items():
                setattr(product, name, value)
            if "name" in changes:
                product.search_name = searchable(product.name)
            announced.append((ProductChanged, product, before))
        restocked += _apply_variants(session, catalogue, product, plan.rows, by_user_id,
                                     by_email, now)
        if progress:
            progress(len(plan.rows))
    if recategorised:
        await session.execute(delete(ProductCategory).where(
            col(ProductCategory.product_id).in_(recategorised)))
        session.add_all(ProductCategory(product_id=product_id, category=category)
                        for product_id in recategorised
                        for category in catalogue.categories[product_id])
    await session.flush()
    await search.reindex_products(session, [product.id for _, product, _ in announced])
    states = [(_state(kind, shop, _view(catalogue, product)), before)
              for kind, product, before in announced]
    await uow.emit_all([after for after, before in states if after != before])
    await announce_stock_levels(uow, [level_of(variant) for variant in restocked])


def _apply_variants(session: AsyncSession, catalogue: _Catalogue, product: Product,
                    rows: list[CatalogueRow], by_user_id: UUID, by_email: str,
                    now: datetime) -> list[ProductVariant]:
    """Writes the rows' variants; gives those whose stock is new or changed (they are locked)."""
    variants = catalogue.variants[product.id]
    restocked = []
    for row in rows:
        variant = catalogue.by_sku.get(row.sku)
        if variant is None:
            position = max((v.position for v in variants), default=-1) + 1
            variant = ProductVariant(id=uuid4(), product_id=product.id, shop_id=product.shop_id,
                                     label=row.label, sku=row.sku, price_cents=row.price_cents,
                                     member_price_cents=row.member_price_cents,
                                     available=row.available, on_hand=row.stock,
                                     position=position)
            session.add(variant)
            variants.append(variant)
            catalogue.by_sku[row.sku] = variant
            restocked.append(variant)
            continue
        changes = _variant_changes(variant, row)
        if "on_hand" in changes:
            session.add(StockAdjustment(
                id=uuid4(), variant_id=variant.id, shop_id=variant.shop_id,
                delta=row.stock - variant.on_hand, reason=IMPORT_REASON, on_hand_after=row.stock,
                by_user_id=by_user_id, by_email=by_email, at=now))
            variant.stock_revision += 1
            restocked.append(variant)
        for name, value in changes.items():
            setattr(variant, name, value)
    return restocked


def _view(catalogue: _Catalogue, product: Product) -> ProductView:
    return ProductView(product, list(catalogue.variants[product.id]),
                       list(catalogue.categories[product.id]))


async def managed_shop(store: CatalogStore, actor: Principal, shop_id: UUID) -> Shop:
    """The shop, when ``actor`` may manage it."""
    async with store.database.sessions() as session:
        return await _shop(session, actor, shop_id)
