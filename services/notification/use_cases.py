"""What the notification service does: keep its read models from other services' events, record
the messages those events call for, and send them.

A handler records a message (``pending``, once per kind, subject, channel and recipient: the
unique key makes the INSERT a no-op for one that exists) already claimed for its first attempt,
and drafts it from the read models its transaction reads; once committed, the draft is written
out and sent, outside any transaction. A message not sent (refused, or what it needs has not
reached this service yet) is tried again on the service's clock, drafted afresh from the read
models as they are then, so an event that arrives late (a hub's address, a person's language)
still finds its way in. Whoever sends a message holds a claim on it (a conditional update), so
two senders never both send it, and a sent one is never sent again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import or_, update
from sqlalchemy.orm import aliased
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
from libs.sqltypes import conflict_insert
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
    Email,
    Kind,
    NotYetKnown,
    TextMessage,
    person_ref,
    shop_ref,
)
from services.notification.messages import MessageTemplates, qr_code_png, write_email
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
    await _upsert_order(uow, event.order_id, event.hub_id, event.slot_id,
                        resident_id=event.resident_id, resident_email=event.resident_email,
                        total_cents=event.total_cents, parts=_parts(event.parts))


async def record_pickup_code(event: PickupScheduled, uow: UnitOfWork) -> None:
    await _upsert_order(uow, event.order_id, event.hub_id, event.slot_id, code=event.code)


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
    shop_ids = [part.shop_id for part in event.parts]
    facts = await _order_facts(uow.session, event.order_id, shop_ids)
    if facts is None:  # placed before this service listened
        uow.session.add(Order(id=event.order_id, hub_id=event.hub_id, slot_id=event.slot_id,
                              resident_id=event.resident_id))
        facts = await _order_facts(uow.session, event.order_id, shop_ids)
    order = facts.order
    order.resident_id, order.total_cents = event.resident_id, event.total_cents
    order.parts = _parts(event.parts)
    if not _fresh(uow):
        return
    await _tell(uow, [_outgoing(ORDER_CONFIRMED, order.id, person_ref(event.resident_id)),
                      *(_outgoing(PART_TO_PREPARE, order.id, shop_ref(part.shop_id))
                        for part in event.parts)], facts)


async def tell_pickup_ready(event: PickupReady, uow: UnitOfWork) -> None:
    await _tell_resident(uow, PICKUP_READY, await _order_facts(uow.session, event.order_id))


async def tell_pickup_overdue(event: PickupOverdue, uow: UnitOfWork) -> None:
    facts = await _order_facts(uow.session, event.order_id)
    if facts is not None:
        facts.order.held_until = event.held_until
    await _tell_resident(uow, PICKUP_OVERDUE, facts)


async def tell_no_show(event: NoShowRecorded, uow: UnitOfWork) -> None:
    await _tell_resident(uow, NO_SHOW, await _order_facts(uow.session, event.order_id))


async def tell_signed_up(event: ResidentSignedUp, uow: UnitOfWork) -> None:
    await uow.session.merge(SignUp(gathering_id=event.gathering_id, user_id=event.user_id,
                                   active=True))
    if _fresh(uow):
        await _tell(uow, [_outgoing(SIGNED_UP, event.gathering_id, person_ref(event.user_id))])


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
    await _tell(uow, [_outgoing(GATHERING_CANCELLED, event.gathering_id, person_ref(user_id))
                      for user_id in signed_up.all()])


async def _tell_resident(uow: UnitOfWork, kind: Kind, facts: OrderFacts | None) -> None:
    """By e-mail, and by SMS too for the kinds that fit one when the person opted in."""
    if facts is None or facts.order.resident_id is None or not _fresh(uow):
        return  # an order this service never heard of (placed before it listened)
    order_id, recipient = facts.order.id, person_ref(facts.order.resident_id)
    messages = [_outgoing(kind, order_id, recipient)]
    if kind in domain.SMS_KINDS and facts.resident is not None and _texts(facts.resident):
        messages.append(_outgoing(kind, order_id, recipient, SMS))
    await _tell(uow, messages, facts)


@dataclass(frozen=True)
class Outgoing:
    """A message on its way out: which one, and which attempt at sending it this is."""

    id: UUID
    kind: Kind
    subject_id: UUID
    channel: Channel
    recipient: str
    attempts: int = 1


def _outgoing(kind: Kind, subject_id: UUID, recipient: str, channel: Channel = EMAIL
              ) -> Outgoing:
    return Outgoing(uuid4(), kind, subject_id, channel, recipient)


async def _tell(uow: UnitOfWork, messages: list[Outgoing], order: OrderFacts | None = None
                ) -> None:
    """Records those of the messages not recorded yet, already claimed for their first attempt,
    drafts them from the read models this transaction reads (``order``: those read already),
    and sends them once committed. A crash before the send leaves them claimed: the clock's
    round sends them when the claim has run out."""
    if not messages:
        return
    created = await _record_new(uow, messages)
    drafts = [(message, await _drafted(uow.session, message, uow.settings, order))
              for message in created]
    if drafts:
        uow.after_commit(partial(_send_drafted, drafts=drafts))


async def _record_new(uow: UnitOfWork, messages: list[Outgoing]) -> list[Outgoing]:
    """One statement: the unique (kind, subject, channel, recipient) keeps out those that exist.
    (Rows as parameters, not in ``values()``: SQLAlchemy then caches the statement's compiled
    form, and still sends the rows in one INSERT.)"""
    now = utc_now()
    claimed_until = now + timedelta(seconds=uow.settings.claim_lease_s)
    statement = conflict_insert(uow.session, SentMessage.__table__)
    created = set((await uow.session.execute(
        statement.on_conflict_do_nothing().returning(SentMessage.id),
        [{"id": message.id, "kind": message.kind, "subject_id": message.subject_id,
          "channel": message.channel, "recipient": message.recipient, "status": PENDING,
          "attempts": message.attempts, "next_attempt_at": now, "claimed_until": claimed_until,
          "created_at": now}
         for message in messages])).scalars())
    return [message for message in messages if message.id in created]


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


async def _upsert_order(uow: UnitOfWork, order_id: UUID, hub_id: UUID, slot_id: UUID,
                        **values: Any) -> None:
    """Creates the order's row or sets these columns of it, in one statement, whichever of its
    events comes first. It goes around the session's objects: orders are read with
    ``populate_existing``, so one loaded earlier in the session is refreshed."""
    row = Order(id=order_id, hub_id=hub_id, slot_id=slot_id, **values).model_dump()
    statement = conflict_insert(uow.session, Order).values(row)
    await uow.session.execute(statement.on_conflict_do_update(index_elements=[Order.id],
                                                              set_=values))


# --- reading what messages say --------------------------------------------------------


Shops = dict[UUID, tuple[Shop, Person | None]]
"""Shops by id, each with its owner (if known)."""


@dataclass
class OrderFacts:
    """What the read models know of an order, read once for every message about it; its shops
    (and their owners) only when a message names them."""

    order: Order
    slot: Slot | None
    hub: Hub | None
    resident: Person | None
    shops: Shops | None = None


async def _order_facts(session: AsyncSession, order_id: UUID,
                       shop_ids: list[UUID] | None = None) -> OrderFacts | None:
    """The order, its slot, hub and resident; with ``shop_ids``, those shops and their owners
    too, in the same statement (a row for each shop)."""
    owner = aliased(Person)
    query = (select(Order, Slot, Hub, Person)
             .outerjoin(Slot, col(Slot.id) == Order.slot_id)
             .outerjoin(Hub, col(Hub.id) == Order.hub_id)
             .outerjoin(Person, col(Person.id) == Order.resident_id))
    if shop_ids is not None:
        query = (query.add_columns(Shop, owner)
                 .outerjoin(Shop, col(Shop.id).in_(shop_ids))
                 .outerjoin(owner, owner.id == Shop.owner_id))
    rows = (await session.exec(query.where(Order.id == order_id)
                                .execution_options(populate_existing=True))).all()
    if not rows:
        return None
    facts = OrderFacts(*rows[0][:4])
    if shop_ids is not None:
        facts.shops = {row[4].id: (row[4], row[5]) for row in rows if row[4] is not None}
    return facts


async def _shops(session: AsyncSession, facts: OrderFacts) -> Shops:
    if facts.shops is None:
        rows = await session.exec(
            select(Shop, Person)
            .outerjoin(Person, col(Person.id) == Shop.owner_id)
            .where(col(Shop.id).in_([UUID(part["shop_id"]) for part in facts.order.parts]))
            .execution_options(populate_existing=True))
        facts.shops = {shop.id: (shop, owner) for shop, owner in rows.all()}
    return facts.shops


@dataclass(frozen=True)
class Addressee:
    email: str
    name: str
    locale: domain.Locale
    phone: str | None


@dataclass(frozen=True)
class Draft:
    """A message's facts, read from the read models and kept as plain values: they are
    written out in the addressee's language once it can leave, outside the transaction."""

    addressee: Addressee
    context: dict[str, Any]


