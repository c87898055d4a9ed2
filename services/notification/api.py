"""The notification service's JSON API, under /notifications/api/v1: what was sent, to whom,
and what is still trying (for the platform's administrators)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from libs.auth.web import PlatformAdmin
from libs.kit.app import Runtime
from services.notification import use_cases
from services.notification.domain import Channel, Kind, Status

router = APIRouter(prefix="/api/v1", tags=["notification"])


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    kind: Kind
    subject_id: UUID
    channel: Channel
    recipient: str
    status: Status
    attempts: int
    address: str | None
    locale: str | None
    title: str | None
    created_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime
    last_error: str | None


@router.get("/messages", response_model=list[MessageOut])
async def messages(
    _: PlatformAdmin, runtime: Runtime,
    kind: Kind | None = None, status: Status | None = None, subject_id: UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
):
    """The newest messages first: ``pending`` ones are being tried (``next_attempt_at``),
    ``failed`` ones gave up (``last_error``), ``dropped`` ones no longer applied."""
    return await use_cases.list_messages(runtime, kind=kind, status=status,
                                         subject_id=subject_id, limit=limit)
