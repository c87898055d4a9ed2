"""The payment service inside the embedded runtime: the simulated provider, the order's request
over the shared bus, and the provider step on its own clock."""

from __future__ import annotations

import httpx

from libs.auth.tokens import TokenIssuer
from libs.contracts.payment import PaymentStarted, PaymentSucceeded
from libs.messaging.port import Message
from services.host import EmbeddedHost
from tests.services.payment.support import PaymentService, basket
from tests.support.waiting import eventually


async def test_the_embedded_hub_takes_payments_with_the_simulated_provider(tmp_path):
    host = EmbeddedHost(tmp_path, seed_demo=False)
    async with host.root.router.lifespan_context(host.root):
        runtime = host.runtime("payment")
        assert runtime.adapters["provider"].name == "simulated"
        issuer = TokenIssuer((tmp_path / "keys" / "jwt-private.pem").read_text())
        transport = httpx.ASGITransport(app=host)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
            service = PaymentService(client, runtime, issuer)
            order = basket(1000, 234)
            request = order.payment_requested()
            await host.bus.publish([Message(request.topic, request.key,
                                            request.envelope(correlation_id="hub").to_bytes())])

            async def opened() -> bool:
                return len(await service.events(PaymentStarted)) == 1

            await eventually(opened, message="PaymentStarted over the embedded bus")
            [started] = await service.events(PaymentStarted)
            paid = await service.simulate(started.payment_id, "succeeded", order.buyer)
            assert paid.status_code == 200, paid.text
            assert [e.commission_cents for e in await service.events(PaymentSucceeded)] == [99]