Drafted = Draft | Exception | None
"""The draft; or why there is none yet (the message is tried again later); or None, the message
no longer applies."""


async def _drafted(session: AsyncSession, message: Outgoing, settings,
                   order: OrderFacts | None = None) -> Drafted:
    try:
        return await _draft(session, message, settings, order)
    except NotYetKnown as missing:
        return missing


async def _draft(session: AsyncSession, message: Outgoing, settings,
                 order: OrderFacts | None = None) -> Draft | None:
    """None when the message no longer applies; NotYetKnown when what it needs has not reached
    this service yet."""
    if message.kind in (SIGNED_UP, GATHERING_CANCELLED):
        addressee = await _person_addressee(session, message, None)
        context = await _gathering_context(session, message)
    else:
        order = order or await _order_facts(session, message.subject_id)
        if order is None:
            raise NotYetKnown(f"the order {message.subject_id} is not known yet")
        shops = (await _shops(session, order) if message.kind in (ORDER_CONFIRMED, PART_TO_PREPARE)
                 else {})
        addressee = await _order_addressee(session, message, order, shops)
        context = _order_context(message, order, shops, settings)
    if context is None or (message.channel == SMS and addressee.phone is None):
        return None  # cancelled since, or opted out of texts since
    return Draft(addressee, context)


