"""Product photos on the shop's back office page (its section is templates/shop_photos.html), and
the shop's own photo on its profile page: forms that add, replace and remove them, then go back
to the page (303); a refused photo gets a page that says why."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from libs.auth.tokens import Principal
from libs.auth.web import MaybeUser
from libs.kit.app import Runtime
from libs.kit.errors import DomainError, Forbidden, NotFound
from libs.kit.i18n import N_
from libs.kit.i18n import gettext as _
from libs.kit.pages import problem_page, sign_in_redirect
from libs.kit.runtime import ServiceRuntime
from services.catalog.photos import use_cases as photo_use_cases
from services.catalog.photos.api import received_photo
from services.catalog.photos.rules import (
    MAX_PHOTOS_PER_PRODUCT,
    ImageTooLarge,
    MissingPhoto,
    NotAnImage,
    PhotoTooHeavy,
    TooManyPhotos,
)

router = APIRouter(include_in_schema=False)


@router.post("/shops/{shop_id}/products/{product_id}/photos")
async def add_photo(request: Request, shop_id: UUID, product_id: UUID, principal: MaybeUser,
                    runtime: Runtime) -> Response:
    if principal is None:
        return sign_in_redirect(request, f"/catalog/shops/{shop_id}")
    try:
        upload = await received_photo(request, photo_use_cases.photo_limits(runtime))
        await photo_use_cases.add_photo(runtime, principal, product_id, upload)
    except DomainError as refusal:
        return _refused(request, runtime, principal, shop_id, refusal, title=N_("Photo refusée"))
    return RedirectResponse(f"/catalog/shops/{shop_id}?fait=photo", status_code=303)


@router.post("/shops/{shop_id}/photos/{photo_id}/delete")
async def remove_photo(request: Request, shop_id: UUID, photo_id: UUID, principal: MaybeUser,
                       runtime: Runtime) -> Response:
    if principal is None:
        return sign_in_redirect(request, f"/catalog/shops/{shop_id}")
    try:
        await photo_use_cases.remove_photo(runtime, principal, photo_id)
    except DomainError as refusal:
        return _refused(request, runtime, principal, shop_id, refusal,
                        title=N_("Photo non retirée"))
    return RedirectResponse(f"/catalog/shops/{shop_id}?fait=photo-retiree", status_code=303)


@router.post("/shops/{shop_id}/profile/photo")
async def set_shop_photo(request: Request, shop_id: UUID, principal: MaybeUser,
                         runtime: Runtime) -> Response:
    profile = f"/catalog/shops/{shop_id}/profile"
    if principal is None:
        return sign_in_redirect(request, profile)
    try:
        upload = await received_photo(request, photo_use_cases.photo_limits(runtime))
        await photo_use_cases.set_shop_photo(runtime, principal, shop_id, upload)
    except DomainError as refusal:
        return _refused(request, runtime, principal, shop_id, refusal, title=N_("Photo refusée"),
                        of_shop=True)
    return RedirectResponse(f"{profile}?fait=photo", status_code=303)


@router.post("/shops/{shop_id}/profile/photo/delete")
async def remove_shop_photo(request: Request, shop_id: UUID, principal: MaybeUser,
                            runtime: Runtime) -> Response:
    profile = f"/catalog/shops/{shop_id}/profile"
    if principal is None:
        return sign_in_redirect(request, profile)
    try:
        await photo_use_cases.remove_shop_photo(runtime, principal, shop_id)
    except DomainError as refusal:
        return _refused(request, runtime, principal, shop_id, refusal,
                        title=N_("Photo non retirée"), of_shop=True)
    return RedirectResponse(f"{profile}?fait=photo-retiree", status_code=303)


def _refused(request: Request, runtime: ServiceRuntime, principal: Principal, shop_id: UUID,
             refusal: DomainError, *, title: str, of_shop: bool = False) -> Response:
    limits = photo_use_cases.photo_limits(runtime)
    about_shop = {
        Forbidden: N_("Seuls le commerçant et l'association du point de retrait gèrent la photo "
                      "de la boutique."),
        NotFound: N_("Cette boutique n'existe pas, ou n'a pas de photo."),
    }
    messages = {
        PhotoTooHeavy: N_("La photo pèse plus de %(megabytes)s Mo : envoyez une image plus "
                          "légère."),
        NotAnImage: N_("Ce fichier n'est pas une photo au format JPEG, PNG ou WebP."),
        ImageTooLarge: N_("L'image a trop de pixels (%(megapixels)s mégapixels au plus) : "
                          "réduisez-la avant de l'envoyer."),
        MissingPhoto: N_("Choisissez d'abord une photo à envoyer."),
        TooManyPhotos: N_("Un produit a %(count)d photos au plus : retirez-en une avant d'en "
                          "ajouter une autre."),
        Forbidden: N_("Seul le commerçant de la boutique peut gérer les photos de ses produits."),
        NotFound: N_("Ce produit ou cette photo n'existe pas (ou plus)."),
    } | (about_shop if of_shop else {})
    message = next((text for kind, text in messages.items() if isinstance(refusal, kind)),
                   N_("La photo n'a pas pu être enregistrée."))
    limits_said = {"megabytes": f"{limits.max_bytes / 2**20:g}",
                   "megapixels": f"{limits.max_pixels / 1e6:g}", "count": MAX_PHOTOS_PER_PRODUCT}
    back = ((f"/catalog/shops/{shop_id}/profile", _("Retour au profil")) if of_shop
            else (f"/catalog/shops/{shop_id}", _("Retour à la boutique")))
    return problem_page(request, principal, refusal.status, title=_(title),
                        message=_(message) % limits_said, back=back)
