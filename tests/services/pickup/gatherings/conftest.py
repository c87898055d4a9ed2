"""A hub with its admin and staff, shops of its own, and gatherings scheduled through the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest

from libs.contracts.catalog import ShopOpened

PARIS = ZoneInfo("Europe/Paris")


@dataclass(frozen=True)
class Team:
    hub_id: str
    admin: dict[str, str]
    staff: dict[str, str]

    @property
    def gatherings(self) -> str:
        return f"/pickup/api/v1/hubs/{self.hub_id}/gatherings"


async def team_of_a_new_hub(pickup) -> Team:
    hub_id = await pickup.open_hub()
    return Team(hub_id, await pickup.hub_member(hub_id, "admin"), await pickup.hub_member(hub_id))


@pytest.fixture
async def team(pickup) -> Team:
    return await team_of_a_new_hub(pickup)


def paris_evening(days: int = 3, hour: int = 18) -> datetime:
    """A Paris wall-clock time ``days`` from now, without an offset, as an admin types it."""
    return datetime.combine(datetime.now(PARIS).date() + timedelta(days=days), time(hour))


def gathering_body(**overrides) -> dict:
    starts = paris_evening()
    body = {"title": "Dégustation de fromages", "description": "Tommes et beurres du Trégor.",
            "starts_at": starts.isoformat(), "ends_at": (starts + timedelta(hours=2)).isoformat(),
            "capacity": 12}
    return {**body, **overrides}


async def schedule(pickup, team: Team, **overrides) -> dict:
    response = await pickup.client.post(team.gatherings, json=gathering_body(**overrides),
                                        headers=team.admin)
    assert response.status_code == 201, response.text
    return response.json()


async def open_shop(pickup, hub_id: str, name: str) -> UUID:
    shop_id = uuid4()
    await pickup.feed(ShopOpened(shop_id=shop_id, hub_id=hub_id, name=name, owner_id=uuid4(),
                                 owner_email="owner@example.org"))
    return shop_id


async def starting_soon(pickup, team, **overrides) -> dict:
    """A gathering half an hour away: staff may tick people in already."""
    starts = datetime.now(PARIS).replace(tzinfo=None, microsecond=0) + timedelta(minutes=30)
    return await schedule(pickup, team, starts_at=starts.isoformat(),
                          ends_at=(starts + timedelta(hours=2)).isoformat(), **overrides)
