"""Events the pickup service publishes: hubs and their staff, slot bookings, and pickups."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, Field

from libs.contracts.base import Event

HubRole = Literal["staff", "admin"]


class HubEvent(Event, abstract=True):
    topic = "pickup.hub"
    key_field = "hub_id"


class HubOpened(HubEvent):
    """A tiers-lieu joined the network and can host shops and pickups."""

    hub_id: UUID
    name: str = Field(min_length=1, max_length=200)
    town: str = Field(min_length=1, max_length=200)
    address: str = Field(max_length=500)


class HubStaffAssigned(HubEvent):
    """Someone works at the hub's desk (staff) or runs the hub (admin, staff's rights included)."""

    hub_id: UUID
    user_id: UUID
    email: str
    role: HubRole


class SlotEvent(Event, abstract=True):
    topic = "pickup.slot"
    key_field = "slot_id"


class SlotOpened(SlotEvent):
    """A collection slot residents can choose at checkout."""

    slot_id: UUID
    hub_id: UUID
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    capacity: int = Field(ge=0)


class BookingEvent(Event, abstract=True):
    topic = "pickup.booking"
    key_field = "order_id"


class SlotHeld(BookingEvent):
    """One place in the slot is kept for the order."""

    order_id: UUID
    slot_id: UUID
    hub_id: UUID
    starts_at: AwareDatetime
    ends_at: AwareDatetime


class SlotUnavailable(BookingEvent):
    order_id: UUID
    slot_id: UUID
    reason: str


class SlotReleased(BookingEvent):
    order_id: UUID
    slot_id: UUID


class PickupEvent(Event, abstract=True):
    topic = "pickup.pickup"
    key_field = "order_id"


class PickupScheduled(PickupEvent):
    """The hub expects the order's parts; the resident will show ``code`` at the desk."""

    order_id: UUID
    hub_id: UUID
    slot_id: UUID
    code: str


class PartDroppedOff(PickupEvent):
    order_id: UUID
    shop_id: UUID


class PickupReady(PickupEvent):
    """Every part is on the hub's shelves."""

    order_id: UUID


class PickedUp(PickupEvent):
    order_id: UUID
