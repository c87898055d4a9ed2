"""A shop's life: the association acting for it, its journal, its status and its profile."""

from __future__ import annotations

from uuid import uuid4

from libs.auth.tokens import Principal
from libs.contracts.catalog import ShopOpened, ShopStatusChanged
from tests.services.catalog.test_photos import jpeg

PLATFORM_ADMIN = Principal(user_id=uuid4(), email="root@adopte.test", name="Root",
                           roles=frozenset({"platform_admin"}))


async def a_shop(catalog):
    hub_id = await catalog.open_hub()
    owner = await catalog.register("marie@fournil.test")
    association = await catalog.register("asso@paimpol.test")
    await catalog.assign(association, hub_id, "admin")
    shop = await catalog.open_shop(hub_id, owner)
    return hub_id, owner, association, shop


async def journal(catalog, shop, who) -> list[dict]:
    answer = await catalog.client.get(f"/catalog/api/v1/shops/{shop['id']}/audit",
                                      headers=catalog.headers(who))
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_a_hub_admin_acting_for_a_shop_is_recorded_in_its_audit_trail(catalog):
    _, owner, association, shop = await a_shop(catalog)
    as_association = catalog.headers(association)

    listed = await catalog.client.post(f"/catalog/api/v1/shops/{shop['id']}/products",
                                       headers=as_association,
                                       json={"name": "Kouign-amann", "price_cents": 350, "stock": 4})
    assert listed.status_code == 201, listed.text
    variant_id = listed.json()["variants"][0]["id"]
    changed = await catalog.client.patch(f"/catalog/api/v1/shops/{shop['id']}",
                                         headers=as_association,
                                         json={"opening_hours": "mar–sam 8h–19h"})
    assert changed.status_code == 200, changed.text
    await catalog.client.post(f"/catalog/api/v1/variants/{variant_id}/stock-adjustments",
                              headers=catalog.headers(owner), json={"delta": 2, "reason": "fournée"})

    entries = await journal(catalog, shop, owner)
    by_whom = [(e["action"], e["by_email"], e["on_behalf"]) for e in entries]
    assert by_whom == [
        ("stock_adjusted", "marie@fournil.test", False),
        ("profile_changed", "asso@paimpol.test", True),
        ("product_listed", "asso@paimpol.test", True),
        ("shop_opened", "admin@adopte.test", True),
    ]
    assert entries[1]["changes"] == {"opening_hours": "mar–sam 8h–19h"}
    assert entries[1]["by_user_id"] == str(association.user_id)
    assert "Kouign-amann" in entries[2]["summary"]
    assert await journal(catalog, shop, association) == entries
    assert await journal(catalog, shop, PLATFORM_ADMIN) == entries


async def test_the_audit_trail_records_product_variant_stock_and_photo_changes(catalog):
    _, owner, _, shop = await a_shop(catalog)
    headers = catalog.headers(owner)
    product = await catalog.list_product(shop, owner)
    await catalog.client.patch(f"/catalog/api/v1/products/{product['id']}", headers=headers,
                               json={"description": "Au levain"})
    added = await catalog.client.post(f"/catalog/api/v1/products/{product['id']}/variants",
                                      headers=headers,
                                      json={"label": "1 kg", "price_cents": 800, "stock": 3})
    assert added.status_code == 201, added.text
    await catalog.client.patch(f"/catalog/api/v1/variants/{added.json()['id']}", headers=headers,
                               json={"price_cents": 850})
    await catalog.client.post(f"/catalog/api/v1/variants/{added.json()['id']}/stock-adjustments",
                              headers=headers, json={"delta": -1, "reason": "cassé"})
    photo = await catalog.client.post(f"/catalog/api/v1/products/{product['id']}/photos",
                                      headers=headers,
                                      files={"file": ("p.jpg", jpeg((64, 48)), "image/jpeg")})
    assert photo.status_code == 201, photo.text
    removed = await catalog.client.delete(f"/catalog/api/v1/photos/{photo.json()['id']}",
                                          headers=headers)
    assert removed.status_code == 204, removed.text

    actions = [entry["action"] for entry in await journal(catalog, shop, owner)]
    assert actions[:7] == ["photo_removed", "photo_added", "stock_adjusted", "variant_changed",
                           "variant_added", "product_changed", "product_listed"]


