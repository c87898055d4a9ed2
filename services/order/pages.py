"""The order service's pages, in French: the hubs, the basket and checkout of a hub, an order,
the resident's orders, and a shop's back office: its parts to prepare and its sales. Forms post
(or get) and redirect (303), no JavaScript."""

from __future__ import annotations

from datetime import date
from uuid import UUID, uuid4

from babel.dates import format_date
from babel.numbers import format_percent
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from libs.auth.tokens import Principal
from libs.auth.web import MaybeUser
from libs.kit.app import Runtime
from libs.kit.errors import Conflict, DomainError
from libs.kit.i18n import N_, babel_locale
from libs.kit.i18n import gettext as _
from libs.kit.months import Month, months_from
from libs.kit.pages import problem_page, sign_in_redirect, sign_in_url, templates_for
from services.order import use_cases
from services.order.domain import (
    MAX_QUANTITY,
    PARTS_AT_THE_SHOP,
    Basket,
    InvalidBasket,
    OrderStatus,
    PartStatus,
    article,
    membership_page,
    statement_url,
)
from services.order.use_cases import OrderView, utc_now

router = APIRouter(include_in_schema=False)
templates = templates_for(__file__)

ORDER_STATUS_LABELS = {
    "placed": N_("Reçue : stock et créneau en cours de vérification"),
    "awaiting_payment": N_("En attente de paiement"),
    "confirmed": N_("Payée : les commerçants préparent votre commande"),
    "ready": N_("Prête : à retirer au tiers-lieu"),
    "completed": N_("Retirée"),
    "rejected": N_("Refusée"),
    "cancelled": N_("Annulée"),
    "no_show": N_("Non retirée"),
}
PART_STATUS_LABELS = {
    "pending": N_("À préparer"),
    "prepared": N_("Préparée"),
    "dropped_off": N_("Déposée au tiers-lieu"),
    "handed_over": N_("Remise"),
    "cancelled": N_("Annulée"),
}
templates.env.filters["order_status"] = lambda status: _(ORDER_STATUS_LABELS.get(status, status))
templates.env.filters["part_status"] = lambda status: _(PART_STATUS_LABELS.get(status, status))
templates.env.filters["month_label"] = lambda month: format_date(
    date(month.year, month.month, 1), "LLLL y", locale=babel_locale())
templates.env.filters["percent"] = lambda share: format_percent(share, locale=babel_locale())
templates.env.globals["article"] = article
templates.env.globals["statement_url"] = statement_url

REFRESH_WHILE_WAITING_S = "5"
MAX_REASON_LENGTH = 500
PART_PREPARED_NOTICE = N_("La part est marquée préparée : déposez-la au tiers-lieu.")
PART_CANCELLED_NOTICE = N_("La part a été annulée ; le client sera remboursé de son montant.")
LINES_WITHDRAWN_NOTICE = N_("Le produit a été retiré de la commande ; le client sera remboursé "
                            "des unités retirées.")
SALES_MONTHS_SHOWN = 12
MONTHS_OFFERED = 24

# The API docs of the services of a hub, listed at the foot of the hubs page.
API_DOCS = (("accounts", "/accounts/docs"), ("catalog", "/catalog/docs"),
            ("order", "/orders/docs"), ("payment", "/payments/docs"), ("pickup", "/pickup/docs"))


@router.get("/mine")
async def my_orders(request: Request, runtime: Runtime, viewer: MaybeUser) -> Response:
    if viewer is None:
        return sign_in_redirect(request)
    orders = await use_cases.list_orders_of(runtime, viewer)
    return _render(request, "mine.html", viewer, orders=orders)


@router.get("/hubs")
async def hubs(request: Request, runtime: Runtime, viewer: MaybeUser) -> Response:
    return _render(request, "hubs.html", viewer, hubs=await use_cases.list_hubs(runtime),
                   api_docs=API_DOCS)


@router.get("/hubs/{hub_id}")
async def basket(hub_id: UUID, request: Request, runtime: Runtime, viewer: MaybeUser) -> Response:
    return await _basket_page(request, runtime, viewer, hub_id, form_token=uuid4().hex)


@router.post("/hubs/{hub_id}/checkout")
async def checkout(hub_id: UUID, request: Request, runtime: Runtime, viewer: MaybeUser) -> Response:
    if viewer is None:
        return sign_in_redirect(request, f"/orders/hubs/{hub_id}")
    form = await request.form()
    form_token = str(form.get("form_token", "")).strip() or uuid4().hex
    try:
        order = await use_cases.place_order(runtime, viewer, _basket_from(hub_id, form),
                                            form_token)
    except Conflict:
        return await _basket_page(
            request, runtime, viewer, hub_id, form_token=uuid4().hex, form=form, status_code=409,
            error=_("Ce formulaire a déjà servi pour une autre commande : vérifiez votre panier "
                    "et validez à nouveau."))
    except DomainError as exc:
        return await _basket_page(request, runtime, viewer, hub_id, form_token=form_token,
                                  form=form, status_code=exc.status,
                                  error=_("Commande impossible : %(why)s") % {"why": exc.message})
    return RedirectResponse(f"/orders/{order.id}", status_code=303)


