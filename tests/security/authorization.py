# The table is a grid, read across: one row per line, however wide.
# ruff: noqa: E501
"""Who may call what: every route of every service's JSON API × the nine roles, allowed or
denied, and how each is asked. test_authorization_matrix.py plays every cell against a hub built
by authorization_world.py, and fails on a route of an OpenAPI document missing from the table.

A cell is ``ok`` (allowed: the request does what it asks, answering one of ``Call.ok``), or the
status of the refusal: 401 for anyone not signed in; 403 where a service says "not yours"; 404
where it keeps the object's existence to those who may see it (an order, a payment). A request
without a token and without a JSON body (a file, or nothing) is what any site's form could send:
the CSRF check refuses it (403) before anything else. A refused request must change nothing
(the test compares every service's tables before and after).

The object column says what the path points at: "the" resident's, shop's or hub's object, so the
other resident, the other shop's owner (a shop of the same hub) and the other hub's staff (an
admin of the other hub, the most a hub gives) meet object-level checks, not role checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from tests.security.authorization_world import PASSWORD, PHOTO, ROLES, World

# method path | the object it addresses | anon resident other-resident owner other-owner
#                                          staff other-hub's-staff hub-admin platform-admin
MATRIX = """
POST   /accounts/api/v1/users                         | a new account              | ok  ok  ok  ok  ok  ok  ok  ok  ok
POST   /accounts/api/v1/token                         | a spare account            | ok  ok  ok  ok  ok  ok  ok  ok  ok
GET    /accounts/api/v1/me                            | the caller                 | 401 ok  ok  ok  ok  ok  ok  ok  ok
GET    /accounts/api/v1/me/preferences                | the caller's               | 401 ok  ok  ok  ok  ok  ok  ok  ok
PUT    /accounts/api/v1/me/preferences                | the caller's               | 401 ok  ok  ok  ok  ok  ok  ok  ok

GET    /catalog/api/v1/hubs                           | every hub                  | ok  ok  ok  ok  ok  ok  ok  ok  ok
POST   /catalog/api/v1/shops                          | a shop in the hub          | 401 403 403 403 403 403 403 ok  ok
GET    /catalog/api/v1/shops                          | every shop                 | ok  ok  ok  ok  ok  ok  ok  ok  ok
POST   /catalog/api/v1/shops/{shop_id}/products       | the shop                   | 401 403 403 ok  403 403 403 ok  ok
PATCH  /catalog/api/v1/products/{product_id}          | the shop's product         | 401 403 403 ok  403 403 403 ok  ok
POST   /catalog/api/v1/products/{product_id}/variants | the shop's product         | 401 403 403 ok  403 403 403 ok  ok
PATCH  /catalog/api/v1/variants/{variant_id}          | the shop's variant         | 401 403 403 ok  403 403 403 ok  ok
POST   /catalog/api/v1/variants/{variant_id}/stock-adjustments | the shop's variant | 401 403 403 ok  403 403 403 ok  ok
GET    /catalog/api/v1/variants/{variant_id}/stock-adjustments | the shop's variant | 401 403 403 ok  403 403 403 ok  ok
GET    /catalog/api/v1/products                       | the hub's products         | ok  ok  ok  ok  ok  ok  ok  ok  ok
POST   /catalog/api/v1/products/{product_id}/photos   | the shop's product         | 403 403 403 ok  403 403 403 ok  ok
GET    /catalog/api/v1/products/{product_id}/photos   | the shop's product         | ok  ok  ok  ok  ok  ok  ok  ok  ok
DELETE /catalog/api/v1/photos/{photo_id}              | a photo of the shop's      | 403 403 403 ok  403 403 403 ok  ok
PUT    /catalog/api/v1/shops/{shop_id}/photo          | the shop                   | 403 403 403 ok  403 403 403 ok  ok
DELETE /catalog/api/v1/shops/{shop_id}/photo          | the shop, with a photo     | 403 403 403 ok  403 403 403 ok  ok
GET    /catalog/api/v1/shops/{shop_id}/catalog.csv    | the shop                   | 401 403 403 ok  403 403 403 ok  ok
GET    /catalog/api/v1/shops/{shop_id}/catalog-template.csv | any shop            | ok  ok  ok  ok  ok  ok  ok  ok  ok
POST   /catalog/api/v1/shops/{shop_id}/imports        | the shop                   | 403 403 403 ok  403 403 403 ok  ok
GET    /catalog/api/v1/shops/{shop_id}                | the shop                   | ok  ok  ok  ok  ok  ok  ok  ok  ok
PATCH  /catalog/api/v1/shops/{shop_id}                | the shop                   | 401 403 403 ok  403 403 403 ok  ok
POST   /catalog/api/v1/shops/{shop_id}/status         | an active shop of the owner | 401 403 403 403 403 403 403 ok  ok
GET    /catalog/api/v1/shops/{shop_id}/audit          | the shop                   | 401 403 403 ok  403 403 403 ok  ok
POST   /catalog/api/v1/hubs/{hub_id}/invitations      | the hub                    | 401 403 403 403 403 403 403 ok  ok
POST   /catalog/api/v1/shops/{shop_id}/accept         | a draft shop for the owner | 403 403 403 ok  403 403 403 403 403

