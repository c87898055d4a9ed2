"""Events the pickup service publishes: hubs (tiers-lieux), slots, drop-offs and hand-overs."""

from __future__ import annotations

from uuid import UUID

from pydantic import Field

from libs.contracts.base import Event


class HubEvent(Event, abstract=True):
    topic = "pickup.hub"
    key_field = "hub_id"


class HubOpened(HubEvent):
    """A tiers-lieu joined the network and can host shops and pickups."""

    hub_id: UUID
    name: str = Field(min_length=1, max_length=200)
    town: str = Field(min_length=1, max_length=200)
    address: str = Field(max_length=500)
