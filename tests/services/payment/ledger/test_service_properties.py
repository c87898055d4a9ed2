"""The ledger's invariants through the running service (hypothesis): whatever history of money
movements the payment service reports, each shop's statements follow on from month to month and
end where the events say, and the commission report adds up to the commission account."""

from __future__ import annotations

from datetime import datetime

from hypothesis import HealthCheck, given, settings

from libs.kit.months import Month
from tests.services.payment.ledger.histories import histories
from tests.services.payment.ledger.support import replay
from tests.services.payment.support import platform_admin

ADMIN = platform_admin()


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(history=histories(max_steps=15))
async def test_statements_follow_on_and_end_where_the_events_say(payments, history):
    # Each history has its own hub, shops and payments: the service is shared by the examples.
    await replay(payments, history)
    headers = payments.headers(ADMIN)
    first = Month.of(history.happenings[0].at)
    last = Month.of(history.happenings[-1].at)

    for shop_id in history.shops:
        month, opening = first.previous(), 0
        while month <= last:
            answer = await payments.client.get(
                f"/payments/api/v1/shops/{shop_id}/statements/{month}", headers=headers)
            if answer.status_code == 404:  # a shop the history never gave a share
                assert history.owed_to(shop_id) == 0
                break
            body = answer.json()
            assert body["opening_cents"] == opening
            running = opening
            for line in body["lines"]:
                running += line["net_cents"]
                assert line["balance_cents"] == running
                assert Month.of(datetime.fromisoformat(line["occurred_at"])) == month
            assert body["closing_cents"] == running
            month, opening = month.next(), running
        else:
            assert opening == history.owed_to(shop_id)

    report = await payments.client.get(f"/payments/api/v1/reports/commission?year={first.year}",
                                       headers=headers)
    ours = [line for line in report.json() if line["hub_id"] == str(history.hub_id)]
    if first.year == last.year:
        assert sum(line["commission_cents"] - line["commission_returned_cents"]
                   for line in ours) == history.commission()
        assert sum(line["fees_cents"] for line in ours) == history.fees()
        assert sum(line["membership_fees_cents"] for line in ours) == history.membership_fees()