POST   /orders/api/v1/orders                          | a basket at the hub        | 401 ok  ok  ok  ok  ok  ok  ok  ok
GET    /orders/api/v1/orders                          | the caller's orders        | 401 ok  ok  ok  ok  ok  ok  ok  ok
GET    /orders/api/v1/orders/{order_id}               | the resident's order       | 401 ok  404 404 404 ok  404 ok  ok
GET    /orders/api/v1/shops/{shop_id}/parts           | the shop                   | 401 403 403 ok  403 403 403 ok  ok
POST   /orders/api/v1/orders/{order_id}/parts/{shop_id}/prepared | the shop's part | 403 403 403 ok  403 403 403 ok  ok
POST   /orders/api/v1/orders/{order_id}/parts/{shop_id}/cancel | the shop's part  | 401 403 403 ok  403 403 403 ok  ok
POST   /orders/api/v1/orders/{order_id}/parts/{shop_id}/lines/cancel | the shop's part | 401 403 403 ok  403 403 403 ok  ok
GET    /orders/api/v1/shops/{shop_id}/sales           | the shop                   | 401 403 403 ok  403 403 403 ok  ok

GET    /payments/api/v1/payments/{payment_id}         | the resident's payment     | 401 ok  404 404 404 404 404 404 ok
POST   /payments/api/v1/payments/{payment_id}/simulate | the resident's pending payment | 401 ok  404 404 404 404 404 404 ok
POST   /payments/api/v1/payments/{payment_id}/refunds | the order's payment        | 401 403 403 403 403 403 403 ok  ok
GET    /payments/api/v1/hubs/{hub_id}/terms           | the hub                    | 401 403 403 403 403 403 403 ok  ok
PUT    /payments/api/v1/hubs/{hub_id}/commission      | the hub                    | 401 403 403 403 403 403 403 ok  ok
PUT    /payments/api/v1/hubs/{hub_id}/no-show-refund  | the hub                    | 401 403 403 403 403 403 403 ok  ok
PUT    /payments/api/v1/shops/{shop_id}/commission    | the shop                   | 401 403 403 403 403 403 403 ok  ok
POST   /payments/api/v1/shops/{shop_id}/payout-account | the shop                  | 403 403 403 ok  403 403 403 ok  ok
GET    /payments/api/v1/shops/{shop_id}/payout-account | the shop                  | 401 403 403 ok  403 403 403 ok  ok
GET    /payments/api/v1/shops/{shop_id}/transfers     | the shop                   | 401 403 403 ok  403 403 403 ok  ok
POST   /payments/api/v1/stripe/webhook                | (signed by Stripe)         | ok  ok  ok  ok  ok  ok  ok  ok  ok
GET    /payments/api/v1/shops/{shop_id}/statements/{month} | the shop              | 401 403 403 ok  403 403 403 ok  ok
GET    /payments/api/v1/reports/commission            | the platform               | 401 403 403 403 403 403 403 403 ok
GET    /payments/api/v1/ledger/balances               | the platform               | 401 403 403 403 403 403 403 403 ok

