"""Every table the accounts service owns, in its own database."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import JSON
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from libs.messaging.inbox import inbox_table
from libs.messaging.outbox import outbox_table
from libs.sqltypes import UtcDateTime


class AccountsTable(SQLModel, registry=registry()):
    """Base of the accounts service's tables; its metadata is the accounts database."""


class User(AccountsTable, table=True):
    __tablename__ = "users"

    id: UUID = Field(primary_key=True)
    # Stored normalised (stripped, lower-case), so the unique index is case-insensitive.
    email: str = Field(max_length=320, unique=True)
    name: str = Field(max_length=200)
    password_hash: str = Field(max_length=255)
    roles: list[str] = Field(sa_type=JSON)
    created_at: datetime = Field(sa_type=UtcDateTime)


class ContactPreference(AccountsTable, table=True):
    """How the person wishes to be told; no row means the defaults (French, e-mail only)."""

    __tablename__ = "contact_preferences"

    user_id: UUID = Field(primary_key=True, foreign_key="users.id")
    locale: str = Field(max_length=5)
    phone: str | None = Field(default=None, max_length=16)
    sms_opt_in: bool
    updated_at: datetime = Field(sa_type=UtcDateTime)


class LoginThrottle(AccountsTable, table=True):
    """Failed sign-ins under one key (domain.throttle_key_of_*): in the database, so that a
    restart does not forgive them and every process of the service counts the same."""

    __tablename__ = "login_throttles"

    key: str = Field(primary_key=True, max_length=80)
    failures: int
    first_failure_at: datetime = Field(sa_type=UtcDateTime)
    locked_until: datetime | None = Field(default=None, sa_type=UtcDateTime)


outbox = outbox_table(AccountsTable.metadata)
inbox = inbox_table(AccountsTable.metadata)
