"""The report's read model of the hub's orders, from the order service's events."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlmodel import Field

from libs.sqltypes import UtcDateTime
from services.pickup.tables import PickupTable


class SoldOrder(PickupTable, table=True):
    """A paid order of the hub: ``confirmed``, then ``completed`` (it counts in the sales from
    ``completed_at``) or ``cancelled`` (it never does)."""

    __tablename__ = "report_orders"

    order_id: UUID = Field(primary_key=True)
    hub_id: UUID = Field(index=True)
    buyer_id: UUID = Field(index=True)
    status: str = Field(max_length=20)
    confirmed_at: datetime = Field(sa_type=UtcDateTime)
    completed_at: datetime | None = Field(default=None, sa_type=UtcDateTime, index=True)


class SoldPart(PickupTable, table=True):
    """One shop's part of such an order; a part its shop cancelled sold nothing."""

    __tablename__ = "report_order_parts"

    order_id: UUID = Field(primary_key=True, foreign_key="report_orders.order_id")
    shop_id: UUID = Field(primary_key=True)
    total_cents: int
    cancelled: bool = False

