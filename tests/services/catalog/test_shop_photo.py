"""A shop's own photo: set, replaced and removed by whoever runs the shop, through the API and the
profile page; checked and kept like a product's; shown on the shop's window and its hub's page."""

from __future__ import annotations

from uuid import uuid4

import pytest

from services.catalog.bootstrap import CatalogSettings
from tests.services.catalog.support import running_catalog
from tests.services.catalog.test_photos import decoded, jpeg, stored_files
from tests.services.catalog.test_shop_life import a_shop, journal


async def put_photo(catalog, shop, who, data: bytes, content_type: str = "image/jpeg"):
    return await catalog.client.put(f"/catalog/api/v1/shops/{shop['id']}/photo",
                                    headers=catalog.headers(who) if who else {},
                                    files={"file": ("boutique.jpg", data, content_type)})


async def photo_of(catalog, shop) -> dict | None:
    profile = await catalog.client.get(f"/catalog/api/v1/shops/{shop['id']}")
    assert profile.status_code == 200, profile.text
    return profile.json()["photo"]


def photo_actions(entries: list[dict]) -> list[tuple[str, str, bool]]:
    return [(e["action"], e["by_email"], e["on_behalf"]) for e in entries
            if e["action"].startswith("shop_photo")]


async def test_the_owner_sets_the_shops_photo_kept_like_a_products(catalog):
    hub_id, owner, _, shop = await a_shop(catalog)

    answer = await put_photo(catalog, shop, owner, jpeg((3000, 1500)))

    assert answer.status_code == 200, answer.text
    photo = answer.json()
    assert photo["url"] == f"/catalog/media/photos/{photo['id']}/original.webp"
    assert (photo["shop_id"], photo["width"], photo["height"]) == (shop["id"], 2000, 1000)
    assert (photo["thumbnail_width"], photo["thumbnail_height"]) == (400, 200)
    served = await catalog.client.get(photo["url"])
    assert served.headers["content-type"] == "image/webp"
    assert decoded(served.content).size == (2000, 1000)
    assert await photo_of(catalog, shop) == photo
    assert photo_actions(await journal(catalog, shop, owner)) == [
        ("shop_photo_set", "marie@fournil.test", False)]


async def test_a_hub_admin_replaces_the_photo_for_the_shop_and_the_trail_says_so(catalog):
    _, owner, association, shop = await a_shop(catalog)
    first = (await put_photo(catalog, shop, owner, jpeg((64, 48)))).json()

    replaced = await put_photo(catalog, shop, association, jpeg((80, 60)))

    assert replaced.status_code == 200, replaced.text
    second = replaced.json()
    assert second["id"] != first["id"]
    assert await photo_of(catalog, shop) == second
    assert await catalog.runtime.settle(timeout=10)
    assert stored_files(catalog) == [f"photos/{second['id']}/original.webp",
                                     f"photos/{second['id']}/thumbnail.webp"]
    entries = await journal(catalog, shop, owner)
    assert photo_actions(entries) == [("shop_photo_set", "asso@paimpol.test", True),
                                      ("shop_photo_set", "marie@fournil.test", False)]
    assert "remplacée" in entries[0]["summary"]
    assert entries[0]["changes"] == {"photo_id": second["id"], "replaced_photo_id": first["id"]}


async def test_another_shops_owner_may_neither_set_nor_remove_the_photo(catalog):
    hub_id, owner, _, shop = await a_shop(catalog)
    neighbour = await catalog.register("jeanne@ferme.test")
    await catalog.open_shop(hub_id, neighbour, "La Ferme")
    kept = (await put_photo(catalog, shop, owner, jpeg((64, 48)))).json()

    assert (await put_photo(catalog, shop, neighbour, jpeg((64, 48)))).status_code == 403
    removed = await catalog.client.delete(f"/catalog/api/v1/shops/{shop['id']}/photo",
                                          headers=catalog.headers(neighbour))
    assert removed.status_code == 403
    assert (await put_photo(catalog, shop, None, jpeg((64, 48)))).status_code == 401

    assert await photo_of(catalog, shop) == kept
    assert len(stored_files(catalog)) == 2
    assert len(photo_actions(await journal(catalog, shop, owner))) == 1


@pytest.mark.parametrize(("data", "content_type", "status"), [
    (b"%PDF-1.4 not a picture", "image/jpeg", 415),
    (jpeg((64, 48)) + b"\0" * 30_000, "image/jpeg", 413),
])
async def test_a_refused_photo_writes_nothing(tmp_path, data, content_type, status):
    settings = CatalogSettings(data_dir=tmp_path, outbox_relay=False, photo_max_bytes=20_000)
    async with running_catalog(settings) as catalog:
        _, owner, _, shop = await a_shop(catalog)

        answer = await put_photo(catalog, shop, owner, data, content_type)

        assert answer.status_code == status, answer.text
        assert answer.json()["error"]["message"]
        assert await photo_of(catalog, shop) is None
        assert stored_files(catalog) == []
        assert photo_actions(await journal(catalog, shop, owner)) == []


