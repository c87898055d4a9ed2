"""Product photos: what an upload must be, what is kept of it, who may add and remove them, and
the two storages (a folder served by the catalog, an S3-compatible bucket)."""

from __future__ import annotations

import asyncio
import json
import struct
import zlib
from io import BytesIO
from uuid import uuid4

import boto3
import httpx
import pytest
from botocore.config import Config
from moto.server import ThreadedMotoServer
from PIL import ExifTags, Image

from libs.kit.errors import NotFound
from services.catalog.bootstrap import CatalogSettings
from services.catalog.photos.rules import MAX_PHOTOS_PER_PRODUCT
from services.catalog.photos.storage import FolderStorage, S3Storage
from tests.services.catalog.support import running_catalog

BUCKET = "adopte-photos"


# --- pictures ------------------------------------------------------------------------------


def encoded(picture: Image.Image, image_format: str, **options) -> bytes:
    buffer = BytesIO()
    picture.save(buffer, image_format, **options)
    return buffer.getvalue()


def jpeg(size: tuple[int, int] = (1200, 800), **options) -> bytes:
    return encoded(Image.new("RGB", size, (190, 120, 60)), "JPEG", **options)


def png_declaring(width: int, height: int) -> bytes:
    """A PNG of a few bytes whose header claims ``width`` × ``height`` pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def decoded(data: bytes) -> Image.Image:
    picture = Image.open(BytesIO(data))
    picture.load()
    return picture


# --- the catalog, a shop and its product ---------------------------------------------------


@pytest.fixture
async def product(catalog):
    hub_id = await catalog.open_hub()
    owner = await catalog.register("marie@fournil.test")
    shop = await catalog.open_shop(hub_id, owner)
    return owner, shop, await catalog.list_product(shop, owner, "Pain de campagne")


async def upload(catalog, owner, product, data: bytes, filename: str = "photo.jpg",
                 content_type: str = "image/jpeg") -> httpx.Response:
    headers = catalog.headers(owner) if owner else {}
    return await catalog.client.post(f"/catalog/api/v1/products/{product['id']}/photos",
                                     headers=headers, files={"file": (filename, data, content_type)})


async def added(catalog, owner, product, data: bytes | None = None) -> dict:
    answer = await upload(catalog, owner, product, data or jpeg((64, 48)))
    assert answer.status_code == 201, answer.text
    return answer.json()


async def media(catalog, url: str) -> httpx.Response:
    return await catalog.client.get(url)


def stored_files(catalog) -> list[str]:
    root = catalog.runtime.adapters["photos"].root
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


# --- what is kept --------------------------------------------------------------------------


async def test_a_jpeg_is_kept_with_a_thumbnail_and_served_as_webp(catalog, product):
    owner, _, bread = product

    answer = await upload(catalog, owner, bread, jpeg((1200, 800)))

    assert answer.status_code == 201, answer.text
    photo = answer.json()
    assert (photo["width"], photo["height"]) == (1200, 800)
    assert (photo["thumbnail_width"], photo["thumbnail_height"]) == (400, 267)
    assert photo["url"] == f"/catalog/media/photos/{photo['id']}/original.webp"
    for url, size in ((photo["url"], (1200, 800)), (photo["thumbnail_url"], (400, 267))):
        served = await media(catalog, url)
        assert served.status_code == 200
        assert served.headers["content-type"] == "image/webp"
        assert "immutable" in served.headers["cache-control"]
        assert served.headers["x-content-type-options"] == "nosniff"
        assert decoded(served.content).size == size
    listed = await catalog.client.get(f"/catalog/api/v1/products/{bread['id']}/photos")
    assert listed.status_code == 200
    assert [p["id"] for p in listed.json()] == [photo["id"]]


async def test_a_large_png_is_shrunk_to_2000_px_and_keeps_its_transparency(catalog, product):
    owner, _, bread = product
    picture = Image.new("RGBA", (3000, 1500), (20, 90, 40, 128))

    photo = await added(catalog, owner, bread, encoded(picture, "PNG"))

    assert (photo["width"], photo["height"]) == (2000, 1000)
    assert (photo["thumbnail_width"], photo["thumbnail_height"]) == (400, 200)
    original = decoded((await media(catalog, photo["url"])).content)
    assert (original.size, original.mode) == ((2000, 1000), "RGBA")


async def test_metadata_is_stripped_and_the_photo_turned_upright(catalog, product):
    owner, _, bread = product
    picture = Image.new("RGB", (600, 300), (200, 30, 30))
    exif = picture.getexif()
    exif[ExifTags.Base.Orientation] = 6  # taken sideways: to be turned a quarter clockwise
    exif[ExifTags.Base.Model] = "Phone of Marie"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef], gps[ExifTags.GPS.GPSLatitude] = "N", (48.0, 46.0, 51.0)
    sent = encoded(picture, "JPEG", exif=exif)
    assert decoded(sent).getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the upload does carry a place

    photo = await added(catalog, owner, bread, sent)

    assert (photo["width"], photo["height"]) == (300, 600)
    for url in (photo["url"], photo["thumbnail_url"]):
        kept = (await media(catalog, url)).content
        assert not decoded(kept).getexif()
        assert b"Exif" not in kept and b"EXIF" not in kept and b"Phone of Marie" not in kept


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
async def test_a_photo_with_unreadable_exif_is_kept_without_it(catalog, product):
    owner, _, bread = product
    # Once made by a phone, then damaged: Pillow trips over it when it reads the orientation.
    broken_exif = bytes.fromhex(
        "4578696600004d4d002a000000080003011000020000001f0000003201120003000000010006000088250004"
        "000000010000005200000000787878787878787878787878557878787878787878787878787878717878000000"
        "ec00010002000000024e0000000002000500000003000000700000b500000000010000e9010000000200000001"
        "0000000300000001")

    photo = await added(catalog, owner, bread, jpeg((60, 40), exif=broken_exif))

    assert (photo["width"], photo["height"]) == (60, 40)
    assert not decoded((await media(catalog, photo["url"])).content).getexif()


# --- what is refused -----------------------------------------------------------------------


@pytest.mark.parametrize("data, filename, content_type", [
    (b"Bonjour, ceci est un texte et non une photo.\n" * 20, "photo.jpg", "image/jpeg"),
    (encoded(Image.new("RGB", (40, 40)), "GIF"), "anim.gif", "image/gif"),
    (jpeg()[:600], "truncated.jpg", "image/jpeg"),
], ids=["text-named-jpg", "gif", "truncated-jpeg"])
async def test_what_is_not_a_jpeg_png_or_webp_image_is_refused(catalog, product, data, filename,
                                                              content_type):
    owner, _, bread = product

    refused = await upload(catalog, owner, bread, data, filename, content_type)

    assert refused.status_code == 415
    assert "not an image" in refused.json()["error"]["message"]
    assert (await catalog.client.get(f"/catalog/api/v1/products/{bread['id']}/photos")).json() == []
    assert stored_files(catalog) == []


@pytest.mark.parametrize("extra_bytes", [1, 2 * 2**20], ids=["just-over", "announced-over"])
async def test_a_photo_heavier_than_the_limit_is_refused(catalog, product, extra_bytes):
    owner, _, bread = product
    too_heavy = jpeg() + b"\0" * (5 * 2**20 - len(jpeg()) + extra_bytes)

    refused = await upload(catalog, owner, bread, too_heavy)

    assert refused.status_code == 413
    assert "5 MiB" in refused.json()["error"]["message"]
    assert stored_files(catalog) == []


@pytest.mark.parametrize("width, height", [(8000, 6000), (60_000, 60_000)],
                         ids=["48-megapixels", "3.6-gigapixels"])
async def test_a_decompression_bomb_is_refused_before_it_is_decoded(catalog, product, width, height):
    owner, _, bread = product

    refused = await upload(catalog, owner, bread, png_declaring(width, height), "bomb.png",
                           "image/png")

    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "image_too_large"
    assert stored_files(catalog) == []


async def test_a_request_without_the_file_field_is_refused(catalog, product):
    owner, _, bread = product

    refused = await catalog.client.post(f"/catalog/api/v1/products/{bread['id']}/photos",
                                        headers=catalog.headers(owner), files={"photo": b"x"})

    assert refused.status_code == 422
    assert "'file'" in refused.json()["error"]["message"]


async def test_a_product_has_eight_photos_at_most(catalog, product):
    owner, _, bread = product
    for _ in range(MAX_PHOTOS_PER_PRODUCT):
        await added(catalog, owner, bread)

    ninth = await upload(catalog, owner, bread, jpeg((64, 48)))

    assert ninth.status_code == 409
    listed = await catalog.client.get(f"/catalog/api/v1/products/{bread['id']}/photos")
    assert len(listed.json()) == MAX_PHOTOS_PER_PRODUCT
    assert len(stored_files(catalog)) == 2 * MAX_PHOTOS_PER_PRODUCT


async def test_concurrent_uploads_never_pass_eight_photos(catalog_on_each_database):
    catalog = catalog_on_each_database
    hub_id = await catalog.open_hub()
    owner = await catalog.register("marie@fournil.test")
    bread = await catalog.list_product(await catalog.open_shop(hub_id, owner), owner)

    answers = await asyncio.gather(*(upload(catalog, owner, bread, jpeg((64, 48)))
                                     for _ in range(MAX_PHOTOS_PER_PRODUCT + 3)))

    assert sorted(answer.status_code for answer in answers) == [201] * 8 + [409] * 3
    listed = await catalog.client.get(f"/catalog/api/v1/products/{bread['id']}/photos")
    assert len(listed.json()) == MAX_PHOTOS_PER_PRODUCT
    assert len(stored_files(catalog)) == 2 * MAX_PHOTOS_PER_PRODUCT  # the refused ones left nothing


async def test_only_the_shops_owner_adds_and_removes_its_photos(catalog, product):
    owner, _, bread = product
    photo = await added(catalog, owner, bread)
    hub_id = await catalog.open_hub("La Fabrique", "Lannion")
    other_owner = await catalog.register("paul@fromagerie.test")
    await catalog.open_shop(hub_id, other_owner, "Fromagerie du Trégor")
    resident = await catalog.register("lou@habitante.test")

    for someone in (other_owner, resident):
        assert (await upload(catalog, someone, bread, jpeg())).status_code == 403
        removed = await catalog.client.delete(f"/catalog/api/v1/photos/{photo['id']}",
                                              headers=catalog.headers(someone))
        assert removed.status_code == 403
    assert (await upload(catalog, None, bread, jpeg())).status_code == 401
    assert (await catalog.client.delete(f"/catalog/api/v1/photos/{photo['id']}")).status_code == 401
    listed = await catalog.client.get(f"/catalog/api/v1/products/{bread['id']}/photos")
    assert [p["id"] for p in listed.json()] == [photo["id"]]
    assert len(stored_files(catalog)) == 2


async def test_unknown_products_and_photos_are_not_found(catalog, product):
    owner, _, _ = product
    nowhere = {"id": str(uuid4())}

    assert (await upload(catalog, owner, nowhere, jpeg())).status_code == 404
    assert (await catalog.client.get(f"/catalog/api/v1/products/{nowhere['id']}/photos")
            ).status_code == 404
    assert (await catalog.client.delete(f"/catalog/api/v1/photos/{uuid4()}",
                                        headers=catalog.headers(owner))).status_code == 404


async def test_a_removed_photo_is_gone_with_its_images(catalog, product):
    owner, _, bread = product
    kept = await added(catalog, owner, bread)
    removed = await added(catalog, owner, bread)

    answer = await catalog.client.delete(f"/catalog/api/v1/photos/{removed['id']}",
                                         headers=catalog.headers(owner))

    assert answer.status_code == 204
    listed = await catalog.client.get(f"/catalog/api/v1/products/{bread['id']}/photos")
    assert [p["id"] for p in listed.json()] == [kept["id"]]
    assert await catalog.runtime.settle(timeout=10)
    assert (await media(catalog, removed["url"])).status_code == 404
    assert (await media(catalog, removed["thumbnail_url"])).status_code == 404
    assert (await media(catalog, kept["url"])).status_code == 200
    assert stored_files(catalog) == [f"photos/{kept['id']}/original.webp",
                                     f"photos/{kept['id']}/thumbnail.webp"]
    again = await catalog.client.delete(f"/catalog/api/v1/photos/{removed['id']}",
                                        headers=catalog.headers(owner))
    assert again.status_code == 404


# --- the folder storage --------------------------------------------------------------------


@pytest.mark.parametrize("path", [
    "/catalog/media/%2e%2e/keys/private.pem",
    "/catalog/media/..%2fkeys%2fprivate.pem",
    "/catalog/media/photos/%2e%2e%2f%2e%2e%2fcatalog.sqlite3",
    "/catalog/media/%2e%2e/catalog.webp",
    "/catalog/media/%2Fetc%2Fpasswd",
    "/catalog/media/photos/x/original.webp%00.pem",
])
async def test_media_outside_the_photos_are_never_served(catalog, product, path):
    owner, _, bread = product
    await added(catalog, owner, bread)
    (catalog.runtime.settings.data_dir / "catalog.webp").write_bytes(b"not for you")

    refused = await catalog.client.get(path)

    assert refused.status_code == 404
    assert b"PRIVATE KEY" not in refused.content and b"not for you" not in refused.content


@pytest.mark.parametrize("key", ["../keys/private.webp", "/etc/passwd.png", "photos/../../x.webp",
                                 "photos\\..\\x.webp", "Photos/X.WEBP", "photos/x.exe"])
def test_the_folder_storage_takes_only_keys_it_made(tmp_path, key):
    with pytest.raises(NotFound):
        FolderStorage(tmp_path / "media").path_of(key)


# --- the pages -----------------------------------------------------------------------------


async def test_the_owner_adds_and_removes_a_photo_from_the_shop_page(catalog, product):
    owner, shop, bread = product
    cookie = catalog.session_cookie(owner)
    page = await catalog.client.get(f"/catalog/shops/{shop['id']}", headers=cookie)
    action = f"/catalog/shops/{shop['id']}/products/{bread['id']}/photos"
    assert f'action="{action}"' in page.text and 'enctype="multipart/form-data"' in page.text

    sent = await catalog.client.post(action, headers=cookie,
                                     files={"file": ("pain.jpg", jpeg(), "image/jpeg")})

    assert sent.status_code == 303
    assert sent.headers["location"] == f"/catalog/shops/{shop['id']}?fait=photo"
    [photo] = (await catalog.client.get(f"/catalog/api/v1/products/{bread['id']}/photos")).json()
    page = await catalog.client.get(sent.headers["location"], headers=cookie)
    assert "Photo ajoutée." in page.text
    assert f'src="{photo["thumbnail_url"]}"' in page.text
    assert 'alt="Photo 1 de Pain de campagne"' in page.text

    removed = await catalog.client.post(f"/catalog/shops/{shop['id']}/photos/{photo['id']}/delete",
                                        headers=cookie)

    assert removed.status_code == 303
    assert removed.headers["location"] == f"/catalog/shops/{shop['id']}?fait=photo-retiree"
    assert (await catalog.client.get(f"/catalog/api/v1/products/{bread['id']}/photos")).json() == []


async def test_a_refused_photo_form_says_why_in_french(catalog, product):
    owner, shop, bread = product

    refused = await catalog.client.post(
        f"/catalog/shops/{shop['id']}/products/{bread['id']}/photos",
        headers=catalog.session_cookie(owner),
        files={"file": ("menu.jpg", b"%PDF-1.7 not a photo", "image/jpeg")})

    assert refused.status_code == 415
    assert "text/html" in refused.headers["content-type"]
    assert "JPEG, PNG ou WebP" in refused.text
    assert f'href="/catalog/shops/{shop["id"]}"' in refused.text


async def test_a_photo_form_sent_signed_out_leads_to_the_sign_in_page(catalog, product):
    _, shop, bread = product

    sent = await catalog.client.post(f"/catalog/shops/{shop['id']}/products/{bread['id']}/photos",
                                     files={"file": ("pain.jpg", jpeg(), "image/jpeg")})

    assert sent.status_code == 303
    assert sent.headers["location"].startswith("/accounts/login?next=")
    assert (await catalog.client.get(f"/catalog/api/v1/products/{bread['id']}/photos")).json() == []


# --- the S3-compatible storage -------------------------------------------------------------


@pytest.fixture(scope="module")
def s3_endpoint():
    """An S3-compatible server with a bucket whose photos anyone may read, as the storage's
    documentation asks of the bucket."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    endpoint = "http://{}:{}".format(*server.get_host_and_port())
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test",
                          config=Config(s3={"addressing_style": "path"}))
    client.create_bucket(Bucket=BUCKET)
    client.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                       "Resource": f"arn:aws:s3:::{BUCKET}/photos/*"}],
    }))
    yield endpoint
    server.stop()


