"""The catalog service's rules, free of I/O: what a shop and a product are (a product is sold in
one or more variants, each with its price and stock), how prices are read, how names are
searched, and how an order's lines become reservations or shortages."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Protocol
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationInfo,
    field_validator,
    model_validator,
)

from libs.contracts.catalog import ShortLine, Unit, VatRateBps
from libs.contracts.order import OrderPart
from libs.kit.errors import Conflict, DomainError, Forbidden
from libs.kit.i18n import N_

# Bounds keep every figure well inside a 32-bit column and out of absurd territory.
MAX_PRICE_CENTS = 100_000_000
MAX_STOCK = 1_000_000
MAX_VARIANTS = 20
MAX_TAGS = 10
MAX_TAG = 30
MAX_DESCRIPTION = 2000
MAX_LABEL = 50
MAX_SKU = 64
MAX_REASON = 200

UNITS: dict[str, str] = {"piece": N_("pièce"), "kg": N_("kg"), "litre": N_("litre")}
"""What a product is counted in, and how the pages say it (in French: the pages translate)."""

VAT_RATES: dict[int, str] = {210: N_("2,1 %"), 550: N_("5,5 %"), 1000: N_("10 %"),
                             2000: N_("20 %")}
"""The French VAT rates, in basis points, and how the pages say them."""
DEFAULT_VAT_RATE_BPS = 550  # most food

CATEGORIES: dict[str, str] = {
    "boulangerie": N_("Boulangerie"),
    "fromagerie": N_("Fromagerie"),
    "epicerie": N_("Épicerie"),
    "fruits-et-legumes": N_("Fruits et légumes"),
    "boucherie": N_("Boucherie"),
    "boissons": N_("Boissons"),
    "artisanat": N_("Artisanat"),
    "autre": N_("Autre"),
}
"""The platform's product categories: the slug products carry, and its French name."""


def _single_spaced(value: str) -> str:
    return " ".join(value.split())


def normalized_email(email: str) -> str:
    return email.strip().lower()


Name = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_single_spaced)]
Email = Annotated[str, Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$"),
                  AfterValidator(normalized_email)]
PriceCents = Annotated[int, Field(ge=0, le=MAX_PRICE_CENTS)]
Stock = Annotated[int, Field(ge=0, le=MAX_STOCK)]


class ShopDetails(BaseModel):
    """What it takes to open a shop: the hub it joins, its name, and its owner's account."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    hub_id: UUID
    name: Name
    owner_email: Email


def _known_category(slug: str) -> str:
    if slug not in CATEGORIES:
        raise ValueError(f"unknown category {slug!r}; one of: {', '.join(CATEGORIES)}")
    return slug


def _tag(value: str) -> str:
    return " ".join(value.split()).lower()


def _distinct(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


Description = Annotated[str, Field(max_length=MAX_DESCRIPTION)]
Label = Annotated[str, Field(max_length=MAX_LABEL), AfterValidator(_single_spaced)]
Sku = Annotated[str, Field(min_length=1, max_length=MAX_SKU, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")]
Category = Annotated[str, AfterValidator(_known_category)]
Categories = Annotated[list[Category], Field(max_length=len(CATEGORIES)), AfterValidator(_distinct)]
Tag = Annotated[str, Field(min_length=1, max_length=MAX_TAG), AfterValidator(_tag)]
Tags = Annotated[list[Tag], Field(max_length=MAX_TAGS), AfterValidator(_distinct)]


def member_price_below_price(member_price: int | None, info: ValidationInfo) -> int | None:
    """A model's ``member_price_cents`` against its ``price_cents``, when it has one."""
    price = info.data.get("price_cents")
    if price is not None:
        check_member_price(price, member_price)
    return member_price


