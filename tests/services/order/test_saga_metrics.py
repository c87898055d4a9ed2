"""The saga's figures on /metrics: each move counted once it is committed (never for a handler
that rolled back), the time it took from placing the order, and how long the oldest order has
waited on the saga, which the stuck-saga alert watches."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from prometheus_client import REGISTRY
from sqlalchemy import update

from services.order.domain import Trigger
from services.order.tables import Order
from services.order.use_cases import _move, measure_waiting_sagas
from tests.services.order.conftest import place
from tests.services.order.test_saga import slot_held, stock_reserved


def moved(status: str) -> float:
    return REGISTRY.get_sample_value("adopte_order_transitions_total", {"status": status}) or 0.0


def timed(status: str) -> float:
    return REGISTRY.get_sample_value("adopte_order_saga_seconds_count", {"status": status}) or 0.0


def waiting(stage: str) -> float | None:
    return REGISTRY.get_sample_value("adopte_order_saga_waiting_seconds", {"stage": stage})


async def test_each_move_of_an_order_is_counted_once_committed(service, town):
    placed_before, awaiting_before = moved("placed"), moved("awaiting_payment")
    timed_before = timed("awaiting_payment")
    answer = await place(service, town, bread=1)
    order_id = uuid.UUID(answer.json()["id"])
    assert moved("placed") == placed_before + 1

    await service.feed(stock_reserved(order_id))
    await service.feed(slot_held(town, order_id))
    assert moved("awaiting_payment") == awaiting_before + 1
    assert timed("awaiting_payment") == timed_before + 1

    await service.feed(slot_held(town, order_id))  # a repeated event moves nothing
    assert moved("awaiting_payment") == awaiting_before + 1

    metrics = (await service.client.get("/metrics")).text
    assert 'adopte_order_transitions_total{status="awaiting_payment"}' in metrics


async def test_a_move_rolled_back_is_not_counted(service, town):
    answer = await place(service, town, bread=1)
    order_id = uuid.UUID(answer.json()["id"])
    await service.feed(stock_reserved(order_id))
    before = moved("awaiting_payment")

    class HandlerFailed(Exception):
        pass

    try:
        async with service.runtime.unit_of_work() as uow:
            order = await uow.session.get(Order, order_id)
            assert _move(order, Trigger.HELD)
            raise HandlerFailed
    except HandlerFailed:
        pass
    assert moved("awaiting_payment") == before


async def test_one_session_counts_the_moves_of_its_committed_transactions_only(service, town):
    orders = [uuid.UUID((await place(service, town, bread=1)).json()["id"]) for _ in range(3)]
    before = moved("awaiting_payment")

    async with service.runtime.database.sessions() as session:
        async with session.begin():
            for order_id in orders[:2]:
                assert _move(await session.get(Order, order_id), Trigger.HELD)
        assert moved("awaiting_payment") == before + 2
        async with session.begin():
            assert _move(await session.get(Order, orders[2]), Trigger.HELD)
            await session.rollback()
        async with session.begin():
            pass
        assert moved("awaiting_payment") == before + 2


async def test_the_oldest_order_waiting_on_the_saga_is_measured(service, town):
    await measure_waiting_sagas(service.runtime)
    assert waiting("placed") == 0.0
    assert waiting("payment_overdue") == 0.0

    stuck = uuid.UUID((await place(service, town, bread=1)).json()["id"])
    overdue = uuid.UUID((await place(service, town, tomme=1)).json()["id"])
    await service.feed(stock_reserved(overdue))
    await service.feed(slot_held(town, overdue))
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    async with service.runtime.database.sessions() as session, session.begin():
        await session.execute(update(Order).where(Order.id == stuck)
                              .values(placed_at=an_hour_ago))
        await session.execute(update(Order).where(Order.id == overdue)
                              .values(pay_by=an_hour_ago + timedelta(minutes=30)))

    await measure_waiting_sagas(service.runtime)
    assert 3590 < waiting("placed") < 3700
    assert 1790 < waiting("payment_overdue") < 1900
