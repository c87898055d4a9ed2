"""The catalog service's rules, free of I/O: what a shop and a product are, how prices are read,
how names are searched, and how an order's lines become reservations or shortages."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from libs.contracts.catalog import ShortLine
from libs.contracts.order import OrderPart
from libs.kit.errors import Conflict, DomainError

# Bounds keep every figure well inside a 32-bit column and out of absurd territory.
MAX_PRICE_CENTS = 100_000_000
MAX_STOCK = 1_000_000


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


class NewProduct(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    name: Name
    price_cents: PriceCents
    stock: Stock = Field(description="Units on hand.")


class ProductChanges(BaseModel):
    """What the owner changes; a field left out stays as it is."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    name: Name | None = None
    price_cents: PriceCents | None = None
    available: bool | None = None
    stock: Stock | None = Field(default=None, description="Units on hand.")


class UnknownAccount(DomainError):
    status, code = 422, "validation_error"


class StockBelowReserved(Conflict):
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


def checked_on_hand(stock: int, *, reserved: int) -> int:
    """The units on hand an owner sets: never fewer than those held for orders in progress."""
    if stock < reserved:
        raise StockBelowReserved(
            f"cannot set the stock to {stock}: {reserved} units are reserved for orders in progress"
        )
    return stock


def searchable(text: str) -> str:
    """``text`` as searched: case and accents ignored ("Pâté" and "pate" are the same)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def quantities_by_product(parts: Iterable[OrderPart]) -> list[tuple[UUID, int]]:
    """Every product of the order once with its total quantity, in one fixed order (by id), so
    concurrent reservations lock the same rows in the same order and cannot deadlock."""
    totals: Counter[UUID] = Counter()
    for part in parts:
        for line in part.lines:
            totals[line.product_id] += line.quantity
    return sorted(totals.items(), key=lambda item: str(item[0]))


@dataclass(frozen=True)
class ProductStock:
    """A product as a reservation sees it: can it be sold, and how many units are free."""

    available: bool
    units: int


def shortage(product_id: UUID, requested: int, stock: ProductStock | None) -> ShortLine:
    """Why ``requested`` units of a product cannot be had, in words a resident can read."""
    if stock is None:
        return ShortLine(product_id=product_id, requested=requested, available=0,
                         reason="produit inconnu")
    if not stock.available:
        return ShortLine(product_id=product_id, requested=requested, available=0,
                         reason="produit indisponible")
    units = max(stock.units, 0)
    reason = f"plus que {units} en stock" if units else "plus en stock"
    return ShortLine(product_id=product_id, requested=requested, available=units, reason=reason)
