# The table is a grid, read across: one row per line, however wide.
# ruff: noqa: E501
"""The back office's forms in the authorization matrix: every page route that changes something
(POST) × the nine roles. The pages call the same use cases as the JSON API, so the cells mirror
the API's; what differs is the way in: a session cookie and a CSRF token, a sign-in redirect for
anyone not signed in (``in``), and a refusal shown as a page with its status (403, 404).

Columns as in authorization.py: anonymous resident other-resident owner other-owner staff
other-hub's-staff hub-admin platform-admin."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from tests.security.authorization import Call, Row, parse_cells
from tests.security.authorization_world import PASSWORD, World

SIGN_IN = "in"
REDIRECTED = frozenset({303})

PAGE_MATRIX = """
POST /accounts/login                                   | a spare account          | ok  ok  ok  ok  ok  ok  ok  ok  ok
POST /accounts/signup                                  | a new account            | ok  ok  ok  ok  ok  ok  ok  ok  ok
POST /accounts/logout                                  | the caller's session     | ok  ok  ok  ok  ok  ok  ok  ok  ok
POST /accounts/preferences                             | the caller's             | in  ok  ok  ok  ok  ok  ok  ok  ok

POST /catalog/shops/{shop_id}/products                 | the shop                 | in  403 403 ok  403 403 403 ok  ok
POST /catalog/shops/{shop_id}/products/{product_id}/variants | the shop's product | in  403 403 ok  403 403 403 ok  ok
POST /catalog/shops/{shop_id}/variants/{variant_id}/stock | the shop's variant    | in  403 403 ok  403 403 403 ok  ok
POST /catalog/shops/{shop_id}/variants/{variant_id}/member-price | the shop's variant | in  403 403 ok  403 403 403 ok  ok
POST /catalog/hubs/{hub_id}/shops                      | the hub                  | in  403 403 403 403 403 403 ok  ok
POST /catalog/shops/{shop_id}/products/{product_id}/photos | the shop's product   | in  403 403 ok  403 403 403 ok  ok
POST /catalog/shops/{shop_id}/photos/{photo_id}/delete | a photo of the shop's    | in  403 403 ok  403 403 403 ok  ok
POST /catalog/shops/{shop_id}/profile/photo            | the shop                 | in  403 403 ok  403 403 403 ok  ok
POST /catalog/shops/{shop_id}/profile/photo/delete     | the shop, with a photo   | in  403 403 ok  403 403 403 ok  ok
POST /catalog/shops/{shop_id}/import                   | the shop                 | in  403 403 ok  403 403 403 ok  ok
POST /catalog/shops/{shop_id}/profile                  | the shop                 | in  403 403 ok  403 403 403 ok  ok
POST /catalog/shops/{shop_id}/status                   | an active shop of the owner | in  403 403 403 403 403 403 ok  ok
POST /catalog/hubs/{hub_id}/invitations                | the hub                  | in  403 403 403 403 403 403 ok  ok
POST /catalog/shops/{shop_id}/accept                   | a draft shop for the owner | in  403 403 ok  403 403 403 403 403

POST /orders/hubs/{hub_id}/checkout                    | a basket at the hub      | in  ok  ok  ok  ok  ok  ok  ok  ok
POST /orders/shops/{shop_id}/parts/{order_id}/prepared | the shop's part          | in  403 403 ok  403 403 403 ok  ok
POST /orders/shops/{shop_id}/parts/{order_id}/cancel   | the shop's part          | in  403 403 ok  403 403 403 ok  ok
POST /orders/shops/{shop_id}/parts/{order_id}/lines/{variant_id}/withdraw | the shop's part | in  403 403 ok  403 403 403 ok  ok

POST /payments/pay/{payment_id}                        | the resident's pending payment | in  ok  404 404 404 404 404 404 ok
POST /payments/shops/{shop_id}/payouts                 | the shop                 | in  403 403 ok  403 403 403 ok  ok
POST /payments/shops/{shop_id}/payouts/onboarding      | the shop                 | in  403 403 ok  403 403 403 403 403
POST /payments/memberships/{membership_id}             | the resident's membership fee | in  ok  404 404 404 404 404 404 404