async def test_only_those_running_the_shop_read_its_journal_or_change_it(catalog):
    hub_id, owner, _, shop = await a_shop(catalog)
    other = await catalog.register("paul@cave.test")
    other_shop = await catalog.open_shop(hub_id, other, "La Cave")
    elsewhere = await catalog.register("asso@lannion.test")
    await catalog.assign(elsewhere, await catalog.open_hub("La Fabrique", "Lannion"), "admin")
    bread = await catalog.list_product(shop, owner)

    for stranger in (other, elsewhere):
        headers = catalog.headers(stranger)
        denied = [
            await catalog.client.get(f"/catalog/api/v1/shops/{shop['id']}/audit", headers=headers),
            await catalog.client.patch(f"/catalog/api/v1/shops/{shop['id']}", headers=headers,
                                       json={"description": "pirate"}),
            await catalog.client.patch(f"/catalog/api/v1/products/{bread['id']}", headers=headers,
                                       json={"name": "pirate"}),
            await catalog.client.post(f"/catalog/api/v1/products/{bread['id']}/photos",
                                      headers=headers,
                                      files={"file": ("p.jpg", jpeg((64, 48)), "image/jpeg")}),
        ]
        assert [answer.status_code for answer in denied] == [403] * 4
    assert other_shop["id"] != shop["id"]
    profile = (await catalog.client.get(f"/catalog/api/v1/shops/{shop['id']}")).json()
    assert profile["description"] == ""


async def test_a_profile_is_public_and_checked(catalog):
    _, owner, _, shop = await a_shop(catalog)
    headers = catalog.headers(owner)
    changed = await catalog.client.patch(
        f"/catalog/api/v1/shops/{shop['id']}", headers=headers,
        json={"description": "Pain au levain", "address": "2 rue des Halles, Paimpol",
              "trade_category": "boulangerie", "contact_email": "Contact@Fournil.test",
              "contact_phone": "02 96 00 00 00"})
    assert changed.status_code == 200, changed.text
    profile = (await catalog.client.get(f"/catalog/api/v1/shops/{shop['id']}")).json()
    assert profile | {"id": None} == {
        "id": None, "hub_id": shop["hub_id"], "name": shop["name"], "status": "active",
        "description": "Pain au levain", "address": "2 rue des Halles, Paimpol",
        "opening_hours": "", "trade_category": "boulangerie",
        "contact_email": "contact@fournil.test", "contact_phone": "02 96 00 00 00",
        "photo": None}
    for bad in ({"description": "x" * 2001}, {"trade_category": "armurerie"},
                {"contact_email": "nope"}, {"owner_id": str(uuid4())}):
        refused = await catalog.client.patch(f"/catalog/api/v1/shops/{shop['id']}",
                                             headers=headers, json=bad)
        assert refused.status_code == 422, bad
    assert (await catalog.client.get(f"/catalog/api/v1/shops/{uuid4()}")).status_code == 404


async def test_a_suspended_shop_leaves_the_catalogue_until_reopened(catalog):
    hub_id, owner, association, shop = await a_shop(catalog)
    await catalog.list_product(shop, owner)

    async def status(who, wanted):
        return await catalog.client.post(f"/catalog/api/v1/shops/{shop['id']}/status",
                                         headers=catalog.headers(who), json={"status": wanted})

    assert (await status(owner, "suspended")).status_code == 403
    assert (await status(association, "draft")).status_code == 409
    suspended = await status(association, "suspended")
    assert suspended.status_code == 200, suspended.text
    assert await catalog.products(hub_id) == []
    assert (await status(owner, "active")).status_code == 403
    assert (await status(PLATFORM_ADMIN, "active")).status_code == 200
    assert [p["name"] for p in await catalog.products(hub_id)] == ["Pain de campagne"]

    events = await catalog.events(ShopStatusChanged)
    assert [(str(e.shop_id), e.hub_id, e.status) for e in events] == [
        (shop["id"], hub_id, "suspended"), (shop["id"], hub_id, "active")]
    [reopened, suspension] = [e for e in await journal(catalog, shop, owner)
                              if e["action"] == "status_changed"]
    assert (suspension["by_email"], suspension["on_behalf"]) == ("asso@paimpol.test", True)
    assert reopened["changes"] == {"status": "active", "was": "suspended"}


