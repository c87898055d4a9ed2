"""Every table the payment service owns, in its own database."""

from __future__ import annotations

from sqlalchemy.orm import registry
from sqlmodel import SQLModel

from libs.messaging.inbox import inbox_table
from libs.messaging.outbox import outbox_table


class PaymentTable(SQLModel, registry=registry()):
    """Base of the payment service's tables; its metadata is the payment database."""


outbox = outbox_table(PaymentTable.metadata)
inbox = inbox_table(PaymentTable.metadata)
