"""A shop's monthly statement, in JSON, as a page and as a CSV file, against a seeded history;
and who may read it."""

from __future__ import annotations

from urllib.parse import quote
from uuid import uuid4

import pytest

from libs.contracts.pickup import HubStaffAssigned
from libs.kit.pages import money
from tests.services.payment.ledger.seeded import seed
from tests.services.payment.ledger.support import open_hub, open_shop, person


@pytest.fixture
def payments(payments_on_each_database):
    """The statements' and reports' queries, on each database the service runs on."""
    return payments_on_each_database


@pytest.fixture
async def seeded(payments):
    return await seed(payments)


async def statement(payments, seeded, month: str, principal=None):
    answer = await payments.client.get(
        f"/payments/api/v1/shops/{seeded.bakery}/statements/{month}",
        headers=payments.headers(principal or seeded.baker))
    assert answer.status_code == 200, answer.text
    return answer.json()


def lines(body) -> list[tuple]:
    return [(line["occurred_at"], line["kind"], line["net_cents"], line["balance_cents"])
            for line in body["lines"]]


async def test_each_month_opens_where_the_last_one_closed(payments, seeded):
    february = await statement(payments, seeded, "2026-02")
    march = await statement(payments, seeded, "2026-03")
    april = await statement(payments, seeded, "2026-04")

    assert february["shop_name"] == "Boulangerie du Port"
    assert (february["opening_cents"], february["closing_cents"]) == (0, 1840)
    assert lines(february) == [("2026-02-10T09:00:00Z", "payment", 1840, 1840)]
    sale = february["lines"][0]
    assert (sale["gross_cents"], sale["commission_cents"]) == (2000, 160)

    assert (march["opening_cents"], march["closing_cents"]) == (1840, 0)
    assert lines(march) == [
        ("2026-02-28T23:30:00Z", "payment", 1380, 3220),  # 00:30 on 1 March in Paris
        ("2026-03-05T15:00:00Z", "refund", -460, 2760),
        ("2026-03-10T10:00:00Z", "transfer", -1380, 1380),
        ("2026-03-20T10:00:00Z", "transfer", -1380, 0),
    ]
    refund = march["lines"][1]
    assert (refund["refund_cents"], refund["commission_returned_cents"]) == (500, 40)
    assert refund["order_id"] == str(seeded.first_order)

    assert (april["opening_cents"], april["closing_cents"]) == (0, 0)
    assert lines(april) == [("2026-04-02T08:00:00Z", "refund", -1380, -1380),
                            ("2026-04-03T08:00:00Z", "reversal", 1380, 0)]
    for month in (february, march, april):
        assert month["opening_cents"] + sum(line["net_cents"] for line in month["lines"]) == \
            month["closing_cents"]


async def test_a_quiet_month_is_an_empty_statement(payments, seeded):
    body = await statement(payments, seeded, "2026-01")
    assert (body["opening_cents"], body["lines"], body["closing_cents"]) == (0, [], 0)


async def test_the_csv_statement_has_every_movement_in_paris_time(payments, seeded):
    answer = await payments.client.get(f"/payments/shops/{seeded.bakery}/statements/2026-03.csv",
                                       headers=payments.session(seeded.baker))

    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"] == \
        f'attachment; filename="releve-{seeded.bakery}-2026-03.csv"'
    first, second = seeded.first_order, seeded.second_order
    assert answer.content.decode("utf-8") == "\ufeff" + "\r\n".join([
        "date;operation;commande;brut;commission;remboursement;commission_rendue;virement;"
        "reprise_virement;net;solde",
        "2026-03-01T00:00:00+01:00;solde d'ouverture;;;;;;;;;18,40",
        f"2026-03-01T00:30:00+01:00;vente;{second};15,00;1,20;0,00;0,00;0,00;0,00;13,80;32,20",
        f"2026-03-05T16:00:00+01:00;remboursement;{first};0,00;0,00;5,00;0,40;0,00;0,00;-4,60;27,60",
        f"2026-03-10T11:00:00+01:00;virement;{first};0,00;0,00;0,00;0,00;13,80;0,00;-13,80;13,80",
        f"2026-03-20T11:00:00+01:00;virement;{second};0,00;0,00;0,00;0,00;13,80;0,00;-13,80;0,00",
        "2026-04-01T00:00:00+02:00;solde de clôture;;;;;;;;;0,00",
    ]) + "\r\n"


