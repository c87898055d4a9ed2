"""What ``adopte accounts`` does, straight on the accounts database, whether the hub runs or not:
no bus and no consumer; the events wait in the outbox for a relay (a running hub's within a
second, a stopped one's at its next start)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from libs.contracts.accounts import GlobalRole
from libs.correlation import correlation_id
from libs.kit.db import Database
from libs.kit.runtime import UnitOfWork
from libs.messaging.outbox import Outbox
from services.accounts import use_cases
from services.accounts.bootstrap import SERVICE, AccountsSettings
from services.accounts.domain import Registration, granted_roles
from services.accounts.tables import User


@contextlib.asynccontextmanager
async def _accounts_database(settings: AccountsSettings) -> AsyncIterator[Database]:
    database = Database(settings.database_url_for(SERVICE.name), SERVICE.metadata)
    await database.start()
    try:
        yield database
    finally:
        await database.stop()


async def create_account(settings: AccountsSettings, registration: Registration,
                         role: GlobalRole) -> User:
    async with _accounts_database(settings) as database:
        outbox = Outbox(SERVICE.metadata.tables["outbox"])

        @contextlib.asynccontextmanager
        async def unit_of_work() -> AsyncIterator[UnitOfWork]:
            async with database.sessions() as session, session.begin():
                yield UnitOfWork(session, outbox, correlation_id())

        return await use_cases.open_account(unit_of_work, registration, granted_roles(role))


async def list_accounts(settings: AccountsSettings) -> list[User]:
    async with _accounts_database(settings) as database:
        return await use_cases.list_users(database.sessions)
