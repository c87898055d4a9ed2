"""Every table the order service owns, in its own database."""

from __future__ import annotations

from sqlalchemy.orm import registry
from sqlmodel import SQLModel

from libs.messaging.inbox import inbox_table
from libs.messaging.outbox import outbox_table


class OrderTable(SQLModel, registry=registry()):
    """Base of the order service's tables; its metadata is the order database."""


outbox = outbox_table(OrderTable.metadata)
inbox = inbox_table(OrderTable.metadata)
