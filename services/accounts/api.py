"""The accounts service's JSON API."""

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1", tags=["accounts"])
