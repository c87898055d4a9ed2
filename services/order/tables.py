"""Every table the order service owns, in its own database: the orders, their parts and lines,
and the read models built from other services' events (hubs, staff, slots, shops, products)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import JSON, Index, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from libs.messaging.inbox import inbox_table
from libs.messaging.outbox import outbox_table
from libs.sqltypes import UtcDateTime


class OrderTable(SQLModel, registry=registry()):
    """Base of the order service's tables; its metadata is the order database."""


class Hub(OrderTable, table=True):
    """A hub residents may order from (HubOpened)."""

    __tablename__ = "hubs"

    id: UUID = Field(primary_key=True)
    name: str = Field(max_length=200)
    town: str = Field(max_length=200)


class HubStaff(OrderTable, table=True):
    """Someone working at a hub (HubStaffAssigned): they may read the hub's orders."""

    __tablename__ = "hub_staff"

    hub_id: UUID = Field(primary_key=True)
    user_id: UUID = Field(primary_key=True)
    role: str = Field(max_length=20)


class Slot(OrderTable, table=True):
    """A collection slot a resident may choose at checkout (SlotOpened) until the hub's lead
    time before it starts (``bookable_until``), unless the hub closed it (SlotClosed). One held
    during a gathering bears its title (``label``)."""

    __tablename__ = "slots"

    id: UUID = Field(primary_key=True)
    hub_id: UUID = Field(index=True)
    starts_at: datetime = Field(sa_type=UtcDateTime)
    ends_at: datetime = Field(sa_type=UtcDateTime)
    bookable_until: datetime | None = Field(default=None, sa_type=UtcDateTime)
    gathering_id: UUID | None = None
    label: str = Field(default="", max_length=200)
    closed: bool = False


class Shop(OrderTable, table=True):
    """A shop of a hub and its owner (ShopOpened): the owner sees and may cancel its parts; only
    an active shop's products may be ordered (ShopStatusChanged)."""

    __tablename__ = "shops"

    id: UUID = Field(primary_key=True)
    hub_id: UUID = Field(index=True)
    name: str = Field(max_length=200)
    owner_id: UUID = Field(index=True)
    status: str = Field(default="active", max_length=20)


class Product(OrderTable, table=True):
    """What a basket holds (ProductListed, ProductChanged); its prices are its variants'."""

    __tablename__ = "products"

    id: UUID = Field(primary_key=True)
    shop_id: UUID = Field(index=True)
    hub_id: UUID = Field(index=True)
    name: str = Field(max_length=200)
    available: bool = True


class ProductVariant(OrderTable, table=True):
    """What a basket is priced with (ProductListed, ProductChanged); never the client's word."""

    __tablename__ = "product_variants"

    id: UUID = Field(primary_key=True)
    product_id: UUID = Field(index=True)
    label: str = Field(max_length=50)
    price_cents: int
    member_price_cents: int | None = None  # what members of the hub pay instead
    available: bool = True
    position: int  # the catalog's order of the product's variants


class VariantStock(OrderTable, table=True):
    """How many of a variant may still be ordered, as the catalog last said (StockLevelChanged):
    the highest revision wins. Kept apart from the variant's row, and kept even for a variant not
    known yet, so that no ProductListed or ProductChanged, whenever it comes, loses it. A variant
    without a row here has no known level: only the catalog's reservation decides for it."""

    __tablename__ = "variant_stock"

    variant_id: UUID = Field(primary_key=True)
    product_id: UUID = Field(index=True)
    available: int
    revision: int


