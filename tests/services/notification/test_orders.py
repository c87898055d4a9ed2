"""E-mails about an order, received by a real SMTP server: the confirmation to the resident and
to each shop for its part, the pickup e-mail with its code and QR code, the reminder and the
no-show; in French or English; each sent once, whatever is delivered twice, and retried until
the server takes it."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import segno
from sqlalchemy import event

from libs.contracts.catalog import ShopOpened
from libs.contracts.order import OrderConfirmed, OrderPlaced
from libs.contracts.pickup import NoShowRecorded, PickupOverdue, PickupReady, PickupScheduled
from libs.messaging.port import Record
from services.notification import use_cases
from tests.services.notification.conftest import fast_settings, running_notification
from tests.support.waiting import eventually


def qr_png(code: str) -> bytes:
    image = io.BytesIO()
    segno.make(code, error="m").save(image, kind="png", scale=8, border=4)
    return image.getvalue()


async def test_a_confirmed_order_tells_the_resident_and_each_shop_its_part(
    notification_on_each_database, smtp_server, town,
):
    notification = notification_on_each_database
    await notification.open_town(town)

    order_id = await notification.confirm_order(town)

    mails = smtp_server.mails
    await eventually(lambda: len(mails.received) == 3, message="three e-mails")
    reference = str(order_id)[:8].upper()
    [resident] = mails.to("camille@example.org")
    assert resident.subject == (f"Commande {reference} confirmée : à retirer jeudi 3 décembre "
                                "à 17:00 – 19:00 (Dégustation de fromages)")
    assert resident.sender == "ne-pas-repondre@adopte-mon-commercant.fr"
    assert "Camille Le Bihan" in str(resident.message["To"])
    text = resident.body()
    assert "Bonjour Camille Le Bihan," in text and "(21,90 €) est confirmée" in text
    assert "Boulangerie Le Fournil (9,00 €)" in text and "2 × Pain de campagne (1 kg)" in text
    assert "Fromagerie Kerbriant (12,90 €)" in text and "1 × Tomme de Bretagne" in text
    assert "La Fabrique du Centre, 2 rue des Augustins (Lannion)" in text
    assert f"https://adopte.example/orders/{order_id}" in text
    assert '<html lang="fr">' in resident.body("html")
    [baker] = mails.to("fournil@example.org")
    assert baker.subject.startswith(f"À préparer : commande {reference}, retrait jeudi 3 décembre")
    assert "2 × Pain de campagne (1 kg)" in baker.body() and "Tomme" not in baker.body()
    assert f"https://adopte.example/orders/shops/{town.bakery_id}" in baker.body()
    [cheesemaker] = mails.to("kerbriant@example.org")
    assert "1 × Tomme de Bretagne" in cheesemaker.body() and "Pain" not in cheesemaker.body()


async def test_ready_for_pickup_carries_the_code_and_its_qr_code_inline(notification, smtp_server,
                                                                         town):
    await notification.open_town(town)
    order_id = await notification.confirm_order(town, code="K7Q2PM")

    await notification.feed(PickupReady(order_id=order_id))

    def ready_mails():
        return [m for m in smtp_server.mails.to(town.resident_email) if "prête" in m.subject]
    await eventually(lambda: len(ready_mails()) == 1, message="the pickup e-mail")
    [mail] = ready_mails()
    assert mail.subject == f"Votre commande {str(order_id)[:8].upper()} est prête à retirer"
    assert "expédi" not in mail.body().lower() and "expédi" not in mail.subject.lower()
    assert "Votre code de retrait : K7Q2PM" in mail.body()
    assert "jeudi 3 décembre à 17:00 – 19:00" in mail.body()
    html = mail.body("html")
    assert 'src="cid:pickup-code"' in html and "K7Q2PM" in html
    [image] = mail.images()
    assert image.get_content_type() == "image/png" and image["Content-ID"] == "<pickup-code>"
    png = image.get_content()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert png == qr_png("K7Q2PM")  # the very QR code of the code, as segno draws it


async def test_a_resident_who_chose_english_reads_english(notification, smtp_server, town):
    await notification.open_town(town, locale="en")
    order_id = await notification.confirm_order(town)

    await notification.feed(PickupReady(order_id=order_id))

    mails = smtp_server.mails
    await eventually(lambda: len(mails.to(town.resident_email)) == 2, message="two e-mails")
    confirmed, ready = sorted(mails.to(town.resident_email), key=lambda m: "ready" in m.subject)
    reference = str(order_id)[:8].upper()
    assert confirmed.subject == (f"Order {reference} confirmed: collect it Thursday 3 December "
                                 "at 17:00 – 19:00 (Dégustation de fromages)")
    assert "Hello Camille Le Bihan," in confirmed.body() and "(€21.90) is confirmed" in confirmed.body()
    assert ready.subject == f"Your order {reference} is ready for pickup"
    assert "Your pickup code: K7Q2PM" in ready.body()
    assert '<html lang="en">' in ready.body("html")
    # The shops' owners said nothing: they read French.
    await eventually(lambda: len(mails.to("fournil@example.org")) == 1, message="the baker's")
    assert mails.to("fournil@example.org")[0].subject.startswith("À préparer")


async def test_the_reminder_and_the_no_show_reach_the_resident(notification, smtp_server, town):
    await notification.open_town(town)
    order_id = await notification.confirm_order(town)
    held_until = datetime(2026, 12, 5, 18, 0, tzinfo=UTC)

    await notification.feed(PickupOverdue(order_id=order_id, hub_id=town.hub_id,
                                          held_until=held_until))
    await notification.feed(NoShowRecorded(order_id=order_id, hub_id=town.hub_id,
                                           shop_ids=[town.bakery_id, town.cheese_id]))

    mails = smtp_server.mails
    await eventually(lambda: len(mails.to(town.resident_email)) == 3, message="three e-mails")
    subjects = {m.subject: m for m in mails.to(town.resident_email)}
    reference = str(order_id)[:8].upper()
    reminder = subjects[f"Rappel : votre commande {reference} vous attend au tiers-lieu"]
    assert "Nous la gardons jusqu'au samedi 5 décembre à 19:00" in reminder.body()
    assert "K7Q2PM" in reminder.body()
    no_show = subjects[f"Commande {reference} non retirée"]
    assert "retournés aux commerçants" in no_show.body()


async def test_an_event_delivered_twice_sends_each_message_once(notification_on_each_database,
                                                                smtp_server, town):
    notification = notification_on_each_database
    await notification.open_town(town)
    order_id = await notification.confirm_order(town)
    ready = PickupReady(order_id=order_id)

    record = Record(ready.topic, partition=0, offset=0, key=ready.key,
                    value=ready.envelope(correlation_id="t").to_bytes())

    await notification.runtime.handle(record)
    await notification.runtime.handle(record)  # redelivered by the bus
    await notification.feed(ready)  # published again upstream: another event id, the same fact
    await eventually(lambda: _all_sent(notification), message="every message recorded as sent")
    await notification.runtime.settle()
    await notification.confirm_order(town, order_id)  # the whole order's story again

    await notification.runtime.settle()
    assert len(await notification.messages(kind="pickup_ready")) == 1
    assert len(await notification.messages()) == 4
    assert len(smtp_server.mails.received) == 4


async def _all_sent(notification) -> bool:
    return all(m.status == "sent" for m in await notification.messages())


async def test_events_handled_in_one_transaction_each_say_what_came_before(
    notification_on_each_database, smtp_server, town,
):
    """A batch shares one session: the code a later record wrote is in the pickup e-mail."""
    notification = notification_on_each_database
    await notification.open_town(town)
    order_id, parts = uuid4(), town.parts()

    await notification.feed_together(
        OrderPlaced(order_id=order_id, hub_id=town.hub_id, slot_id=town.slot_id,
                    resident_id=town.resident_id, resident_email=town.resident_email,
                    parts=parts, total_cents=2190),
        OrderConfirmed(order_id=order_id, hub_id=town.hub_id, slot_id=town.slot_id,
                       resident_id=town.resident_id, parts=parts, total_cents=2190),
        PickupScheduled(order_id=order_id, hub_id=town.hub_id, slot_id=town.slot_id,
                        code="B4TCH1"),
        PickupReady(order_id=order_id))

    mails = smtp_server.mails
    await eventually(lambda: len(mails.received) == 4, message="four e-mails")
    [ready] = [m for m in mails.to(town.resident_email) if "prête" in m.subject]
    assert "Votre code de retrait : B4TCH1" in ready.body()
    assert "(21,90 €) est confirmée" in next(
        m for m in mails.to(town.resident_email) if "confirmée" in m.subject).body()
    await eventually(lambda: _all_sent(notification), message="every message recorded as sent")


async def test_a_confirmation_whose_placing_never_came_still_goes(notification, smtp_server,
                                                                   town):
    await notification.open_town(town)
    order_id = uuid4()

    await notification.feed(OrderConfirmed(order_id=order_id, hub_id=town.hub_id,
                                           slot_id=town.slot_id, resident_id=town.resident_id,
                                           parts=town.parts(), total_cents=2190))

    await eventually(lambda: len(smtp_server.mails.received) == 3, message="three e-mails")
    [resident] = smtp_server.mails.to(town.resident_email)
    assert "(21,90 €) est confirmée" in resident.body()


async def test_a_message_whose_sender_stopped_before_sending_goes_once_its_claim_ran_out(
    tmp_path, smtp_server, town, monkeypatch,
):
    """Recorded with the event, claimed for its first attempt, then the process stops before
    the send: the clock's round sends it once the claim has run out."""
    settings = fast_settings(tmp_path, smtp_server, claim_lease_s=0.5)
    async with running_notification(settings) as notification:
        await notification.open_town(town)
        sends = []

        async def stopped(runtime, *, drafts):
            sends.extend(drafts)
        monkeypatch.setattr(use_cases, "_send_drafted", stopped)
        await notification.confirm_order(town)
        await notification.runtime.settle()
        assert len(sends) == 3 and smtp_server.mails.received == []

        await eventually(lambda: _all_sent(notification), message="every message sent")

        assert len(smtp_server.mails.received) == 3
        assert {m.attempts for m in await notification.messages()} == {2}


