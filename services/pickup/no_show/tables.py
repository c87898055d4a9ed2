"""The hubs' no-show policies (a hub without a row has the default one)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlmodel import Field

from libs.sqltypes import UtcDateTime
from services.pickup.tables import PickupTable


class NoShowPolicy(PickupTable, table=True):
    __tablename__ = "no_show_policies"

    hub_id: UUID = Field(primary_key=True, foreign_key="hubs.id")
    reminder_after_hours: int
    hold_hours: int
    updated_at: datetime = Field(sa_type=UtcDateTime)
    updated_by: UUID