async def test_the_association_edits_the_profile_and_reads_the_journal_on_the_page(catalog):
    _, owner, association, shop = await a_shop(catalog)
    cookie = catalog.session_cookie(association)

    sent = await catalog.client.post(
        f"/catalog/shops/{shop['id']}/profile", headers=cookie,
        data={"name": shop["name"], "description": "Pain au levain", "address": "",
              "opening_hours": "mar–sam 8h–19h", "trade_category": "boulangerie",
              "contact_email": "", "contact_phone": ""})
    assert sent.status_code == 303, sent.text
    page = await catalog.client.get(sent.headers["location"], headers=catalog.session_cookie(owner))
    assert page.status_code == 200
    assert "Journal des modifications" in page.text
    assert "par asso@paimpol.test (association)" in page.text
    assert "mar–sam 8h–19h" in page.text

    suspended = await catalog.client.post(f"/catalog/shops/{shop['id']}/status", headers=cookie,
                                          data={"status": "suspended"})
    assert suspended.status_code == 303
    assert (await catalog.client.get(f"/catalog/api/v1/shops/{shop['id']}")).json()["status"] \
        == "suspended"
    stranger = await catalog.register("paul@cave.test")
    denied = await catalog.client.get(f"/catalog/shops/{shop['id']}/profile",
                                      headers=catalog.session_cookie(stranger))
    assert denied.status_code == 403


async def test_the_hub_admin_opens_the_shops_back_office_from_the_hub_page(catalog):
    hub_id, owner, association, shop = await a_shop(catalog)
    await catalog.list_product(shop, owner, "Kouign-amann")
    cookie = catalog.session_cookie(association)

    hub_page = await catalog.client.get(f"/catalog/hubs/{hub_id}/shops", headers=cookie)
    assert f'href="/catalog/shops/{shop["id"]}/profile"' in hub_page.text
    back_office = await catalog.client.get(f"/catalog/shops/{shop['id']}", headers=cookie)
    assert back_office.status_code == 200
    assert "Kouign-amann" in back_office.text


async def test_an_invitation_waits_for_the_sign_up_then_the_accept(catalog):
    hub_id = await catalog.open_hub()
    association = await catalog.register("asso@paimpol.test")
    await catalog.assign(association, hub_id, "admin")

    invited = await catalog.client.post(f"/catalog/api/v1/hubs/{hub_id}/invitations",
                                        headers=catalog.headers(association),
                                        json={"shop_name": "La Cave", "email": "Paul@Cave.test"})
    assert invited.status_code == 201, invited.text
    invitation = invited.json()
    assert (invitation["status"], invitation["email"], invitation["link"]) == (
        "draft", "paul@cave.test", "/catalog/shops")
    shop_id = invitation["shop_id"]
    assert await catalog.events(ShopOpened) == []

    paul = await catalog.register("paul@cave.test")
    [opened] = await catalog.events(ShopOpened)
    assert (str(opened.shop_id), opened.owner_id) == (shop_id, paul.user_id)
    assert [e.status for e in await catalog.events(ShopStatusChanged)] == ["draft"]
    mine = await catalog.client.get("/catalog/shops", headers=catalog.session_cookie(paul))
    assert "Accepter l'invitation" in mine.text

    stranger = await catalog.register("jeanne@ferme.test")
    assert (await catalog.client.post(f"/catalog/api/v1/shops/{shop_id}/accept",
                                      headers=catalog.headers(stranger))).status_code == 403
    accepted = await catalog.client.post(f"/catalog/shops/{shop_id}/accept",
                                         headers=catalog.session_cookie(paul))
    assert accepted.status_code == 303, accepted.text
    assert (await catalog.client.get(f"/catalog/api/v1/shops/{shop_id}")).json()["status"] \
        == "active"
    assert [e.status for e in await catalog.events(ShopStatusChanged)] == ["draft", "active"]
    assert (await catalog.client.post(f"/catalog/api/v1/shops/{shop_id}/accept",
                                      headers=catalog.headers(paul))).status_code == 403
    actions = [(e["action"], e["by_email"], e["on_behalf"])
               for e in await journal(catalog, {"id": shop_id}, paul)]
    assert actions == [("invitation_accepted", "paul@cave.test", False),
                       ("shop_invited", "asso@paimpol.test", True)]