class Membership(OrderTable, table=True):
    """A resident's membership of a hub (MembershipStarted, MembershipEnded): they are a member
    from its latest start until it expires, unless it ended since. Either event may come first;
    each keeps its latest time, so a membership renewed under the same id starts again."""

    __tablename__ = "memberships"

    id: UUID = Field(primary_key=True)
    hub_id: UUID
    resident_id: UUID = Field(index=True)
    started_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class Order(OrderTable, table=True):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("resident_id", "idempotency_key"),
        # The saga's watch and the unpaid orders' sweep read the oldest of one status.
        Index("orders_status_placed_at", "status", "placed_at"),
        Index("orders_status_pay_by", "status", "pay_by"),
    )

    id: UUID = Field(primary_key=True)
    hub_id: UUID
    slot_id: UUID
    resident_id: UUID = Field(index=True)
    resident_email: str = Field(max_length=320)
    idempotency_key: str = Field(max_length=200)
    basket_digest: str = Field(max_length=64)
    correlation_id: str = Field(max_length=128)
    status: str = Field(max_length=20)
    total_cents: int
    reasons: list[str] = Field(default_factory=list, sa_type=JSON)
    stock_reserved: bool = False
    slot_held: bool = False
    pay_by: datetime | None = Field(default=None, sa_type=UtcDateTime)
    payment_id: UUID | None = None
    payment_status: str | None = Field(default=None, max_length=20)
    payment_amount_cents: int | None = None
    refunded_cents: int = 0
    pickup_code: str | None = Field(default=None, max_length=64)
    placed_at: datetime = Field(sa_type=UtcDateTime, index=True)
    confirmed_at: datetime | None = Field(default=None, sa_type=UtcDateTime, index=True)
    completed_at: datetime | None = Field(default=None, sa_type=UtcDateTime, index=True)
    updated_at: datetime = Field(sa_type=UtcDateTime)


class OrderPart(OrderTable, table=True):
    """What one shop prepares for one order. A part the shop gave up records who did it (its
    owner, or someone of the association acting for the shop), when and why."""

    __tablename__ = "order_parts"

    order_id: UUID = Field(foreign_key="orders.id", primary_key=True)
    shop_id: UUID = Field(primary_key=True, index=True)
    status: str = Field(max_length=20)
    total_cents: int
    cancelled_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    cancelled_by_id: UUID | None = None
    cancelled_by_name: str | None = Field(default=None, max_length=320)
    cancelled_for_shop: bool = False
    cancellation_reason: str | None = Field(default=None, max_length=500)


class OrderLine(OrderTable, table=True):
    """One variant of a product in an order, at the price it had when the order was placed.
    ``quantity`` is what the shop still supplies: units it withdrew (OrderLinesCancelled) move to
    ``withdrawn_quantity``, so the ordered quantity is their sum."""

    __tablename__ = "order_lines"

    order_id: UUID = Field(foreign_key="orders.id", primary_key=True)
    variant_id: UUID = Field(primary_key=True)
    product_id: UUID
    shop_id: UUID
    name: str = Field(max_length=200)
    variant_label: str = Field(max_length=50)
    quantity: int
    unit_price_cents: int
    withdrawn_quantity: int = 0
    withdrawal_reason: str | None = Field(default=None, max_length=500)


class LineWithdrawal(OrderTable, table=True):
    """Units of lines a shop withdrew from its part, who did it (its owner, or someone acting
    for the shop), when and why; a request's Idempotency-Key finds it again. One that left
    nothing of the part cancelled the part (``whole_part``)."""

    __tablename__ = "line_withdrawals"
    __table_args__ = (UniqueConstraint("order_id", "shop_id", "idempotency_key"),)

    id: UUID = Field(primary_key=True)
    order_id: UUID = Field(foreign_key="orders.id", index=True)
    shop_id: UUID
    idempotency_key: str | None = Field(default=None, max_length=200)
    request_digest: str = Field(max_length=64)
    quantities: dict[str, int] = Field(sa_type=JSON)
    amount_cents: int
    whole_part: bool
    reason: str = Field(max_length=500)
    at: datetime = Field(sa_type=UtcDateTime)
    by_id: UUID
    by_name: str = Field(max_length=320)
    for_shop: bool


outbox = outbox_table(OrderTable.metadata)
inbox = inbox_table(OrderTable.metadata)