POST /pickup/desk/{hub_id}/pickups/{order_id}/drop-off | the resident's order     | in  403 403 403 403 ok  403 ok  ok
POST /pickup/desk/{hub_id}/pickups/{order_id}/handover | the resident's ready order | in  403 403 403 403 ok  403 ok  ok
POST /pickup/desk/{hub_id}/pickups/{order_id}/no-show  | the resident's order     | in  403 403 403 403 ok  403 ok  ok
POST /pickup/hubs/{hub_id}/absences                    | the hub                  | in  403 403 403 403 403 403 ok  ok
POST /pickup/hubs/{hub_id}/animations                  | the hub                  | in  403 403 403 403 403 403 ok  ok
POST /pickup/hubs/{hub_id}/animations/{gathering_id}/inscription | the hub's gathering | in  ok  ok  ok  ok  ok  ok  ok  ok
POST /pickup/hubs/{hub_id}/animations/{gathering_id}/desinscription | the caller's sign-up | in  ok  ok  ok  ok  ok  ok  ok  ok
POST /pickup/hubs/{hub_id}/animations/{gathering_id}/modifier | the hub's gathering | in  403 403 403 403 403 403 ok  ok
POST /pickup/hubs/{hub_id}/animations/{gathering_id}/annulation | the hub's gathering | in  403 403 403 403 403 403 ok  ok
POST /pickup/desk/{hub_id}/animations/{gathering_id}/presences | the hub's gathering | in  403 403 403 403 ok  403 ok  ok
POST /pickup/hubs/{hub_id}/horaires                    | the hub                  | in  403 403 403 403 403 403 ok  ok
POST /pickup/hubs/{hub_id}/horaires/exceptions         | the hub                  | in  403 403 403 403 403 403 ok  ok
POST /pickup/hubs/{hub_id}/horaires/exceptions/{exception_id}/supprimer | the hub's exception | in  403 403 403 403 403 403 ok  ok
POST /pickup/hubs/{hub_id}/horaires/creneaux           | the hub                  | in  403 403 403 403 403 403 ok  ok
POST /pickup/hubs/{hub_id}/horaires/creneaux/{slot_id}/fermer | the hub's slot    | in  403 403 403 403 ok  403 ok  ok
POST /pickup/hubs/{hub_id}/adhesion                    | the caller's membership  | in  ok  ok  ok  ok  ok  ok  ok  ok
POST /pickup/hubs/{hub_id}/adhesion/depart             | the caller's membership  | in  ok  ok  ok  ok  ok  ok  ok  ok
POST /pickup/hubs/{hub_id}/adhesion/conditions         | the hub                  | in  403 403 403 403 403 403 ok  ok
"""

# The pages that show things, for what they must not show: someone else's order, a shop's
# books, a hub's members.
PAGE_READS = """
GET  /accounts/login                                   | the sign-in form         | ok  ok  ok  ok  ok  ok  ok  ok  ok
GET  /accounts/signup                                  | the sign-up form         | ok  ok  ok  ok  ok  ok  ok  ok  ok
GET  /accounts/preferences                             | the caller's             | in  ok  ok  ok  ok  ok  ok  ok  ok
GET  /catalog/hubs/{hub_id}                            | the hub's storefront     | ok  ok  ok  ok  ok  ok  ok  ok  ok
GET  /catalog/hubs/{hub_id}/shops                      | the hub's shops, run     | in  403 403 403 403 403 403 ok  ok
GET  /catalog/media/{key:path}                         | a photo of the shop's    | ok  ok  ok  ok  ok  ok  ok  ok  ok
GET  /catalog/shops                                    | the caller's shops       | in  ok  ok  ok  ok  ok  ok  ok  ok
GET  /catalog/shops/{shop_id}                          | the shop's back office   | in  403 403 ok  403 403 403 ok  ok
GET  /catalog/shops/{shop_id}/import                   | the shop                 | in  403 403 ok  403 403 403 ok  ok
GET  /catalog/shops/{shop_id}/profile                  | the shop                 | in  403 403 ok  403 403 403 ok  ok
GET  /catalog/shops/{shop_id}/vitrine                  | the shop's window        | ok  ok  ok  ok  ok  ok  ok  ok  ok
GET  /orders/hubs                                      | every hub                | ok  ok  ok  ok  ok  ok  ok  ok  ok
GET  /orders/hubs/{hub_id}                             | the hub's basket         | ok  ok  ok  ok  ok  ok  ok  ok  ok
GET  /orders/mine                                      | the caller's orders      | in  ok  ok  ok  ok  ok  ok  ok  ok
GET  /orders/shops/{shop_id}                           | the shop's parts         | in  403 403 ok  403 403 403 ok  ok
GET  /orders/shops/{shop_id}/ventes                    | the shop's sales         | in  403 403 ok  403 403 403 ok  ok
GET  /orders/{order_id}                                | the resident's order     | in  ok  404 404 404 ok  404 ok  ok
GET  /payments/memberships/{membership_id}             | the resident's membership fee | in  ok  404 404 404 404 404 404 404
GET  /payments/pay/{payment_id}                        | the resident's pending payment | in  ok  404 404 404 404 404 404 ok
GET  /payments/reports/commission                      | the platform             | in  403 403 403 403 403 403 403 ok
GET  /payments/reports/commission.csv                  | the platform             | in  403 403 403 403 403 403 403 ok
GET  /payments/reports/dac7                            | the platform             | in  403 403 403 403 403 403 403 ok
GET  /payments/reports/dac7.csv                        | the platform             | in  403 403 403 403 403 403 403 ok
GET  /payments/shops/{shop_id}/payouts                 | the shop                 | in  403 403 ok  403 403 403 ok  ok
GET  /payments/shops/{shop_id}/payouts/onboarding      | the shop                 | in  403 403 ok  403 403 403 403 403
GET  /payments/shops/{shop_id}/statements              | (to this month's)        | ok  ok  ok  ok  ok  ok  ok  ok  ok
GET  /payments/shops/{shop_id}/statements/{month}      | the shop                 | in  403 403 ok  403 403 403 ok  ok
GET  /payments/shops/{shop_id}/statements/{month}.csv  | the shop                 | in  403 403 ok  403 403 403 ok  ok
GET  /pickup/desk                                      | the caller's desks       | in  ok  ok  ok  ok  ok  ok  ok  ok
GET  /pickup/desk/{hub_id}                             | the hub's desk           | in  403 403 403 403 ok  403 ok  ok
GET  /pickup/desk/{hub_id}/adherents                   | the hub's members        | in  403 403 403 403 ok  403 ok  ok
GET  /pickup/desk/{hub_id}/animations                  | the hub's gatherings     | in  403 403 403 403 ok  403 ok  ok
GET  /pickup/desk/{hub_id}/animations/{gathering_id}   | the hub's sign-up sheet  | in  403 403 403 403 ok  403 ok  ok
GET  /pickup/desk/{hub_id}/recherche                   | the hub's pickups        | in  403 403 403 403 ok  403 ok  ok
GET  /pickup/hubs/{hub_id}                             | the hub                  | ok  ok  ok  ok  ok  ok  ok  ok  ok
GET  /pickup/hubs/{hub_id}/absences                    | the hub's no-show policy | in  403 403 403 403 ok  403 ok  ok
GET  /pickup/hubs/{hub_id}/adherents                   | the hub's members        | in  403 403 403 403 403 403 ok  ok
GET  /pickup/hubs/{hub_id}/adherents.csv               | the hub's members        | in  403 403 403 403 403 403 ok  ok
GET  /pickup/hubs/{hub_id}/adhesion                    | the caller's card        | ok  ok  ok  ok  ok  ok  ok  ok  ok
GET  /pickup/hubs/{hub_id}/adhesion/conditions         | the hub's terms, edited  | in  403 403 403 403 403 403 ok  ok
GET  /pickup/hubs/{hub_id}/animations                  | the hub's calendar       | ok  ok  ok  ok  ok  ok  ok  ok  ok
GET  /pickup/hubs/{hub_id}/animations.ics              | the hub's calendar       | ok  ok  ok  ok  ok  ok  ok  ok  ok
GET  /pickup/hubs/{hub_id}/animations/nouvelle         | the hub                  | in  403 403 403 403 403 403 ok  ok
GET  /pickup/hubs/{hub_id}/animations/{gathering_id}   | the hub's gathering      | ok  ok  ok  ok  ok  ok  ok  ok  ok
GET  /pickup/hubs/{hub_id}/animations/{gathering_id}.ics | the hub's gathering    | ok  ok  ok  ok  ok  ok  ok  ok  ok
GET  /pickup/hubs/{hub_id}/animations/{gathering_id}/modifier | the hub's gathering | in  403 403 403 403 403 403 ok  ok
GET  /pickup/hubs/{hub_id}/horaires                    | the hub's hours, edited  | in  403 403 403 403 403 403 ok  ok
GET  /pickup/hubs/{hub_id}/rapport                     | the hub's report         | in  403 403 403 403 403 403 ok  ok
GET  /pickup/hubs/{hub_id}/rapport.csv                 | the hub's report         | in  403 403 403 403 403 403 ok  ok
GET  /pickup/pickups/{order_id}/code.svg               | the resident's pickup code | 401 ok  404 404 404 ok  404 ok  ok
"""

# The hub's objects named under the other hub in the path: its admin (the other hub's staff
# column) and the platform's find nothing there; this hub's people are not the other's. The
# cancellation's refusal shows the gathering's page, which is not found under that hub: 404 for
# everyone.
UNDER_THE_OTHER_HUB = "under the other hub"
CROSSED_PAGES = """
GET  /pickup/desk/{hub_id}/animations/{gathering_id}   | the hub's sign-up sheet, under the other hub | in  403 403 403 403 403 404 403 404
GET  /pickup/hubs/{hub_id}/animations/{gathering_id}/modifier | the hub's gathering, under the other hub | in  403 403 403 403 403 404 403 404
POST /pickup/hubs/{hub_id}/animations/{gathering_id}/modifier | the hub's gathering, under the other hub | in  403 403 403 403 403 404 403 404
POST /pickup/hubs/{hub_id}/animations/{gathering_id}/annulation | the hub's gathering, under the other hub | in  404 404 404 404 404 404 404 404
POST /pickup/desk/{hub_id}/animations/{gathering_id}/presences | the hub's gathering, under the other hub | in  403 403 403 403 403 404 403 404
POST /pickup/hubs/{hub_id}/horaires/exceptions/{exception_id}/supprimer | the hub's exception, under the other hub | in  403 403 403 403 403 404 403 404
POST /pickup/hubs/{hub_id}/horaires/creneaux/{slot_id}/fermer | the hub's slot, under the other hub | in  403 403 403 403 403 404 403 404
"""

PAGE_ROWS: list[Row] = [*parse_cells(PAGE_MATRIX, extra={SIGN_IN}),
                        *parse_cells(PAGE_READS, extra={SIGN_IN}),
                        *parse_cells(CROSSED_PAGES, extra={SIGN_IN})]


def _days_ahead(days: int) -> str:
    return (date.today() + timedelta(days=days)).isoformat()


def _spare_credentials(world: World, _: dict) -> dict:
    return {"email": world.people["spare"].email, "password": PASSWORD}


def _new_account(world: World, _: dict) -> dict:
    return {"email": f"{world.unique('page')}@matrice.test", "password": "une-phrase-de-passe",
            "name": "Nouvelle"}


def _product(world: World, _: dict) -> dict:
    return {"name": world.unique("Fougasse"), "price": "3,20", "stock": "4"}


def _variant(world: World, _: dict) -> dict:
    return {"label": world.unique("taille"), "price": "4,10", "stock": "2"}


def _shop(world: World, _: dict) -> dict:
    return {"name": world.unique("Comptoir"), "owner_email": world.people["spare"].email}


def _invitation(world: World, _: dict) -> dict:
    return {"shop_name": world.unique("Atelier"), "email": world.people["spare"].email}


def _basket(world: World, _: dict) -> dict:
    return {"slot_id": world.ids["slot_id"],
            f"qty-{world.ids['product_id']}.{world.ids['variant_id']}": "1",
            "form_token": world.unique("formulaire")}


async def _code(world: World, objects: dict[str, str]) -> dict:
    order = await world.order(f"/orders/api/v1/orders/{objects['order_id']}",
                              world.people["resident"], lambda o: o["pickup"] is not None)
    return {"code": order["pickup"]["code"]}


def _gathering(world: World, _: dict) -> dict:
    return {"title": world.unique("Veillée"), "date": _days_ahead(12), "debut": "18:00",
            "fin": "20:00", "places": "10"}


def _exception(world: World, _: dict) -> dict:
    world.counter += 1
    return {"premier_jour": _days_ahead(150 + world.counter), "libelle": "Travaux"}


HOURS = {"monday": "", "tuesday": "17h-19h", "wednesday": "", "thursday": "", "friday": "",
         "saturday": "10h-12h", "sunday": "", "slot_minutes": "60", "capacity": "10",
         "lead_time_hours": "0", "horizon_days": "7"}
PROFILE = {"name": "Le Fournil", "description": "Au levain.", "opening_hours": "mar–sam"}

PAGE_CALLS: dict[str, Call] = {
    "POST /accounts/login": Call(json=_spare_credentials, ok=REDIRECTED),
    "POST /accounts/signup": Call(json=_new_account, ok=REDIRECTED),
    "POST /accounts/logout": Call(ok=REDIRECTED),
    "POST /accounts/preferences": Call(json={"locale": "fr"}, ok=REDIRECTED),
    "POST /catalog/shops/{shop_id}/products": Call(json=_product, ok=REDIRECTED),
    "POST /catalog/shops/{shop_id}/products/{product_id}/variants": Call(json=_variant,
                                                                         ok=REDIRECTED),
    "POST /catalog/shops/{shop_id}/variants/{variant_id}/stock": Call(
        json={"stock": "10000", "reason": "Inventaire"}, ok=REDIRECTED),
    "POST /catalog/shops/{shop_id}/variants/{variant_id}/member-price": Call(
        json={"member_price": ""}, ok=REDIRECTED),
    "POST /catalog/hubs/{hub_id}/shops": Call(json=_shop, ok=REDIRECTED),
    "POST /catalog/shops/{shop_id}/products/{product_id}/photos": Call(files=True,
                                                                       ok=REDIRECTED),
    "POST /catalog/shops/{shop_id}/photos/{photo_id}/delete": Call(fresh="photo_id",
                                                                   ok=REDIRECTED),
    "POST /catalog/shops/{shop_id}/profile/photo": Call(files=True, ok=REDIRECTED),
    "POST /catalog/shops/{shop_id}/profile/photo/delete": Call(
        objects={"shop_id": "shop_photo_id"}, fresh="shop_id", ok=REDIRECTED),
    # A dry run: the report is the page (200).
    "POST /catalog/shops/{shop_id}/import": Call(files=True, ok=frozenset({200})),
    "POST /catalog/shops/{shop_id}/profile": Call(json=PROFILE, ok=REDIRECTED),
    "POST /catalog/shops/{shop_id}/status": Call(objects={"shop_id": "status_shop_id"},
                                                 json={"status": "suspended"}, fresh="shop_id",
                                                 ok=REDIRECTED),
    "POST /catalog/hubs/{hub_id}/invitations": Call(json=_invitation, ok=REDIRECTED),
    "POST /catalog/shops/{shop_id}/accept": Call(objects={"shop_id": "invited_shop_id"},
                                                 fresh="shop_id", ok=REDIRECTED),
    "POST /orders/hubs/{hub_id}/checkout": Call(json=_basket, ok=REDIRECTED),
    "POST /orders/shops/{shop_id}/parts/{order_id}/prepared": Call(ok=REDIRECTED),
    "POST /orders/shops/{shop_id}/parts/{order_id}/cancel": Call(
        json={"reason": "Four en panne"}, fresh="order_id", ok=REDIRECTED),
    "POST /orders/shops/{shop_id}/parts/{order_id}/lines/{variant_id}/withdraw": Call(
        json={"reason": "Une unité manque", "quantity": "1"}, ok=REDIRECTED),
    "POST /payments/pay/{payment_id}": Call(objects={"payment_id": "pending_payment_id"},
                                            json={"outcome": "succeeded"}, fresh="payment_id",
                                            ok=REDIRECTED),
    "POST /payments/shops/{shop_id}/payouts": Call(ok=REDIRECTED),
    "POST /payments/shops/{shop_id}/payouts/onboarding": Call(ok=REDIRECTED),
    "POST /payments/memberships/{membership_id}": Call(json={"outcome": "succeeded"},
                                                       ok=REDIRECTED),
    "POST /pickup/desk/{hub_id}/pickups/{order_id}/drop-off": Call(
        objects={"order_id": "drop_off_order_id"},
        json=lambda world, _: {"shop_id": world.ids["shop_id"], "shelf": "B3"}, ok=REDIRECTED),
    "POST /pickup/desk/{hub_id}/pickups/{order_id}/handover": Call(
        objects={"order_id": "ready_order_id"}, json=_code, fresh="order_id", ok=REDIRECTED),
    "POST /pickup/desk/{hub_id}/pickups/{order_id}/no-show": Call(ok=frozenset({409})),
    "POST /pickup/hubs/{hub_id}/absences": Call(
        json={"reminder_after_hours": "2", "hold_hours": "48"}, ok=REDIRECTED),
    "POST /pickup/hubs/{hub_id}/animations": Call(json=_gathering, ok=REDIRECTED),
    "POST /pickup/hubs/{hub_id}/animations/{gathering_id}/inscription": Call(
        objects={"gathering_id": "sign_up_gathering_id"}, ok=REDIRECTED),
    "POST /pickup/hubs/{hub_id}/animations/{gathering_id}/desinscription": Call(
        objects={"gathering_id": "sign_up_gathering_id"}, ok=REDIRECTED),
    "POST /pickup/hubs/{hub_id}/animations/{gathering_id}/modifier": Call(
        json=_gathering, ok=REDIRECTED),
    "POST /pickup/hubs/{hub_id}/animations/{gathering_id}/annulation": Call(
        objects={"gathering_id": "cancelled_gathering_id"}, json={"raison": "Orage"},
        ok=REDIRECTED),
    "POST /pickup/desk/{hub_id}/animations/{gathering_id}/presences": Call(
        json=lambda world, _: {"email": world.people["spare"].email}, ok=frozenset({409})),
    "POST /pickup/hubs/{hub_id}/horaires": Call(json=HOURS, ok=REDIRECTED),
    "POST /pickup/hubs/{hub_id}/horaires/exceptions": Call(json=_exception, ok=REDIRECTED),
    "POST /pickup/hubs/{hub_id}/horaires/exceptions/{exception_id}/supprimer": Call(
        fresh="exception_id", ok=REDIRECTED),
    "POST /pickup/hubs/{hub_id}/horaires/creneaux": Call(ok=REDIRECTED),
    "POST /pickup/hubs/{hub_id}/horaires/creneaux/{slot_id}/fermer": Call(fresh="slot_id",
                                                                         ok=REDIRECTED),
    # The resident is a member already: told so on the card's page (409).
    "POST /pickup/hubs/{hub_id}/adhesion": Call(ok=REDIRECTED | {409}),
    "POST /pickup/hubs/{hub_id}/adhesion/depart": Call(ok=REDIRECTED | {409}),
    "POST /pickup/hubs/{hub_id}/adhesion/conditions": Call(
        json={"ouverte": "on", "cotisation": "0", "avantages": "Le prix adhérent"},
        ok=REDIRECTED),
    # Signed in, the forms to sign in or up send the person on.
    "GET /accounts/login": Call(ok=frozenset({200, 303})),
    "GET /accounts/signup": Call(ok=frozenset({200, 303})),
    "GET /catalog/media/{key:path}": Call(objects={"key": "media_key"}),
    # Only a redirect to this month's statement, whose page checks who asks.
    "GET /payments/shops/{shop_id}/statements": Call(ok=REDIRECTED),
    "GET /orders/{order_id}": Call(objects={"order_id": "drop_off_order_id"}),
    "GET /payments/pay/{payment_id}": Call(objects={"payment_id": "pending_payment_id"}),
    "GET /pickup/desk/{hub_id}/recherche": Call(params={"q": "resident"}),
    "GET /pickup/pickups/{order_id}/code.svg": Call(objects={"order_id": "drop_off_order_id"}),
}


def page_call_of(row: Row) -> Call:
    default = Call(ok=frozenset({200})) if row.method == "GET" else Call()
    call = PAGE_CALLS.get(row.key, default)
    if UNDER_THE_OTHER_HUB in row.addresses:
        return replace(call, objects={**call.objects, "hub_id": "other_hub_id"}, fresh=None)
    return call