async def _order_addressee(session: AsyncSession, message: Outgoing, order: OrderFacts,
                           shops: Shops) -> Addressee:
    kind, target_id = domain.parse_ref(message.recipient)
    if kind == "user":
        return await _person_addressee(session, message, order)
    if target_id not in shops:
        raise NotYetKnown(f"the shop {target_id} is not known yet")
    shop, owner = shops[target_id]
    return Addressee(shop.owner_email, shop.name, _locale(owner), None)


async def _person_addressee(session: AsyncSession, message: Outgoing,
                            order: OrderFacts | None) -> Addressee:
    """The person's own address, or the one they ordered with."""
    _, user_id = domain.parse_ref(message.recipient)
    if order is not None and order.resident is not None and order.resident.id == user_id:
        person = order.resident
    else:
        person = await session.get(Person, user_id)
    email = person.email if person else None
    if email is None and order is not None:
        email = order.order.resident_email
    if email is None:
        raise NotYetKnown(f"the address of {user_id} is not known yet")
    phone = person.phone if person and _texts(person) else None
    return Addressee(email, person.name if person else "", _locale(person), phone)


def _locale(person: Person | None) -> domain.Locale:
    if person is not None and person.locale in domain.BABEL_LOCALES:
        return person.locale
    return domain.DEFAULT_LOCALE


