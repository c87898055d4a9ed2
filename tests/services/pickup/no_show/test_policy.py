"""Each hub's no-show policy: read by its staff, set by its admins (API and form); the refund
rate stays the payment service's."""

from __future__ import annotations

from uuid import uuid4

from tests.services.pickup.desk.support import cookie_of


async def test_a_hub_has_the_default_policy_until_its_admins_set_one(pickup):
    hub_id = await pickup.open_hub()
    staff, admin = await pickup.hub_member(hub_id), await pickup.hub_member(hub_id, "admin")
    url = f"/pickup/api/v1/hubs/{hub_id}/no-show-policy"

    default = await pickup.client.get(url, headers=staff)
    set_ = await pickup.client.put(url, headers=admin,
                                   json={"reminder_after_hours": 1, "hold_hours": 72})
    read = await pickup.client.get(url, headers=staff)

    assert default.status_code == 200, default.text
    assert default.json() == {"hub_id": hub_id, "reminder_after_hours": 2, "hold_hours": 48,
                              "is_default": True,
                              "refund_setting": f"/payments/api/v1/hubs/{hub_id}/no-show-refund"}
    assert set_.status_code == 200, set_.text
    assert (read.json()["reminder_after_hours"], read.json()["hold_hours"]) == (1, 72)
    assert read.json()["is_default"] is False


async def test_only_the_hubs_admins_set_it_and_only_with_sound_terms(pickup):
    hub_id = await pickup.open_hub()
    staff, admin = await pickup.hub_member(hub_id), await pickup.hub_member(hub_id, "admin")
    url = f"/pickup/api/v1/hubs/{hub_id}/no-show-policy"
    terms = {"reminder_after_hours": 1, "hold_hours": 72}

    by_staff = await pickup.client.put(url, headers=staff, json=terms)
    by_resident = await pickup.client.get(url, headers=pickup.headers())
    anonymous = await pickup.client.get(url)
    unknown = await pickup.client.get(f"/pickup/api/v1/hubs/{uuid4()}/no-show-policy",
                                      headers=pickup.admin)
    short_hold = await pickup.client.put(url, headers=admin,
                                         json={"reminder_after_hours": 5, "hold_hours": 4})
    refund_here = await pickup.client.put(url, headers=admin, json={**terms, "refund_bps": 5000})

    assert (by_staff.status_code, by_resident.status_code, anonymous.status_code) == (403, 403, 401)
    assert unknown.status_code == 404
    assert (short_hold.status_code, refund_here.status_code) == (422, 422)
    assert (await pickup.client.get(url, headers=staff)).json()["is_default"] is True


async def test_the_admins_form_sets_the_policy_and_points_to_the_refund_setting(pickup):
    hub_id = await pickup.open_hub()
    admin = cookie_of(await pickup.hub_member(hub_id, "admin"))
    page_url = f"/pickup/hubs/{hub_id}/absences"

    page = await pickup.client.get(page_url, headers=admin)
    assert page.status_code == 200
    assert 'id="hold_hours"' in page.text and 'value="48"' in page.text
    assert f"/payments/api/v1/hubs/{hub_id}/no-show-refund" in page.text
    wrong = await pickup.client.post(page_url, headers=admin,
                                     data={"reminder_after_hours": "48", "hold_hours": "24"})
    assert wrong.status_code == 422
    assert "doit durer plus longtemps" in wrong.text and 'value="24"' in wrong.text

    saved = await pickup.client.post(page_url, headers=admin,
                                     data={"reminder_after_hours": "3", "hold_hours": "24"})

    assert saved.status_code == 303
    after = await pickup.client.get(saved.headers["location"], headers=admin)
    assert "absence sont enregistrées." in after.text
    assert "rappel 3 h après" in after.text and "attendent 24 h" in after.text


async def test_staff_read_the_policy_page_without_the_form(pickup):
    hub_id = await pickup.open_hub()
    staff = cookie_of(await pickup.hub_member(hub_id))
    page_url = f"/pickup/hubs/{hub_id}/absences"

    page = await pickup.client.get(page_url, headers=staff)
    posted = await pickup.client.post(page_url, headers=staff,
                                      data={"reminder_after_hours": "3", "hold_hours": "24"})
    resident = await pickup.client.get(page_url, headers=cookie_of(pickup.headers()))
    anonymous = await pickup.client.get(page_url)

    assert page.status_code == 200 and "Modifier les règles" not in page.text
    assert posted.status_code == 403
    assert resident.status_code == 403 and anonymous.status_code == 303
