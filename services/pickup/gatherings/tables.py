"""The tables of the hubs' gatherings, in the pickup database."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import CheckConstraint
from sqlmodel import Field

from libs.sqltypes import UtcDateTime
from services.pickup.tables import PickupTable


class Gathering(PickupTable, table=True):
    """A tasting, a workshop, a talk at a hub. ``taken`` counts the sign-ups; ``revision`` goes up
    with each change (calendars read it as the event's SEQUENCE)."""

    __tablename__ = "gatherings"
    # The last guard of capacity: sign-ups are conditional updates, so this should never fire.
    __table_args__ = (
        CheckConstraint("taken >= 0 and taken <= capacity", name="gathering_taken_in_capacity"),
    )

    id: UUID = Field(primary_key=True)
    hub_id: UUID = Field(foreign_key="hubs.id", index=True)
    title: str = Field(max_length=200)
    description: str = Field(max_length=4000)
    starts_at: datetime = Field(sa_type=UtcDateTime, index=True)
    ends_at: datetime = Field(sa_type=UtcDateTime)
    capacity: int
    taken: int = 0
    status: str = Field(max_length=20)
    slot_id: UUID | None = None
    cancel_reason: str | None = Field(default=None, max_length=500)
    revision: int = 0
    scheduled_at: datetime = Field(sa_type=UtcDateTime)
    updated_at: datetime = Field(sa_type=UtcDateTime)


class GatheringShop(PickupTable, table=True):
    """A shop of the hub taking part («dégustation proposée par la Fromagerie»)."""

    __tablename__ = "gathering_shops"

    gathering_id: UUID = Field(primary_key=True, foreign_key="gatherings.id")
    shop_id: UUID = Field(primary_key=True)


class SignUp(PickupTable, table=True):
    """A resident's place at a gathering, kept until they cancel it. Their name and e-mail are
    those of their session when they signed up, for the staff's list."""

    __tablename__ = "gathering_sign_ups"

    gathering_id: UUID = Field(primary_key=True, foreign_key="gatherings.id")
    user_id: UUID = Field(primary_key=True)
    email: str = Field(max_length=320)
    name: str = Field(max_length=200)
    status: str = Field(max_length=20)
    signed_up_at: datetime = Field(sa_type=UtcDateTime)
    cancelled_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class Attendance(PickupTable, table=True):
    """Someone staff saw at the gathering, signed up or not."""

    __tablename__ = "gathering_attendance"

    gathering_id: UUID = Field(primary_key=True, foreign_key="gatherings.id")
    user_id: UUID = Field(primary_key=True)
    email: str = Field(max_length=320)
    name: str = Field(max_length=200)
    recorded_by: UUID
    recorded_at: datetime = Field(sa_type=UtcDateTime)