async def test_a_removed_photo_goes_with_its_images(catalog):
    _, owner, association, shop = await a_shop(catalog)
    photo = (await put_photo(catalog, shop, owner, jpeg((64, 48)))).json()
    url = f"/catalog/api/v1/shops/{shop['id']}/photo"

    removed = await catalog.client.delete(url, headers=catalog.headers(association))

    assert removed.status_code == 204, removed.text
    assert await photo_of(catalog, shop) is None
    assert await catalog.runtime.settle(timeout=10)
    assert (await catalog.client.get(photo["url"])).status_code == 404
    assert stored_files(catalog) == []
    again = await catalog.client.delete(url, headers=catalog.headers(owner))
    assert again.status_code == 404
    assert photo_actions(await journal(catalog, shop, owner))[0] == (
        "shop_photo_removed", "asso@paimpol.test", True)
    unknown = await catalog.client.delete(f"/catalog/api/v1/shops/{uuid4()}/photo",
                                          headers=catalog.headers(owner))
    assert unknown.status_code == 404


async def test_the_photo_shows_on_the_shop_window_and_the_hub_page(catalog):
    hub_id, owner, _, shop = await a_shop(catalog)
    bare = await catalog.client.get(f"/catalog/shops/{shop['id']}/vitrine")
    assert "/catalog/media/" not in bare.text

    photo = (await put_photo(catalog, shop, owner, jpeg((1200, 800)))).json()

    window = await catalog.client.get(f"/catalog/shops/{shop['id']}/vitrine")
    assert window.status_code == 200
    assert f'src="{photo["url"]}"' in window.text
    assert f'alt="Photo de {shop["name"]}"' in window.text
    hub = await catalog.client.get(f"/catalog/hubs/{hub_id}")
    assert f'src="{photo["thumbnail_url"]}"' in hub.text


async def test_the_profile_page_sets_replaces_and_removes_the_photo_without_javascript(catalog):
    _, owner, _, shop = await a_shop(catalog)
    cookie = catalog.session_cookie(owner)
    profile = f"/catalog/shops/{shop['id']}/profile"
    page = await catalog.client.get(profile, headers=cookie)
    assert 'enctype="multipart/form-data"' in page.text
    assert "Ajouter une photo" in page.text

    sent = await catalog.client.post(f"{profile}/photo", headers=cookie,
                                     files={"file": ("b.jpg", jpeg((64, 48)), "image/jpeg")})

    assert sent.status_code == 303, sent.text
    assert sent.headers["location"] == f"{profile}?fait=photo"
    page = await catalog.client.get(sent.headers["location"], headers=cookie)
    photo = await photo_of(catalog, shop)
    assert f'src="{photo["thumbnail_url"]}"' in page.text
    assert "Photo enregistrée." in page.text
    assert "Remplacer la photo" in page.text

    taken_down = await catalog.client.post(f"{profile}/photo/delete", headers=cookie)
    assert taken_down.status_code == 303
    assert await photo_of(catalog, shop) is None


async def test_a_refused_photo_on_the_profile_page_says_why_in_french(catalog):
    hub_id, owner, _, shop = await a_shop(catalog)
    neighbour = await catalog.register("jeanne@ferme.test")
    profile = f"/catalog/shops/{shop['id']}/profile"

    not_a_photo = await catalog.client.post(
        f"{profile}/photo", headers=catalog.session_cookie(owner),
        files={"file": ("menu.pdf", b"%PDF-1.4", "application/pdf")})
    not_theirs = await catalog.client.post(
        f"{profile}/photo", headers=catalog.session_cookie(neighbour),
        files={"file": ("b.jpg", jpeg((64, 48)), "image/jpeg")})
    signed_out = await catalog.client.post(f"{profile}/photo",
                                           files={"file": ("b.jpg", jpeg((64, 48)), "image/jpeg")})

    assert not_a_photo.status_code == 415
    assert "JPEG, PNG ou WebP" in not_a_photo.text
    assert f'href="{profile}"' in not_a_photo.text
    assert not_theirs.status_code == 403
    assert "la photo de la boutique" in not_theirs.text
    assert signed_out.status_code == 303
    assert "/accounts/" in signed_out.headers["location"]
    assert await photo_of(catalog, shop) is None
