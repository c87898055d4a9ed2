"""Payout accounts gating a shop going live: where payments go through Stripe
(``require_payout_account``), a shop opens only once the payment service says it can be paid."""

from __future__ import annotations

from uuid import uuid4

import pytest

from libs.contracts.catalog import ShopStatusChanged
from libs.contracts.payment import PayoutAccountUpdated
from services.catalog.bootstrap import CatalogSettings
from tests.services.catalog.support import running_catalog
from tests.services.catalog.test_shop_life import a_shop


@pytest.fixture
async def stripe_catalog(tmp_path):
    settings = CatalogSettings(data_dir=tmp_path, outbox_relay=False, require_payout_account=True)
    async with running_catalog(settings) as running:
        yield running


def payout_account(shop: dict, *, submitted: bool, enabled: bool) -> PayoutAccountUpdated:
    return PayoutAccountUpdated(shop_id=shop["id"], account_reference="acct_1Fournil",
                                details_submitted=submitted, payouts_enabled=enabled)


async def status_of(catalog, shop: dict) -> str:
    return (await catalog.client.get(f"/catalog/api/v1/shops/{shop['id']}")).json()["status"]


async def go_live(catalog, shop: dict, who):
    return await catalog.client.post(f"/catalog/api/v1/shops/{shop['id']}/status",
                                     headers=catalog.headers(who), json={"status": "active"})


def test_the_setting_is_read_from_the_environment(monkeypatch, tmp_path):
    assert CatalogSettings(data_dir=tmp_path).require_payout_account is False
    monkeypatch.setenv("ADOPTE_CATALOG_REQUIRE_PAYOUT_ACCOUNT", "true")
    assert CatalogSettings(data_dir=tmp_path).require_payout_account is True


async def test_a_shop_waits_as_a_draft_until_its_payouts_are_enabled(stripe_catalog):
    catalog = stripe_catalog
    _, owner, association, shop = await a_shop(catalog)
    assert await status_of(catalog, shop) == "draft"
    assert [e.status for e in await catalog.events(ShopStatusChanged)] == ["draft"]

    refused = await go_live(catalog, shop, association)
    await catalog.feed(payout_account(shop, submitted=True, enabled=False))
    refused_again = await go_live(catalog, shop, owner)

    assert refused.status_code == 409, refused.text
    assert "payout account" in refused.json()["error"]["message"]
    assert f"/payments/shops/{shop['id']}/payouts" in refused.json()["error"]["message"]
    assert refused_again.status_code == 409
    assert await status_of(catalog, shop) == "draft"

    await catalog.feed(payout_account(shop, submitted=True, enabled=True))
    opened = await go_live(catalog, shop, owner)

    assert opened.status_code == 200, opened.text
    assert opened.json()["status"] == "active"
    assert [e.status for e in await catalog.events(ShopStatusChanged)] == ["draft", "active"]


async def test_a_suspended_shop_whose_payouts_stopped_is_not_reopened(stripe_catalog):
    catalog = stripe_catalog
    _, _, association, shop = await a_shop(catalog)
    await catalog.feed(payout_account(shop, submitted=True, enabled=True))
    assert (await go_live(catalog, shop, association)).status_code == 200
    suspended = await catalog.client.post(f"/catalog/api/v1/shops/{shop['id']}/status",
                                          headers=catalog.headers(association),
                                          json={"status": "suspended"})
    assert suspended.status_code == 200

    await catalog.feed(payout_account(shop, submitted=True, enabled=False))

    assert (await go_live(catalog, shop, association)).status_code == 409
    assert await status_of(catalog, shop) == "suspended"


async def test_an_invitation_is_accepted_only_once_payouts_are_enabled(stripe_catalog):
    catalog = stripe_catalog
    hub_id = await catalog.open_hub()
    association = await catalog.register("asso@paimpol.test")
    await catalog.assign(association, hub_id)
    paul = await catalog.register("paul@cave.test")
    invited = await catalog.client.post(f"/catalog/api/v1/hubs/{hub_id}/invitations",
                                        headers=catalog.headers(association),
                                        json={"shop_name": "La Cave", "email": "paul@cave.test"})
    shop = {"id": invited.json()["shop_id"]}
    accept = f"/catalog/api/v1/shops/{shop['id']}/accept"

    refused = await catalog.client.post(accept, headers=catalog.headers(paul))
    await catalog.feed(payout_account(shop, submitted=True, enabled=True))
    accepted = await catalog.client.post(accept, headers=catalog.headers(paul))

    assert refused.status_code == 409, refused.text
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "active"


async def test_an_account_for_an_unknown_shop_is_ignored(stripe_catalog):
    catalog = stripe_catalog
    _, _, association, shop = await a_shop(catalog)

    await catalog.feed(payout_account({"id": uuid4()}, submitted=True, enabled=True))

    assert (await go_live(catalog, shop, association)).status_code == 409


async def test_without_the_setting_shops_open_at_once_and_go_live_freely(catalog):
    _, owner, association, shop = await a_shop(catalog)
    assert await status_of(catalog, shop) == "active"
    await catalog.client.post(f"/catalog/api/v1/shops/{shop['id']}/status",
                              headers=catalog.headers(association), json={"status": "suspended"})

    assert (await go_live(catalog, shop, association)).status_code == 200
    page = await catalog.client.get(f"/catalog/shops/{shop['id']}/profile",
                                    headers=catalog.session_cookie(owner))
    assert "Compte de versement" not in page.text


async def test_the_profile_page_shows_the_payout_account_and_refuses_in_french(stripe_catalog):
    catalog = stripe_catalog
    _, owner, _, shop = await a_shop(catalog)
    cookie = catalog.session_cookie(owner)
    profile = f"/catalog/shops/{shop['id']}/profile"
    payouts = f'href="/payments/shops/{shop["id"]}/payouts"'

    page = await catalog.client.get(profile, headers=cookie)
    assert "Compte de versement" in page.text
    assert payouts in page.text
    assert "pas encore de compte de versement actif" in page.text

    refused = await catalog.client.post(f"/catalog/shops/{shop['id']}/status", headers=cookie,
                                        data={"status": "active"})
    assert refused.status_code == 409
    assert "compte de versement" in refused.text
    assert payouts in refused.text

    await catalog.feed(payout_account(shop, submitted=True, enabled=False))
    assert "pas encore activé" in (await catalog.client.get(profile, headers=cookie)).text
    await catalog.feed(payout_account(shop, submitted=True, enabled=True))
    assert "compte de versement est actif" in (await catalog.client.get(profile, headers=cookie)).text
    opened = await catalog.client.post(f"/catalog/shops/{shop['id']}/status", headers=cookie,
                                       data={"status": "active"})
    assert opened.status_code == 303
    assert await status_of(catalog, shop) == "active"
