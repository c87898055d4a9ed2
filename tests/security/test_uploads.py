"""Uploads that are not what they claim, through each way in: the product photo and the shop photo,
by the API and by their forms; the catalogue's CSV file, by the API and by its form. Each gets a
clear 4xx that says why, and nothing is stored: no image, no row, no event."""

from __future__ import annotations

import struct
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from PIL import Image
from sqlalchemy import func, select

from services.catalog.bootstrap import CatalogSettings
from services.catalog.csv_catalogue.file_format import MAX_FILE_BYTES
from tests.services.catalog.support import Catalog, running_catalog
from tests.services.catalog.test_photos import encoded, jpeg, png_declaring, stored_files

PHOTO_LIMIT = 5 * 2**20


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_with_text_bomb() -> bytes:
    """An 8×8 PNG carrying a compressed comment that inflates to 200 MiB."""
    small = encoded(Image.new("RGB", (8, 8)), "PNG")
    bomb = png_chunk(b"zTXt", b"comment\0\0" + zlib.compress(b"A" * (200 * 2**20), 9))
    return small[:33] + bomb + small[33:]  # right after the 13-byte IHDR chunk


def jpeg_declaring(width: int, height: int) -> bytes:
    """A small JPEG whose frame header claims ``width`` × ``height`` pixels."""
    data = bytearray(jpeg((16, 16)))
    frame = data.index(b"\xff\xc0")
    data[frame + 5:frame + 9] = struct.pack(">HH", height, width)
    return bytes(data)


SVG = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
       b'<script>alert(document.cookie)</script></svg>')


@dataclass(frozen=True)
class BadPhoto:
    data: bytes
    filename: str
    content_type: str
    status: int
    said_on_the_page: str


BAD_PHOTOS = {
    "text named .jpg": BadPhoto(b"Bonjour, ceci n'est pas une photo.\n" * 30, "photo.jpg",
                                "image/jpeg", 415, "JPEG, PNG ou WebP"),
    "svg with a script": BadPhoto(SVG, "logo.svg", "image/svg+xml", 415, "JPEG, PNG ou WebP"),
    "pdf": BadPhoto(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF", "menu.pdf",
                    "application/pdf", 415, "JPEG, PNG ou WebP"),
    "gif": BadPhoto(encoded(Image.new("RGB", (20, 20)), "GIF"), "anim.gif", "image/gif", 415,
                    "JPEG, PNG ou WebP"),
    "truncated png": BadPhoto(encoded(Image.new("RGB", (300, 300), (9, 99, 199)), "PNG")[:400],
                              "cut.png", "image/png", 415, "JPEG, PNG ou WebP"),
    "png declaring 20000×20000": BadPhoto(png_declaring(20_000, 20_000), "bomb.png",
                                          "image/png", 422, "trop de pixels"),
    "jpeg declaring 30000×30000": BadPhoto(jpeg_declaring(30_000, 30_000), "bomb.jpg",
                                           "image/jpeg", 422, "trop de pixels"),
    "png with a 200 MiB comment": BadPhoto(png_with_text_bomb(), "text-bomb.png", "image/png",
                                           415, "JPEG, PNG ou WebP"),
    "over 5 MiB": BadPhoto(jpeg() + b"\0" * PHOTO_LIMIT, "huge.jpg", "image/jpeg", 413,
                           "plus de 5 Mo"),
}


@dataclass
class Shop:
    catalog: Catalog
    owner: object
    shop: dict
    product: dict

    async def outbox_rows(self) -> int:
        outbox = self.catalog.runtime.definition.metadata.tables["outbox"]
        async with self.catalog.runtime.database.sessions() as session:
            return (await session.execute(select(func.count()).select_from(outbox))).scalar_one()

    async def photos(self) -> tuple[list, dict | None]:
        """(the product's photos, the shop's photo)."""
        client = self.catalog.client
        product = await client.get(f"/catalog/api/v1/products/{self.product['id']}/photos")
        shop = await client.get(f"/catalog/api/v1/shops/{self.shop['id']}")
        return product.json(), shop.json()["photo"]


