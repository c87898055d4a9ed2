"""The catalog service's pages, in French: the shops of the person signed in, a shop's products
for its owner, a hub's shops for those who run it. Forms post, then redirect (303); a refused form
comes back with its message."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from libs.auth.tokens import Principal
from libs.auth.web import MaybeUser
from libs.kit.app import Runtime
from libs.kit.errors import DomainError, Forbidden, NotFound
from libs.kit.i18n import N_
from libs.kit.i18n import gettext as _
from libs.kit.pages import problem_page, sign_in_redirect, templates_for
from services.catalog import use_cases
from services.catalog.domain import (
    CATEGORIES,
    DEFAULT_VAT_RATE_BPS,
    MAX_VARIANTS,
    UNITS,
    VAT_RATES,
    InvalidMemberPrice,
    InvalidPrice,
    LabelTaken,
    NewProduct,
    ShopDetails,
    SkuTaken,
    StockBelowReserved,
    StockCount,
    TooManyVariants,
    UnknownAccount,
    VariantChanges,
    VariantDetails,
    cents_to_euros,
    euros_to_cents,
)
from services.catalog.photos import use_cases as photo_use_cases

router = APIRouter(include_in_schema=False)
templates = templates_for(__file__)
templates.env.globals.update(UNITS=UNITS, VAT_RATES=VAT_RATES, CATEGORIES=CATEGORIES,
                             DEFAULT_VAT_RATE_BPS=DEFAULT_VAT_RATE_BPS)
templates.env.filters["euros"] = cents_to_euros
# Through Python's gettext, which leaves "%" alone (the templates' would read it as a placeholder).
templates.env.filters["vat_rate"] = lambda bps: _(VAT_RATES.get(int(bps), str(bps)))

NOTICES = {
    "produit": N_("Produit ajouté."),
    "variante": N_("Variante ajoutée."),
    "stock": N_("Stock mis à jour."),
    "prix-adherent": N_("Prix adhérent enregistré."),
    "boutique": N_("Boutique ouverte."),
    "invitation": N_("Invitation enregistrée : la boutique attend son commerçant."),
    "invitation-acceptee": N_("Invitation acceptée : votre boutique est ouverte."),
    "photo": N_("Photo ajoutée."),
    "photo-retiree": N_("Photo retirée."),
}

FIELD_PROBLEMS = {
    "name": N_("Indiquez un nom (200 caractères au plus)."),
    "price_cents": N_("Prix invalide : indiquez un montant en euros, par exemple 4,50."),
    "member_price_cents": N_("Prix adhérent invalide : un montant en euros inférieur au prix, "
                             "par exemple 3,20, ou rien."),
    "stock": N_("Stock invalide : indiquez un nombre entier d'unités, de 0 à 1 000 000."),
    "description": N_("Description trop longue (2 000 caractères au plus)."),
    "label": N_("Variante invalide : 50 caractères au plus, par exemple « 500 g »."),
    "variants": N_("Chaque variante d'un produit a son propre nom."),
    "unit": N_("Choisissez l'unité de vente."),
    "vat_rate_bps": N_("Choisissez un taux de TVA."),
    "categories": N_("Choisissez une catégorie de la liste."),
    "reason": N_("Motif trop long (200 caractères au plus)."),
    "owner_email": N_("Adresse e-mail invalide."),
}

INVALID_FORM = N_("Formulaire invalide.")

REFUSALS = {
    StockBelowReserved: N_("Le stock ne peut pas descendre sous les unités réservées pour des "
                           "commandes en cours."),
    SkuTaken: N_("Cette référence (SKU) est déjà celle d'un autre article de la boutique."),
    LabelTaken: N_("Ce produit a déjà une variante de ce nom."),
    TooManyVariants: N_("Un produit a %(count)d variantes au plus."),
    InvalidMemberPrice: N_("Le prix adhérent doit être inférieur au prix de la variante."),
    UnknownAccount: N_("Aucun compte n'a cette adresse e-mail : la personne doit d'abord "
                       "s'inscrire."),
    Forbidden: N_("Vous n'avez pas accès à cette page."),
    NotFound: N_("Cette page n'existe pas (ou plus)."),
}


@router.get("/shops")
async def my_shops_page(request: Request, principal: MaybeUser, runtime: Runtime) -> Response:
    if principal is None:
        return sign_in_redirect(request)
    mine = await use_cases.shops_of(runtime, principal)
    return _render(request, "my_shops.html", principal, mine=mine)


@router.get("/shops/{shop_id}")
async def shop_page(request: Request, shop_id: UUID, principal: MaybeUser, runtime: Runtime,
                    fait: str | None = None) -> Response:
    if principal is None:
        return sign_in_redirect(request)
    return await _render_shop(request, runtime, principal, shop_id, notice=_notice(fait))


@router.post("/shops/{shop_id}/products")
async def add_product(request: Request, shop_id: UUID, principal: MaybeUser,
                      runtime: Runtime) -> Response:
    if principal is None:
        return sign_in_redirect(request, f"/catalog/shops/{shop_id}")
    form = await _fields(request, PRODUCT_FORM)
    try:
        await use_cases.list_product(runtime, principal, shop_id, _product_form(form))
    except (ValidationError, DomainError) as problem:
        return await _render_shop(request, runtime, principal, shop_id, problem=problem, form=form)
    return _see(f"/catalog/shops/{shop_id}?fait=produit")


@router.post("/shops/{shop_id}/products/{product_id}/variants")
async def add_variant(request: Request, shop_id: UUID, product_id: UUID, principal: MaybeUser,
                      runtime: Runtime) -> Response:
    if principal is None:
        return sign_in_redirect(request, f"/catalog/shops/{shop_id}")
    form = await _fields(request, VARIANT_FORM)
    try:
        await use_cases.add_variant(runtime, principal, product_id, _variant_form(form))
    except (ValidationError, DomainError) as problem:
        return await _render_shop(request, runtime, principal, shop_id, problem=problem,
                                  variant_form={**form, "product_id": str(product_id)})
    return _see(f"/catalog/shops/{shop_id}?fait=variante")


@router.post("/shops/{shop_id}/variants/{variant_id}/stock")
async def set_stock(request: Request, shop_id: UUID, variant_id: UUID, principal: MaybeUser,
                    runtime: Runtime, stock: Annotated[str, Form()] = "",
                    reason: Annotated[str, Form()] = "") -> Response:
    if principal is None:
        return sign_in_redirect(request, f"/catalog/shops/{shop_id}")
    try:
        count = StockCount(stock=stock, **({"reason": reason} if reason.strip() else {}))
        await use_cases.set_on_hand(runtime, principal, variant_id, count)
    except (ValidationError, DomainError) as problem:
        return await _render_shop(request, runtime, principal, shop_id, problem=problem)
    return _see(f"/catalog/shops/{shop_id}?fait=stock")


@router.post("/shops/{shop_id}/variants/{variant_id}/member-price")
async def set_member_price(request: Request, shop_id: UUID, variant_id: UUID,
                           principal: MaybeUser, runtime: Runtime,
                           member_price: Annotated[str, Form()] = "") -> Response:
    """The variant's member price in euros; left empty, the variant has none."""
    if principal is None:
        return sign_in_redirect(request, f"/catalog/shops/{shop_id}")
    try:
        changes = VariantChanges(member_price_cents=_member_price_cents(member_price))
        await use_cases.change_variant(runtime, principal, variant_id, changes)
    except (ValidationError, DomainError) as problem:
        return await _render_shop(request, runtime, principal, shop_id, problem=problem)
    return _see(f"/catalog/shops/{shop_id}?fait=prix-adherent")


