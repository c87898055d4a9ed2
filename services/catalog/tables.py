"""Every table the catalog service owns, in its own database."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from libs.messaging.inbox import inbox_table
from libs.messaging.outbox import outbox_table


class CatalogTable(SQLModel, registry=registry()):
    """Base of the catalog service's tables; its metadata is the catalog database."""


class KnownHub(CatalogTable, table=True):
    """The hubs shops can join, as the pickup service announced them."""

    __tablename__ = "known_hubs"

    id: UUID = Field(primary_key=True)
    name: str = Field(max_length=200)
    town: str = Field(max_length=200)


outbox = outbox_table(CatalogTable.metadata)
inbox = inbox_table(CatalogTable.metadata)