@router.get("/shops/{shop_id}")
async def shop_parts(shop_id: UUID, request: Request, runtime: Runtime,
                     viewer: MaybeUser) -> Response:
    if viewer is None:
        return sign_in_redirect(request)
    notice = (PART_CANCELLED_NOTICE if "annulee" in request.query_params
              else LINES_WITHDRAWN_NOTICE if "retrait" in request.query_params
              else PART_PREPARED_NOTICE if "preparee" in request.query_params else None)
    return await _shop_page(request, runtime, viewer, shop_id, notice=notice and _(notice))


@router.get("/shops/{shop_id}/ventes")
async def shop_sales(shop_id: UUID, request: Request, runtime: Runtime, viewer: MaybeUser,
                     mois: str = "") -> Response:
    """One month of the shop's sales in full (``?mois=YYYY-MM``, this month by default), and the
    twelve months up to it."""
    if viewer is None:
        return sign_in_redirect(request)
    this_month = Month.of(utc_now())
    try:
        month = Month.parse(mois) if mois else this_month
        sales = await use_cases.shop_sales(runtime, viewer, shop_id,
                                           month.shifted(1 - SALES_MONTHS_SHOWN), month)
    except DomainError as exc:
        return _problem(request, viewer, exc)
    return _render(request, "sales.html", viewer, shop=sales.shop, for_shop=sales.for_shop,
                   month=month, chosen=sales.months[-1], history=sales.months[::-1],
                   this_month=this_month,
                   offered=months_from(this_month.shifted(1 - MONTHS_OFFERED), this_month,
                                       at_most=MONTHS_OFFERED)[::-1])


@router.post("/shops/{shop_id}/parts/{order_id}/prepared")
async def mark_part_prepared(shop_id: UUID, order_id: UUID, request: Request, runtime: Runtime,
                             viewer: MaybeUser) -> Response:
    if viewer is None:
        return sign_in_redirect(request, f"/orders/shops/{shop_id}")
    try:
        await use_cases.mark_part_prepared(runtime, viewer, order_id, shop_id)
    except DomainError as exc:
        return await _shop_page(request, runtime, viewer, shop_id, status_code=exc.status,
                                error=_("Impossible de marquer la part préparée : %(why)s")
                                % {"why": exc.message})
    return RedirectResponse(f"/orders/shops/{shop_id}?preparee=1", status_code=303)


@router.post("/shops/{shop_id}/parts/{order_id}/cancel")
async def cancel_part(shop_id: UUID, order_id: UUID, request: Request, runtime: Runtime,
                      viewer: MaybeUser) -> Response:
    if viewer is None:
        return sign_in_redirect(request, f"/orders/shops/{shop_id}")
    reason = " ".join(str((await request.form()).get("reason", "")).split())
    if not 0 < len(reason) <= MAX_REASON_LENGTH:
        return await _shop_page(request, runtime, viewer, shop_id, status_code=422,
                                error=_("Indiquez le motif de l'annulation (%(count)d caractères "
                                        "au plus).") % {"count": MAX_REASON_LENGTH})
    try:
        await use_cases.cancel_part(runtime, viewer, order_id, shop_id, reason)
    except DomainError as exc:
        return await _shop_page(request, runtime, viewer, shop_id, status_code=exc.status,
                                error=_("Annulation impossible : %(why)s") % {"why": exc.message})
    return RedirectResponse(f"/orders/shops/{shop_id}?annulee=1", status_code=303)


@router.post("/shops/{shop_id}/parts/{order_id}/lines/{variant_id}/withdraw")
async def withdraw_line(shop_id: UUID, order_id: UUID, variant_id: UUID, request: Request,
                        runtime: Runtime, viewer: MaybeUser) -> Response:
    """Units of one line withdrawn; the page's form token (with the line) makes a double submit
    withdraw once."""
    if viewer is None:
        return sign_in_redirect(request, f"/orders/shops/{shop_id}")
    form = await request.form()
    reason = " ".join(str(form.get("reason", "")).split())
    quantity = str(form.get("quantity", "")).strip()
    if not 0 < len(reason) <= MAX_REASON_LENGTH or not quantity.isdigit() or int(quantity) < 1:
        return await _shop_page(request, runtime, viewer, shop_id, status_code=422,
                                error=_("Indiquez combien d'unités retirer (1 au moins) et le "
                                        "motif (%(count)d caractères au plus).")
                                % {"count": MAX_REASON_LENGTH})
    form_token = str(form.get("form_token", "")).strip()[:64]
    try:
        view = await use_cases.withdraw_lines(
            runtime, viewer, order_id, shop_id, [(variant_id, int(quantity))], reason,
            f"page:{form_token}:{variant_id}" if form_token else None)
    except DomainError as exc:
        return await _shop_page(request, runtime, viewer, shop_id, status_code=exc.status,
                                error=_("Retrait impossible : %(why)s") % {"why": exc.message})
    done = "annulee" if view.part.status == PartStatus.CANCELLED else "retrait"
    return RedirectResponse(f"/orders/shops/{shop_id}?{done}=1", status_code=303)