async def test_the_s3_storage_puts_serves_and_deletes_objects(s3_endpoint):
    storage = S3Storage(bucket=BUCKET, endpoint_url=s3_endpoint, region="us-east-1",
                        access_key_id="test", secret_access_key="test")
    await storage.start()
    key = f"photos/{uuid4()}/thumbnail.webp"
    try:
        await storage.put(key, b"RIFF-webp-bytes", "image/webp")

        assert storage.url(key) == f"{s3_endpoint}/{BUCKET}/{key}"
        async with httpx.AsyncClient() as browser:
            served = await browser.get(storage.url(key))
            assert served.status_code == 200
            assert served.content == b"RIFF-webp-bytes"
            assert served.headers["content-type"] == "image/webp"
            assert "immutable" in served.headers["cache-control"]

            await storage.delete([key, f"photos/{uuid4()}/original.webp"])

            assert (await browser.get(storage.url(key))).status_code in {403, 404}
    finally:
        await storage.stop()


async def test_the_catalog_keeps_photos_in_the_bucket_when_told_to(tmp_path, s3_endpoint):
    settings = CatalogSettings(data_dir=tmp_path, outbox_relay=False, photo_storage="s3",
                               photo_s3_bucket=BUCKET, photo_s3_endpoint_url=s3_endpoint,
                               photo_s3_access_key_id="test", photo_s3_secret_access_key="test")
    async with running_catalog(settings) as catalog:
        hub_id = await catalog.open_hub()
        owner = await catalog.register("marie@fournil.test")
        bread = await catalog.list_product(await catalog.open_shop(hub_id, owner), owner)

        photo = await added(catalog, owner, bread, jpeg((900, 600)))

        assert photo["url"].startswith(f"{s3_endpoint}/{BUCKET}/photos/{photo['id']}/")
        async with httpx.AsyncClient() as browser:
            thumbnail = await browser.get(photo["thumbnail_url"])
            assert thumbnail.status_code == 200
            assert decoded(thumbnail.content).size == (400, 267)
            in_a_folder = f"/catalog/media/photos/{photo['id']}/original.webp"
            assert (await catalog.client.get(in_a_folder)).status_code == 404
            removed = await catalog.client.delete(f"/catalog/api/v1/photos/{photo['id']}",
                                                  headers=catalog.headers(owner))
            assert removed.status_code == 204
            assert await catalog.runtime.settle(timeout=10)
            assert (await browser.get(photo["thumbnail_url"])).status_code in {403, 404}
        assert not (tmp_path / "media").exists()


def test_the_s3_storage_needs_a_bucket(tmp_path):
    with pytest.raises(ValueError, match="photo_s3_bucket"):
        CatalogSettings(data_dir=tmp_path, photo_storage="s3")
