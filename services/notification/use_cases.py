"""What the notification service does: keep its read models from other services' events, record
the messages those events call for, and send them.

A handler only records a message (``pending``, once per kind, subject, channel and recipient) in
the event's transaction. Sending happens outside any transaction: at once after the commit, and
on the service's clock for whatever is due again. Whoever sends a message first claims it (a
conditional update), so two senders never both send it, and a sent one is never sent again. The
content is composed when it is sent, from the read models as they are then, so an event that
reaches this service late (a hub's address, a person's language) still finds its way in.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from functools import partial
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from libs.contracts.accounts import ContactPreferencesChanged, UserRegistered
from libs.contracts.catalog import ShopOpened
from libs.contracts.order import OrderConfirmed, OrderPart, OrderPlaced
from libs.contracts.pickup import (
    GatheringCancelled,
    GatheringScheduled,
    HubOpened,
    NoShowRecorded,
    PickupOverdue,
    PickupReady,
    PickupScheduled,
    ResidentSignedUp,
    SignUpCancelled,
    SlotHeld,
    SlotOpened,
)
from libs.kit.runtime import ServiceRuntime, UnitOfWork
from services.notification import domain
from services.notification.domain import (
    DROPPED,
    EMAIL,
    FAILED,
    GATHERING_CANCELLED,
    NO_SHOW,
    ORDER_CONFIRMED,
    PART_TO_PREPARE,
    PENDING,
    PICKUP_OVERDUE,
    PICKUP_READY,
    SENT,
    SIGNED_UP,
    SMS,
    Channel,
    Kind,
    NotYetKnown,
    TextMessage,
    person_ref,
    shop_ref,
)
from services.notification.messages import MessageTemplates, email_message, qr_code_png
from services.notification.tables import (
    Gathering,
    Hub,
    Order,
    Person,
    SentMessage,
    Shop,
    SignUp,
    Slot,
)

log = logging.getLogger(__name__)

DUE_BATCH = 100
ERROR_LENGTH = 1000

templates = MessageTemplates()


def utc_now() -> datetime:
    return datetime.now(UTC)


# --- read models ------------------------------------------------------------------------


async def record_registered_user(event: UserRegistered, uow: UnitOfWork) -> None:
    person = await _person(uow.session, event.user_id)
    person.email, person.name = event.email, event.name


async def record_contact_preferences(event: ContactPreferencesChanged, uow: UnitOfWork) -> None:
    person = await _person(uow.session, event.user_id)
    person.locale, person.phone, person.sms_opt_in = event.locale, event.phone, event.sms_opt_in


async def record_opened_hub(event: HubOpened, uow: UnitOfWork) -> None:
    await uow.session.merge(Hub(id=event.hub_id, name=event.name, town=event.town,
                                address=event.address))


async def record_opened_shop(event: ShopOpened, uow: UnitOfWork) -> None:
    await uow.session.merge(Shop(id=event.shop_id, hub_id=event.hub_id, name=event.name,
                                 owner_id=event.owner_id, owner_email=event.owner_email))


async def record_opened_slot(event: SlotOpened, uow: UnitOfWork) -> None:
    await uow.session.merge(Slot(id=event.slot_id, hub_id=event.hub_id, starts_at=event.starts_at,
                                 ends_at=event.ends_at, label=event.label))


async def record_held_slot(event: SlotHeld, uow: UnitOfWork) -> None:
    """The slot's times come with every hold: enough for the messages of a slot opened before
    this service listened."""
    if await uow.session.get(Slot, event.slot_id) is None:
        uow.session.add(Slot(id=event.slot_id, hub_id=event.hub_id, starts_at=event.starts_at,
                             ends_at=event.ends_at))


async def record_placed_order(event: OrderPlaced, uow: UnitOfWork) -> None:
    order = await _order(uow.session, event.order_id, event.hub_id, event.slot_id)
    order.resident_id, order.resident_email = event.resident_id, event.resident_email
    order.total_cents, order.parts = event.total_cents, _parts(event.parts)


async def record_pickup_code(event: PickupScheduled, uow: UnitOfWork) -> None:
    order = await _order(uow.session, event.order_id, event.hub_id, event.slot_id)
    order.code = event.code


async def record_scheduled_gathering(event: GatheringScheduled, uow: UnitOfWork) -> None:
    await uow.session.merge(Gathering(id=event.gathering_id, hub_id=event.hub_id,
                                      title=event.title, starts_at=event.starts_at,
                                      ends_at=event.ends_at))


async def record_cancelled_sign_up(event: SignUpCancelled, uow: UnitOfWork) -> None:
    await uow.session.merge(SignUp(gathering_id=event.gathering_id, user_id=event.user_id,
                                   active=False))


# --- events that call for a message -----------------------------------------------------


async def tell_confirmed_order(event: OrderConfirmed, uow: UnitOfWork) -> None:
    """The resident gets the summary; each shop, its part to prepare."""
    order = await _order(uow.session, event.order_id, event.hub_id, event.slot_id)
    order.resident_id, order.total_cents = event.resident_id, event.total_cents
    order.parts = _parts(event.parts)
    if not _fresh(uow):
        return
    await _tell(uow, ORDER_CONFIRMED, event.order_id, person_ref(event.resident_id))
    for part in event.parts:
        await _tell(uow, PART_TO_PREPARE, event.order_id, shop_ref(part.shop_id))


async def tell_pickup_ready(event: PickupReady, uow: UnitOfWork) -> None:
    await _tell_resident(uow, PICKUP_READY, event.order_id)


async def tell_pickup_overdue(event: PickupOverdue, uow: UnitOfWork) -> None:
    order = await uow.session.get(Order, event.order_id)
    if order is not None:
        order.held_until = event.held_until
    await _tell_resident(uow, PICKUP_OVERDUE, event.order_id)


async def tell_no_show(event: NoShowRecorded, uow: UnitOfWork) -> None:
    await _tell_resident(uow, NO_SHOW, event.order_id)


async def tell_signed_up(event: ResidentSignedUp, uow: UnitOfWork) -> None:
    await uow.session.merge(SignUp(gathering_id=event.gathering_id, user_id=event.user_id,
                                   active=True))
    if _fresh(uow):
        await _tell(uow, SIGNED_UP, event.gathering_id, person_ref(event.user_id))


async def tell_cancelled_gathering(event: GatheringCancelled, uow: UnitOfWork) -> None:
    """Everyone still signed up hears of it."""
    gathering = await uow.session.get(Gathering, event.gathering_id)
    if gathering is None:
        return
    gathering.cancelled_reason = event.reason
    if not _fresh(uow):
        return
    signed_up = await uow.session.exec(select(SignUp.user_id).where(
        SignUp.gathering_id == event.gathering_id, col(SignUp.active)))
    for user_id in signed_up.all():
        await _tell(uow, GATHERING_CANCELLED, event.gathering_id, person_ref(user_id))


async def _tell_resident(uow: UnitOfWork, kind: Kind, order_id: UUID) -> None:
    """By e-mail, and by SMS too for the kinds that fit one when the person opted in."""
    order = await uow.session.get(Order, order_id)
    if order is None or order.resident_id is None or not _fresh(uow):
        return  # an order this service never heard of (placed before it listened)
    recipient = person_ref(order.resident_id)
    await _tell(uow, kind, order_id, recipient)
    person = await uow.session.get(Person, order.resident_id)
    if kind in domain.SMS_KINDS and person is not None and _texts(person):
        await _tell(uow, kind, order_id, recipient, SMS)


async def _tell(uow: UnitOfWork, kind: Kind, subject_id: UUID, recipient: str,
                channel: Channel = EMAIL) -> None:
    """Records the message unless it already exists, and sends it once committed."""
    existing = await uow.session.exec(select(SentMessage.id).where(
        SentMessage.kind == kind, SentMessage.subject_id == subject_id,
        SentMessage.channel == channel, SentMessage.recipient == recipient))
    if existing.first() is not None:
        return
    now = utc_now()
    message = SentMessage(id=uuid4(), kind=kind, subject_id=subject_id, channel=channel,
                          recipient=recipient, status=PENDING, next_attempt_at=now, created_at=now)
    uow.session.add(message)
    uow.after_commit(partial(deliver, message_id=message.id))


def _fresh(uow: UnitOfWork) -> bool:
    if uow.cause is None or uow.settings is None:
        return True
    stale_after = timedelta(hours=uow.settings.stale_after_h)
    return not domain.is_stale(uow.cause.occurred_at, utc_now(), stale_after)


def _texts(person: Person) -> bool:
    return person.sms_opt_in and person.phone is not None


def _parts(parts: list[OrderPart]) -> list[dict]:
    return [part.model_dump(mode="json") for part in parts]


async def _person(session: AsyncSession, user_id: UUID) -> Person:
    person = await session.get(Person, user_id)
    if person is None:
        person = Person(id=user_id)
        session.add(person)
    return person


async def _order(session: AsyncSession, order_id: UUID, hub_id: UUID, slot_id: UUID) -> Order:
    order = await session.get(Order, order_id)
    if order is None:
        order = Order(id=order_id, hub_id=hub_id, slot_id=slot_id)
        session.add(order)
    return order


# --- sending ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Composed:
    """A message ready to leave, and what is kept of it once it has."""

    address: str
    locale: str
    title: str
    body: str
    email: EmailMessage | None = None
    sms: TextMessage | None = None


async def deliver_due(runtime: ServiceRuntime) -> None:
    """The clock's round: every message due (new, or failed and waited long enough)."""
    now = utc_now()
    async with runtime.database.sessions() as session:
        due = await session.exec(
            select(SentMessage.id)
            .where(SentMessage.status == PENDING, SentMessage.next_attempt_at <= now,
                   _unclaimed(now))
            .order_by(SentMessage.next_attempt_at)
            .limit(DUE_BATCH))
        message_ids = list(due.all())
    for message_id in message_ids:
        await deliver(runtime, message_id=message_id)


