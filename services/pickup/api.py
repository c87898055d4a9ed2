"""The pickup service's JSON API, under /pickup/api/v1."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel

from libs.kit.app import Runtime
from services.pickup import use_cases
from services.pickup.domain import HubDetails

router = APIRouter(prefix="/api/v1", tags=["hubs"])


class HubOut(BaseModel):
    id: UUID
    name: str
    town: str
    address: str
    opened_at: datetime


@router.post("/hubs", status_code=201, response_model=HubOut)
async def open_hub(details: HubDetails, runtime: Runtime):
    return await use_cases.open_hub(runtime, details)


@router.get("/hubs", response_model=list[HubOut])
async def list_hubs(runtime: Runtime):
    return await use_cases.list_hubs(runtime)


@router.get("/hubs/{hub_id}", response_model=HubOut)
async def get_hub(hub_id: UUID, runtime: Runtime):
    return await use_cases.get_hub(runtime, hub_id)
