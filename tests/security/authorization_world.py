"""The world the authorization matrix is played in: an embedded hub in this process with two
hubs, two shops of the first hub, their owners, each hub's staff and admins, two residents, a
paid order, a membership, gatherings… Each object belongs to "the" resident, shop or hub, so a
neighbour, another shop's owner or another hub's staff is refused by the object-level checks
alone: their own objects exist beside it.

Objects a request uses up (an order handed over, a photo deleted) are made afresh for each case
that is allowed to use them up (``World.fresh``)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
from PIL import Image

from services.accounts import use_cases as accounts
from services.accounts.domain import Registration, granted_roles
from services.host import EmbeddedHost
from tests.support.waiting import eventually

ANONYMOUS = "anonymous"
RESIDENT = "resident"
OTHER_RESIDENT = "other_resident"
SHOP_OWNER = "shop_owner"
OTHER_SHOP_OWNER = "other_shop_owner"
HUB_STAFF = "hub_staff"
OTHER_HUB_STAFF = "other_hub_staff"
HUB_ADMIN = "hub_admin"
PLATFORM_ADMIN = "platform_admin"
ROLES = (ANONYMOUS, RESIDENT, OTHER_RESIDENT, SHOP_OWNER, OTHER_SHOP_OWNER, HUB_STAFF,
         OTHER_HUB_STAFF, HUB_ADMIN, PLATFORM_ADMIN)

PASSWORD = "matrice-des-droits-2026"
WAIT_S = 30


@dataclass(frozen=True)
class Person:
    email: str
    token: str
    user_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class World:
    host: EmbeddedHost
    http: httpx.AsyncClient
    people: dict[str, Person] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)
    counter: int = 0
    catalogue_csv: bytes = b""

    def person(self, role: str) -> Person | None:
        return self.people.get(role)

    def unique(self, stem: str) -> str:
        self.counter += 1
        return f"{stem}-{self.counter}"

    async def call(self, method: str, path: str, who: Person | None, *, expect: int | None = None,
                   **kwargs) -> httpx.Response:
        headers = {**kwargs.pop("headers", {}), **(who.headers if who else {})}
        answer = await self.http.request(method, path, headers=headers, **kwargs)
        # Each request says who asks: no cookie a page set may ride along with the next one.
        self.http.cookies.clear()
        if expect is not None and answer.status_code != expect:
            raise AssertionError(f"{method} {path} answered {answer.status_code}, not {expect}: "
                                 f"{answer.text[:500]}")
        return answer

    async def until(self, method: str, path: str, who: Person | None, expect: int,
                    **kwargs) -> dict:
        """Repeat while another service has yet to hear, by event, of what the request needs."""
        answers: list[httpx.Response] = []

        async def answered() -> bool:
            answers.append(await self.call(method, path, who, **kwargs))
            return answers[-1].status_code == expect

        try:
            await eventually(answered, timeout=WAIT_S, interval=0.05,
                             message=f"{method} {path} → {expect}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {answers[-1].status_code} {answers[-1].text[:500]}"
                                 ) from None
        is_json = "json" in answers[-1].headers.get("content-type", "")
        return answers[-1].json() if is_json else {}

    async def order(self, path: str, who: Person, shown: Callable[[dict], bool]) -> dict:
        found: list[dict] = []

        async def is_shown() -> bool:
            found.append(await self.until("GET", path, who, 200))
            return shown(found[-1])

        await eventually(is_shown, timeout=WAIT_S, interval=0.05, message=f"{path} to move on")
        return found[-1]

    async def fresh(self, kind: str) -> str:
        """A new object of ``kind`` (see ``FRESH``), for a case that uses one up."""
        return await FRESH[kind](self)

    def snapshot(self) -> dict[str, int]:
        """Every service's tables, each reduced to a hash of its rows: what a refused request
        must leave as it was. Consumers' bookkeeping (inbox, offsets) and the outbox's
        publication marks move on their own; the outbox's rows count, being the events."""
        state: dict[str, int] = {}
        for database in sorted(self.host.data_dir.glob("*.sqlite3")):
            if database.name == "bus.sqlite3":
                continue
            with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
                tables = [name for (name,) in db.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'")]
                for table in tables:
                    if table in VOLATILE_TABLES:
                        continue
                    if table == "outbox":
                        (count,) = db.execute("SELECT count(*) FROM outbox").fetchone()
                        state[f"{database.stem}.outbox"] = count
                        continue
                    rows = db.execute(f'SELECT * FROM "{table}"').fetchall()
                    state[f"{database.stem}.{table}"] = hash(frozenset(map(repr, rows)))
        return state


# Rows a service writes by itself, whoever asks: consumers' progress, migrations, sign-in
# throttling (a refusal may well count there).
VOLATILE_TABLES = frozenset({"inbox", "group_offsets", "alembic_version", "login_throttles",
                             "sqlite_sequence"})


def png_photo() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (190, 120, 60)).save(buffer, "PNG")
    return buffer.getvalue()