GET    /pickup/api/v1/hubs                            | every hub                  | ok  ok  ok  ok  ok  ok  ok  ok  ok
POST   /pickup/api/v1/hubs                            | a new hub                  | 401 403 403 403 403 403 403 403 ok
GET    /pickup/api/v1/hubs/{hub_id}                   | the hub                    | ok  ok  ok  ok  ok  ok  ok  ok  ok
POST   /pickup/api/v1/hubs/{hub_id}/staff             | the hub                    | 401 403 403 403 403 403 403 ok  ok
POST   /pickup/api/v1/hubs/{hub_id}/slots             | the hub                    | 401 403 403 403 403 ok  403 ok  ok
GET    /pickup/api/v1/hubs/{hub_id}/slots             | the hub                    | ok  ok  ok  ok  ok  ok  ok  ok  ok
GET    /pickup/api/v1/hubs/{hub_id}/pickups           | the hub                    | 401 403 403 403 403 ok  403 ok  ok
GET    /pickup/api/v1/pickups/{order_id}              | the resident's order       | 401 403 403 403 403 ok  403 ok  ok
POST   /pickup/api/v1/pickups/{order_id}/drop-offs    | the resident's order       | 401 403 403 403 403 ok  403 ok  ok
POST   /pickup/api/v1/pickups/{order_id}/handover     | the resident's ready order | 401 403 403 403 403 ok  403 ok  ok
GET    /pickup/api/v1/hubs/{hub_id}/pickups/search    | the hub                    | 401 403 403 403 403 ok  403 ok  ok
GET    /pickup/api/v1/hubs/{hub_id}/no-show-policy    | the hub                    | 401 403 403 403 403 ok  403 ok  ok
PUT    /pickup/api/v1/hubs/{hub_id}/no-show-policy    | the hub                    | 401 403 403 403 403 403 403 ok  ok
POST   /pickup/api/v1/pickups/{order_id}/no-show      | the resident's order       | 403 403 403 403 403 ok  403 ok  ok
POST   /pickup/api/v1/hubs/{hub_id}/gatherings        | the hub                    | 401 403 403 403 403 403 403 ok  ok
GET    /pickup/api/v1/hubs/{hub_id}/gatherings        | the hub                    | ok  ok  ok  ok  ok  ok  ok  ok  ok
GET    /pickup/api/v1/hubs/{hub_id}/gatherings/{gathering_id} | the hub's gathering | ok  ok  ok  ok  ok  ok  ok  ok  ok
PATCH  /pickup/api/v1/hubs/{hub_id}/gatherings/{gathering_id} | the hub's gathering | 401 403 403 403 403 403 403 ok  ok
POST   /pickup/api/v1/hubs/{hub_id}/gatherings/{gathering_id}/cancellation | the hub's gathering | 401 403 403 403 403 403 403 ok  ok
POST   /pickup/api/v1/hubs/{hub_id}/gatherings/{gathering_id}/sign-ups | the hub's gathering | 403 ok  ok  ok  ok  ok  ok  ok  ok
GET    /pickup/api/v1/hubs/{hub_id}/gatherings/{gathering_id}/sign-ups | the hub's gathering | 401 403 403 403 403 ok  403 ok  ok
DELETE /pickup/api/v1/hubs/{hub_id}/gatherings/{gathering_id}/sign-ups/me | the caller's sign-up | 403 ok  ok  ok  ok  ok  ok  ok  ok
POST   /pickup/api/v1/hubs/{hub_id}/gatherings/{gathering_id}/attendance | the hub's gathering | 401 403 403 403 403 ok  403 ok  ok
GET    /pickup/api/v1/hubs/{hub_id}/opening-hours     | the hub                    | ok  ok  ok  ok  ok  ok  ok  ok  ok
PUT    /pickup/api/v1/hubs/{hub_id}/opening-hours     | the hub                    | 401 403 403 403 403 403 403 ok  ok
PUT    /pickup/api/v1/hubs/{hub_id}/slot-settings     | the hub                    | 401 403 403 403 403 403 403 ok  ok
POST   /pickup/api/v1/hubs/{hub_id}/opening-hours/exceptions | the hub             | 401 403 403 403 403 403 403 ok  ok
DELETE /pickup/api/v1/hubs/{hub_id}/opening-hours/exceptions/{exception_id} | the hub's exception | 403 403 403 403 403 403 403 ok  ok
POST   /pickup/api/v1/hubs/{hub_id}/slots/generate    | the hub                    | 403 403 403 403 403 403 403 ok  ok
POST   /pickup/api/v1/hubs/{hub_id}/slots/{slot_id}/close | the hub's slot         | 401 403 403 403 403 ok  403 ok  ok
GET    /pickup/api/v1/hubs/{hub_id}/report            | the hub                    | 401 403 403 403 403 403 403 ok  ok
GET    /pickup/api/v1/hubs/{hub_id}/membership-terms  | the hub                    | ok  ok  ok  ok  ok  ok  ok  ok  ok
PUT    /pickup/api/v1/hubs/{hub_id}/membership-terms  | the hub                    | 401 403 403 403 403 403 403 ok  ok
POST   /pickup/api/v1/hubs/{hub_id}/memberships       | the caller's membership    | 403 ok  ok  ok  ok  ok  ok  ok  ok
GET    /pickup/api/v1/hubs/{hub_id}/memberships/mine  | the caller's membership    | 401 ok  ok  ok  ok  ok  ok  ok  ok
DELETE /pickup/api/v1/hubs/{hub_id}/memberships/mine  | the caller's membership    | 403 ok  ok  ok  ok  ok  ok  ok  ok
GET    /pickup/api/v1/hubs/{hub_id}/members           | the hub                    | 401 403 403 403 403 403 403 ok  ok
GET    /pickup/api/v1/hubs/{hub_id}/members/check     | the hub's member           | 401 403 403 403 403 ok  403 ok  ok

