"""The catalog service's JSON API, under /catalog/api/v1."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel

from libs.kit.app import Runtime
from services.catalog import use_cases

router = APIRouter(prefix="/api/v1", tags=["catalog"])


class KnownHubOut(BaseModel):
    id: UUID
    name: str
    town: str


@router.get("/hubs", response_model=list[KnownHubOut])
async def list_hubs(runtime: Runtime):
    """The hubs shops can join."""
    return await use_cases.list_known_hubs(runtime)
