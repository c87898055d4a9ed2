"""A hub with its admin and staff, membership terms set through the API, and residents to join."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID, uuid4

import pytest
from sqlalchemy import update

from libs.auth.tokens import Principal
from libs.contracts.payment import MembershipFeeFailed, MembershipFeePaid
from services.pickup.membership.tables import Membership


@dataclass(frozen=True)
class Resident:
    user_id: UUID
    headers: dict[str, str]


@dataclass(frozen=True)
class MemberHub:
    hub_id: str
    admin: dict[str, str]
    staff: dict[str, str]

    @property
    def api(self) -> str:
        return f"/pickup/api/v1/hubs/{self.hub_id}"

    @property
    def card(self) -> str:
        return f"/pickup/hubs/{self.hub_id}/adhesion"


async def hub_with_terms(pickup, **terms) -> MemberHub:
    hub_id = await pickup.open_hub()
    hub = MemberHub(hub_id, await pickup.hub_member(hub_id, "admin"),
                    await pickup.hub_member(hub_id, "staff"))
    await set_terms(pickup, hub, **terms)
    return hub


async def set_terms(pickup, hub: MemberHub, **terms) -> dict:
    body = {"open": True, "fee_cents": 0, "duration_months": 12,
            "benefits": "Le prix adhérent chez les commerçants du tiers-lieu.", **terms}
    response = await pickup.client.put(f"{hub.api}/membership-terms", json=body,
                                       headers=hub.admin)
    assert response.status_code == 200, response.text
    return response.json()


def resident(pickup, name: str = "Camille Le Gall") -> Resident:
    user_id = uuid4()
    email = f"{user_id.hex[:8]}@habitants.example"
    token = pickup.issuer.issue(Principal(user_id=user_id, email=email, name=name,
                                          roles=frozenset({"resident"})))
    return Resident(user_id, {"Authorization": f"Bearer {token}"})


async def join(pickup, hub: MemberHub, who: Resident, status: int = 201) -> dict:
    response = await pickup.client.post(f"{hub.api}/memberships", headers=who.headers)
    assert response.status_code == status, response.text
    return response.json()


async def fee_paid(pickup, membership: dict) -> None:
    await pickup.feed(MembershipFeePaid(
        payment_id=uuid4(), membership_id=membership["id"], hub_id=membership["hub_id"],
        resident_id=membership["resident_id"], amount_cents=membership["fee_cents"]))


async def fee_failed(pickup, membership: dict) -> None:
    await pickup.feed(MembershipFeeFailed(payment_id=uuid4(), membership_id=membership["id"],
                                          reason="carte refusée"))


async def backdate(pickup, membership_id: str, **moments) -> None:
    """Moves a membership's moments (expires_at, pay_by...) as if time had passed."""
    async with pickup.runtime.unit_of_work() as uow:
        await uow.session.execute(update(Membership)
                                  .where(Membership.id == UUID(membership_id))
                                  .values(**moments))


@pytest.fixture
async def free_hub(pickup) -> MemberHub:
    return await hub_with_terms(pickup)


@pytest.fixture
async def paying_hub(pickup) -> MemberHub:
    return await hub_with_terms(pickup, fee_cents=1000)