class VariantDetails(BaseModel):
    """One way the product is sold: "250 g", "500 g", or "" for a product sold one way only.
    Without a SKU, one is made from the product's name and the label."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    label: Label = ""
    sku: Sku | None = None
    price_cents: PriceCents
    stock: Stock = Field(description="Units on hand.")
    member_price_cents: PriceCents | None = Field(
        default=None, description="What the hub's members pay instead: below price_cents.")

    _member_price_below_price = field_validator("member_price_cents")(member_price_below_price)


class NewProduct(BaseModel):
    """A product and its variants; ``{name, price_cents, stock}`` alone lists a product sold one
    way (one variant, its label empty)."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    name: Name
    description: Description = ""
    unit: Unit = "piece"
    vat_rate_bps: VatRateBps = DEFAULT_VAT_RATE_BPS
    categories: Categories = []
    tags: Tags = []
    price_cents: PriceCents | None = Field(default=None, description="With stock: one variant.")
    stock: Stock | None = Field(default=None, description="Units on hand of the one variant.")
    member_price_cents: PriceCents | None = Field(
        default=None, description="The one variant's member price (below price_cents).")
    variants: list[VariantDetails] | None = Field(default=None, min_length=1,
                                                  max_length=MAX_VARIANTS)

    _member_price_below_price = field_validator("member_price_cents")(member_price_below_price)

    @field_validator("variants")
    @classmethod
    def _variants_told_apart(cls, variants: list[VariantDetails] | None):
        if variants is not None:
            check_distinct_variants(variants)
        return variants

    @model_validator(mode="after")
    def _variants_given_once(self) -> NewProduct:
        sold_one_way = (self.price_cents is not None or self.stock is not None
                        or self.member_price_cents is not None)
        if self.variants is not None and sold_one_way:
            raise ValueError("give either variants, or price_cents and stock; not both")
        if self.variants is None:
            if self.price_cents is None or self.stock is None:
                raise ValueError("give variants, or price_cents and stock for a product sold "
                                 "one way")
            self.variants = [VariantDetails(price_cents=self.price_cents, stock=self.stock,
                                            member_price_cents=self.member_price_cents)]
            self.price_cents = self.stock = self.member_price_cents = None
        return self


def check_distinct_variants(variants: Iterable[VariantDetails]) -> None:
    """Labels (whatever their case) and SKUs tell a product's variants apart."""
    labels = Counter(variant.label.casefold() for variant in variants)
    skus = Counter(variant.sku for variant in variants if variant.sku is not None)
    twice = [label or '""' for label, count in labels.items() if count > 1]
    twice += [sku for sku, count in skus.items() if count > 1]
    if twice:
        raise ValueError(f"each variant needs its own label and SKU: {', '.join(twice)}")


class ProductChanges(BaseModel):
    """What the owner changes; a field left out stays as it is. Prices and stock are the
    variants'."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    name: Name | None = None
    description: Description | None = None
    unit: Unit | None = None
    vat_rate_bps: VatRateBps | None = None
    categories: Categories | None = None
    tags: Tags | None = None
    available: StrictBool | None = None


class VariantChanges(BaseModel):
    """What the owner changes; a field left out stays as it is, but ``member_price_cents``
    given as null takes the member price away."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    label: Label | None = None
    sku: Sku | None = None
    price_cents: PriceCents | None = None
    available: StrictBool | None = None
    member_price_cents: PriceCents | None = None

    @property
    def changes_member_price(self) -> bool:
        return "member_price_cents" in self.model_fields_set


class InvalidMemberPrice(DomainError, ValueError):
    """A ValueError too, so that a model checking it reports it as the field's error."""

    status, code = 422, "validation_error"


def check_member_price(price_cents: int, member_price_cents: int | None) -> None:
    """A member price is a reduction: strictly below the variant's price (or none at all)."""
    if member_price_cents is not None and member_price_cents >= price_cents:
        raise InvalidMemberPrice(
            f"the member price ({member_price_cents} cents) must be below the price "
            f"({price_cents} cents)")


class StockAdjustmentRequest(BaseModel):
    """Units in (delta > 0: a delivery) or out (delta < 0: breakage, a sale in the shop)."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    delta: int = Field(ge=-MAX_STOCK, le=MAX_STOCK)
    reason: str = Field(min_length=1, max_length=MAX_REASON)

    @model_validator(mode="after")
    def _moves_something(self) -> StockAdjustmentRequest:
        if self.delta == 0:
            raise ValueError("delta must not be 0")
        return self


class StockCount(BaseModel):
    """The units counted in the shop, set as the units on hand."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    stock: Stock
    reason: str = Field(default="Inventaire", min_length=1, max_length=MAX_REASON)