async def deliver(runtime: ServiceRuntime, *, message_id: UUID) -> None:
    """Sends one message, if it is still due and nobody else is sending it."""
    if not await _claim(runtime, message_id):
        return
    try:
        async with runtime.database.sessions() as session:
            message = await session.get(SentMessage, message_id)
            composed = await _compose(session, message, runtime.settings)
        if composed is not None:
            await _send(runtime, composed)
    except Exception as exc:  # noqa: BLE001 (whatever failed, the message is tried again)
        log.warning("message not sent", extra={"message_id": str(message_id), "error": repr(exc)})
        await _record_failure(runtime, message_id, exc)
        return
    await _record_outcome(runtime, message_id, composed)


async def _send(runtime: ServiceRuntime, composed: Composed) -> None:
    if composed.email is not None:
        await runtime.adapters["email"].send(composed.email)
    else:
        await runtime.adapters["sms"].send(composed.sms)


def _unclaimed(now: datetime):
    return or_(col(SentMessage.claimed_until).is_(None), col(SentMessage.claimed_until) < now)


async def _claim(runtime: ServiceRuntime, message_id: UUID) -> bool:
    now = utc_now()
    async with runtime.database.sessions() as session, session.begin():
        claimed = await session.execute(
            update(SentMessage)
            .where(col(SentMessage.id) == message_id, col(SentMessage.status) == PENDING,
                   col(SentMessage.next_attempt_at) <= now, _unclaimed(now))
            .values(claimed_until=now + timedelta(seconds=runtime.settings.claim_lease_s),
                    attempts=SentMessage.attempts + 1))
    return claimed.rowcount == 1


