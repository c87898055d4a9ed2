"""Every table the notification service owns, in its own database: read models of the people,
hubs, shops, slots, orders and gatherings its messages speak of, and every message it sends."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import JSON, Text, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from libs.messaging.inbox import inbox_table
from libs.messaging.outbox import outbox_table
from libs.sqltypes import UtcDateTime


class NotificationTable(SQLModel, registry=registry()):
    """Base of the notification service's tables; its metadata is the notification database."""


class Person(NotificationTable, table=True):
    """An account (UserRegistered) and how they wish to be told (ContactPreferencesChanged),
    whichever came first."""

    __tablename__ = "people"

    id: UUID = Field(primary_key=True)
    email: str | None = Field(default=None, max_length=320)
    name: str = Field(default="", max_length=200)
    locale: str = Field(default="fr", max_length=5)
    phone: str | None = Field(default=None, max_length=16)
    sms_opt_in: bool = False


class Hub(NotificationTable, table=True):
    __tablename__ = "hubs"

    id: UUID = Field(primary_key=True)
    name: str = Field(max_length=200)
    town: str = Field(max_length=200)
    address: str = Field(max_length=500)


class Shop(NotificationTable, table=True):
    __tablename__ = "shops"

    id: UUID = Field(primary_key=True)
    hub_id: UUID
    name: str = Field(max_length=200)
    owner_id: UUID
    owner_email: str = Field(max_length=320)


class Slot(NotificationTable, table=True):
    __tablename__ = "slots"

    id: UUID = Field(primary_key=True)
    hub_id: UUID
    starts_at: datetime = Field(sa_type=UtcDateTime)
    ends_at: datetime = Field(sa_type=UtcDateTime)
    label: str = Field(default="", max_length=200)


class Order(NotificationTable, table=True):
    """What the messages about an order say: who ordered what from which shops, where and when
    it is collected, and the code to show at the desk."""

    __tablename__ = "orders"

    id: UUID = Field(primary_key=True)
    hub_id: UUID
    slot_id: UUID
    resident_id: UUID | None = None
    resident_email: str | None = Field(default=None, max_length=320)
    total_cents: int = 0
    # The parts as OrderPlaced/OrderConfirmed carried them (libs.contracts.order.OrderPart).
    parts: list[dict] = Field(default_factory=list, sa_type=JSON)
    code: str | None = Field(default=None, max_length=12)
    held_until: datetime | None = Field(default=None, sa_type=UtcDateTime)


class Gathering(NotificationTable, table=True):
    __tablename__ = "gatherings"

    id: UUID = Field(primary_key=True)
    hub_id: UUID
    title: str = Field(max_length=200)
    starts_at: datetime = Field(sa_type=UtcDateTime)
    ends_at: datetime = Field(sa_type=UtcDateTime)
    cancelled_reason: str | None = Field(default=None, max_length=500)


class SignUp(NotificationTable, table=True):
    __tablename__ = "sign_ups"

    gathering_id: UUID = Field(primary_key=True)
    user_id: UUID = Field(primary_key=True)
    active: bool


class SentMessage(NotificationTable, table=True):
    """One message: recorded (``pending``) in the transaction of the event that calls for it,
    at most once per kind, subject (an order, a gathering), channel and recipient; then sent,
    and tried again with back-off until it is ``sent`` or ``failed``. Its address and content
    are kept as they were sent."""

    __tablename__ = "sent_messages"
    __table_args__ = (
        UniqueConstraint("kind", "subject_id", "channel", "recipient", name="one_message_each"),
    )

    id: UUID = Field(primary_key=True)
    kind: str = Field(max_length=40)
    subject_id: UUID
    channel: str = Field(max_length=10)
    recipient: str = Field(max_length=64)  # person_ref / shop_ref
    status: str = Field(max_length=10, index=True)
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_type=UtcDateTime, index=True)
    # Whoever sends it holds it until then, so a sweep and an after-commit send never both do.
    claimed_until: datetime | None = Field(default=None, sa_type=UtcDateTime)
    created_at: datetime = Field(sa_type=UtcDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    address: str | None = Field(default=None, max_length=320)
    locale: str | None = Field(default=None, max_length=5)
    title: str | None = Field(default=None, max_length=300)
    body: str | None = Field(default=None, sa_type=Text)
    last_error: str | None = Field(default=None, max_length=1000)


outbox = outbox_table(NotificationTable.metadata)
inbox = inbox_table(NotificationTable.metadata)
