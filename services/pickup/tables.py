"""Every table the pickup service owns, in its own database."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import CheckConstraint, Index, text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from libs.messaging.inbox import inbox_table
from libs.messaging.outbox import outbox_table
from libs.sqltypes import UtcDateTime
from services.pickup.schedule.domain import FROM_OPENING_HOURS, STAFF_OPENED


class PickupTable(SQLModel, registry=registry()):
    """Base of the pickup service's tables; its metadata is the pickup database."""


class Hub(PickupTable, table=True):
    __tablename__ = "hubs"

    id: UUID = Field(primary_key=True)
    name: str = Field(max_length=200)
    town: str = Field(max_length=200)
    address: str = Field(max_length=500)
    opened_at: datetime = Field(sa_type=UtcDateTime)


class KnownUser(PickupTable, table=True):
    """Accounts as the accounts service announced them, so staff can be named by e-mail."""

    __tablename__ = "known_users"

    id: UUID = Field(primary_key=True)
    email: str = Field(max_length=320, unique=True)
    name: str = Field(max_length=200)


class KnownShop(PickupTable, table=True):
    """Shops as the catalog announced them, so the desk shows names rather than ids."""

    __tablename__ = "known_shops"

    id: UUID = Field(primary_key=True)
    hub_id: UUID
    name: str = Field(max_length=200)


class HubStaff(PickupTable, table=True):
    __tablename__ = "hub_staff"

    hub_id: UUID = Field(primary_key=True, foreign_key="hubs.id")
    user_id: UUID = Field(primary_key=True)
    role: str = Field(max_length=20)
    assigned_at: datetime = Field(sa_type=UtcDateTime)


OPEN_FROM_HOURS = f"origin = '{FROM_OPENING_HOURS}' and closed_at is null"


class Slot(PickupTable, table=True):
    __tablename__ = "slots"
    # The last guard of capacity: holds are conditional updates, so this should never fire.
    __table_args__ = (
        CheckConstraint("held >= 0 and held <= capacity", name="slot_held_in_capacity"),
        # The opening hours never make the same slot twice while it is open.
        Index("slots_one_open_per_span", "hub_id", "starts_at", "ends_at", unique=True,
              sqlite_where=text(OPEN_FROM_HOURS), postgresql_where=text(OPEN_FROM_HOURS)),
    )

    id: UUID = Field(primary_key=True)
    hub_id: UUID = Field(foreign_key="hubs.id", index=True)
    starts_at: datetime = Field(sa_type=UtcDateTime, index=True)
    ends_at: datetime = Field(sa_type=UtcDateTime)
    capacity: int
    held: int = 0
    # A gathering's slot carries its id and title, shown at checkout.
    origin: str = Field(default=STAFF_OPENED, max_length=20)
    gathering_id: UUID | None = Field(default=None, index=True)
    label: str = Field(default="", max_length=200)
    closed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)

    @property
    def remaining(self) -> int:
        return self.capacity - self.held


class Booking(PickupTable, table=True):
    """A place in a slot kept for an order, until the order is undone ("released")."""

    __tablename__ = "bookings"

    order_id: UUID = Field(primary_key=True)
    slot_id: UUID = Field(foreign_key="slots.id", index=True)
    status: str = Field(max_length=20)
    held_at: datetime = Field(sa_type=UtcDateTime)


class Pickup(PickupTable, table=True):
    """A paid order the hub expects: its parts are dropped off, then handed over against the code."""

    __tablename__ = "pickups"

    order_id: UUID = Field(primary_key=True)
    hub_id: UUID = Field(index=True)
    slot_id: UUID = Field(index=True)
    code: str = Field(max_length=12)
    status: str = Field(max_length=20)
    scheduled_at: datetime = Field(sa_type=UtcDateTime)
    ready_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    picked_up_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    cancelled_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # Whose order it is (from OrderConfirmed): the resident may see the code's QR image, and
    # the desk finds the order by their name or e-mail.
    resident_id: UUID | None = Field(default=None, index=True)
    # The no-show policy's steps: reminded once (and held until), then given up on.
    overdue_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    held_until: datetime | None = Field(default=None, sa_type=UtcDateTime)
    no_show_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # The order's saga (OrderConfirmed's): what staff do with the pickup carries it on, so one
    # id follows an order from checkout to hand-over through every service's events and logs.
    correlation_id: str | None = Field(default=None, max_length=128)


class PickupPart(PickupTable, table=True):
    """One shop's part of a pickup: pending, dropped_off, handed_over, or cancelled."""

    __tablename__ = "pickup_parts"

    order_id: UUID = Field(primary_key=True, foreign_key="pickups.order_id")
    shop_id: UUID = Field(primary_key=True)
    status: str = Field(max_length=20)
    dropped_off_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # When its shop said it was prepared; staff check in parts never said so all the same.
    prepared_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # Where staff put it (« étagère B2 »), so whoever hands the order over finds it.
    shelf: str = Field(default="", max_length=40)


outbox = outbox_table(PickupTable.metadata)
inbox = inbox_table(PickupTable.metadata)
