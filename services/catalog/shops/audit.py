"""The shop's journal: every change to a shop or its catalogue, who made it and for whom."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from pydantic_core import to_jsonable_python
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from libs.auth.tokens import Principal
from services.catalog.tables import AuditEntry, Shop

PAGE_SIZE = 50


def record(session: AsyncSession, shop: Shop, actor: Principal, action: str, summary: str,
           changes: dict[str, Any] | None = None) -> AuditEntry:
    """Writes the entry in the change's own transaction: no change without its trace."""
    entry = AuditEntry(id=uuid4(), shop_id=shop.id, by_user_id=actor.user_id, by_email=actor.email,
                       on_behalf=actor.user_id != shop.owner_id, action=action,
                       summary=summary[:500], changes=to_jsonable_python(changes or {}),
                       at=datetime.now(UTC))
    session.add(entry)
    return entry


async def entries(session: AsyncSession, shop_id: UUID, *, page: int = 1,
                  size: int = PAGE_SIZE) -> tuple[int, list[AuditEntry]]:
    """How many entries the shop has in all, and one page of them, newest first."""
    total = (await session.exec(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.shop_id == shop_id))).one()
    found = await session.exec(
        select(AuditEntry).where(AuditEntry.shop_id == shop_id)
        .order_by(col(AuditEntry.at).desc(), col(AuditEntry.id)).offset((page - 1) * size)
        .limit(size))
    return total, list(found.all())