async def _record_outcome(runtime: ServiceRuntime, message_id: UUID,
                          composed: Composed | None) -> None:
    async with runtime.database.sessions() as session, session.begin():
        message = await session.get(SentMessage, message_id)
        message.claimed_until, message.last_error = None, None
        if composed is None:
            message.status = DROPPED
            return
        message.status, message.sent_at = SENT, utc_now()
        message.address, message.locale = composed.address, composed.locale
        message.title, message.body = composed.title, composed.body


async def _record_failure(runtime: ServiceRuntime, message_id: UUID, error: Exception) -> None:
    settings = runtime.settings
    async with runtime.database.sessions() as session, session.begin():
        message = await session.get(SentMessage, message_id)
        message.claimed_until = None
        message.last_error = repr(error)[:ERROR_LENGTH]
        if domain.gives_up(message.attempts, settings.max_attempts):
            message.status = FAILED
            log.error("message given up", extra={"message_id": str(message_id),
                                                 "attempts": message.attempts})
        else:
            message.next_attempt_at = utc_now() + domain.retry_delay(
                message.attempts, base_s=settings.retry_base_s, max_s=settings.retry_max_s)


# --- composing --------------------------------------------------------------------------


@dataclass(frozen=True)
class Addressee:
    email: str
    name: str
    locale: domain.Locale
    phone: str | None


async def _compose(session: AsyncSession, message: SentMessage, settings) -> Composed | None:
    """The message as it leaves now, or None when it no longer applies; NotYetKnown when what
    it needs has not reached this service yet."""
    addressee = await _addressee(session, message)
    if message.kind in (SIGNED_UP, GATHERING_CANCELLED):
        context = await _gathering_context(session, message)
    else:
        context = await _order_context(session, message, settings)
    if context is None:
        return None
    context |= {"name": addressee.name, "site_url": settings.public_url.rstrip("/")}
    locale = addressee.locale
    if message.channel == SMS:
        if addressee.phone is None:
            return None  # opted out since
        text = templates.sms(message.kind, locale, context)
        return Composed(addressee.phone, locale, text, text,
                        sms=TextMessage(to=addressee.phone, text=text, reference=str(message.id)))
    qr_code = None
    if message.kind == PICKUP_READY and context.get("code"):
        qr_code, context["qr"] = qr_code_png(context["code"]), True
    letter = templates.letter(message.kind, locale, {"qr": False, **context})
    email = email_message(letter, sender=settings.mail_from, to=addressee.email,
                          name=addressee.name, message_id=str(message.id), qr_code=qr_code)
    return Composed(addressee.email, locale, letter.subject, letter.text, email=email)