@router.get("/hubs/{hub_id}/shops")
async def hub_shops_page(request: Request, hub_id: UUID, principal: MaybeUser, runtime: Runtime,
                         fait: str | None = None) -> Response:
    if principal is None:
        return sign_in_redirect(request)
    return await _render_hub(request, runtime, principal, hub_id, notice=_notice(fait))


@router.post("/hubs/{hub_id}/shops")
async def open_shop(request: Request, hub_id: UUID, principal: MaybeUser, runtime: Runtime,
                    name: Annotated[str, Form()] = "",
                    owner_email: Annotated[str, Form()] = "") -> Response:
    if principal is None:
        return sign_in_redirect(request, f"/catalog/hubs/{hub_id}/shops")
    try:
        details = ShopDetails(hub_id=hub_id, name=name, owner_email=owner_email)
        await use_cases.open_shop(runtime, principal, details)
    except (ValidationError, DomainError) as problem:
        return await _render_hub(request, runtime, principal, hub_id, problem=problem,
                                 form={"name": name, "owner_email": owner_email})
    return _see(f"/catalog/hubs/{hub_id}/shops?fait=boutique")


PRODUCT_FORM = ("name", "description", "unit", "vat_rate_bps", "category", "label", "price",
                "member_price", "stock")
VARIANT_FORM = ("label", "price", "member_price", "stock")