@pytest.fixture
async def shop(tmp_path) -> AsyncIterator[Shop]:
    async with running_catalog(CatalogSettings(data_dir=tmp_path, outbox_relay=False)) as catalog:
        hub_id = await catalog.open_hub()
        owner = await catalog.register("marie@fournil.test")
        opened = await catalog.open_shop(hub_id, owner)
        yield Shop(catalog, owner, opened, await catalog.list_product(opened, owner))


PHOTO_WAYS_IN = {
    "product photo by the API": ("POST", "/catalog/api/v1/products/{product}/photos", "api"),
    "shop photo by the API": ("PUT", "/catalog/api/v1/shops/{shop}/photo", "api"),
    "product photo form": ("POST", "/catalog/shops/{shop}/products/{product}/photos", "page"),
    "shop photo form": ("POST", "/catalog/shops/{shop}/profile/photo", "page"),
}


@pytest.mark.parametrize("way_in", list(PHOTO_WAYS_IN))
async def test_every_bad_photo_is_refused_with_its_reason_and_nothing_is_kept(shop, way_in):
    method, path, kind = PHOTO_WAYS_IN[way_in]
    url = path.format(shop=shop.shop["id"], product=shop.product["id"])
    who = (shop.catalog.headers(shop.owner) if kind == "api"
           else shop.catalog.session_cookie(shop.owner))
    events_before = await shop.outbox_rows()
    wrong = []

    for name, bad in BAD_PHOTOS.items():
        answer = await shop.catalog.client.request(
            method, url, headers=who, files={"file": (bad.filename, bad.data, bad.content_type)})
        said = (answer.json()["error"]["message"] if kind == "api" else answer.text)
        if answer.status_code != bad.status:
            wrong.append(f"{name}: {answer.status_code} {said[:200]}")
        elif kind == "page" and bad.said_on_the_page not in said:
            wrong.append(f"{name}: the page does not say {bad.said_on_the_page!r}")
        elif kind == "api" and not said:
            wrong.append(f"{name}: no message")

    assert wrong == []
    assert await shop.photos() == ([], None)
    assert stored_files(shop.catalog) == []
    assert await shop.outbox_rows() == events_before


async def test_the_same_ways_in_take_a_real_photo(shop):
    """The refusals above are the files', not the ways in."""
    catalog = shop.catalog
    for method, path, kind in PHOTO_WAYS_IN.values():
        who = catalog.headers(shop.owner) if kind == "api" else catalog.session_cookie(shop.owner)
        answer = await catalog.client.request(
            method, path.format(shop=shop.shop["id"], product=shop.product["id"]), headers=who,
            files={"file": ("pain.jpg", jpeg((64, 48)), "image/jpeg")})
        assert answer.status_code in (200, 201, 303), (path, answer.status_code, answer.text[:200])

    product_photos, shop_photo = await shop.photos()
    assert len(product_photos) == 2 and shop_photo is not None


# --- the catalogue's CSV file --------------------------------------------------------------


HEADER = "sku;produit;variante;prix;stock;unite;tva;categories;etiquettes;description;disponible\n"
GOOD_ROW = "MIEL-250;Miel de fleurs;250 g;6,50;12;piece;5,5;epicerie;local;Du Trégor.;oui\n"


def gzipped(text: str) -> bytes:
    import gzip

    return gzip.compress(text.encode() * 1000)


# (file, what the report says, on which line)
BAD_CATALOGUES = {
    "a png named .csv": (encoded(Image.new("RGB", (8, 8)), "PNG"), "UTF-8", 1),
    "a gzip named .csv": (gzipped(HEADER + GOOD_ROW), "UTF-8", 1),
    # "Trégor" on line 2: the first byte that is not UTF-8 is the line said.
    "latin-1 text": ((HEADER + GOOD_ROW).encode("latin-1"), "UTF-8", 2),
    "empty": (b"", "vide", 1),
    "required columns missing": (b"produit;prix\nMiel;6,50\n", "obligatoires absentes", 1),
}