async def test_the_statement_page_shows_the_month_in_french(payments, seeded):
    page = await payments.client.get(f"/payments/shops/{seeded.bakery}/statements/2026-03",
                                     headers=payments.session(seeded.baker))

    assert page.status_code == 200
    text = page.text
    assert "<h1>Relevé de mars 2026</h1>" in text
    assert "Boulangerie du Port" in text
    assert money(1840) in text and money(3220) in text
    assert "1 mars 2026 00:30" in text
    assert f'href="/payments/shops/{seeded.bakery}/statements/2026-02"' in text
    assert f'href="/payments/shops/{seeded.bakery}/statements/2026-04"' in text
    assert f'href="/payments/shops/{seeded.bakery}/statements/2026-03.csv"' in text
    assert seeded.baker.name in text


async def test_the_statements_open_on_this_month(payments):
    shop_id = uuid4()
    answer = await payments.client.get(f"/payments/shops/{shop_id}/statements")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith(f"/payments/shops/{shop_id}/statements/20")


async def test_the_shops_owner_its_hubs_admins_and_platform_admins_read_it(payments, seeded):
    for reader in (seeded.baker, seeded.hub_admin, seeded.admin):
        body = await statement(payments, seeded, "2026-03", reader)
        assert body["closing_cents"] == 0


async def test_nobody_else_reads_a_shops_statement(payments, seeded):
    desk = person("Denise")
    await payments.feed(HubStaffAssigned(hub_id=seeded.hub_id, user_id=desk.user_id,
                                         email=desk.email, role="staff"))
    elsewhere = person("Erwan")
    await open_hub(payments, uuid4(), "Le Grenier", elsewhere)
    path = f"/payments/shops/{seeded.bakery}/statements/2026-03"

    for stranger in (seeded.cheesemaker, desk, elsewhere, person("Fanch")):
        api = await payments.client.get(f"/payments/api/v1{path.removeprefix('/payments')}",
                                        headers=payments.headers(stranger))
        assert api.status_code == 403, stranger.name
        assert api.json()["error"]["code"] == "forbidden"
        page = await payments.client.get(path, headers=payments.session(stranger))
        assert page.status_code == 403
        assert money(1840) not in page.text
        file = await payments.client.get(f"{path}.csv", headers=payments.session(stranger))
        assert file.status_code == 403
        assert "text/csv" not in file.headers["content-type"]


async def test_a_visitor_signs_in_first(payments, seeded):
    path = f"/payments/shops/{seeded.bakery}/statements/2026-03"
    page = await payments.client.get(path)
    assert page.status_code == 303
    assert page.headers["location"] == f"/accounts/login?next={quote(path, safe='')}"
    api = await payments.client.get(f"/payments/api/v1/shops/{seeded.bakery}/statements/2026-03")
    assert api.status_code == 401


async def test_an_unknown_shop_or_month_is_refused(payments, seeded):
    unknown = await payments.client.get(f"/payments/api/v1/shops/{uuid4()}/statements/2026-03",
                                        headers=payments.headers(seeded.admin))
    assert unknown.status_code == 404
    for month in ("2026-13", "2026-3", "mars", "2026-03-01"):
        answer = await payments.client.get(
            f"/payments/api/v1/shops/{seeded.bakery}/statements/{month}",
            headers=payments.headers(seeded.baker))
        assert answer.status_code == 422, month
        assert answer.json()["error"]["code"] == "unprocessable"
    page = await payments.client.get(f"/payments/shops/{seeded.bakery}/statements/2026-13",
                                     headers=payments.session(seeded.baker))
    assert page.status_code == 422
    assert "Ce mois n&#39;existe pas" in page.text


async def test_a_new_shop_reads_its_empty_statement(payments):
    owner, hub_id, shop_id = person("Gwen"), uuid4(), uuid4()
    await open_shop(payments, shop_id, hub_id, "Cidrerie", owner)
    answer = await payments.client.get(f"/payments/api/v1/shops/{shop_id}/statements/2026-03",
                                       headers=payments.headers(owner))
    assert answer.status_code == 200
    assert answer.json()["lines"] == []
