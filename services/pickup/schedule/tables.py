"""The hubs' opening hours, their exceptions, and how their slots are cut."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from sqlalchemy import JSON, CheckConstraint
from sqlmodel import Field

from libs.sqltypes import UtcDateTime
from services.pickup.tables import PickupTable


class HubSchedule(PickupTable, table=True):
    """A hub's weekly hours (WeeklyHours as JSON: replaced whole, never queried inside) and its
    slot settings. A hub without one has no hours, no lead time, and its slots are opened by
    hand."""

    __tablename__ = "hub_schedules"

    hub_id: UUID = Field(primary_key=True, foreign_key="hubs.id")
    weekly_hours: dict = Field(default_factory=dict, sa_type=JSON)
    slot_minutes: int
    capacity: int
    lead_time_hours: int
    horizon_days: int
    updated_at: datetime = Field(sa_type=UtcDateTime)
    generated_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class ScheduleException(PickupTable, table=True):
    """Days closed (no hours) or open on special hours (TimeRange list as JSON)."""

    __tablename__ = "schedule_exceptions"
    __table_args__ = (CheckConstraint("last_day >= first_day", name="exception_days_in_order"),)

    id: UUID = Field(primary_key=True)
    hub_id: UUID = Field(foreign_key="hubs.id", index=True)
    first_day: date
    last_day: date
    label: str = Field(max_length=200)
    hours: list = Field(default_factory=list, sa_type=JSON)
    created_at: datetime = Field(sa_type=UtcDateTime)
