"""SMS through the HTTP gateway (a real local HTTP server): to residents who opted in with a
number, for the pickup and the reminder only; never to the others."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from libs.contracts.accounts import ContactPreferencesChanged
from libs.contracts.pickup import PickupOverdue, PickupReady
from tests.services.notification.conftest import GATEWAY_TOKEN, fast_settings, running_notification
from tests.support.waiting import eventually


async def test_an_opted_in_resident_gets_a_short_text_when_the_order_is_ready_and_overdue(
    notification, sms_gateway, smtp_server, town,
):
    await notification.open_town(town, phone="+33612345678", sms_opt_in=True)
    order_id = await notification.confirm_order(town, code="K7Q2PM")

    await notification.feed(PickupReady(order_id=order_id))
    await notification.feed(PickupOverdue(order_id=order_id, hub_id=town.hub_id,
                                          held_until=datetime(2026, 12, 5, 18, tzinfo=UTC)))

    await eventually(lambda: len(sms_gateway.requests) == 2, message="two SMS")
    ready, reminder = sorted(sms_gateway.requests, key=lambda r: "rappel" in r["body"]["text"])
    assert ready["path"] == "/v1/sms" and ready["authorization"] == f"Bearer {GATEWAY_TOKEN}"
    assert ready["body"]["to"] == "+33612345678"
    assert ready["body"]["text"] == (
        f"Adopte mon commerçant : commande {str(order_id)[:8].upper()} prête à retirer à La "
        "Fabrique du Centre, jeudi 3 décembre à 17:00 – 19:00 (Dégustation de fromages). Code de "
        "retrait : K7Q2PM")
    assert "jusqu'au samedi 5 décembre à 19:00" in reminder["body"]["text"]
    await eventually(lambda: _all_sent(notification), message="both recorded as sent")
    sms = await notification.messages(channel="sms")
    assert {str(m.id) for m in sms} == {r["body"]["reference"] for r in sms_gateway.requests}
    assert {m.address for m in sms} == {"+33612345678"}
    # Only the pickup and the reminder: the confirmation goes by e-mail alone.
    assert {m.kind for m in sms} == {"pickup_ready", "pickup_overdue"}


async def _all_sent(notification) -> bool:
    return all(m.status == "sent" for m in await notification.messages())


async def test_no_text_without_opt_in_even_with_a_number(notification, sms_gateway, smtp_server,
                                                         town):
    await notification.open_town(town, phone="+33612345678", sms_opt_in=False)
    order_id = await notification.confirm_order(town)

    await notification.feed(PickupReady(order_id=order_id))

    await eventually(lambda: len(smtp_server.mails.received) == 4, message="the e-mails")
    await notification.runtime.settle()
    assert sms_gateway.requests == []
    assert await notification.messages(channel="sms") == []


async def test_opting_out_before_the_text_leaves_drops_it(notification, sms_gateway, smtp_server,
                                                           town):
    await notification.open_town(town, phone="+33612345678", sms_opt_in=True)
    order_id = await notification.confirm_order(town)
    sms_gateway.fail_next = 1  # the first try fails, so the text is still waiting ...

    await notification.feed(PickupReady(order_id=order_id))
    await eventually(lambda: _tried_once(notification), message="a failed first try")
    await notification.feed(ContactPreferencesChanged(  # ... when the resident opts out
        user_id=town.resident_id, locale="fr", phone="+33612345678", sms_opt_in=False))

    async def dropped() -> bool:
        [message] = await notification.messages(channel="sms")
        return message.status == "dropped"
    await eventually(dropped, message="the text dropped")
    assert sms_gateway.requests == []


async def _tried_once(notification) -> bool:
    sms = await notification.messages(channel="sms")
    return bool(sms) and sms[0].attempts >= 1 and sms[0].last_error is not None


async def test_a_gateway_failure_is_retried_with_the_same_reference(tmp_path, smtp_server,
                                                                    sms_gateway, town):
    sms_gateway.fail_next = 2
    async with running_notification(fast_settings(tmp_path, smtp_server, sms_gateway)) as notification:
        await notification.open_town(town, phone="+447700900123", sms_opt_in=True)
        await notification.feed(PickupReady(order_id=await notification.confirm_order(town)))

        await eventually(lambda: _all_sent(notification), message="every message sent")
        assert len(sms_gateway.requests) == 1
        [message] = await notification.messages(channel="sms")
        assert message.attempts == 3 and sms_gateway.requests[0]["body"]["reference"] == str(message.id)


async def test_without_a_gateway_texts_go_to_the_log(tmp_path, smtp_server, town, caplog):
    caplog.set_level(logging.INFO, logger="services.notification.senders")
    async with running_notification(fast_settings(tmp_path, smtp_server)) as notification:
        await notification.open_town(town, locale="en", phone="+447700900123", sms_opt_in=True)
        await notification.feed(PickupReady(order_id=await notification.confirm_order(town)))

        async def sent() -> bool:
            sms = await notification.messages(channel="sms")
            return bool(sms) and sms[0].status == "sent"
        await eventually(sent, message="the SMS logged")

    [record] = [r for r in caplog.records if r.getMessage().startswith("SMS (not sent")]
    assert record.to == "+447700900123" and "is ready for pickup" in record.text
