"""Events the accounts service publishes: who has an account, and with which global roles."""

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
