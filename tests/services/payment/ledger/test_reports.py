"""The platform's commission report and the yearly DAC7 export, against a seeded history; only
platform admins read them."""

from __future__ import annotations

import pytest

from libs.kit.pages import money
from tests.services.payment.ledger.seeded import seed


@pytest.fixture
def payments(payments_on_each_database):
    """The statements' and reports' queries, on each database the service runs on."""
    return payments_on_each_database


@pytest.fixture
async def seeded(payments):
    return await seed(payments)


async def test_the_commission_report_gives_each_hubs_month(payments, seeded):
    answer = await payments.client.get("/payments/api/v1/reports/commission?year=2026",
                                       headers=payments.headers(seeded.admin))

    assert answer.status_code == 200
    hub = {"hub_id": str(seeded.hub_id), "hub_name": "La Fabrique du Centre"}
    assert answer.json() == [
        hub | {"month": "2026-02", "gross_cents": 3000, "refunded_cents": 0,
               "commission_cents": 240, "commission_returned_cents": 0, "fees_cents": 69,
               "net_cents": 171, "membership_fees_cents": 0},
        hub | {"month": "2026-03", "gross_cents": 1500, "refunded_cents": 500,
               "commission_cents": 120, "commission_returned_cents": 40, "fees_cents": 0,
               "net_cents": 80, "membership_fees_cents": 0},
        hub | {"month": "2026-04", "gross_cents": 0, "refunded_cents": 1500,
               "commission_cents": 0, "commission_returned_cents": 120, "fees_cents": 0,
               "net_cents": -120, "membership_fees_cents": 0},
    ]
    other_year = await payments.client.get("/payments/api/v1/reports/commission?year=2025",
                                           headers=payments.headers(seeded.admin))
    assert other_year.json() == []


async def test_the_commission_report_as_csv(payments, seeded):
    answer = await payments.client.get("/payments/reports/commission.csv?year=2026",
                                       headers=payments.session(seeded.admin))

    assert answer.status_code == 200
    assert answer.headers["content-disposition"] == 'attachment; filename="commissions-2026.csv"'
    hub = f"{seeded.hub_id};La Fabrique du Centre"
    assert answer.content.decode("utf-8") == "\ufeff" + "\r\n".join([
        "tiers_lieu_id;tiers_lieu;mois;brut;rembourse;commission;commission_rendue;"
        "frais_paiement;net;adhesions",
        f"{hub};2026-02;30,00;0,00;2,40;0,00;0,69;1,71;0,00",
        f"{hub};2026-03;15,00;5,00;1,20;0,40;0,00;0,80;0,00",
        f"{hub};2026-04;0,00;15,00;0,00;1,20;0,00;-1,20;0,00",
    ]) + "\r\n"


async def test_the_commission_page_lists_each_month(payments, seeded):
    page = await payments.client.get("/payments/reports/commission?year=2026",
                                     headers=payments.session(seeded.admin))

    assert page.status_code == 200
    assert "<h1>Commissions de la plateforme en 2026</h1>" in page.text
    assert "Février 2026 · La Fabrique du Centre" in page.text
    assert money(171) in page.text and money(131) in page.text  # February's net, the year's
    assert 'href="/payments/reports/commission.csv?year=2026"' in page.text


async def test_the_dac7_export_gives_each_shop_by_quarter(payments, seeded):
    answer = await payments.client.get("/payments/reports/dac7.csv?year=2026",
                                       headers=payments.session(seeded.admin))

    assert answer.status_code == 200
    assert answer.headers["content-disposition"] == 'attachment; filename="dac7-2026.csv"'
    header, *rows = answer.content.decode("utf-8").removeprefix("\ufeff").split("\r\n")[:-1]
    periods = ["t1", "t2", "t3", "t4", "annee"]
    assert header.split(";") == ["boutique_id", "boutique", "annee", *(
        f"{part}_{period}" for period in periods
        for part in ("brut", "commissions", "net", "ventes"))]
    nothing = ["0,00", "0,00", "0,00", "0"]
    # The second bread order, refunded in full in April, is no sale; its refund is Q2's.
    assert [row.split(";") for row in rows] == [
        [str(seeded.bakery), "Boulangerie du Port", "2026",
         "30,00", "2,40", "27,60", "1", "-15,00", "-1,20", "-13,80", "0", *nothing, *nothing,
         "15,00", "1,20", "13,80", "1"],
        [str(seeded.cheese), "Fromagerie Le Trégor", "2026",
         "10,00", "0,80", "9,20", "1", *nothing, *nothing, *nothing,
         "10,00", "0,80", "9,20", "1"],
    ]


async def test_the_dac7_page_offers_the_export(payments, seeded):
    page = await payments.client.get("/payments/reports/dac7?year=2026",
                                     headers=payments.session(seeded.admin))

    assert page.status_code == 200
    assert "Fromagerie Le Trégor" in page.text and money(1500) in page.text
    assert 'href="/payments/reports/dac7.csv?year=2026"' in page.text
    assert '<label for="year">Année</label>' in page.text


async def test_only_platform_admins_read_the_reports(payments, seeded):
    for reader in (seeded.hub_admin, seeded.baker):
        api = await payments.client.get("/payments/api/v1/reports/commission?year=2026",
                                        headers=payments.headers(reader))
        assert api.status_code == 403
        balances = await payments.client.get("/payments/api/v1/ledger/balances",
                                             headers=payments.headers(reader))
        assert balances.status_code == 403
        for path in ("/payments/reports/commission", "/payments/reports/commission.csv",
                     "/payments/reports/dac7", "/payments/reports/dac7.csv"):
            refused = await payments.client.get(f"{path}?year=2026",
                                                headers=payments.session(reader))
            assert refused.status_code == 403, path
            assert "Fromagerie" not in refused.text and "La Fabrique" not in refused.text
    visitor = await payments.client.get("/payments/reports/dac7.csv?year=2026")
    assert visitor.status_code == 303


async def test_a_year_out_of_range_is_refused(payments, seeded):
    answer = await payments.client.get("/payments/api/v1/reports/commission?year=26",
                                       headers=payments.headers(seeded.admin))
    assert answer.status_code == 422
