"""Who may open hubs and name their staff."""

from __future__ import annotations

from uuid import uuid4

from libs.contracts.pickup import HubOpened, HubStaffAssigned
from tests.services.pickup.conftest import HUB


async def test_only_a_platform_admin_opens_a_hub(pickup):
    anonymous = await pickup.client.post("/pickup/api/v1/hubs", json=HUB)
    resident = await pickup.client.post("/pickup/api/v1/hubs", json=HUB, headers=pickup.headers())
    assert (anonymous.status_code, resident.status_code) == (401, 403)
    assert await pickup.published() == []

    hub_id = await pickup.open_hub()

    [opened] = await pickup.published(HubOpened)
    assert (str(opened.hub_id), opened.name) == (hub_id, HUB["name"])


async def test_a_hub_admin_names_staff_by_email_and_changes_their_role(pickup):
    hub_id = await pickup.open_hub()
    admin = await pickup.hub_member(hub_id, role="admin")
    user_id = await pickup.register("Lea.Martin@example.org", name="Léa Martin")
    url = f"/pickup/api/v1/hubs/{hub_id}/staff"

    added = await pickup.client.post(url, json={"email": "lea.martin@example.org", "role": "staff"},
                                     headers=admin)
    again = await pickup.client.post(url, json={"email": "LEA.MARTIN@example.org", "role": "staff"},
                                     headers=admin)
    promoted = await pickup.client.post(url, json={"email": "lea.martin@example.org",
                                                   "role": "admin"}, headers=admin)

    assert (added.status_code, again.status_code, promoted.status_code) == (201, 200, 200)
    assert added.json() == {"hub_id": hub_id, "user_id": str(user_id),
                            "email": "lea.martin@example.org", "name": "Léa Martin", "role": "staff"}
    assert promoted.json()["role"] == "admin"
    events = [e for e in await pickup.published(HubStaffAssigned) if e.user_id == user_id]
    assert [e.role for e in events] == ["staff", "admin"]


async def test_staff_residents_and_admins_of_other_hubs_may_not_name_staff(pickup):
    hub_id, other_hub_id = await pickup.open_hub(), await pickup.open_hub()
    await pickup.register("newcomer@example.org")
    staff = await pickup.hub_member(hub_id, role="staff")
    other_admin = await pickup.hub_member(other_hub_id, role="admin")
    body = {"email": "newcomer@example.org", "role": "staff"}
    url = f"/pickup/api/v1/hubs/{hub_id}/staff"

    for headers in (staff, other_admin, pickup.headers()):
        refused = await pickup.client.post(url, json=body, headers=headers)
        assert refused.status_code == 403, refused.text
    assert "newcomer@example.org" not in [e.email for e in await pickup.published(HubStaffAssigned)]


async def test_an_email_without_an_account_or_an_unknown_hub_is_refused(pickup):
    hub_id = await pickup.open_hub()

    no_account = await pickup.client.post(f"/pickup/api/v1/hubs/{hub_id}/staff", headers=pickup.admin,
                                          json={"email": "nobody@example.org", "role": "staff"})
    no_hub = await pickup.client.post(f"/pickup/api/v1/hubs/{uuid4()}/staff", headers=pickup.admin,
                                      json={"email": "nobody@example.org", "role": "staff"})
    bad_role = await pickup.client.post(f"/pickup/api/v1/hubs/{hub_id}/staff", headers=pickup.admin,
                                        json={"email": "nobody@example.org", "role": "owner"})

    assert no_account.status_code == 422
    assert "nobody@example.org" in no_account.json()["error"]["message"]
    assert (no_hub.status_code, bad_role.status_code) == (404, 422)
    assert await pickup.published(HubStaffAssigned) == []
