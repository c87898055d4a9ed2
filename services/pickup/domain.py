"""The pickup service's rules, free of I/O."""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from libs.kit.errors import Conflict, NotFound, Unprocessable
from libs.kit.i18n import N_
from libs.kit.i18n import gettext as _

PARIS = ZoneInfo("Europe/Paris")

HubRole = Literal["staff", "admin"]

# Letters and digits nobody mistakes for one another when read aloud or off a phone (no B/8, I/1,
# O/0, S/5, Z/2...).
CODE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY3479"
CODE_LENGTH = 6

HELD, RELEASED = "held", "released"
SCHEDULED, READY, PICKED_UP, CANCELLED = "scheduled", "ready", "picked_up", "cancelled"
NO_SHOW = "no_show"
PENDING, DROPPED_OFF, HANDED_OVER = "pending", "dropped_off", "handed_over"

SLOT_UNKNOWN = "créneau inconnu"
SLOT_STARTED = "créneau passé"
SLOT_FULL = "créneau complet"
SLOT_CLOSED = "créneau fermé"
SLOT_TOO_SOON = "créneau trop proche : le délai de commande du tiers-lieu est dépassé"

NOT_COLLECTED = N_("cette commande n'a pas été retirée à temps : "
                    "ses produits retournent aux boutiques")


class HubDetails(BaseModel):
    """What it takes to open a hub: a name, the town it serves and where to find it."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    town: str = Field(min_length=1, max_length=200)
    address: str = Field(min_length=1, max_length=500)

    @field_validator("name", "town", "address")
    @classmethod
    def _single_spaced(cls, value: str) -> str:
        return " ".join(value.split())


class StaffAssignment(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    # Whether it is an address at all matters less than whether it is an account's: looked up later.
    email: str = Field(min_length=3, max_length=320)
    role: HubRole

    @field_validator("email")
    @classmethod
    def _lower_case(cls, value: str) -> str:
        return value.lower()


class SlotDetails(BaseModel):
    """A collection slot as staff open it: a span of time and how many residents it can take."""

    model_config = ConfigDict(extra="forbid")

    starts_at: datetime
    ends_at: datetime
    capacity: int = Field(ge=1, le=10_000)

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                "la date doit préciser son fuseau horaire, par exemple 2025-06-07T17:00:00+02:00"
            )
        try:
            return value.astimezone(UTC)
        except OverflowError:  # 0001-01-01T00:00+00:01 has no UTC time: it was a 500
            raise ValueError("la date sort du calendrier") from None

    @model_validator(mode="after")
    def _ends_after_start(self) -> SlotDetails:
        if self.ends_at <= self.starts_at:
            raise ValueError("la fin du créneau (ends_at) doit venir après son début (starts_at)")
        return self


def may_act_as(held: HubRole | None, needed: HubRole, *, platform_admin: bool) -> bool:
    """A hub admin has its staff's rights; a platform admin has every hub admin's."""
    if platform_admin:
        return True
    if held is None:
        return False
    return held == "admin" or needed == "staff"


def slot_refusal(
    *, slot_hub_id: object | None, order_hub_id: object, starts_at: datetime | None, now: datetime,
    closed: bool = False, lead_time: timedelta = timedelta(0),
) -> str:
    """Why a place in a slot could not be held, once the conditional hold has failed."""
    if slot_hub_id is None or slot_hub_id != order_hub_id:
        return SLOT_UNKNOWN
    if closed:
        return SLOT_CLOSED
    if starts_at <= now:
        return SLOT_STARTED
    if starts_at - lead_time <= now:
        return SLOT_TOO_SOON
    return SLOT_FULL


def every_part_in(part_statuses: list[str]) -> bool:
    """Ready when each part still expected is on the shelves; a pickup whose every part was
    cancelled is not ready: the order is cancelled instead."""
    expected = [status for status in part_statuses if status != CANCELLED]
    return bool(expected) and all(status == DROPPED_OFF for status in expected)


def new_pickup_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalized_code(typed: str) -> str:
    """What staff type from the resident's screen, as the code was made (spaces, lower case)."""
    return "".join(typed.split()).upper()


def paris_day(day: date) -> tuple[datetime, datetime]:
    """The UTC bounds of a calendar day in Europe/Paris (23 or 25 hours long on DST changes)."""
    start = datetime.combine(day, time(0), PARIS)
    end = datetime.combine(day + timedelta(days=1), time(0), PARIS)
    return start.astimezone(UTC), end.astimezone(UTC)


def paris_today(now: datetime) -> date:
    return now.astimezone(PARIS).date()


def refuse_drop_off(pickup_status: str, part_status: str | None, shop_id: object) -> None:
    if pickup_status == CANCELLED:
        raise Conflict(_("cette commande a été annulée : plus aucun dépôt n'est attendu"))
    if pickup_status == PICKED_UP:
        raise Conflict(_("cette commande a déjà été remise"))
    if pickup_status == NO_SHOW:
        raise Conflict(_(NOT_COLLECTED))
    if part_status is None:
        raise NotFound(_("la boutique %(shop)s n'a pas de part dans cette commande")
                       % {"shop": shop_id})
    if part_status == CANCELLED:
        raise Conflict(_("la boutique a annulé sa part de cette commande : elle n'est plus "
                         "attendue"))


def refuse_handover(pickup_status: str, expected_code: str, typed_code: str) -> None:
    if pickup_status == CANCELLED:
        raise Conflict(_("cette commande a été annulée : elle ne peut pas être remise"))
    if pickup_status == PICKED_UP:
        raise Conflict(_("cette commande a déjà été remise"))
    if pickup_status == NO_SHOW:
        raise Conflict(_(NOT_COLLECTED))
    if pickup_status != READY:
        raise Conflict(_("cette commande n'est pas encore prête : des parts restent à déposer"))
    if not hmac.compare_digest(normalized_code(typed_code).encode(), expected_code.encode()):
        raise Unprocessable(_("code de retrait incorrect"))
