"""What schemathesis found in the services' APIs, each pinned by the request that showed it."""

from __future__ import annotations

import pytest

from libs.kit.errors import ERROR_RESPONSES
from services.accounts.bootstrap import AccountsSettings
from services.catalog.bootstrap import CatalogSettings
from tests.security.test_api_fuzzing import SERVICES, openapi_of
from tests.services.accounts.conftest import running_accounts
from tests.services.catalog.support import running_catalog
from tests.services.payment.support import payment_settings, platform_admin, running_payment
from tests.services.pickup.conftest import running_pickup


@pytest.fixture
async def catalog(tmp_path):
    async with running_catalog(CatalogSettings(data_dir=tmp_path, outbox_relay=False)) as running:
        yield running


@pytest.fixture
async def town(catalog):
    owner = await catalog.register("fournil@adopte.test", "resident")
    hub_id = await catalog.open_hub()
    shop = await catalog.open_shop(hub_id, owner)
    product = await catalog.list_product(shop, owner)
    return owner, hub_id, shop, product


async def test_a_search_offset_past_the_database_integers_is_refused(catalog, town):
    _, hub_id, _, _ = town
    found = await catalog.client.get("/catalog/api/v1/products",
                                     params={"hub_id": str(hub_id), "offset": 2**63})
    assert found.status_code == 422, found.text  # was 500: SQLite's OverflowError
    assert "offset" in found.json()["error"]["message"]


async def test_an_audit_page_past_the_database_integers_is_refused(catalog, town):
    owner, _, shop, _ = town
    found = await catalog.client.get(f"/catalog/api/v1/shops/{shop['id']}/audit",
                                     headers=catalog.headers(owner), params={"page": 2**57})
    assert found.status_code == 422, found.text  # was 500: SQLite's OverflowError
    assert "page" in found.json()["error"]["message"]


async def test_a_shop_profile_field_given_null_is_refused_and_nothing_changes(catalog, town):
    owner, _, shop, _ = town
    path = f"/catalog/api/v1/shops/{shop['id']}"
    changed = await catalog.client.patch(path, headers=catalog.headers(owner),
                                         json={"name": "Le Nouveau Fournil", "opening_hours": None})
    assert changed.status_code == 422, changed.text  # was 500: NOT NULL constraint failed
    assert "opening_hours" in changed.json()["error"]["message"]
    assert (await catalog.client.get(path)).json()["name"] == shop["name"]


async def test_availability_is_a_boolean_not_a_number(catalog, town):
    owner, _, _, product = town
    changed = await catalog.client.patch(f"/catalog/api/v1/products/{product['id']}",
                                         headers=catalog.headers(owner), json={"available": 0})
    assert changed.status_code == 422, changed.text  # was 200, taking 0 as false


async def test_a_commission_rate_is_a_number_not_a_boolean(tmp_path):
    async with running_payment(payment_settings(tmp_path)) as payments:
        admin = payments.headers(platform_admin())
        path = "/payments/api/v1/hubs/9a4e6f53-8c1a-4f0e-a0a5-2b8e1c7d6f10/commission"
        refused = await payments.client.put(path, headers=admin, json={"bps": False})
        assert refused.status_code == 422, refused.text  # was 200, setting 0 %
        assert (await payments.client.put(path, headers=admin, json={"bps": 650})).status_code == 200


async def test_a_membership_fee_is_a_number_not_a_boolean(tmp_path):
    async with running_pickup(tmp_path) as pickup:
        terms = f"/pickup/api/v1/hubs/{await pickup.open_hub()}/membership-terms"
        body = {"open": True, "fee_cents": 1000, "duration_months": 12, "benefits": ""}
        for wrong in ({"fee_cents": False}, {"open": 1}):
            refused = await pickup.client.put(terms, headers=pickup.admin, json={**body, **wrong})
            assert refused.status_code == 422, refused.text  # was 200: a free, open membership
        assert (await pickup.client.put(terms, headers=pickup.admin, json=body)).status_code == 200


async def test_dates_with_no_utc_time_are_refused(tmp_path):
    async with running_pickup(tmp_path) as pickup:
        hub = f"/pickup/api/v1/hubs/{await pickup.open_hub()}"
        slot = await pickup.client.post(f"{hub}/slots", headers=pickup.admin, json={
            "starts_at": "0001-01-01T00:00:00+00:01", "ends_at": "2000-01-01T00:00:00Z",
            "capacity": 1})
        assert slot.status_code == 422, slot.text  # was 500: OverflowError
        sheet = await pickup.client.get(f"{hub}/pickups", headers=pickup.admin,
                                        params={"date": "0001-01-01"})
        assert sheet.status_code == 422, sheet.text  # was 500: OverflowError


async def test_sms_opt_in_is_a_boolean_not_a_number(tmp_path):
    settings = AccountsSettings(data_dir=tmp_path, bus="embedded", database_url=None)
    async with running_accounts(settings) as accounts:
        await accounts.sign_up()
        headers = {"Authorization": f"Bearer {await accounts.token()}"}
        refused = await accounts.client.put("/accounts/api/v1/me/preferences", headers=headers,
                                            json={"locale": "fr", "phone": "", "sms_opt_in": 0})
        assert refused.status_code == 422, refused.text  # was 200, taking 0 as false


async def test_a_405_names_every_method_the_path_takes(catalog):
    refused = await catalog.client.delete("/catalog/api/v1/shops")
    assert refused.status_code == 405
    assert refused.headers["allow"] == "GET, POST"  # was "POST": the first route's methods only


@pytest.mark.parametrize("service", list(SERVICES))
def test_every_api_operation_declares_the_error_answers(service):
    spec = openapi_of(service)
    api_operations = [operation for path, item in spec["paths"].items() if "/api/" in path
                      for operation in item.values()]
    assert api_operations
    for operation in api_operations:
        assert {str(status) for status in ERROR_RESPONSES} <= set(operation["responses"])
        body = operation["responses"]["404"]["content"]["application/json"]["schema"]
        assert body == {"$ref": "#/components/schemas/ErrorBody"}
    metrics = spec["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(metrics) == ["text/plain; version=1.0.0; charset=utf-8"]