PHOTO = png_photo()


@contextlib.asynccontextmanager
async def built_world(folder: Path) -> AsyncIterator[World]:
    host = EmbeddedHost(folder / "data", seed_demo=False)
    async with host.root.router.lifespan_context(host.root):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=host),
                                     base_url="http://hub", timeout=WAIT_S) as http:
            world = World(host, http)
            await _populate(world)
            yield world


async def _populate(world: World) -> None:
    admin = await _platform_admin(world)
    world.people[PLATFORM_ADMIN] = admin
    people = await asyncio.gather(*(_sign_up(world, role) for role in ROLES[1:-1]))
    world.people.update(zip(ROLES[1:-1], people, strict=True))
    world.people["spare"] = await _sign_up(world, "spare")
    ids = world.ids
    ids["hub_id"] = await _hub(world, "La Fabrique", staff=HUB_STAFF, admin=HUB_ADMIN)
    ids["other_hub_id"] = await _hub(world, "Le Local", staff=None, admin=OTHER_HUB_STAFF)
    await world.until("PUT", f"/pickup/api/v1/hubs/{ids['hub_id']}/opening-hours",
                      world.people[HUB_ADMIN], 200,
                      json={"saturday": [{"opens": "10:00", "closes": "12:00"}]})
    ids["slot_id"] = await _slot(world, days=2)
    ids["shop_id"], ids["product_id"], ids["variant_id"] = await _shop(world, SHOP_OWNER, "Le Fournil")
    ids["other_shop_id"], ids["other_product_id"], _ = await _shop(world, OTHER_SHOP_OWNER,
                                                                   "La Fromagerie")
    await _payout_account(world, ids["shop_id"], world.people[SHOP_OWNER])
    await _membership(world)
    await _gatherings(world)
    ids["exception_id"] = await _exception(world)
    ids["order_id"] = await _paid_order(world, both_shops=True)
    order = await world.order(f"/orders/api/v1/orders/{ids['order_id']}", world.people[RESIDENT],
                              lambda o: o["payment"] is not None)
    ids["payment_id"] = order["payment"]["id"]
    ids["drop_off_order_id"] = await _paid_order(world)
    ids["pending_payment_id"] = await _pending_payment(world)
    ids["photo_id"] = await _photo(world)
    ids["shop_photo_id"] = await _shop_photo(world)
    ids["ready_order_id"] = await _ready_order(world)
    ids["invited_shop_id"] = await _invitation(world)
    ids["status_shop_id"] = await _spare_shop(world)
    ids["membership_id"] = await _membership_awaiting_its_fee(world)
    exported = await world.call("GET", f"/catalog/api/v1/shops/{ids['shop_id']}/catalog.csv",
                                world.people[SHOP_OWNER], expect=200)
    world.catalogue_csv = exported.content
    ids["month"] = datetime.now(UTC).strftime("%Y-%m")


async def _platform_admin(world: World) -> Person:
    email = "plateforme@matrice.test"
    await accounts.open_account(world.host.runtime("accounts").unit_of_work,
                                Registration(email=email, password=PASSWORD, name="Plateforme"),
                                granted_roles("platform_admin"))
    return await _signed_in(world, email)


async def _sign_up(world: World, role: str) -> Person:
    email = f"{role.replace('_', '-')}@matrice.test"
    await world.call("POST", "/accounts/api/v1/users", None, expect=201,
                     json={"email": email, "password": PASSWORD, "name": role})
    return await _signed_in(world, email)


async def _signed_in(world: World, email: str) -> Person:
    answer = await world.call("POST", "/accounts/api/v1/token", None, expect=200,
                              json={"email": email, "password": PASSWORD})
    token = answer.json()["access_token"]
    me = await world.call("GET", "/accounts/api/v1/me", None, expect=200,
                          headers={"Authorization": f"Bearer {token}"})
    return Person(email, token, me.json()["id"])


