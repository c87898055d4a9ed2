"""Events the pickup service publishes: hubs and their staff, slots and their bookings, pickups
and no-shows, and the hubs' gatherings with their sign-ups."""

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
    """A collection slot residents can choose at checkout; one attached to a gathering says so
    (``gathering_id`` and its title as ``label``: "collect during Thursday's cheese tasting")."""

    slot_id: UUID
    hub_id: UUID
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    capacity: int = Field(ge=0)
    gathering_id: UUID | None = None
    label: str = Field(default="", max_length=200)
    # The hub's lead time before the start: orders choose the slot until then (None: until it
    # starts). Opened again when the lead time changes, with the new moment.
    bookable_until: AwareDatetime | None = None


class SlotClosed(SlotEvent):
    """No new order may choose the slot any more (the hub closed that day, or the slot was
    withdrawn); places already held stay held."""

    slot_id: UUID
    hub_id: UUID
    reason: str = Field(max_length=500)


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


class PickupOverdue(PickupEvent):
    """The order's slot is over and the resident has not come: they are reminded, and the goods
    wait on the shelves until ``held_until``."""

    order_id: UUID
    hub_id: UUID
    held_until: AwareDatetime


class NoShowRecorded(PickupEvent):
    """The resident never came: the goods go back to their shops, and the hub's no-show policy
    decides what is refunded."""

    order_id: UUID
    hub_id: UUID
    shop_ids: list[UUID]


class GatheringEvent(Event, abstract=True):
    """A hub's gathering: a tasting, a workshop, a talk, with its sign-ups."""

    topic = "pickup.gathering"
    key_field = "gathering_id"


class GatheringScheduled(GatheringEvent):
    gathering_id: UUID
    hub_id: UUID
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(max_length=4000)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    capacity: int = Field(ge=0)
    shop_ids: list[UUID]


class GatheringCancelled(GatheringEvent):
    gathering_id: UUID
    hub_id: UUID
    reason: str = Field(max_length=500)


class ResidentSignedUp(GatheringEvent):
    gathering_id: UUID
    hub_id: UUID
    user_id: UUID


class SignUpCancelled(GatheringEvent):
    gathering_id: UUID
    hub_id: UUID
    user_id: UUID


class AttendanceRecorded(GatheringEvent):
    """Staff saw the resident at the gathering."""

    gathering_id: UUID
    hub_id: UUID
    user_id: UUID


class MembershipEvent(Event, abstract=True):
    """A resident's membership of a hub (an « adhésion » to the tiers-lieu)."""

    topic = "pickup.membership"
    key_field = "membership_id"


class MembershipFeeRequested(MembershipEvent):
    """The resident asked to join a hub whose membership has a fee: the payment service is to
    take ``amount_cents`` before ``pay_by``, then say ``MembershipFeePaid`` or
    ``MembershipFeeFailed``."""

    membership_id: UUID
    hub_id: UUID
    resident_id: UUID
    amount_cents: int = Field(gt=0)
    currency: str = "eur"
    pay_by: AwareDatetime


class MembershipStarted(MembershipEvent):
    """The resident is a member of the hub from ``started_at`` until ``expires_at`` (None: no
    end). Member prices apply to them in this hub's shops while it lasts."""

    membership_id: UUID
    hub_id: UUID
    resident_id: UUID
    number: str = Field(min_length=1, max_length=20)
    fee_cents: int = Field(ge=0)
    started_at: AwareDatetime
    expires_at: AwareDatetime | None = None


class MembershipEnded(MembershipEvent):
    """The membership is over: it expired, the resident left, its fee was never paid, or the
    resident renewed it (the next membership's ``MembershipStarted`` follows at once)."""

    membership_id: UUID
    hub_id: UUID
    resident_id: UUID
    reason: Literal["expired", "left", "unpaid", "renewed"]
    ended_at: AwareDatetime