class UnknownAccount(DomainError):
    status, code = 422, "validation_error"


class StockBelowReserved(Conflict):
    pass


class SkuTaken(Conflict):
    pass


class LabelTaken(Conflict):
    pass


class TooManyVariants(Conflict):
    pass


class ReservationStatus(StrEnum):
    RESERVED = "reserved"
    RELEASED = "released"
    SOLD = "sold"


class InvalidPrice(ValueError):
    pass


_EUROS = re.compile(r"\d{1,9}(?:[.,]\d{1,2})?")


def euros_to_cents(text: str) -> int:
    """"4,50", "4.5", "12" or "1 250,00 €" as cents, exactly; anything else is refused."""
    cleaned = "".join(text.replace("€", "").split())
    if not _EUROS.fullmatch(cleaned):
        raise InvalidPrice(f"not a price in euros: {text!r}")
    cents = int(Decimal(cleaned.replace(",", ".")) * 100)
    if cents > MAX_PRICE_CENTS:
        raise InvalidPrice(f"price too high: {text!r}")
    return cents


def cents_to_euros(cents: int) -> str:
    """1250 as "12,50": how a price is written back into a form or a file."""
    return f"{cents // 100},{cents % 100:02d}"


def checked_on_hand(stock: int, *, reserved: int) -> int:
    """The units on hand an owner sets: never fewer than those held for orders in progress."""
    if stock < reserved:
        raise StockBelowReserved(
            f"cannot set the stock to {stock}: {reserved} units are reserved for orders in progress"
        )
    return stock


def adjusted_on_hand(on_hand: int, delta: int, *, reserved: int) -> int:
    """The units on hand after an adjustment: never fewer than those reserved, nor absurdly many."""
    after = on_hand + delta
    if after < reserved:
        raise StockBelowReserved(
            f"cannot take {-delta} units out of {on_hand}: {reserved} are reserved for orders in "
            "progress"
        )
    if after > MAX_STOCK:
        raise Conflict(f"at most {MAX_STOCK} units on hand")
    return after


class HeadlineVariant(Protocol):
    price_cents: int
    available: bool
    stock_available: int


def headline(variants: Sequence[HeadlineVariant]) -> tuple[int, int]:
    """(price, units) a product is shown with: its lowest price and all its units on sale; with
    no variant on sale, its lowest price and no unit."""
    on_sale = [variant for variant in variants if variant.available]
    price = min((variant.price_cents for variant in on_sale or variants), default=0)
    return price, sum(variant.stock_available for variant in on_sale)


def sku_base(name: str, label: str) -> str:
    """The SKU made for a variant given none: "PAIN-DE-CAMPAGNE-500-G"."""
    words = re.sub(r"[^a-z0-9]+", "-", searchable(f"{name} {label}")).strip("-")
    # Room is left for the rank unused_sku may add.
    return (words[:MAX_SKU - 8].rstrip("-") or "ARTICLE").upper()


def unused_sku(base: str, taken: set[str]) -> str:
    """``base``, or ``base-2``, ``base-3``... whichever the shop does not use yet."""
    candidate, rank = base, 1
    while candidate in taken:
        rank += 1
        candidate = f"{base}-{rank}"
    return candidate


def searchable(text: str) -> str:
    """``text`` as searched: case and accents ignored ("Pâté" and "pate" are the same)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


VariantKey = tuple[UUID, UUID]
"""(product id, variant id): what an order's line names."""


def quantities_by_variant(parts: Iterable[OrderPart]) -> list[tuple[VariantKey, int]]:
    """Every variant of the order once with its total quantity, in one fixed order (by variant
    id), so concurrent reservations lock the same rows in the same order and cannot deadlock."""
    totals: Counter[VariantKey] = Counter()
    for part in parts:
        for line in part.lines:
            totals[(line.product_id, line.variant_id)] += line.quantity
    return sorted(totals.items(), key=lambda item: str(item[0][1]))


@dataclass(frozen=True)
class VariantStock:
    """A variant as a reservation sees it: can it be sold (it and its product), and how many
    units are free."""

    available: bool
    units: int


