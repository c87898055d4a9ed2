"""The notification service's rules, free of I/O: which messages exist, who gets them, when a
failed one is tried again, how dates and amounts read in each language; and the ports through
which messages leave (e-mail, SMS)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol
from uuid import UUID
from zoneinfo import ZoneInfo

from babel import Locale as BabelLocale
from babel.dates import format_datetime
from babel.numbers import format_currency

from libs.contracts.accounts import Locale

Kind = Literal["order_confirmed", "part_to_prepare", "pickup_ready", "pickup_overdue", "no_show",
               "signed_up", "gathering_cancelled"]
ORDER_CONFIRMED: Kind = "order_confirmed"
PART_TO_PREPARE: Kind = "part_to_prepare"
PICKUP_READY: Kind = "pickup_ready"
PICKUP_OVERDUE: Kind = "pickup_overdue"
NO_SHOW: Kind = "no_show"
SIGNED_UP: Kind = "signed_up"
GATHERING_CANCELLED: Kind = "gathering_cancelled"

# A short text can say these in a few words; the others need the whole e-mail.
SMS_KINDS: frozenset[Kind] = frozenset({PICKUP_READY, PICKUP_OVERDUE})

Channel = Literal["email", "sms"]
EMAIL: Channel = "email"
SMS: Channel = "sms"

Status = Literal["pending", "sent", "failed", "dropped"]
PENDING: Status = "pending"
SENT: Status = "sent"
FAILED: Status = "failed"  # every attempt failed: someone has to look
DROPPED: Status = "dropped"  # no longer applies (the person opted out, the sign-up was cancelled)

DEFAULT_LOCALE: Locale = "fr"
PARIS = ZoneInfo("Europe/Paris")
# Parsed once: babel would parse "fr_FR" again at every date and amount of every message.
BABEL_LOCALES: dict[Locale, BabelLocale] = {"fr": BabelLocale.parse("fr_FR"),
                                            "en": BabelLocale.parse("en_GB")}
DATE_PATTERNS: dict[Locale, str] = {"fr": "EEEE d MMMM 'à' HH:mm", "en": "EEEE d MMMM 'at' HH:mm"}


def person_ref(user_id: UUID) -> str:
    """Who a message is for, as kept before their address is looked up: a person ..."""
    return f"user:{user_id}"


def shop_ref(shop_id: UUID) -> str:
    """... or a shop (its owner reads it)."""
    return f"shop:{shop_id}"


def parse_ref(ref: str) -> tuple[Literal["user", "shop"], UUID]:
    kind, _, raw = ref.partition(":")
    if kind not in ("user", "shop"):
        raise ValueError(f"not a recipient: {ref!r}")
    return kind, UUID(raw)  # type: ignore[return-value]


def retry_delay(attempts: int, *, base_s: float, max_s: float) -> timedelta:
    """After the n-th failed attempt, wait base, 2×base, 4×base ... never more than max."""
    return timedelta(seconds=min(max_s, base_s * 2 ** max(attempts - 1, 0)))


def gives_up(attempts: int, max_attempts: int) -> bool:
    return attempts >= max_attempts


def is_stale(occurred_at: datetime, now: datetime, stale_after: timedelta) -> bool:
    """An event this old is history (a service reading the log from its start, say): it feeds
    the read models, but nobody is told about it now."""
    return now - occurred_at > stale_after


def order_reference(order_id: UUID) -> str:
    """What a person reads and says at the desk: the first 8 characters of the order's id."""
    return str(order_id)[:8].upper()


def local_moment(moment: datetime, locale: Locale) -> str:
    return format_datetime(moment.astimezone(PARIS), DATE_PATTERNS[locale],
                           locale=BABEL_LOCALES[locale])


def local_hour(moment: datetime, locale: Locale) -> str:
    return format_datetime(moment.astimezone(PARIS), "HH:mm", locale=BABEL_LOCALES[locale])


def local_money(cents: int, locale: Locale) -> str:
    return format_currency(cents / 100, "EUR", locale=BABEL_LOCALES[locale])


@dataclass(frozen=True)
class Letter:
    """A rendered e-mail: subject, plain text, and the same in simple HTML."""

    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class Email:
    """An e-mail as it travels (MIME, CRLF line ends), with its envelope's addresses and our
    message's id, which its Message-ID carries."""

    message_id: str
    sender: str
    to: str
    data: bytes


@dataclass(frozen=True)
class TextMessage:
    """An SMS: a number in E.164 form, a short text, and our message id as its reference."""

    to: str
    text: str
    reference: str


class EmailSender(Protocol):
    """Hands an e-mail over for delivery; raises when it was not accepted (it is retried)."""

    async def send(self, email: Email) -> None: ...


class SmsSender(Protocol):
    """Hands an SMS over to a provider; raises when it was not accepted (it is retried)."""

    async def send(self, message: TextMessage) -> None: ...


class NotYetKnown(Exception):
    """What the message needs has not reached the service yet (the person's address, say): it
    is tried again later, like a failed send."""
