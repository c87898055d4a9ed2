"""Product photos and shops' photos in the catalog's JSON API (under /catalog/api/v1), and the
photos kept in a folder served at /catalog/media/<key>."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse
from starlette.datastructures import UploadFile

from libs.auth.web import CurrentUser
from libs.kit.app import Runtime
from libs.kit.errors import NotFound, error_responses
from services.catalog.photos import use_cases as photo_use_cases
from services.catalog.photos.rules import MissingPhoto, PhotoLimits, check_weight
from services.catalog.photos.storage import CACHE_CONTROL, FolderStorage, content_type_of
from services.catalog.photos.use_cases import PhotoView, ShopPicture

router = APIRouter(tags=["photos"])

UPLOAD_FIELD = "file"
# Room for the multipart boundaries and headers around the photo itself.
_FORM_OVERHEAD_BYTES = 16 * 1024
_UPLOAD_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": [UPLOAD_FIELD],
    "properties": {UPLOAD_FIELD: {"type": "string", "format": "binary",
                                  "description": "A JPEG, PNG or WebP photo."}},
}}}}}


async def received_photo(request: Request, limits: PhotoLimits) -> bytes:
    """The photo sent as the multipart field ``file``; a body announced heavier than the limit is
    refused before it is read."""
    announced = request.headers.get("content-length", "")
    if announced.isdigit():
        check_weight(int(announced) - _FORM_OVERHEAD_BYTES, limits)
    async with request.form(max_files=1, max_fields=10) as form:
        upload = form.get(UPLOAD_FIELD)
        if not isinstance(upload, UploadFile):
            raise MissingPhoto(f"send the photo as the multipart form field {UPLOAD_FIELD!r}")
        photo = await upload.read(limits.max_bytes + 1)
    check_weight(len(photo), limits)
    return photo


@router.post("/api/v1/products/{product_id}/photos", status_code=201, response_model=PhotoView,
             openapi_extra=_UPLOAD_BODY, responses=error_responses(413, 415))
async def add_photo(product_id: UUID, request: Request, principal: CurrentUser, runtime: Runtime):
    """The shop's owner only. The photo is decoded (JPEG, PNG or WebP; 415 otherwise), refused
    when too heavy (413) or too large (422), turned upright and stripped of its metadata; kept
    at 2,000 px at most on its long side, with a 400 px thumbnail. 8 photos per product at most
    (409)."""
    upload = await received_photo(request, photo_use_cases.photo_limits(runtime))
    return await photo_use_cases.add_photo(runtime, principal, product_id, upload)


@router.get("/api/v1/products/{product_id}/photos", response_model=list[PhotoView])
async def list_photos(product_id: UUID, runtime: Runtime):
    """The product's photos, oldest first."""
    return await photo_use_cases.photos_of_product(runtime, product_id)


@router.delete("/api/v1/photos/{photo_id}", status_code=204)
async def remove_photo(photo_id: UUID, principal: CurrentUser, runtime: Runtime) -> Response:
    """The shop's owner only."""
    await photo_use_cases.remove_photo(runtime, principal, photo_id)
    return Response(status_code=204)


@router.put("/api/v1/shops/{shop_id}/photo", response_model=ShopPicture,
            openapi_extra=_UPLOAD_BODY, responses=error_responses(413, 415))
async def set_shop_photo(shop_id: UUID, request: Request, principal: CurrentUser,
                         runtime: Runtime):
    """The shop's owner, its hub's administrators acting for it, platform administrators: the
    photo shown on the shop's window and its hub's page, in place of the one before. Checked and
    kept like a product's photo (413, 415, 422 likewise)."""
    upload = await received_photo(request, photo_use_cases.photo_limits(runtime))
    return await photo_use_cases.set_shop_photo(runtime, principal, shop_id, upload)


@router.delete("/api/v1/shops/{shop_id}/photo", status_code=204)
async def remove_shop_photo(shop_id: UUID, principal: CurrentUser, runtime: Runtime) -> Response:
    """As for setting it; 404 when the shop has no photo."""
    await photo_use_cases.remove_shop_photo(runtime, principal, shop_id)
    return Response(status_code=204)


@router.get("/media/{key:path}", include_in_schema=False)
async def media(key: str, runtime: Runtime) -> Response:
    storage = photo_use_cases.photo_storage(runtime)
    if not isinstance(storage, FolderStorage):
        raise NotFound("no such media")
    path = storage.path_of(key)
    if not path.is_file():
        raise NotFound("no such media")
    return FileResponse(path, media_type=content_type_of(key),
                        headers={"Cache-Control": CACHE_CONTROL, "X-Content-Type-Options": "nosniff"})