async def _hub(world: World, name: str, *, staff: str | None, admin: str) -> str:
    platform = world.people[PLATFORM_ADMIN]
    hub = await world.until("POST", "/pickup/api/v1/hubs", platform, 201,
                            json={"name": name, "town": "Lannion", "address": "1 rue des Halles"})
    for role, hub_role in ((staff, "staff"), (admin, "admin")):
        if role:
            await world.until("POST", f"/pickup/api/v1/hubs/{hub['id']}/staff", platform, 201,
                              json={"email": world.people[role].email, "role": hub_role})
    return hub["id"]


async def _slot(world: World, *, days: int, hours: int = 0) -> str:
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=days, hours=hours)
    slot = await world.until("POST", f"/pickup/api/v1/hubs/{world.ids['hub_id']}/slots",
                             world.people[PLATFORM_ADMIN], 201,
                             json={"starts_at": starts.isoformat(), "capacity": 500,
                                   "ends_at": (starts + timedelta(hours=1)).isoformat()})
    return slot["id"]


async def _shop(world: World, owner_role: str, name: str) -> tuple[str, str, str]:
    owner = world.people[owner_role]
    shop = await world.until("POST", "/catalog/api/v1/shops", world.people[HUB_ADMIN], 201,
                             json={"hub_id": world.ids["hub_id"], "name": name,
                                   "owner_email": owner.email})
    product = await world.until("POST", f"/catalog/api/v1/shops/{shop['id']}/products", owner, 201,
                                json={"name": f"Produit de {name}", "price_cents": 500,
                                      "stock": 10_000})
    return shop["id"], product["id"], product["variants"][0]["id"]


async def _spare_shop(world: World) -> str:
    """A shop of the shop owner that a case may suspend."""
    shop = await world.until("POST", "/catalog/api/v1/shops", world.people[PLATFORM_ADMIN], 201,
                             json={"hub_id": world.ids["hub_id"], "name": world.unique("Boutique"),
                                   "owner_email": world.people[SHOP_OWNER].email})
    return shop["id"]


async def _payout_account(world: World, shop_id: str, owner: Person) -> None:
    await world.until("POST", f"/payments/api/v1/shops/{shop_id}/payout-account", owner, 200)


async def _joined(world: World, hub_key: str, admin: str, fee_cents: int) -> dict:
    """The resident's membership of the hub at ``world.ids[hub_key]``, once ``admin`` opened it."""
    hub_id = world.ids[hub_key]
    await world.until("PUT", f"/pickup/api/v1/hubs/{hub_id}/membership-terms", world.people[admin],
                      200, json={"open": True, "fee_cents": fee_cents, "benefits": "Le prix adhérent"})
    return await world.until("POST", f"/pickup/api/v1/hubs/{hub_id}/memberships",
                             world.people[RESIDENT], 201)


async def _membership(world: World) -> None:
    world.ids["member_number"] = (await _joined(world, "hub_id", HUB_ADMIN, 0))["number"]


async def _membership_awaiting_its_fee(world: World) -> str:
    """The resident joins the other hub, whose membership has a fee: it awaits their payment."""
    joined = await _joined(world, "other_hub_id", OTHER_HUB_STAFF, 500)
    await world.until("GET", f"/payments/memberships/{joined['id']}", world.people[RESIDENT], 200)
    return joined["id"]


def _gathering_body(world: World, *, days: int = 3) -> dict:
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=days)
    return {"title": world.unique("Dégustation"), "capacity": 50,
            "starts_at": starts.isoformat(), "ends_at": (starts + timedelta(hours=2)).isoformat()}


async def _gathering(world: World) -> str:
    gathering = await world.until("POST", f"/pickup/api/v1/hubs/{world.ids['hub_id']}/gatherings",
                                  world.people[HUB_ADMIN], 201, json=_gathering_body(world))
    return gathering["id"]


async def _gatherings(world: World) -> None:
    world.ids["gathering_id"] = await _gathering(world)
    await world.until("POST", f"/pickup/api/v1/hubs/{world.ids['hub_id']}/gatherings/"
                      f"{world.ids['gathering_id']}/sign-ups", world.people[RESIDENT], 201)
    world.ids["cancelled_gathering_id"] = await _gathering(world)
    world.ids["sign_up_gathering_id"] = await _gathering(world)


