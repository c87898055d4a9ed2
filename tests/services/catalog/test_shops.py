"""Opening shops: who may, for whom, and what the catalog tells the others."""

from __future__ import annotations

from uuid import uuid4

from libs.auth.tokens import Principal
from libs.contracts.catalog import ShopOpened

PLATFORM_ADMIN = Principal(user_id=uuid4(), email="root@adopte.test", name="Root",
                           roles=frozenset({"platform_admin"}))


def shop_for(hub_id, owner_email="marie@fournil.test", name="Boulangerie Le Fournil") -> dict:
    return {"hub_id": str(hub_id), "name": name, "owner_email": owner_email}


async def test_a_platform_admin_opens_a_shop_for_an_existing_account(catalog):
    hub_id = await catalog.open_hub()
    owner = await catalog.register("Marie@Fournil.test")

    opened = await catalog.client.post("/catalog/api/v1/shops", headers=catalog.headers(PLATFORM_ADMIN),
                                       json=shop_for(hub_id, owner_email="  marie@FOURNIL.test "))

    assert opened.status_code == 201, opened.text
    shop = opened.json()
    assert shop == {"id": shop["id"], "hub_id": str(hub_id), "name": "Boulangerie Le Fournil",
                    "owner_id": str(owner.user_id), "owner_email": "marie@fournil.test"}
    [event] = await catalog.events(ShopOpened)
    assert (str(event.shop_id), event.hub_id, event.owner_id) == (shop["id"], hub_id, owner.user_id)
    listed = await catalog.client.get("/catalog/api/v1/shops", params={"hub_id": str(hub_id)})
    assert listed.json() == [{"id": shop["id"], "hub_id": str(hub_id), "name": shop["name"]}]


async def test_shops_are_listed_by_hub(catalog):
    owner = await catalog.register("marie@fournil.test")
    paimpol, lannion = await catalog.open_hub(), await catalog.open_hub("La Fabrique", "Lannion")
    in_paimpol = await catalog.open_shop(paimpol, owner, "Le Fournil")
    in_lannion = await catalog.open_shop(lannion, owner, "La Cave")

    listed = await catalog.client.get("/catalog/api/v1/shops", params={"hub_id": str(lannion)})
    everywhere = await catalog.client.get("/catalog/api/v1/shops")

    assert [s["id"] for s in listed.json()] == [in_lannion["id"]]
    assert {s["id"] for s in everywhere.json()} == {in_paimpol["id"], in_lannion["id"]}


async def test_a_hub_admin_opens_shops_in_their_hub_only(catalog):
    hub_id, other_hub = await catalog.open_hub(), await catalog.open_hub("La Fabrique", "Lannion")
    await catalog.register("marie@fournil.test")
    admin = await catalog.register("anne@grenier.test")

    before = await catalog.client.post("/catalog/api/v1/shops", headers=catalog.headers(admin),
                                       json=shop_for(hub_id))
    await catalog.assign(admin, hub_id, role="admin")
    in_their_hub = await catalog.client.post("/catalog/api/v1/shops", headers=catalog.headers(admin),
                                             json=shop_for(hub_id))
    in_another_hub = await catalog.client.post(
        "/catalog/api/v1/shops", headers=catalog.headers(admin), json=shop_for(other_hub)
    )

    assert before.status_code == 403
    assert in_their_hub.status_code == 201, in_their_hub.text
    assert in_another_hub.status_code == 403
    assert in_another_hub.json()["error"]["code"] == "forbidden"
    assert len(await catalog.events(ShopOpened)) == 1


async def test_desk_staff_and_residents_may_not_open_shops(catalog):
    hub_id = await catalog.open_hub()
    await catalog.register("marie@fournil.test")
    resident = await catalog.register("jean@exemple.test", "resident")
    staff = await catalog.register("paul@grenier.test")
    demoted = await catalog.register("lea@grenier.test")
    await catalog.assign(staff, hub_id, role="staff")
    await catalog.assign(demoted, hub_id, role="admin")
    await catalog.assign(demoted, hub_id, role="staff")

    for person in (resident, staff, demoted):
        refused = await catalog.client.post("/catalog/api/v1/shops", headers=catalog.headers(person),
                                            json=shop_for(hub_id))
        assert refused.status_code == 403, person.email
    anonymous = await catalog.client.post("/catalog/api/v1/shops", json=shop_for(hub_id))
    assert anonymous.status_code == 401
    assert await catalog.events(ShopOpened) == []


async def test_the_owner_must_have_an_account_and_the_hub_must_exist(catalog):
    hub_id = await catalog.open_hub()
    headers = catalog.headers(PLATFORM_ADMIN)

    unknown_owner = await catalog.client.post("/catalog/api/v1/shops", headers=headers,
                                              json=shop_for(hub_id, owner_email="nobody@nowhere.test"))
    await catalog.register("marie@fournil.test")
    unknown_hub = await catalog.client.post("/catalog/api/v1/shops", headers=headers,
                                            json=shop_for(uuid4()))

    assert unknown_owner.status_code == 422
    assert unknown_owner.json()["error"]["message"].startswith("no account with this e-mail")
    assert unknown_hub.status_code == 404
    assert (await catalog.client.get("/catalog/api/v1/shops")).json() == []
    assert await catalog.events() == []


async def test_a_shop_needs_a_name_and_an_e_mail_address(catalog):
    hub_id = await catalog.open_hub()
    await catalog.register("marie@fournil.test")

    invalid = await catalog.client.post(
        "/catalog/api/v1/shops", headers=catalog.headers(PLATFORM_ADMIN),
        json={"hub_id": str(hub_id), "name": "   ", "owner_email": "not an address"},
    )

    assert invalid.status_code == 422
    fields = {detail["field"] for detail in invalid.json()["error"]["details"]}
    assert fields == {"body.name", "body.owner_email"}
    assert await catalog.events() == []


async def test_an_account_registered_again_with_the_same_address_owns_new_shops(catalog):
    hub_id = await catalog.open_hub()
    await catalog.register("marie@fournil.test")
    newer = await catalog.register("marie@fournil.test")

    shop = await catalog.open_shop(hub_id, newer)

    assert shop["owner_id"] == str(newer.user_id)
