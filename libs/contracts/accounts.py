"""Events the accounts service publishes: who has an account, with which global roles, and how
they wish to be told about their orders."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import Field

from libs.contracts.base import Event

GlobalRole = Literal["resident", "platform_admin"]


class UserEvent(Event, abstract=True):
    topic = "accounts.user"
    key_field = "user_id"


class UserRegistered(UserEvent):
    """An account exists; other services map e-mail addresses to it (shop owners, hub staff)."""

    user_id: UUID
    email: str = Field(max_length=320)
    name: str = Field(max_length=200)
    roles: list[GlobalRole]


Locale = Literal["fr", "en"]


class ContactPreferencesChanged(UserEvent):
    """How the person wishes to be told: in which language, and by SMS too (only when they opted
    in and gave a number, in E.164 form such as ``+33612345678``)."""

    user_id: UUID
    locale: Locale
    phone: str | None = Field(default=None, pattern=r"^\+[1-9][0-9]{6,14}$")
    sms_opt_in: bool
