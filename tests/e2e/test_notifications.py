"""The journey tells people what happens, on the embedded hub with a real SMTP server: the
resident's confirmation and "ready for pickup" e-mails (in the language they chose, with the
pickup code and its QR code), and each shop's part to prepare."""

from __future__ import annotations

import uuid

from tests.e2e.conftest import running_embedded_hub
from tests.e2e.test_journey import open_hub_with_two_shops, wait_for_order, wait_for_payment
from tests.support import smtp
from tests.support.waiting import eventually

smtp_server = smtp.smtp_server  # the fixture


async def test_the_journey_sends_the_confirmation_and_ready_emails(tmp_path, smtp_server):
    mails = smtp_server.mails
    async with running_embedded_hub(
        tmp_path, ADOPTE_NOTIFICATION_SMTP_HOST=smtp_server.host,
        ADOPTE_NOTIFICATION_SMTP_PORT=str(smtp_server.port),
        ADOPTE_NOTIFICATION_SMTP_SECURITY="none",
        ADOPTE_NOTIFICATION_MAIL_FROM="La Fabrique <bonjour@fabrique.example>",
    ) as hub:
        town = await open_hub_with_two_shops(hub)
        email, resident = await hub.sign_up("Lou")
        chosen = await hub.request("PUT", "/accounts/api/v1/me/preferences", token=resident,
                                   json={"locale": "en", "phone": "+33612345678",
                                         "sms_opt_in": True})
        assert chosen.status_code == 200, chosen.text
        lines = [{"product_id": s["product_id"], "quantity": 1} for s in town["shops"].values()]
        placed = await hub.eventually_ok(
            "POST", "/orders/api/v1/orders", expect=202, token=resident,
            headers={"Idempotency-Key": str(uuid.uuid4())},
            json={"hub_id": town["hub_id"], "slot_id": town["slot_id"], "lines": lines})
        order_id = placed.json()["id"]
        order = await wait_for_payment(hub, order_id, resident)
        paid = await hub.request("POST", f"/payments/api/v1/payments/{order['payment']['id']}"
                                 "/simulate", token=resident, json={"outcome": "succeeded"})
        assert paid.status_code == 200, paid.text
        order = await wait_for_order(hub, order_id, resident, "confirmed",
                                     until=lambda order: order["pickup"] is not None)
        reference = order_id[:8].upper()

        await eventually(lambda: len(mails.to(email)) == 1, message="the confirmation")
        [confirmation] = mails.to(email)
        assert confirmation.sender == "bonjour@fabrique.example"
        assert confirmation.subject.startswith(f"Order {reference} confirmed: collect it ")
        assert "Tomme de Bretagne" in confirmation.body() and "Pain de campagne" in confirmation.body()
        assert "La Fabrique, 12 rue des Halles (Lannion)" in confirmation.body()
        await eventually(lambda: len(mails.received) == 3, message="each shop's part too")
        to_shops = [m for m in mails.received if email not in m.recipients]
        assert all(m.subject.startswith(f"À préparer : commande {reference}") for m in to_shops)

        for shop_id in town["shops"]:
            dropped = await hub.request("POST", f"/pickup/api/v1/pickups/{order_id}/drop-offs",
                                        token=town["staff"], json={"shop_id": shop_id})
            assert dropped.status_code == 200, dropped.text
        await wait_for_order(hub, order_id, resident, "ready")

        await eventually(lambda: len(mails.to(email)) == 2, message="the pickup e-mail")
        ready = mails.to(email)[1]
        assert ready.subject == f"Your order {reference} is ready for pickup"
        assert f"Your pickup code: {order['pickup']['code']}" in ready.body()
        [qr_code] = ready.images()
        assert qr_code.get_content().startswith(b"\x89PNG")
        admin_view = await hub.request("GET", "/notifications/api/v1/messages",
                                       params={"subject_id": order_id, "kind": "pickup_ready"},
                                       token=town["admin"])
        assert admin_view.status_code == 200, admin_view.text
        assert {m["channel"] for m in admin_view.json()} == {"email", "sms"}