@router.get("/{order_id}")
async def order_page(order_id: UUID, request: Request, runtime: Runtime,
                     viewer: MaybeUser) -> Response:
    if viewer is None:
        return sign_in_redirect(request)
    try:
        view = await use_cases.get_order(runtime, viewer, order_id)
    except DomainError as exc:
        return _problem(request, viewer, exc)
    headers = {"Refresh": REFRESH_WHILE_WAITING_S} if _saga_moving(view) else None
    return _render(request, "order.html", viewer, headers=headers, view=view,
                   order=view.order, is_resident=view.order.resident_id == viewer.user_id)


def _saga_moving(view: OrderView) -> bool:
    """The page changes on its own soon: the order waits for another service's answer."""
    order = view.order
    return (order.status == OrderStatus.PLACED
            or (order.status == OrderStatus.AWAITING_PAYMENT and order.payment_id is None)
            or (order.status == OrderStatus.CONFIRMED and order.pickup_code is None))


def _basket_from(hub_id: UUID, form: FormData) -> Basket:
    """The basket of the form's ``qty-<product>.<variant>`` fields (``qty-<product>`` for a
    product sold one way), those with a quantity."""
    lines = [_basket_line(name.removeprefix("qty-"), str(value).strip())
             for name, value in form.multi_items()
             if name.startswith("qty-") and str(value).strip() not in ("", "0")]
    if not lines:
        raise InvalidBasket(_("choisissez au moins un produit."))
    if not form.get("slot_id"):
        raise InvalidBasket(_("choisissez un créneau de retrait."))
    try:
        return Basket(hub_id=hub_id, slot_id=form.get("slot_id"), lines=lines)
    except ValidationError:
        raise InvalidBasket(_("vérifiez le créneau et les quantités (de 0 à %(count)d par "
                              "produit).") % {"count": MAX_QUANTITY}) from None


def _basket_line(field: str, quantity: str) -> dict:
    product_id, _, variant_id = field.partition(".")
    return {"product_id": product_id, "variant_id": variant_id or None, "quantity": quantity}


async def _basket_page(request: Request, runtime: Runtime, viewer: Principal | None,
                       hub_id: UUID, *, form_token: str, form: FormData | None = None,
                       status_code: int = 200, error: str | None = None) -> Response:
    try:
        offer = await use_cases.hub_offer(runtime, hub_id, viewer)
    except DomainError as exc:
        return _problem(request, viewer, exc)
    quantities = {name.removeprefix("qty-"): str(value) for name, value in form.multi_items()
                  if name.startswith("qty-")} if form else {}
    return _render(request, "basket.html", viewer, status_code=status_code, error=error,
                   offer=offer, form_token=form_token, quantities=quantities,
                   chosen_slot=str(form.get("slot_id", "")) if form else "",
                   login_url=sign_in_url(f"/orders/hubs/{hub_id}"),
                   membership_url=membership_page(hub_id))


async def _shop_page(request: Request, runtime: Runtime, viewer: Principal, shop_id: UUID, *,
                     status_code: int = 200, error: str | None = None,
                     notice: str | None = None) -> Response:
    try:
        shop_parts = await use_cases.parts_to_prepare(runtime, viewer, shop_id)
    except DomainError as exc:
        return _problem(request, viewer, exc)
    parts = shop_parts.parts
    to_prepare = [view for view in parts if view.part.status == PartStatus.PENDING
                  and view.order.status == OrderStatus.CONFIRMED]
    prepared = [view for view in parts if view.part.status == PartStatus.PREPARED]
    sorted_ids = {id(view) for view in to_prepare + prepared}
    return _render(request, "shop.html", viewer, status_code=status_code, error=error,
                   notice=notice, shop=shop_parts.shop, for_shop=shop_parts.for_shop,
                   parts=parts, to_prepare=to_prepare, prepared=prepared,
                   others=[view for view in parts if id(view) not in sorted_ids],
                   confirmed=OrderStatus.CONFIRMED, at_the_shop=PARTS_AT_THE_SHOP,
                   form_token=uuid4().hex)


def _render(request: Request, template: str, viewer: Principal | None, *,
            status_code: int = 200, headers: dict[str, str] | None = None,
            **context) -> Response:
    return templates.TemplateResponse(request, template, {"principal": viewer, **context},
                                      status_code=status_code, headers=headers)


def _problem(request: Request, viewer: Principal | None, error: DomainError) -> Response:
    return problem_page(request, viewer, error.status, detail=error.message)
