"""What ``adopte catalog`` does, straight on the catalog database, whether the hub runs or not:
no bus and no consumer; the events wait in the outbox for a relay (a running hub's within a
second, a stopped one's at its next start)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from uuid import UUID

from libs.correlation import correlation_id
from libs.kit.db import Database
from libs.kit.runtime import UnitOfWork
from libs.messaging.outbox import Outbox
from services.catalog.bootstrap import SERVICE, CatalogSettings
from services.catalog.csv_catalogue import use_cases as csv_use_cases
from services.catalog.csv_catalogue.use_cases import ImportReport, Progress


@dataclass
class _CommandLineStore:
    database: Database
    outbox: Outbox

    @contextlib.asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[UnitOfWork]:
        async with self.database.sessions() as session, session.begin():
            yield UnitOfWork(session, self.outbox, correlation_id())


@contextlib.asynccontextmanager
async def _catalog_store(settings: CatalogSettings) -> AsyncIterator[_CommandLineStore]:
    database = Database(settings.database_url_for(SERVICE.name), SERVICE.metadata)
    await database.start()
    try:
        yield _CommandLineStore(database, Outbox(SERVICE.metadata.tables["outbox"]))
    finally:
        await database.stop()


async def import_catalogue(settings: CatalogSettings, shop_id: UUID, data: bytes, *,
                           dry_run: bool, progress: Progress | None = None) -> ImportReport:
    async with _catalog_store(settings) as store:
        return await csv_use_cases.import_catalogue(store, None, shop_id, data, dry_run=dry_run,
                                                    progress=progress)


async def export_catalogue(settings: CatalogSettings, shop_id: UUID) -> str:
    async with _catalog_store(settings) as store:
        return await csv_use_cases.export_catalogue(store, None, shop_id)