async def test_a_confirmed_order_costs_one_read_one_insert_and_one_update(notification,
                                                                          smtp_server, town):
    """Its three e-mails, from the read models to recorded as sent: the order with everything
    its messages name in one SELECT, the messages in one INSERT, their outcome in one UPDATE."""
    await notification.open_town(town)
    order_id, parts = uuid4(), town.parts()
    await notification.feed(OrderPlaced(order_id=order_id, hub_id=town.hub_id,
                                        slot_id=town.slot_id, resident_id=town.resident_id,
                                        resident_email=town.resident_email, parts=parts,
                                        total_cents=2190))
    statements = []

    def record(_connection, _cursor, statement, *_):
        statements.append(statement.split()[0])
    engine = notification.runtime.database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        await notification.feed(OrderConfirmed(order_id=order_id, hub_id=town.hub_id,
                                               slot_id=town.slot_id, resident_id=town.resident_id,
                                               parts=parts, total_cents=2190))
        await notification.runtime.settle()
    finally:
        event.remove(engine, "before_cursor_execute", record)

    assert len(smtp_server.mails.received) == 3
    assert [s for s in statements if s.lower() != "begin"] == [
        "INSERT",  # the event's id into the inbox
        "SELECT", "INSERT", "UPDATE"]


async def test_a_refused_delivery_is_tried_again_then_sent_once(tmp_path, smtp_server, town):
    smtp_server.mails.refuse_next = 2
    async with running_notification(fast_settings(tmp_path, smtp_server)) as notification:
        await notification.open_town(town)
        await notification.feed(PickupReady(order_id=await notification.confirm_order(town)))

        await eventually(lambda: _all_sent(notification), message="every message sent")

        assert smtp_server.mails.refused == 2
        assert len(smtp_server.mails.received) == 4
        messages = await notification.messages()
        assert sum(m.attempts for m in messages) == len(messages) + 2
        assert {m.last_error for m in messages} == {None}