async def _addressee(session: AsyncSession, message: SentMessage) -> Addressee:
    kind, target_id = domain.parse_ref(message.recipient)
    if kind == "shop":
        shop = await session.get(Shop, target_id)
        if shop is None:
            raise NotYetKnown(f"the shop {target_id} is not known yet")
        owner = await session.get(Person, shop.owner_id)
        return Addressee(shop.owner_email, shop.name, _locale(owner), None)
    person = await session.get(Person, target_id)
    email = person.email if person else None
    if email is None and message.kind not in (SIGNED_UP, GATHERING_CANCELLED):
        order = await session.get(Order, message.subject_id)
        email = order.resident_email if order else None
    if email is None:
        raise NotYetKnown(f"the address of {target_id} is not known yet")
    phone = person.phone if person and _texts(person) else None
    return Addressee(email, person.name if person else "", _locale(person), phone)


def _locale(person: Person | None) -> domain.Locale:
    if person is not None and person.locale in domain.BABEL_LOCALES:
        return person.locale
    return domain.DEFAULT_LOCALE


async def _order_context(session: AsyncSession, message: SentMessage, settings
                         ) -> dict[str, Any] | None:
    order = await session.get(Order, message.subject_id)
    if order is None:
        raise NotYetKnown(f"the order {message.subject_id} is not known yet")
    shop_names = {shop.id: shop.name for shop in (await session.exec(
        select(Shop).where(col(Shop.id).in_([UUID(p["shop_id"]) for p in order.parts])))).all()}
    parts = [{**part, "shop_name": shop_names.get(UUID(part["shop_id"]), "")}
             for part in order.parts]
    site = settings.public_url.rstrip("/")
    context = {
        "reference": domain.order_reference(order.id),
        "total_cents": order.total_cents,
        "parts": parts,
        "code": order.code,
        "held_until": order.held_until,
        "slot": _slot(await session.get(Slot, order.slot_id)),
        "hub": _hub(await session.get(Hub, order.hub_id)),
        "order_url": f"{site}/orders/{order.id}",
    }
    if message.kind == PART_TO_PREPARE:
        _, shop_id = domain.parse_ref(message.recipient)
        part = next((p for p in parts if p["shop_id"] == str(shop_id)), None)
        if part is None:
            return None
        context |= {"part": part, "shop_name": part["shop_name"],
                    "shop_url": f"{site}/orders/shops/{shop_id}"}
    return context


async def _gathering_context(session: AsyncSession, message: SentMessage) -> dict[str, Any] | None:
    gathering = await session.get(Gathering, message.subject_id)
    if gathering is None:
        raise NotYetKnown(f"the gathering {message.subject_id} is not known yet")
    if message.kind == SIGNED_UP:
        _, user_id = domain.parse_ref(message.recipient)
        sign_up = await session.get(SignUp, (gathering.id, user_id))
        if gathering.cancelled_reason is not None or sign_up is None or not sign_up.active:
            return None  # cancelled before we could confirm it
    return {
        "gathering": {"title": gathering.title, "starts_at": gathering.starts_at,
                      "ends_at": gathering.ends_at},
        "reason": gathering.cancelled_reason or "",
        "hub": _hub(await session.get(Hub, gathering.hub_id)),
    }


def _slot(slot: Slot | None) -> dict | None:
    return slot and {"starts_at": slot.starts_at, "ends_at": slot.ends_at, "label": slot.label}


def _hub(hub: Hub | None) -> dict | None:
    return hub and {"name": hub.name, "town": hub.town, "address": hub.address}


# --- what was sent ----------------------------------------------------------------------


async def list_messages(runtime: ServiceRuntime, *, kind: str | None, status: str | None,
                        subject_id: UUID | None, limit: int) -> list[SentMessage]:
    query = select(SentMessage).order_by(col(SentMessage.created_at).desc()).limit(limit)
    if kind:
        query = query.where(SentMessage.kind == kind)
    if status:
        query = query.where(SentMessage.status == status)
    if subject_id:
        query = query.where(SentMessage.subject_id == subject_id)
    async with runtime.database.sessions() as session:
        return list((await session.exec(query)).all())