async def _exception(world: World) -> str:
    world.counter += 1
    day = date.today() + timedelta(days=200 + world.counter)
    exception = await world.until(
        "POST", f"/pickup/api/v1/hubs/{world.ids['hub_id']}/opening-hours/exceptions",
        world.people[HUB_ADMIN], 201, json={"first_day": day.isoformat(), "label": "Fermé"})
    return exception["id"]


async def _placed_order(world: World, *, both_shops: bool = False) -> str:
    # Enough units for every case allowed to withdraw one.
    lines = [{"product_id": world.ids["product_id"], "variant_id": world.ids["variant_id"],
              "quantity": 10}]
    if both_shops:
        lines.append({"product_id": world.ids["other_product_id"], "quantity": 1})
    placed = await world.until("POST", "/orders/api/v1/orders", world.people[RESIDENT], 202,
                               headers={"Idempotency-Key": str(uuid.uuid4())},
                               json={"hub_id": world.ids["hub_id"], "slot_id": world.ids["slot_id"],
                                     "lines": lines})
    return placed["id"]


async def _awaiting_payment(world: World, order_id: str) -> str:
    order = await world.order(f"/orders/api/v1/orders/{order_id}", world.people[RESIDENT],
                              lambda o: o["payment"] is not None)
    return order["payment"]["id"]


async def _pending_payment(world: World) -> str:
    return await _awaiting_payment(world, await _placed_order(world))


async def _paid_order(world: World, *, both_shops: bool = False) -> str:
    """Paid, confirmed, its pickup scheduled: the shops may prepare it, the hub receive it."""
    order_id = await _placed_order(world, both_shops=both_shops)
    payment_id = await _awaiting_payment(world, order_id)
    await world.until("POST", f"/payments/api/v1/payments/{payment_id}/simulate",
                      world.people[RESIDENT], 200, json={"outcome": "succeeded"})
    await world.order(f"/orders/api/v1/orders/{order_id}", world.people[RESIDENT],
                      lambda o: o["status"] == "confirmed" and o["pickup"] is not None)
    await world.until("GET", f"/pickup/api/v1/pickups/{order_id}", world.people[HUB_STAFF], 200)
    return order_id


async def _ready_order(world: World) -> str:
    order_id = await _paid_order(world)
    await world.until("POST", f"/pickup/api/v1/pickups/{order_id}/drop-offs",
                      world.people[HUB_STAFF], 200, json={"shop_id": world.ids["shop_id"]})
    await world.order(f"/orders/api/v1/orders/{order_id}", world.people[RESIDENT],
                      lambda o: o["status"] == "ready")
    return order_id


async def _photo(world: World) -> str:
    photo = await world.until("POST", f"/catalog/api/v1/products/{world.ids['product_id']}/photos",
                              world.people[SHOP_OWNER], 201,
                              files={"file": ("pain.png", PHOTO, "image/png")})
    world.ids.setdefault("media_key", photo["url"].removeprefix("/catalog/media/"))
    return photo["id"]


async def _shop_photo(world: World) -> str:
    shop_id = world.ids["shop_id"]
    await world.until("PUT", f"/catalog/api/v1/shops/{shop_id}/photo", world.people[SHOP_OWNER],
                      200, files={"file": ("vitrine.png", PHOTO, "image/png")})
    return shop_id


async def _invitation(world: World) -> str:
    """A draft shop opened for the shop owner, waiting for them to accept it."""
    invited = await world.until("POST", f"/catalog/api/v1/hubs/{world.ids['hub_id']}/invitations",
                                world.people[HUB_ADMIN], 201,
                                json={"shop_name": world.unique("Invitée"),
                                      "email": world.people[SHOP_OWNER].email})
    return invited["shop_id"]


async def _fresh_slot(world: World) -> str:
    world.counter += 1
    return await _slot(world, days=4, hours=world.counter)


FRESH: dict[str, Callable[[World], Awaitable[str]]] = {
    "order_id": _paid_order,
    "ready_order_id": _ready_order,
    "pending_payment_id": _pending_payment,
    "photo_id": _photo,
    "shop_photo_id": _shop_photo,
    "exception_id": _exception,
    "slot_id": _fresh_slot,
    "status_shop_id": _spare_shop,
    "invited_shop_id": _invitation,
}
