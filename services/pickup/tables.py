"""Every table the pickup service owns, in its own database."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from libs.messaging.inbox import inbox_table
from libs.messaging.outbox import outbox_table
from libs.sqltypes import UtcDateTime


class PickupTable(SQLModel, registry=registry()):
    """Base of the pickup service's tables; its metadata is the pickup database."""


class Hub(PickupTable, table=True):
    __tablename__ = "hubs"

    id: UUID = Field(primary_key=True)
    name: str = Field(max_length=200)
    town: str = Field(max_length=200)
    address: str = Field(max_length=500)
    opened_at: datetime = Field(sa_type=UtcDateTime)


outbox = outbox_table(PickupTable.metadata)
inbox = inbox_table(PickupTable.metadata)