GET    /notifications/api/v1/messages                 | every message              | 401 403 403 403 403 403 403 403 ok
"""

# The same routes, the object named under a parent that is not its own: the other hub's staff
# (an admin there) puts their own hub in the path, the other shop's owner their own shop.
CROSSED = """
PATCH  /pickup/api/v1/hubs/{hub_id}/gatherings/{gathering_id} | the hub's gathering, under the other hub | 401 403 403 403 403 403 404 403 404
POST   /pickup/api/v1/hubs/{hub_id}/gatherings/{gathering_id}/cancellation | the hub's gathering, under the other hub | 401 403 403 403 403 403 404 403 404
GET    /pickup/api/v1/hubs/{hub_id}/gatherings/{gathering_id}/sign-ups | the hub's gathering, under the other hub | 401 403 403 403 403 403 404 403 404
POST   /pickup/api/v1/hubs/{hub_id}/gatherings/{gathering_id}/attendance | the hub's gathering, under the other hub | 401 403 403 403 403 403 404 403 404
DELETE /pickup/api/v1/hubs/{hub_id}/opening-hours/exceptions/{exception_id} | the hub's exception, under the other hub | 403 403 403 403 403 403 404 403 404
POST   /pickup/api/v1/hubs/{hub_id}/slots/{slot_id}/close | the hub's slot, under the other hub | 401 403 403 403 403 403 404 403 404
GET    /pickup/api/v1/hubs/{hub_id}/members/check     | the hub's member, under the other hub | 401 403 403 403 403 403 404 403 404
POST   /orders/api/v1/orders/{order_id}/parts/{shop_id}/prepared | an order without the other shop, its part | 403 403 403 403 404 403 403 404 404
POST   /orders/api/v1/orders/{order_id}/parts/{shop_id}/cancel | an order without the other shop, its part | 401 403 403 403 404 403 403 404 404
"""

# Every service's operations (and the embedded host's): probes and metrics, for the machines
# that run the hub.
OPERATIONS = ("/healthz", "/readyz", "/metrics")

ALLOWED = "ok"
SUCCESS = frozenset({200, 201, 202, 204})

Body = dict | Callable[[World, dict[str, str]], dict | Awaitable[dict]] | None


@dataclass(frozen=True)
class Call:
    """How a row's request is made: the world's objects its path names (placeholder → the
    world's key), a body, and what an allowed call answers."""

    objects: dict[str, str] = field(default_factory=dict)
    json: Body = None
    files: bool = False
    headers: Callable[[World], dict[str, str]] | None = None
    params: dict[str, str] | Callable[[World], dict[str, str]] | None = None
    ok: frozenset[int] = SUCCESS
    # The placeholder whose object an allowed call uses up: made afresh for each allowed case.
    fresh: str | None = None


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    addresses: str
    cells: dict[str, str]

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def name(self) -> str:
        return f"{self.key} | {self.addresses}"

    @property
    def mutates(self) -> bool:
        return self.method != "GET"


def parse(matrix: str) -> list[Row]:
    return parse_cells(matrix)


def parse_cells(matrix: str, extra: frozenset[str] | set[str] = frozenset()) -> list[Row]:
    """The rows of a table: ``METHOD path | object | one cell per role``."""
    rows = []
    for line in matrix.strip().splitlines():
        if not line.strip():
            continue
        route, addresses, cells = (part.strip() for part in line.split("|"))
        method, path = route.split()
        verdicts = cells.split()
        assert len(verdicts) == len(ROLES), f"{route}: {len(verdicts)} cells"
        assert set(verdicts) <= {ALLOWED, "401", "403", "404", *extra}, route
        rows.append(Row(method, path, addresses, dict(zip(ROLES, verdicts, strict=True))))
    return rows


def _operations() -> list[Row]:
    return [Row("GET", path, "the service", dict.fromkeys(ROLES, ALLOWED)) for path in OPERATIONS]


ROWS: list[Row] = parse(MATRIX) + parse(CROSSED) + _operations()


# --- how each row is asked -------------------------------------------------------------------


def _days_ahead(days: int) -> str:
    return (date.today() + timedelta(days=days)).isoformat()


def _new_account(world: World, _: dict) -> dict:
    return {"email": f"{world.unique('inscrit')}@matrice.test", "password": "une-phrase-de-passe",
            "name": "Nouveau"}


def _spare_credentials(world: World, _: dict) -> dict:
    return {"email": world.people["spare"].email, "password": PASSWORD}


def _new_shop(world: World, _: dict) -> dict:
    return {"hub_id": world.ids["hub_id"], "name": world.unique("Échoppe"),
            "owner_email": world.people["spare"].email}


def _new_product(world: World, _: dict) -> dict:
    return {"name": world.unique("Brioche"), "price_cents": 300, "stock": 5}


def _new_variant(world: World, _: dict) -> dict:
    return {"label": world.unique("format"), "price_cents": 450, "stock": 3}


def _basket(world: World, _: dict) -> dict:
    return {"hub_id": world.ids["hub_id"], "slot_id": world.ids["slot_id"],
            "lines": [{"product_id": world.ids["product_id"], "variant_id": world.ids["variant_id"],
                       "quantity": 1}]}


def _idempotency_key(world: World) -> dict[str, str]:
    return {"Idempotency-Key": world.unique("cle")}


def _withdrawal(world: World, _: dict) -> dict:
    return {"lines": [{"variant_id": world.ids["variant_id"], "quantity": 1}],
            "reason": "Une unité manque"}


def _refund(world: World, _: dict) -> dict:
    return {"shop_id": world.ids["shop_id"], "amount_cents": 1, "reason": "Un pain manquait"}


def _new_hub(world: World, _: dict) -> dict:
    return {"name": world.unique("Tiers-lieu"), "town": "Perros", "address": "2 quai"}


def _staff(world: World, _: dict) -> dict:
    return {"email": world.people["spare"].email, "role": "staff"}


def _slot(world: World, _: dict) -> dict:
    starts = f"{_days_ahead(30 + world.counter % 50)}T10:00:00+00:00"
    world.counter += 1
    return {"starts_at": starts, "ends_at": starts.replace("T10", "T11"), "capacity": 3}


def _drop_off(world: World, _: dict) -> dict:
    return {"shop_id": world.ids["shop_id"], "shelf": "étagère B2"}


async def _handover(world: World, objects: dict[str, str]) -> dict:
    order = await world.order(f"/orders/api/v1/orders/{objects['order_id']}",
                              world.people["resident"], lambda o: o["pickup"] is not None)
    return {"code": order["pickup"]["code"]}


def _gathering(world: World, _: dict) -> dict:
    starts = f"{_days_ahead(10)}T18:00:00+02:00"
    return {"title": world.unique("Atelier"), "starts_at": starts,
            "ends_at": starts.replace("T18", "T20"), "capacity": 10}


def _exception(world: World, _: dict) -> dict:
    world.counter += 1
    return {"first_day": _days_ahead(100 + world.counter), "label": "Inventaire"}


def _attendance(world: World, _: dict) -> dict:
    return {"email": world.people["spare"].email}


WEEKLY = {"tuesday": [{"opens": "17:00", "closes": "19:00"}]}
SLOT_SETTINGS = {"slot_minutes": 60, "capacity": 10, "lead_time_hours": 0, "horizon_days": 7}
STATUS = "suspended"

CALLS: dict[str, Call] = {
    "POST /accounts/api/v1/users": Call(json=_new_account),
    "POST /accounts/api/v1/token": Call(json=_spare_credentials),
    "PUT /accounts/api/v1/me/preferences": Call(json={"locale": "fr"}),
    "POST /catalog/api/v1/shops": Call(json=_new_shop),
    "POST /catalog/api/v1/shops/{shop_id}/products": Call(json=_new_product),
    "PATCH /catalog/api/v1/products/{product_id}": Call(json={"description": "Au levain."}),
    "POST /catalog/api/v1/products/{product_id}/variants": Call(json=_new_variant),
    "PATCH /catalog/api/v1/variants/{variant_id}": Call(json={"price_cents": 500}),
    "POST /catalog/api/v1/variants/{variant_id}/stock-adjustments": Call(
        json={"delta": 1, "reason": "Livraison"}),
    "GET /catalog/api/v1/products": Call(params=lambda world: {"hub_id": world.ids["hub_id"]}),
    "POST /catalog/api/v1/products/{product_id}/photos": Call(files=True),
    "DELETE /catalog/api/v1/photos/{photo_id}": Call(fresh="photo_id"),
    "PUT /catalog/api/v1/shops/{shop_id}/photo": Call(files=True),
    "DELETE /catalog/api/v1/shops/{shop_id}/photo": Call(objects={"shop_id": "shop_photo_id"},
                                                        fresh="shop_id"),
    "POST /catalog/api/v1/shops/{shop_id}/imports": Call(files=True),
    "PATCH /catalog/api/v1/shops/{shop_id}": Call(json={"opening_hours": "mar–sam 8h–19h"}),
    "POST /catalog/api/v1/shops/{shop_id}/status": Call(objects={"shop_id": "status_shop_id"},
                                                       json={"status": STATUS}, fresh="shop_id"),
    "POST /catalog/api/v1/hubs/{hub_id}/invitations": Call(
        json=lambda world, _: {"shop_name": world.unique("Invitée"),
                               "email": world.people["spare"].email}),
    "POST /catalog/api/v1/shops/{shop_id}/accept": Call(objects={"shop_id": "invited_shop_id"},
                                                       fresh="shop_id"),
    "POST /orders/api/v1/orders": Call(json=_basket, headers=_idempotency_key),
    "POST /orders/api/v1/orders/{order_id}/parts/{shop_id}/cancel": Call(
        json={"reason": "Four en panne"}, fresh="order_id"),
    "POST /orders/api/v1/orders/{order_id}/parts/{shop_id}/lines/cancel": Call(json=_withdrawal),
    "POST /payments/api/v1/payments/{payment_id}/simulate": Call(
        objects={"payment_id": "pending_payment_id"}, json={"outcome": "succeeded"},
        fresh="payment_id"),
    "POST /payments/api/v1/payments/{payment_id}/refunds": Call(json=_refund,
                                                               headers=_idempotency_key),
    "PUT /payments/api/v1/hubs/{hub_id}/commission": Call(json={"bps": 800}),
    "PUT /payments/api/v1/hubs/{hub_id}/no-show-refund": Call(json={"bps": 5000}),
    "PUT /payments/api/v1/shops/{shop_id}/commission": Call(json={"bps": 900}),
    # Not a signed-in caller's: without a valid Stripe signature, nobody's request is applied.
    "POST /payments/api/v1/stripe/webhook": Call(json={"type": "payment_intent.succeeded"},
                                                 ok=frozenset({400, 404})),
    "GET /payments/api/v1/reports/commission": Call(params={"year": str(date.today().year)}),
    "POST /pickup/api/v1/hubs": Call(json=_new_hub),
    "POST /pickup/api/v1/hubs/{hub_id}/staff": Call(json=_staff),
    "POST /pickup/api/v1/hubs/{hub_id}/slots": Call(json=_slot),
    "GET /pickup/api/v1/pickups/{order_id}": Call(objects={"order_id": "drop_off_order_id"}),
    "POST /pickup/api/v1/pickups/{order_id}/drop-offs": Call(
        objects={"order_id": "drop_off_order_id"}, json=_drop_off),
    "POST /pickup/api/v1/pickups/{order_id}/handover": Call(
        objects={"order_id": "ready_order_id"}, json=_handover, fresh="order_id"),
    "GET /pickup/api/v1/hubs/{hub_id}/pickups/search": Call(params={"q": "resident"}),
    "PUT /pickup/api/v1/hubs/{hub_id}/no-show-policy": Call(
        json={"reminder_after_hours": 2, "hold_hours": 48}),
    # The slot is not over: allowed callers are told so (409) after the check that they may.
    "POST /pickup/api/v1/pickups/{order_id}/no-show": Call(ok=frozenset({409})),
    "POST /pickup/api/v1/hubs/{hub_id}/gatherings": Call(json=_gathering),
    "PATCH /pickup/api/v1/hubs/{hub_id}/gatherings/{gathering_id}": Call(
        json={"description": "Avec les commerçants du quartier."}),
    "POST /pickup/api/v1/hubs/{hub_id}/gatherings/{gathering_id}/cancellation": Call(
        objects={"gathering_id": "cancelled_gathering_id"}, json={"reason": "Pluie"}),
    "POST /pickup/api/v1/hubs/{hub_id}/gatherings/{gathering_id}/sign-ups": Call(
        objects={"gathering_id": "sign_up_gathering_id"}),
    "DELETE /pickup/api/v1/hubs/{hub_id}/gatherings/{gathering_id}/sign-ups/me": Call(
        objects={"gathering_id": "sign_up_gathering_id"}),
    # The gathering has not begun: attendance is refused (409) after the check.
    "POST /pickup/api/v1/hubs/{hub_id}/gatherings/{gathering_id}/attendance": Call(
        json=_attendance, ok=frozenset({409})),
    "PUT /pickup/api/v1/hubs/{hub_id}/opening-hours": Call(json=WEEKLY),
    "PUT /pickup/api/v1/hubs/{hub_id}/slot-settings": Call(json=SLOT_SETTINGS),
    "POST /pickup/api/v1/hubs/{hub_id}/opening-hours/exceptions": Call(json=_exception),
    "DELETE /pickup/api/v1/hubs/{hub_id}/opening-hours/exceptions/{exception_id}": Call(
        fresh="exception_id"),
    "POST /pickup/api/v1/hubs/{hub_id}/slots/{slot_id}/close": Call(
        json={"reason": "Fermeture exceptionnelle"}, fresh="slot_id"),
    "PUT /pickup/api/v1/hubs/{hub_id}/membership-terms": Call(
        json={"open": True, "fee_cents": 0, "benefits": "Le prix adhérent"}),
    # The resident is a member already (409); the others join.
    "POST /pickup/api/v1/hubs/{hub_id}/memberships": Call(ok=frozenset({201, 409})),
    # Those who never joined are told so.
    "GET /pickup/api/v1/hubs/{hub_id}/memberships/mine": Call(ok=frozenset({200, 404})),
    "DELETE /pickup/api/v1/hubs/{hub_id}/memberships/mine": Call(ok=frozenset({200, 409})),
    "GET /pickup/api/v1/hubs/{hub_id}/members/check": Call(
        params=lambda world: {"number": world.ids["member_number"]}),
}


UNDER_THE_OTHER_HUB = {"hub_id": "other_hub_id"}
WITHOUT_THE_OTHER_SHOP = {"order_id": "drop_off_order_id", "shop_id": "other_shop_id"}
CROSSED_CALLS: dict[str, Call] = {
    "PATCH /pickup/api/v1/hubs/{hub_id}/gatherings/{gathering_id}": Call(
        objects=UNDER_THE_OTHER_HUB, json={"description": "Détournée"}),
    "POST /pickup/api/v1/hubs/{hub_id}/gatherings/{gathering_id}/cancellation": Call(
        objects=UNDER_THE_OTHER_HUB, json={"reason": "Détournée"}),
    "GET /pickup/api/v1/hubs/{hub_id}/gatherings/{gathering_id}/sign-ups": Call(
        objects=UNDER_THE_OTHER_HUB),
    "POST /pickup/api/v1/hubs/{hub_id}/gatherings/{gathering_id}/attendance": Call(
        objects=UNDER_THE_OTHER_HUB, json=_attendance),
    "DELETE /pickup/api/v1/hubs/{hub_id}/opening-hours/exceptions/{exception_id}": Call(
        objects=UNDER_THE_OTHER_HUB),
    "POST /pickup/api/v1/hubs/{hub_id}/slots/{slot_id}/close": Call(
        objects=UNDER_THE_OTHER_HUB, json={"reason": "Détourné"}),
    "GET /pickup/api/v1/hubs/{hub_id}/members/check": Call(
        objects=UNDER_THE_OTHER_HUB, params=lambda world: {"number": world.ids["member_number"]}),
    "POST /orders/api/v1/orders/{order_id}/parts/{shop_id}/prepared": Call(
        objects=WITHOUT_THE_OTHER_SHOP),
    "POST /orders/api/v1/orders/{order_id}/parts/{shop_id}/cancel": Call(
        objects=WITHOUT_THE_OTHER_SHOP, json={"reason": "Détournée"}),
}
CROSSED_KEYS = frozenset(row.key for row in parse(CROSSED))


def call_of(row: Row) -> Call:
    if row.key in CROSSED_KEYS and "other" in row.addresses:
        return CROSSED_CALLS[row.key]
    return CALLS.get(row.key, Call())


def upload(world: World, row: Row) -> dict[str, Any]:
    """The multipart body of a row that sends a file: a photo, or the shop's catalogue as it
    exported it (a dry run of it changes nothing, and finds nothing wrong)."""
    if row.path.endswith(("/imports", "/import")):
        return {"file": ("catalogue.csv", world.catalogue_csv, "text/csv")}
    return {"file": ("photo.png", PHOTO, "image/png")}
