"""The ledger on the embedded hub, end to end: a resident's two-shop order paid, collected and
paid out to the shops shows on each shop's statement, and the books balance."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from libs.kit.months import Month
from tests.e2e.conftest import running_embedded_hub
from tests.e2e.hub import Hub
from tests.e2e.test_journey import open_hub_with_two_shops
from tests.e2e.test_payouts import completed_order, open_payout_accounts, transfers_of
from tests.support.waiting import eventually


@pytest.fixture
async def embedded_hub(tmp_path):
    async with running_embedded_hub(tmp_path) as hub:
        yield hub


async def statement_once_paid_out(hub: Hub, shop_id: str, owner: str) -> dict:
    """This month's statement of the shop, once it shows a sale and its transfer."""
    path = f"/payments/api/v1/shops/{shop_id}/statements/{Month.of(datetime.now(UTC))}"
    statement: dict = {}

    async def paid_out() -> bool:
        answer = await hub.request("GET", path, token=owner)
        assert answer.status_code == 200, answer.text
        statement.update(answer.json())
        return [line["kind"] for line in statement["lines"]] == ["payment", "transfer"]

    await eventually(paid_out, message="the sale and the transfer on the statement")
    return statement


async def test_a_paid_out_order_is_on_each_shops_statement_and_the_books_balance(embedded_hub):
    hub = embedded_hub
    town = await open_hub_with_two_shops(hub)
    await open_payout_accounts(hub, town)
    order = await completed_order(hub, town, quantity=1)
    transfers = await transfers_of(hub, town, order["id"],
                                   until=lambda found: all(t["status"] == "made"
                                                           for t in found.values()))

    for shop_id, shop in town["shops"].items():
        statement = await statement_once_paid_out(hub, shop_id, shop["owner"])
        sale, transfer = statement["lines"]
        assert (sale["order_id"], sale["gross_cents"]) == (order["id"], shop["price"])
        assert transfer["transfer_cents"] == transfers[shop_id]["amount_cents"] == sale["net_cents"]
        assert statement["closing_cents"] == statement["opening_cents"] == 0

    balances = await hub.request("GET", "/payments/api/v1/ledger/balances", token=town["admin"])
    accounts = {row["account"]: row["balance_cents"] for row in balances.json()}
    assert sum(accounts.values()) == 0
    assert accounts["platform:commission"] < 0 < accounts["platform:fees"]