async def test_a_draft_shops_products_are_not_offered_and_only_hub_admins_invite(catalog):
    hub_id = await catalog.open_hub()
    marie = await catalog.register("marie@fournil.test")
    invited = await catalog.client.post(f"/catalog/api/v1/hubs/{hub_id}/invitations",
                                        headers=catalog.headers(PLATFORM_ADMIN),
                                        json={"shop_name": "Le Fournil",
                                              "email": "marie@fournil.test"})
    assert invited.status_code == 201, invited.text
    shop = {"id": invited.json()["shop_id"]}
    await catalog.list_product(shop, marie)
    assert await catalog.products(hub_id) == []
    assert (await catalog.client.post(f"/catalog/api/v1/shops/{shop['id']}/accept",
                                      headers=catalog.headers(marie))).status_code == 200
    assert [p["name"] for p in await catalog.products(hub_id)] == ["Pain de campagne"]

    refused = await catalog.client.post(f"/catalog/api/v1/hubs/{hub_id}/invitations",
                                        headers=catalog.headers(marie),
                                        json={"shop_name": "X", "email": "x@y.test"})
    assert refused.status_code == 403
    bad = await catalog.client.post(f"/catalog/api/v1/hubs/{hub_id}/invitations",
                                    headers=catalog.headers(PLATFORM_ADMIN),
                                    json={"shop_name": "", "email": "nope"})
    assert bad.status_code == 422


async def test_the_hub_page_offers_the_invite_form_and_lists_drafts(catalog):
    hub_id = await catalog.open_hub()
    cookie = catalog.session_cookie(PLATFORM_ADMIN)
    sent = await catalog.client.post(f"/catalog/hubs/{hub_id}/invitations", headers=cookie,
                                     data={"shop_name": "La Cave", "email": "paul@cave.test"})
    assert sent.status_code == 303, sent.text
    page = await catalog.client.get(sent.headers["location"], headers=cookie)
    assert 'action="/catalog/hubs/' in page.text and "Inviter un commerçant" in page.text
    assert "La Cave" in page.text and "(brouillon)" in page.text


async def test_only_active_shops_are_listed_publicly(catalog):
    hub_id, _, association, shop = await a_shop(catalog)
    await catalog.client.post(f"/catalog/api/v1/shops/{shop['id']}/status",
                              headers=catalog.headers(association), json={"status": "suspended"})
    listed = await catalog.client.get("/catalog/api/v1/shops", params={"hub_id": str(hub_id)})
    assert listed.json() == []
    await catalog.client.post(f"/catalog/api/v1/shops/{shop['id']}/status",
                              headers=catalog.headers(association), json={"status": "active"})
    listed = await catalog.client.get("/catalog/api/v1/shops", params={"hub_id": str(hub_id)})
    assert [s["id"] for s in listed.json()] == [shop["id"]]


async def test_acting_for_a_shop_is_audited_on_each_database(catalog_on_each_database):
    catalog = catalog_on_each_database
    hub_id, owner, association, shop = await a_shop(catalog)
    await catalog.list_product(shop, association, "Far breton")
    suspended = await catalog.client.post(f"/catalog/api/v1/shops/{shop['id']}/status",
                                          headers=catalog.headers(association),
                                          json={"status": "suspended"})
    assert suspended.status_code == 200, suspended.text
    assert await catalog.products(hub_id) == []

    answer = await catalog.client.get(f"/catalog/api/v1/shops/{shop['id']}/audit",
                                      headers=catalog.headers(owner), params={"page": 1})
    assert answer.headers["X-Total-Count"] == "3"
    assert [(e["action"], e["by_email"], e["on_behalf"]) for e in answer.json()[:2]] == [
        ("status_changed", "asso@paimpol.test", True),
        ("product_listed", "asso@paimpol.test", True)]
    empty = await catalog.client.get(f"/catalog/api/v1/shops/{shop['id']}/audit",
                                     headers=catalog.headers(owner), params={"page": 2})
    assert empty.json() == []