def _order_context(message: Outgoing, facts: OrderFacts, shops: Shops, settings
                   ) -> dict[str, Any] | None:
    order = facts.order
    names = {shop_id: shop.name for shop_id, (shop, _) in shops.items()}
    parts = [{**part, "shop_name": names.get(UUID(part["shop_id"]), "")} for part in order.parts]
    site = settings.public_url.rstrip("/")
    context = {
        "reference": domain.order_reference(order.id),
        "total_cents": order.total_cents,
        "parts": parts,
        "code": order.code,
        "held_until": order.held_until,
        "slot": _slot(facts.slot),
        "hub": _hub(facts.hub),
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


async def _gathering_context(session: AsyncSession, message: Outgoing) -> dict[str, Any] | None:
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


# --- sending ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Composed:
    """A message ready to leave, and what is kept of it once it has."""

    address: str
    locale: str
    title: str
    body: str
    email: Email | None = None
    sms: TextMessage | None = None


async def deliver_due(runtime: ServiceRuntime) -> None:
    """The clock's round: every message due (failed and waited long enough, or left claimed by
    a sender that stopped)."""
    now = utc_now()
    async with runtime.database.read_sessions() as session:
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
    """Sends one message, if it is still due and nobody else is sending it, drafted from the
    read models as they are now (an event that reached this service late finds its way in)."""
    message = await _claim(runtime, message_id)
    if message is None:
        return
    try:
        async with runtime.database.read_sessions() as session:
            draft = await _draft(session, message, runtime.settings)
    except Exception as exc:  # noqa: BLE001 (whatever failed, the message is tried again)
        draft = exc
    await _record_outcomes(runtime, [await _attempt(runtime, message, draft)])


async def _send_drafted(runtime: ServiceRuntime, *, drafts: list[tuple[Outgoing, Drafted]]
                        ) -> None:
    """The first attempt at the messages an event called for, once its transaction committed."""
    await _record_outcomes(runtime, [await _attempt(runtime, message, draft)
                                     for message, draft in drafts])


async def _attempt(runtime: ServiceRuntime, message: Outgoing, draft: Drafted) -> dict[str, Any]:
    """Sends a claimed message; returns what to record of the attempt."""
    try:
        if isinstance(draft, Exception):
            raise draft
        if draft is None:
            return _dropped(message)
        composed = _compose(message, draft, runtime.settings)
        await _send(runtime, composed)
    except Exception as exc:  # noqa: BLE001 (whatever failed, the message is tried again)
        log.warning("message not sent", extra={"message_id": str(message.id), "error": repr(exc)})
        return _failed(message, exc, runtime.settings)
    return _sent(message, composed)


async def _send(runtime: ServiceRuntime, composed: Composed) -> None:
    if composed.email is not None:
        await runtime.adapters["email"].send(composed.email)
    else:
        await runtime.adapters["sms"].send(composed.sms)


def _unclaimed(now: datetime):
    return or_(col(SentMessage.claimed_until).is_(None), col(SentMessage.claimed_until) < now)


async def _claim(runtime: ServiceRuntime, message_id: UUID) -> Outgoing | None:
    now = utc_now()
    async with runtime.database.sessions() as session, session.begin():
        claimed = await session.execute(
            update(SentMessage)
            .where(col(SentMessage.id) == message_id, col(SentMessage.status) == PENDING,
                   col(SentMessage.next_attempt_at) <= now, _unclaimed(now))
            .values(claimed_until=now + timedelta(seconds=runtime.settings.claim_lease_s),
                    attempts=SentMessage.attempts + 1)
            .returning(SentMessage.id, SentMessage.kind, SentMessage.subject_id,
                       SentMessage.channel, SentMessage.recipient, SentMessage.attempts))
        row = claimed.first()
    return Outgoing(*row) if row is not None else None


async def _record_outcomes(runtime: ServiceRuntime, outcomes: list[dict[str, Any]]) -> None:
    """One transaction for the attempts at an event's messages: an UPDATE by id for each kind
    of outcome (SQLAlchemy groups the rows with the same columns into one executemany)."""
    async with runtime.database.sessions() as session, session.begin():
        await session.execute(update(SentMessage), outcomes)


def _sent(message: Outgoing, composed: Composed) -> dict[str, Any]:
    return {"id": message.id, "status": SENT, "sent_at": utc_now(), "claimed_until": None,
            "last_error": None, "address": composed.address, "locale": composed.locale,
            "title": composed.title, "body": composed.body}


def _dropped(message: Outgoing) -> dict[str, Any]:
    return {"id": message.id, "status": DROPPED, "claimed_until": None, "last_error": None}


def _failed(message: Outgoing, error: Exception, settings) -> dict[str, Any]:
    outcome = {"id": message.id, "claimed_until": None, "last_error": repr(error)[:ERROR_LENGTH]}
    if domain.gives_up(message.attempts, settings.max_attempts):
        log.error("message given up", extra={"message_id": str(message.id),
                                             "attempts": message.attempts})
        return outcome | {"status": FAILED}
    return outcome | {"next_attempt_at": utc_now() + domain.retry_delay(
        message.attempts, base_s=settings.retry_base_s, max_s=settings.retry_max_s)}


def _compose(message: Outgoing, draft: Draft, settings) -> Composed:
    """The message written out in its addressee's language, as it leaves."""
    addressee, locale = draft.addressee, draft.addressee.locale
    context = draft.context | {"name": addressee.name,
                               "site_url": settings.public_url.rstrip("/")}
    if message.channel == SMS:
        text = templates.sms(message.kind, locale, context)
        return Composed(addressee.phone, locale, text, text,
                        sms=TextMessage(to=addressee.phone, text=text, reference=str(message.id)))
    qr_code = None
    if message.kind == PICKUP_READY and context.get("code"):
        qr_code, context["qr"] = qr_code_png(context["code"]), True
    letter = templates.letter(message.kind, locale, {"qr": False, **context})
    email = write_email(letter, sender=settings.mail_from, to=addressee.email,
                        name=addressee.name, message_id=str(message.id), qr_code=qr_code)
    return Composed(addressee.email, locale, letter.subject, letter.text, email=email)


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