async def test_after_its_last_attempt_a_message_is_failed_and_left_alone(tmp_path, smtp_server,
                                                                         town):
    smtp_server.mails.refuse_next = 1_000
    settings = fast_settings(tmp_path, smtp_server, max_attempts=3)
    async with running_notification(settings) as notification:
        await notification.open_town(town)
        await notification.confirm_order(town)

        async def all_failed() -> bool:
            messages = await notification.messages()
            return len(messages) == 3 and all(m.status == "failed" for m in messages)
        await eventually(all_failed, message="every message failed")

        [message, *_] = await notification.messages()
        assert message.attempts == 3 and "try again later" in message.last_error
        assert smtp_server.mails.refused == 9 and smtp_server.mails.received == []


async def test_a_message_waits_for_what_it_needs_to_reach_the_service(notification, smtp_server,
                                                                      town):
    """The shop's opening reaches this service after the order it is part of: its e-mail waits
    for it, then goes."""
    await notification.open_town(town)
    late_shop = town.bakery_id = uuid4()

    await notification.confirm_order(town)
    await eventually(lambda: len(smtp_server.mails.received) == 2, message="the first two")

    async def waiting() -> bool:
        [message] = await notification.messages(kind="part_to_prepare",
                                                recipient=f"shop:{late_shop}")
        return message.status == "pending" and "not known yet" in (message.last_error or "")
    await eventually(waiting, message="the late shop's e-mail waiting")

    await notification.feed(ShopOpened(shop_id=late_shop, hub_id=town.hub_id, name="Le Fournil 2",
                                       owner_id=town.baker_id, owner_email="fournil2@example.org"))

    await eventually(lambda: len(smtp_server.mails.to("fournil2@example.org")) == 1,
                     message="the late shop's e-mail")


async def test_old_events_feed_the_read_models_but_tell_nobody(notification, smtp_server, town):
    """A service reading the log from its start must not write about last year's orders."""
    await notification.open_town(town)
    long_ago = datetime.now(UTC) - timedelta(days=30)
    order_id = uuid4()
    parts = town.parts()
    await notification.feed(OrderPlaced(order_id=order_id, hub_id=town.hub_id,
                                        slot_id=town.slot_id, resident_id=town.resident_id,
                                        resident_email=town.resident_email, parts=parts,
                                        total_cents=2190), occurred_at=long_ago)
    await notification.feed(OrderConfirmed(order_id=order_id, hub_id=town.hub_id,
                                           slot_id=town.slot_id, resident_id=town.resident_id,
                                           parts=parts, total_cents=2190), occurred_at=long_ago)
    await notification.feed(PickupReady(order_id=order_id), occurred_at=long_ago)
    await notification.runtime.settle()

    assert await notification.messages() == []
    assert smtp_server.mails.received == []