def shortage(key: VariantKey, requested: int, stock: VariantStock | None) -> ShortLine:
    """Why ``requested`` units of a variant cannot be had, in words a resident can read."""
    product_id, variant_id = key
    if stock is None:
        return ShortLine(product_id=product_id, variant_id=variant_id, requested=requested,
                         available=0, reason="produit inconnu")
    if not stock.available:
        return ShortLine(product_id=product_id, variant_id=variant_id, requested=requested,
                         available=0, reason="produit indisponible")
    units = max(stock.units, 0)
    reason = f"plus que {units} en stock" if units else "plus en stock"
    return ShortLine(product_id=product_id, variant_id=variant_id, requested=requested,
                     available=units, reason=reason)


def check_new_label(label: str, others: Iterable[str]) -> None:
    """A variant's label tells it apart from the product's other variants, whatever the case."""
    if label.casefold() in {other.casefold() for other in others}:
        raise LabelTaken(f"the product already has a variant labelled {label!r}")


# --- shops: who may run them, and their status ---------------------------------------------


class ShopStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    SUSPENDED = "suspended"


def may_run_shop(*, is_owner: bool, is_hub_admin: bool, is_platform_admin: bool) -> bool:
    """Everything a shop's owner may do in the catalog, the merchants' association running its
    hub (and the platform's administrators) may do on the shop's behalf."""
    return is_owner or is_hub_admin or is_platform_admin


class InvalidStatusChange(Conflict):
    """The shop cannot go from its status to the one asked."""


STATUS_CHANGES: dict[ShopStatus, set[ShopStatus]] = {
    ShopStatus.DRAFT: {ShopStatus.ACTIVE},
    ShopStatus.ACTIVE: {ShopStatus.SUSPENDED},
    ShopStatus.SUSPENDED: {ShopStatus.ACTIVE},
}

SHOP_STATUSES: dict[str, str] = {"draft": N_("brouillon"), "active": N_("ouverte"),
                                 "suspended": N_("suspendue")}


def check_status_change(current: ShopStatus, wanted: ShopStatus) -> None:
    if wanted not in STATUS_CHANGES[current]:
        raise InvalidStatusChange(f"a {current} shop cannot become {wanted}")


class PayoutAccountNotReady(Conflict):
    """Where payments go through Stripe, a shop goes live only once it can be paid out."""


def payouts_page(shop_id: UUID) -> str:
    """The payment service's page where a shop opens its payout account."""
    return f"/payments/shops/{shop_id}/payouts"


def opening_status(*, payouts_required: bool) -> ShopStatus:
    """A shop opened for an account is live at once, unless it must first be able to be paid:
    then it waits as a draft for its payout account."""
    return ShopStatus.DRAFT if payouts_required else ShopStatus.ACTIVE


def check_may_go_live(shop_id: UUID, wanted: ShopStatus, *, payouts_required: bool,
                      payouts_enabled: bool) -> None:
    if wanted is ShopStatus.ACTIVE and payouts_required and not payouts_enabled:
        raise PayoutAccountNotReady(
            "the shop cannot go live before its payout account is enabled: its owner opens it "
            f"at {payouts_page(shop_id)}")


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: ShopStatus


class ShopProfile(BaseModel):
    """What the shop tells residents about itself; a field left out stays as it is."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    description: Annotated[str, Field(max_length=MAX_DESCRIPTION)] | None = None
    address: Annotated[str, Field(max_length=300)] | None = None
    opening_hours: Annotated[str, Field(max_length=200)] | None = None
    trade_category: Annotated[str, AfterValidator(_known_category)] | None = None
    contact_email: Email | None = None
    contact_phone: Annotated[str, Field(max_length=30, pattern=r"^[0-9 +().-]*$")] | None = None

    @field_validator("name", "description", "address", "opening_hours")
    @classmethod
    def _kept_when_null(cls, value: str | None) -> str:
        # Only the contact details and the trade category may be emptied; null for these
        # reached a NOT NULL column (a 500).
        if value is None:
            raise ValueError("cannot be null: leave it out to keep it as it is")
        return value


class Invitation(BaseModel):
    """A shop the hub's association opens for someone, as a draft until they accept."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    shop_name: Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_single_spaced)]
    email: Email


class NotInvited(Forbidden):
    """Only the person the shop was opened for may accept it, and only while it is a draft."""
