"""The desk finds a pickup by its code (typed or scanned) or by the resident's name or e-mail."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit
from uuid import uuid4

from libs.contracts.pickup import PickedUp
from tests.services.pickup.desk.support import cookie_of, ready_order, residents_order


async def found(pickup, hub_id: str, staff: dict, q: str):
    return await pickup.client.get(f"/pickup/api/v1/hubs/{hub_id}/pickups/search",
                                   params={"q": q}, headers=staff)


async def test_staff_find_a_pickup_by_code_name_or_email(pickup):
    hub_id = await pickup.open_hub()
    staff = await pickup.hub_member(hub_id)
    lou = await pickup.register("lou.martin@example.org", "Lou Martin")
    noa = await pickup.register("noa@exemple.fr", "Noa Le Goff")
    lous = await residents_order(pickup, hub_id, [uuid4()], lou)
    noas = await residents_order(pickup, hub_id, [uuid4()], noa)
    code = await pickup.code_of(lous)
    typed_code = f" {code[:3].lower()} {code[3:]} "

    by_code = await found(pickup, hub_id, staff, typed_code)
    by_name = await found(pickup, hub_id, staff, "martin")
    by_email = await found(pickup, hub_id, staff, "EXEMPLE.FR")
    nobody = await found(pickup, hub_id, staff, "Dupont")

    assert by_code.status_code == 200, by_code.text
    assert [p["order_id"] for p in by_code.json()] == [str(lous)]
    [lou_found] = by_name.json()
    assert (lou_found["order_id"], lou_found["resident_name"]) == (str(lous), "Lou Martin")
    assert lou_found["resident_email"] == "lou.martin@example.org"
    assert lou_found["slot_starts_at"] and lou_found["parts"]
    assert [p["order_id"] for p in by_email.json()] == [str(noas)]
    assert nobody.json() == []


async def test_the_search_stays_in_the_hub_and_takes_wildcards_literally(pickup):
    hub_id, other_hub_id = await pickup.open_hub(), await pickup.open_hub()
    staff = await pickup.hub_member(hub_id)
    lou = await pickup.register("lou@example.org", "Lou")
    await residents_order(pickup, other_hub_id, [uuid4()], lou)
    await residents_order(pickup, hub_id, [uuid4()], await pickup.register("a@b.fr", "Anne"))

    elsewhere = await found(pickup, hub_id, staff, "lou")
    wildcard = await found(pickup, hub_id, staff, "%%")
    underscore = await found(pickup, hub_id, staff, "__")

    assert (elsewhere.json(), wildcard.json(), underscore.json()) == ([], [], [])


async def test_the_search_is_for_staff_and_needs_two_characters(pickup):
    hub_id = await pickup.open_hub()
    staff = await pickup.hub_member(hub_id)
    url = f"/pickup/api/v1/hubs/{hub_id}/pickups/search"

    resident = await pickup.client.get(url, params={"q": "lou"}, headers=pickup.headers())
    anonymous = await pickup.client.get(url, params={"q": "lou"})
    short = await pickup.client.get(url, params={"q": " x "}, headers=staff)
    missing = await pickup.client.get(url, headers=staff)

    assert (resident.status_code, anonymous.status_code) == (403, 401)
    assert (short.status_code, missing.status_code) == (422, 422)
    assert "au moins 2 caractères" in short.json()["error"]["message"]


async def test_the_desk_searches_and_hands_over_from_the_results(pickup):
    hub_id = await pickup.open_hub()
    staff = await pickup.hub_member(hub_id)
    cookie = cookie_of(staff)
    lou = await pickup.register("lou@example.org", "Lou Martin")
    order_id = await ready_order(pickup, hub_id, staff, [uuid4()], resident_id=lou)
    search = f"/pickup/desk/{hub_id}/recherche"

    page = await pickup.client.get(search, params={"q": "Lou"}, headers=cookie)
    assert page.status_code == 200
    assert "1 résultat(s)" in page.text and "Pour Lou Martin" in page.text
    assert 'name="q" value="Lou"' in page.text and "Remettre la commande" in page.text
    wrong = await pickup.client.post(f"/pickup/desk/{hub_id}/pickups/{order_id}/handover",
                                     headers=cookie, data={"code": "AAAAAA", "q": "Lou"})
    assert wrong.status_code == 422 and "Rechercher un retrait" in wrong.text
    assert "code de retrait incorrect" in wrong.text

    handed = await pickup.client.post(f"/pickup/desk/{hub_id}/pickups/{order_id}/handover",
                                      headers=cookie,
                                      data={"code": await pickup.code_of(order_id), "q": "Lou"})

    assert handed.status_code == 303
    location = urlsplit(handed.headers["location"])
    assert location.path == search and parse_qs(location.query) == {"q": ["Lou"],
                                                                    "fait": ["remise"]}
    assert [e.order_id for e in await pickup.published(PickedUp)] == [order_id]
    after = await pickup.client.get(handed.headers["location"], headers=cookie)
    assert "La commande est remise." in after.text


async def test_the_desks_search_page_says_what_is_wrong(pickup):
    hub_id = await pickup.open_hub()
    cookie = cookie_of(await pickup.hub_member(hub_id))
    search = f"/pickup/desk/{hub_id}/recherche"

    empty = await pickup.client.get(search, headers=cookie)
    short = await pickup.client.get(search, params={"q": "x"}, headers=cookie)
    nothing = await pickup.client.get(search, params={"q": "Personne"}, headers=cookie)
    resident = await pickup.client.get(search, headers=cookie_of(pickup.headers()))
    anonymous = await pickup.client.get(search, params={"q": "Lou"})

    assert empty.status_code == 200 and 'id="recherche"' in empty.text
    assert "résultat" not in empty.text
    assert short.status_code == 422 and "au moins 2 caractères" in short.text
    assert "Aucun retrait ne correspond à « Personne »" in nothing.text
    assert resident.status_code == 403
    assert anonymous.status_code == 303