async def import_by_api(shop: Shop, data: bytes):
    return await shop.catalog.client.post(
        f"/catalog/api/v1/shops/{shop.shop['id']}/imports", params={"dry_run": "false"},
        headers=shop.catalog.headers(shop.owner),
        files={"file": ("catalogue.csv", data, "text/csv")})


async def import_by_form(shop: Shop, data: bytes):
    return await shop.catalog.client.post(
        f"/catalog/shops/{shop.shop['id']}/import", headers=shop.catalog.session_cookie(shop.owner),
        data={"mode": "importer"}, files={"file": ("catalogue.csv", data, "text/csv")})


async def skus(shop: Shop) -> set[str]:
    products = await shop.catalog.products(shop.shop["hub_id"])
    return {variant["sku"] for product in products for variant in product["variants"]
            if variant.get("sku")} | {product["name"] for product in products}


async def test_a_file_that_is_no_catalogue_is_reported_and_nothing_is_written(shop):
    before, events_before = await skus(shop), await shop.outbox_rows()
    wrong = []

    for name, (data, said, line) in BAD_CATALOGUES.items():
        by_api = await import_by_api(shop, data)
        by_form = await import_by_form(shop, data)
        errors = by_api.json().get("errors", [])
        if by_api.status_code != 200 or not any(
                said in error["message"] and error["line"] == line for error in errors):
            wrong.append(f"API, {name}: {by_api.status_code} {errors}")
        if by_form.status_code != 422 or said not in by_form.text:
            wrong.append(f"form, {name}: {by_form.status_code}")

    assert wrong == []
    assert await skus(shop) == before
    assert await shop.outbox_rows() == events_before


@pytest.mark.parametrize("send", [import_by_api, import_by_form], ids=["api", "form"])
async def test_a_file_over_5_mib_is_refused_before_it_is_read(shop, send):
    heavy = (HEADER + GOOD_ROW * (MAX_FILE_BYTES // len(GOOD_ROW) + 10)).encode()
    before, events_before = await skus(shop), await shop.outbox_rows()

    refused = await send(shop, heavy)

    assert refused.status_code == 413
    assert "5 MiB" in refused.text or "5 Mo" in refused.text
    assert await skus(shop) == before
    assert await shop.outbox_rows() == events_before


@pytest.mark.parametrize("bad_row, line, column", [
    ("PAIN-1;Pain de campagne;;-4,50;20;piece;5,5;boulangerie;;;oui\n", 3, "prix"),
    ("PAIN-1;Pain de campagne;;4,50;vingt;piece;5,5;boulangerie;;;oui\n", 3, "stock"),
    ("PAIN-1;" + "P" * 201 + ";;4,50;20;piece;5,5;boulangerie;;;oui\n", 3, "produit"),
    ("PAIN-1;Pain de campagne;;4,50\n", 3, None),
], ids=["negative price", "stock in words", "name too long", "fields missing"])
async def test_one_bad_row_among_good_ones_is_named_and_no_row_is_written(shop, bad_row, line,
                                                                        column):
    catalogue = (HEADER + GOOD_ROW + bad_row
                 + "CIDRE-1;Cidre brut;75 cl;4,00;6;piece;20;boissons;;;oui\n").encode()
    before, events_before = await skus(shop), await shop.outbox_rows()

    by_api = await import_by_api(shop, catalogue)
    by_form = await import_by_form(shop, catalogue)

    assert [(error["line"], error["column"]) for error in by_api.json()["errors"]] == [
        (line, column)]
    assert (by_api.json()["created"], by_api.json()["updated"]) == (0, 0)
    assert by_form.status_code == 422
    assert f">{line}<" in by_form.text or f"ligne {line}" in by_form.text.lower()
    assert await skus(shop) == before
    assert await shop.outbox_rows() == events_before
