"""The catalogue's public pages, in French, for anyone: a hub's page (its shops, its latest
products, a search with its filters and pages) and a shop's window. Searching is a form sent by
GET, so it works without JavaScript and a search can be bookmarked or shared; a criterion that
makes no sense (an unknown category, say) is left out rather than refused. A hub's page, the most
read of all, is kept rendered until its hub changes (freshness.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from libs.auth.tokens import Principal
from libs.auth.web import MaybeUser
from libs.kit.app import Runtime
from libs.kit.errors import NotFound
from libs.kit.i18n import N_, current_locale
from libs.kit.i18n import gettext as _
from libs.kit.pages import problem_page
from services.catalog.domain import CATEGORIES
from services.catalog.pages import templates
from services.catalog.storefront import freshness, listings
from services.catalog.storefront.search import MAX_QUERY, Sort

router = APIRouter(include_in_schema=False)

SORTS = {
    Sort.RELEVANCE: N_("Pertinence"),
    Sort.NAME: N_("Nom"),
    Sort.PRICE_ASC: N_("Prix croissant"),
    Sort.PRICE_DESC: N_("Prix décroissant"),
    Sort.NEWEST: N_("Nouveautés"),
}
_ASKED = ("q", "category", "sort", "in_stock", "page")
# Pages of hubs kept rendered: each hub's page and its most asked searches, in all languages.
KEPT_HUB_PAGES = 256


@dataclass(frozen=True)
class HubPage:
    """A hub's page rendered: its content, the same for every visitor, and the whole page as
    those not signed in see it (no name, no form token in it)."""

    hub_name: str
    front: Markup
    anonymous: bytes


@router.get("/hubs/{hub_id}")
async def hub_page(request: Request, hub_id: UUID, principal: MaybeUser, runtime: Runtime
                   ) -> Response:
    try:
        page = await _hub_page(request, runtime, hub_id)
    except NotFound:
        return _not_found(request, principal)
    if principal is None:
        return HTMLResponse(page.anonymous)
    return _hub_layout(request, principal, page.hub_name, page.front)


async def _hub_page(request: Request, runtime: Runtime, hub_id: UUID) -> HubPage:
    """The page as kept at the hub's generation, else rendered now and kept."""
    kept = kept_pages(request.app)
    key = kept_page_key(hub_id, request.scope)
    async with runtime.database.read_sessions() as session:
        generation = await freshness.generation(session, hub_id)
        if (page := kept.get(key, generation)) is not None:
            return page
        asked = _asked(request)
        searched = listings.criteria_for(hub_id, **asked) if _searching(request) else None
        front = await listings.hub_front(runtime, session, hub_id, searched)
    content = Markup(templates.get_template("hub_front.html").render(
        front=front, asked=asked, categories=CATEGORIES, sorts=_sorts(),
        page_url=_page_url(request)))
    anonymous = _hub_layout(request, None, front.hub.name, content).body
    page = HubPage(front.hub.name, content, anonymous)
    kept.put(key, generation, page)
    return page


def _hub_layout(request: Request, principal: Principal | None, hub_name: str,
                front: Markup) -> Response:
    return templates.TemplateResponse(request, "hub.html", {
        "principal": principal, "hub_name": hub_name, "front": front,
    })


def kept_pages(app) -> freshness.KeptPages[HubPage]:
    """This app's hub pages (an app per catalog, whose hubs' generations are its own)."""
    state = app.state
    if getattr(state, "kept_hub_pages", None) is None:
        state.kept_hub_pages = freshness.KeptPages(KEPT_HUB_PAGES)
    return state.kept_hub_pages


def kept_page_key(hub_id: UUID, scope) -> tuple:
    """Beside the hub's rows, a hub's page depends on the language and on the address (the
    search, the links to its other pages and to this one in another language), on nothing
    else of the request."""
    return hub_id, current_locale(), scope["path"], scope["query_string"]


@router.get("/shops/{shop_id}/vitrine")
async def shop_window(request: Request, shop_id: UUID, principal: MaybeUser, runtime: Runtime
                      ) -> Response:
    asked = _asked(request)
    try:
        front = await listings.shop_front(runtime, shop_id, **asked)
    except NotFound:
        return _not_found(request, principal)
    return templates.TemplateResponse(request, "shop_public.html", {
        "principal": principal, "front": front, "asked": asked, "sorts": _sorts(),
        "page_url": _page_url(request),
    })


def _asked(request: Request) -> dict:
    """The search criteria of the page's address, those that make sense."""
    query = request.query_params
    asked: dict = {"q": query.get("q", "").strip()[:MAX_QUERY] or None}
    if query.get("category") in CATEGORIES:
        asked["category"] = query["category"]
    if query.get("sort") in tuple(Sort):
        asked["sort"] = Sort(query["sort"])
    if query.get("in_stock") == "true":
        asked["in_stock"] = True
    page = query.get("page", "")
    asked["page"] = int(page) if page.isdecimal() and 0 < int(page) < 10_000 else 1
    return asked


def _sorts() -> dict[Sort, str]:
    return {sort: _(label) for sort, label in SORTS.items()}


def _searching(request: Request) -> bool:
    return any(request.query_params.get(name) for name in _ASKED)


def _page_url(request: Request) -> Callable[[int], str]:
    """The address of another page of the same list."""
    kept = {name: value for name, value in request.query_params.items()
            if name in _ASKED and name != "page" and value}

    def page_url(number: int) -> str:
        return f"{request.url.path}?{urlencode({**kept, 'page': number})}"

    return page_url


def _not_found(request: Request, principal: Principal | None) -> Response:
    return problem_page(request, principal, 404,
                        message=_("Ce tiers-lieu ou ce commerce n'existe pas (ou plus)."))
