"""Every table the accounts service owns, in its own database."""

from __future__ import annotations

from sqlalchemy.orm import registry
from sqlmodel import SQLModel

from libs.messaging.inbox import inbox_table
from libs.messaging.outbox import outbox_table


class AccountsTable(SQLModel, registry=registry()):
    """Base of the accounts service's tables; its metadata is the accounts database."""


outbox = outbox_table(AccountsTable.metadata)
inbox = inbox_table(AccountsTable.metadata)
