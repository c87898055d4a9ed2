"""How fresh a hub's public pages are, and the pages kept in memory while they stay so.

``storefront_generations`` counts, per hub, the committed changes to what the hub's pages show:
triggers on every table those pages read bump it in the transaction that writes, whichever code
writes (revision 0003). A page rendered at a generation is right until the hub's next change, so
it is kept under it, and every request reads the generation (a primary-key lookup) before
anything else: no replica serves a page older than the last commit. Read first, the generation
is never newer than the rows read after it (the same snapshot on SQLite, later ones on
PostgreSQL), so no page is ever kept under a generation its content has not reached.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar
from uuid import UUID

from sqlalchemy import BigInteger, Uuid, bindparam, column, select, table
from sqlmodel.ext.asyncio.session import AsyncSession

from libs.kit.db import Database

Page = TypeVar("Page")
_GENERATIONS = table("storefront_generations", column("hub_id", Uuid()),
                     column("generation", BigInteger()))
_GENERATION = select(_GENERATIONS.c.generation).where(_GENERATIONS.c.hub_id == bindparam("hub_id"))


async def generation(session: AsyncSession, hub_id: UUID) -> int:
    """The hub's count of changes to its pages: 0 before the first."""
    return (await session.execute(_GENERATION, {"hub_id": hub_id})).scalar() or 0


async def latest_generation(database: Database, hub_id: UUID) -> int:
    """The same, read on its own at the last commit: enough to tell whether a page kept is
    still right, for a tenth of what a session costs."""
    if database.is_sqlite:
        value = await database.read_value(
            "select generation from storefront_generations where hub_id = ?", hub_id.hex)
    else:
        value = await database.read_value(
            "select generation from storefront_generations where hub_id = $1", hub_id)
    return value or 0


class KeptPages(Generic[Page]):
    """Pages of hubs, each with the generation of its hub it was rendered at; the least recently
    asked for go first once there are ``size`` of them."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._pages: OrderedDict[Hashable, tuple[int, Page]] = OrderedDict()

    def get(self, key: Hashable, generation: int) -> Page | None:
        """The page kept under ``key`` if it was rendered at ``generation``."""
        kept = self._pages.get(key)
        if kept is None or kept[0] != generation:
            return None
        self._pages.move_to_end(key)
        return kept[1]

    def put(self, key: Hashable, generation: int, page: Page) -> None:
        kept = self._pages.get(key)
        if kept is not None and kept[0] > generation:
            return  # a request that read the hub later has kept a fresher page meanwhile
        self._pages[key] = (generation, page)
        self._pages.move_to_end(key)
        if len(self._pages) > self.size:
            self._pages.popitem(last=False)