async def _fields(request: Request, names: tuple[str, ...]) -> dict[str, str]:
    form = await request.form()
    return {name: str(form.get(name, "")) for name in names}


def _product_form(form: dict[str, str]) -> NewProduct:
    """The product the form describes, sold one way (its one variant, its price in euros)."""
    vat = form["vat_rate_bps"]
    return NewProduct(
        name=form["name"], description=form["description"], unit=form["unit"] or "piece",
        vat_rate_bps=int(vat) if vat.isdigit() else DEFAULT_VAT_RATE_BPS,
        categories=[form["category"]] if form["category"] else [],
        variants=[_variant_fields(form)],
    )


def _variant_form(form: dict[str, str]) -> VariantDetails:
    return VariantDetails(**_variant_fields(form))


def _variant_fields(form: dict[str, str]) -> dict:
    """A variant's fields, its price read from euros ("4,50")."""
    try:
        price_cents = euros_to_cents(form["price"])
    except InvalidPrice:
        # Refused by the model, so that every faulty field is reported at once.
        price_cents = None
    return {"label": form["label"], "price_cents": price_cents, "stock": form["stock"],
            "member_price_cents": _member_price_cents(form["member_price"])}


def _member_price_cents(euros: str) -> int | str | None:
    """An optional price in euros as cents; None when left empty. Text that is no price is
    handed on as it is, for the model to refuse with the other faulty fields."""
    if not euros.strip():
        return None
    try:
        return euros_to_cents(euros)
    except InvalidPrice:
        return euros


async def _render_shop(request: Request, runtime: Runtime, principal: Principal, shop_id: UUID, *,
                       problem: Exception | None = None, **context) -> Response:
    try:
        catalog = await use_cases.shop_with_products(runtime, principal, shop_id)
    except DomainError as refusal:
        return _refused(request, principal, refusal)
    if problem is not None:
        context.update(_problem_context(problem))
    products = catalog.products
    photos = await photo_use_cases.shop_photos(runtime, [product.id for product in products])
    return _render(request, "shop.html", principal, shop=catalog.shop, products=products,
                   adjustments=catalog.adjustments, articles=catalog.articles(), photos=photos,
                   **context)


async def _render_hub(request: Request, runtime: Runtime, principal: Principal, hub_id: UUID, *,
                      problem: Exception | None = None, **context) -> Response:
    try:
        hub, shops = await use_cases.hub_with_shops(runtime, principal, hub_id)
    except DomainError as refusal:
        return _refused(request, principal, refusal)
    if problem is not None:
        context.update(_problem_context(problem))
    return _render(request, "hub_shops.html", principal, hub=hub, shops=shops, **context)


def _problem_context(problem: Exception) -> dict:
    if isinstance(problem, ValidationError):
        fields = [_field_named(error["loc"]) for error in problem.errors()]
        messages = dict.fromkeys(_(FIELD_PROBLEMS.get(f, INVALID_FORM)) for f in fields)
        return {"error": " ".join(messages), "status_code": 422}
    status = problem.status if isinstance(problem, DomainError) else 400
    return {"error": _refusal_message(problem), "status_code": status}


def _field_named(location: tuple) -> str:
    """The form field an error is about: the innermost name ("price_cents" of a variant)."""
    return next((str(part) for part in reversed(location) if isinstance(part, str)), "")


def _refusal_message(problem: Exception) -> str:
    text = next((text for kind, text in REFUSALS.items() if isinstance(problem, kind)),
                N_("Votre demande n'a pas pu aboutir."))
    return _(text) % {"count": MAX_VARIANTS}


def _notice(done: str | None) -> str | None:
    return _(NOTICES[done]) if done in NOTICES else None


def _refused(request: Request, principal: Principal, refusal: DomainError) -> Response:
    return problem_page(request, principal, refusal.status, message=_refusal_message(refusal),
                        back=("/catalog/shops", _("Retour à mes boutiques")))


def _render(request: Request, template: str, principal: Principal, *, status_code: int = 200,
            **context) -> Response:
    return templates.TemplateResponse(request, template, {"principal": principal, **context},
                                      status_code=status_code)


def _see(location: str) -> Response:
    return RedirectResponse(location, status_code=303)
