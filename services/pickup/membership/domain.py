"""The rules of a hub's membership, free of I/O.

A membership goes ``awaiting_payment`` (a fee is asked) → ``active`` (``MembershipStarted``) →
``ended`` (``MembershipEnded``: ``expired``, ``left``, or ``renewed`` when the next one takes
over). A free one is ``active`` at once. A fee that fails, or is still unpaid a little after
``pay_by``, makes it ``lapsed``: it never started, so nothing is announced (``unpaid`` is never
said: a membership starts only once its fee is in).

A resident joins again (renews) once their membership is over, or in its last
``RENEWAL_WINDOW``: the new one then starts at once, runs from the old one's end (no day is
lost), and the old one ends as ``renewed``. A member keeps their number at the hub for good."""

from __future__ import annotations

import calendar
import io
import unicodedata
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import segno
from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from libs.kit.errors import Conflict

PARIS = ZoneInfo("Europe/Paris")

AWAITING_PAYMENT, ACTIVE, ENDED, LAPSED = "awaiting_payment", "active", "ended", "lapsed"
CURRENT = (AWAITING_PAYMENT, ACTIVE)
EXPIRED, LEFT, UNPAID, RENEWED = "expired", "left", "unpaid", "renewed"

RENEWAL_WINDOW = timedelta(days=30)
PAY_WITHIN = timedelta(minutes=30)
# The payment service has the first word on a fee past ``pay_by`` (it may be taking it right
# then); the hub gives up on it only this much later.
LAPSE_GRACE = timedelta(minutes=10)
MAX_FEE_CENTS = 100_000
MAX_DURATION_MONTHS = 120
NUMBER_PREFIX_LENGTH = 3
DEFAULT_NUMBER_PREFIX = "ADH"
NUMBER_MAX_LENGTH = 20


class MembershipTermsDetails(BaseModel):
    """What a hub admin decides of its membership: open to new members or not, its fee (0:
    free), how long it lasts (None: no end) and, in a few words, what members get."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    # Strict: the JSON API took false for a free membership and 1 for open (the form hands
    # over a bool and cents it computed).
    open: StrictBool
    fee_cents: int = Field(ge=0, le=MAX_FEE_CENTS, strict=True)
    duration_months: int | None = Field(default=None, ge=1, le=MAX_DURATION_MONTHS)
    benefits: str = Field(default="", max_length=1000)

    @field_validator("benefits")
    @classmethod
    def _unix_lines(cls, value: str) -> str:
        return value.replace("\r\n", "\n")


def refuse_joining(*, hub_open: bool, current_status: str | None,
                   current_expires_at: datetime | None, now: datetime) -> None:
    """Why the resident may not join (or renew) now, if they may not."""
    if current_status == AWAITING_PAYMENT:
        raise Conflict("votre adhésion attend déjà son paiement")
    if current_status == ACTIVE:
        if current_expires_at is None:
            raise Conflict("vous êtes déjà adhérent·e de ce tiers-lieu")
        if current_expires_at - now > RENEWAL_WINDOW:
            raise Conflict("vous êtes déjà adhérent·e : le renouvellement ouvre 30 jours avant "
                           "la fin de l'adhésion")
    if not hub_open:
        raise Conflict("ce tiers-lieu ne prend pas de nouvelles adhésions en ce moment")


def may_renew(*, status: str, expires_at: datetime | None, now: datetime) -> bool:
    return status == ACTIVE and expires_at is not None and expires_at - now <= RENEWAL_WINDOW


def expiry(starts_at: datetime, duration_months: int | None) -> datetime | None:
    """The same Paris wall-clock moment ``duration_months`` later (31 January + 1 month: the
    last day of February); None for a membership without end."""
    if duration_months is None:
        return None
    local = starts_at.astimezone(PARIS)
    index = local.year * 12 + local.month - 1 + duration_months
    year, month = divmod(index, 12)
    day = min(local.day, calendar.monthrange(year, month + 1)[1])
    later = local.replace(tzinfo=None).replace(year=year, month=month + 1, day=day)
    return later.replace(tzinfo=PARIS).astimezone(UTC)


def renewal_start(now: datetime, previous_expires_at: datetime | None) -> datetime:
    """Where a renewed membership's length counts from: the end of the one it extends, if that
    is still to come."""
    if previous_expires_at is None:
        return now
    return max(now, previous_expires_at)


def number_prefix(town: str) -> str:
    """Three letters of the hub's town (« Lannion » → LAN), so a card says where it is from."""
    letters = [c for c in unicodedata.normalize("NFKD", town) if c.isascii() and c.isalpha()]
    if len(letters) < NUMBER_PREFIX_LENGTH:
        return DEFAULT_NUMBER_PREFIX
    return "".join(letters[:NUMBER_PREFIX_LENGTH]).upper()


def member_number(prefix: str, sequence: int) -> str:
    return f"{prefix}-{sequence:04d}"


def sought_number(typed: str) -> tuple[str | None, int | None]:
    """What staff typed (or scanned off a card): a whole number (LAN-0042), or only its digits."""
    text = "".join(typed.split()).upper()
    if text.isdigit():
        return None, int(text)
    return (text or None), None


def pay_path(membership_id: object, status: str) -> str | None:
    """The payment service's page for the fee, while it awaits."""
    return f"/payments/memberships/{membership_id}" if status == AWAITING_PAYMENT else None


def is_valid(status: str, expires_at: datetime | None, now: datetime) -> bool:
    return status == ACTIVE and (expires_at is None or now < expires_at)


def card_qr_svg(number: str) -> str:
    """The member number as a QR code, in SVG: the desk's check reads back just the number."""
    buffer = io.BytesIO()
    segno.make(number, error="m", micro=False).save(
        buffer, kind="svg", scale=6, border=2, xmldecl=False, svgns=True,
        title=f"Numéro d'adhérent {number}")
    return buffer.getvalue().decode()
