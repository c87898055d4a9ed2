"""A payment service per test: on SQLite, or on each database the services run on."""

from __future__ import annotations

import pytest

from tests.services.payment.support import payment_settings, running_payment


@pytest.fixture
async def payments(tmp_path):
    async with running_payment(payment_settings(tmp_path)) as running:
        yield running


@pytest.fixture
async def payments_on_each_database(tmp_path, database_url):
    async with running_payment(payment_settings(tmp_path, database_url=database_url)) as running:
        yield running
