"""Gatherings: a sign-up is confirmed by e-mail; a cancelled gathering is told to everyone still
signed up, and to nobody who cancelled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from libs.contracts.accounts import UserRegistered
from libs.contracts.pickup import (
    GatheringCancelled,
    GatheringScheduled,
    ResidentSignedUp,
    SignUpCancelled,
)
from tests.support.waiting import eventually

STARTS = datetime(2026, 12, 10, 17, 30, tzinfo=UTC)  # 18:30 in Paris


async def schedule(notification, town) -> UUID:
    gathering_id = uuid4()
    await notification.feed(GatheringScheduled(
        gathering_id=gathering_id, hub_id=town.hub_id, title="Dégustation de fromages",
        description="Avec la fromagerie Kerbriant", starts_at=STARTS,
        ends_at=STARTS + timedelta(hours=2), capacity=12, shop_ids=[town.cheese_id]))
    return gathering_id


async def resident(notification, email: str, name: str) -> UUID:
    user_id = uuid4()
    await notification.feed(UserRegistered(user_id=user_id, email=email, name=name,
                                           roles=["resident"]))
    return user_id


async def test_signing_up_is_confirmed_by_email(notification, smtp_server, town):
    await notification.open_town(town)
    gathering_id = await schedule(notification, town)

    await notification.feed(ResidentSignedUp(gathering_id=gathering_id, hub_id=town.hub_id,
                                             user_id=town.resident_id))

    await eventually(lambda: len(smtp_server.mails.received) == 1, message="the confirmation")
    [mail] = smtp_server.mails.to(town.resident_email)
    assert mail.subject == "Inscription confirmée : Dégustation de fromages"
    assert "jeudi 10 décembre à 18:30 – 20:30" in mail.body()
    assert "La Fabrique du Centre, 2 rue des Augustins (Lannion)" in mail.body()


async def test_a_cancelled_gathering_is_told_to_those_still_signed_up(notification, smtp_server,
                                                                      town):
    await notification.open_town(town)
    gathering_id = await schedule(notification, town)
    staying = await resident(notification, "yann@example.org", "Yann")
    leaving = await resident(notification, "nolwenn@example.org", "Nolwenn")
    for user_id in (staying, leaving):
        await notification.feed(ResidentSignedUp(gathering_id=gathering_id, hub_id=town.hub_id,
                                                 user_id=user_id))
    await notification.feed(SignUpCancelled(gathering_id=gathering_id, hub_id=town.hub_id,
                                            user_id=leaving))
    await eventually(lambda: _settled(notification), message="the confirmations settled")

    await notification.feed(GatheringCancelled(gathering_id=gathering_id, hub_id=town.hub_id,
                                               reason="La fromagère est malade."))

    await eventually(lambda: _settled(notification), message="the cancellations settled")
    cancelled = [m for m in smtp_server.mails.received if m.subject.startswith("Annulé")]
    assert [m.recipients for m in cancelled] == [["yann@example.org"]]
    assert "Raison : La fromagère est malade." in cancelled[0].body()
    assert [m.subject for m in smtp_server.mails.to("yann@example.org")] == [
        "Inscription confirmée : Dégustation de fromages", "Annulé : Dégustation de fromages"]


async def _settled(notification) -> bool:
    return all(m.status != "pending" for m in await notification.messages())


async def test_a_confirmation_not_yet_sent_when_the_gathering_is_cancelled_is_dropped(
    notification, smtp_server, town,
):
    await notification.open_town(town)
    gathering_id = await schedule(notification, town)
    smtp_server.mails.refuse_next = 1

    await notification.feed(ResidentSignedUp(gathering_id=gathering_id, hub_id=town.hub_id,
                                             user_id=town.resident_id))
    await eventually(lambda: smtp_server.mails.refused == 1, message="a refused first try")
    await notification.feed(GatheringCancelled(gathering_id=gathering_id, hub_id=town.hub_id,
                                               reason="Annulé"))

    await eventually(lambda: len(smtp_server.mails.received) == 1, message="the cancellation")
    assert smtp_server.mails.received[0].subject == "Annulé : Dégustation de fromages"

    async def dropped() -> bool:
        [confirmation] = await notification.messages(kind="signed_up")
        return confirmation.status == "dropped"
    await eventually(dropped, message="the confirmation dropped")


async def test_a_gathering_cancelled_with_nobody_signed_up_tells_nobody(notification, smtp_server,
                                                                         town):
    await notification.open_town(town)
    gathering_id = await schedule(notification, town)

    await notification.feed(GatheringCancelled(gathering_id=gathering_id, hub_id=town.hub_id,
                                               reason="Personne n'est inscrit."))

    await notification.runtime.settle()
    assert await notification.messages() == []
    assert smtp_server.mails.received == []
