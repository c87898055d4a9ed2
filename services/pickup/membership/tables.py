"""The tables of the hubs' memberships, in the pickup database."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import Index, UniqueConstraint, text
from sqlmodel import Field

from libs.sqltypes import UtcDateTime
from services.pickup.tables import PickupTable

CURRENT_STATUSES = "status in ('awaiting_payment', 'active')"


class MembershipTerms(PickupTable, table=True):
    """A hub's membership as its admins set it; ``last_number`` is the last member number
    given, taken one by one with a conditional update."""

    __tablename__ = "membership_terms"

    hub_id: UUID = Field(primary_key=True, foreign_key="hubs.id")
    open: bool = False
    fee_cents: int = 0
    duration_months: int | None = None
    benefits: str = Field(default="", max_length=1000)
    last_number: int = 0
    updated_at: datetime = Field(sa_type=UtcDateTime)


class Member(PickupTable, table=True):
    """Someone who has been a member of the hub, with the number they keep through renewals;
    ``since`` is when they first became one."""

    __tablename__ = "members"
    __table_args__ = (UniqueConstraint("hub_id", "number", name="members_one_number_per_hub"),)

    hub_id: UUID = Field(primary_key=True, foreign_key="hubs.id")
    resident_id: UUID = Field(primary_key=True)
    number: str = Field(max_length=20)
    sequence: int
    name: str = Field(max_length=200)
    email: str = Field(max_length=320)
    since: datetime = Field(sa_type=UtcDateTime, index=True)


class Membership(PickupTable, table=True):
    """One period of membership, from the resident's asking to its end. Its fee and length are
    the terms offered when they asked; ``renews`` is the membership it extends, if any."""

    __tablename__ = "memberships"
    # At most one awaiting its fee and one active per resident and hub: a second click on
    # « Adhérer » finds the first.
    __table_args__ = (
        Index("memberships_one_current", "hub_id", "resident_id", "status", unique=True,
              sqlite_where=text(CURRENT_STATUSES), postgresql_where=text(CURRENT_STATUSES)),
    )

    id: UUID = Field(primary_key=True)
    hub_id: UUID = Field(foreign_key="hubs.id", index=True)
    resident_id: UUID = Field(index=True)
    name: str = Field(max_length=200)
    email: str = Field(max_length=320)
    status: str = Field(max_length=20)
    fee_cents: int
    duration_months: int | None = None
    renews: UUID | None = None
    requested_at: datetime = Field(sa_type=UtcDateTime)
    pay_by: datetime | None = Field(default=None, sa_type=UtcDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UtcDateTime, index=True)
    ended_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    end_reason: str | None = Field(default=None, max_length=20)
