"""A catalog service per test: on SQLite, or on each database the services run on."""

from __future__ import annotations

import pytest

from services.catalog.bootstrap import CatalogSettings
from tests.services.catalog.support import running_catalog


@pytest.fixture
async def catalog(tmp_path):
    async with running_catalog(CatalogSettings(data_dir=tmp_path, outbox_relay=False)) as running:
        yield running


@pytest.fixture
async def catalog_on_each_database(tmp_path, database_url):
    settings = CatalogSettings(data_dir=tmp_path, database_url=database_url, outbox_relay=False)
    async with running_catalog(settings) as running:
        yield running
