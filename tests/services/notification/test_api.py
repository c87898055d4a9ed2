"""What was sent, for the platform's administrators; and, with no SMTP server configured, the
e-mails as .eml files a person running ``adopte dev`` can open."""

from __future__ import annotations

from email import message_from_bytes, policy
from uuid import uuid4

from libs.auth.tokens import Principal, TokenIssuer
from libs.contracts.pickup import PickupReady
from tests.services.notification.conftest import fast_settings, running_notification
from tests.support.waiting import eventually

MESSAGES = "/notifications/api/v1/messages"


async def test_administrators_see_what_was_sent_to_whom(notification, smtp_server, town):
    await notification.open_town(town)
    order_id = await notification.confirm_order(town)
    await eventually(lambda: len(smtp_server.mails.received) == 3, message="three e-mails")

    async def listed() -> list[dict]:
        answer = await notification.client.get(MESSAGES, params={"subject_id": str(order_id)},
                                               headers=notification.admin)
        assert answer.status_code == 200, answer.text
        return answer.json()
    await eventually(lambda: _all_sent(listed), message="three sent")

    messages = await listed()
    assert {(m["kind"], m["address"]) for m in messages} == {
        ("order_confirmed", "camille@example.org"), ("part_to_prepare", "fournil@example.org"),
        ("part_to_prepare", "kerbriant@example.org")}
    confirmed = next(m for m in messages if m["kind"] == "order_confirmed")
    assert confirmed["channel"] == "email" and confirmed["locale"] == "fr"
    assert confirmed["title"].startswith("Commande ") and confirmed["attempts"] == 1
    assert confirmed["sent_at"].endswith("Z") or confirmed["sent_at"].endswith("+00:00")
    only_shops = await notification.client.get(MESSAGES, params={"kind": "part_to_prepare"},
                                               headers=notification.admin)
    assert len(only_shops.json()) == 2


async def _all_sent(listed) -> bool:
    messages = await listed()
    return len(messages) == 3 and all(m["status"] == "sent" for m in messages)


async def test_only_administrators_may_read_them(notification):
    private_path, _ = notification.runtime.settings.jwt_key_files()
    resident = TokenIssuer(private_path.read_text()).issue(Principal(
        user_id=uuid4(), email="camille@example.org", name="Camille",
        roles=frozenset({"resident"})))

    assert (await notification.client.get(MESSAGES)).status_code == 401
    answer = await notification.client.get(MESSAGES, headers={"Authorization": f"Bearer {resident}"})
    assert answer.status_code == 403
    bad = await notification.client.get(MESSAGES, params={"status": "lost"},
                                        headers=notification.admin)
    assert bad.status_code == 422


async def test_without_smtp_emails_are_written_as_eml_files(tmp_path, town):
    async with running_notification(fast_settings(tmp_path, smtp=None)) as notification:
        await notification.open_town(town)
        await notification.feed(PickupReady(order_id=await notification.confirm_order(town)))
        folder = tmp_path / "outbox-mail"

        await eventually(lambda: len(list(folder.glob("*.eml"))) == 4, message="four files")

        messages = {str(m.id): m for m in await notification.messages()}
        assert {path.stem for path in folder.glob("*.eml")} == set(messages)
        assert list(folder.glob("*.part")) == []
        ready = next(m for m in messages.values() if m.kind == "pickup_ready")
        parsed = message_from_bytes((folder / f"{ready.id}.eml").read_bytes(), policy=policy.default)
        assert parsed["Subject"] == ready.title and "camille@example.org" in parsed["To"]
        assert "K7Q2PM" in parsed.get_body(preferencelist=("plain",)).get_content()
