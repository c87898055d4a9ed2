"""The authorization matrix (authorization.py for the JSON API, authorization_pages.py for the
forms), played cell by cell: each role asks each route for the object the row names, and is let
through or refused as the table says; a refused request changes nothing. A route of any service's
OpenAPI, or a form route, missing from the tables fails the suite."""

from __future__ import annotations

import re

import pytest
import pytest_asyncio

from services.host import EmbeddedHost
from tests.security.authorization import (
    ALLOWED,
    CALLS,
    CROSSED_CALLS,
    ROWS,
    Call,
    Row,
    call_of,
    upload,
)
from tests.security.authorization_pages import PAGE_CALLS, PAGE_ROWS, SIGN_IN, page_call_of
from tests.security.authorization_world import ROLES, World, built_world
from tests.support.waiting import eventually

PLACEHOLDER = re.compile(r"{(\w+)(?::\w+)?}")
CSRF_TOKEN = "matrice-des-droits-jeton-csrf-0123456789"
API, PAGE = "api", "page"


def _cases() -> list[tuple[str, Row, str]]:
    """Refusals first: they must find every object as the world made it, before the allowed
    cases change things."""
    every = [(API, row) for row in ROWS] + [(PAGE, row) for row in PAGE_ROWS]
    return ([(kind, row, role) for kind, row in every for role in ROLES
             if row.cells[role] != ALLOWED]
            + [(kind, row, role) for kind, row in every for role in ROLES
               if row.cells[role] == ALLOWED])


CASES = _cases()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory):
    async with built_world(tmp_path_factory.mktemp("matrix")) as world:
        await _quiet(world)
        yield world


async def _quiet(world: World) -> None:
    """Until the sagas the world started have settled: nothing moves but what a case does."""
    seen = [world.snapshot()]

    def settled() -> bool:
        seen.append(world.snapshot())
        return seen[-1] == seen[-2]

    await eventually(settled, timeout=30, interval=0.3, message="the world to settle")


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(("kind", "row", "role"), CASES,
                         ids=[f"{kind}: {row.name} as {role}" for kind, row, role in CASES])
async def test_the_matrix_cell(world: World, kind: str, row: Row, role: str):
    call = call_of(row) if kind == API else page_call_of(row)
    verdict = row.cells[role]
    objects = {name: world.ids[call.objects.get(name, name)]
               for name in PLACEHOLDER.findall(row.path)}
    if verdict == ALLOWED and call.fresh:
        objects[call.fresh] = await world.fresh(call.objects.get(call.fresh, call.fresh))
    path = PLACEHOLDER.sub(lambda found: objects[found[1]], row.path)
    asking = _api_request if kind == API else _page_request
    request = await asking(world, row, call, objects, role)
    before = world.snapshot() if verdict != ALLOWED and row.mutates else None

    answer = await world.call(row.method, path, world.person(role) if kind == API else None,
                              **request)

    shown = f"{role}: {row.method} {path} answered {answer.status_code} {answer.text[:300]}"
    if verdict == ALLOWED:
        assert answer.status_code in call.ok, f"should be let through; {shown}"
        return
    if verdict == SIGN_IN:
        assert answer.status_code == 303, f"should be sent to sign in; {shown}"
        assert answer.headers["location"].startswith("/accounts/login"), shown
    else:
        assert answer.status_code == int(verdict), f"should be refused with {verdict}; {shown}"
        if kind == API:
            assert answer.json()["error"]["message"], shown
    if before is not None:
        after = world.snapshot()
        changed = sorted(table for table in after if after[table] != before.get(table))
        assert not changed, f"refused, it still changed {changed}; {shown}"


async def _body(world: World, call: Call, objects: dict[str, str]) -> dict | None:
    if call.json is None:
        return None
    body = call.json(world, objects) if callable(call.json) else call.json
    return await body if hasattr(body, "__await__") else body


async def _api_request(world: World, row: Row, call: Call, objects: dict[str, str],
                       _: str) -> dict:
    request: dict = {}
    body = await _body(world, call, objects)
    if body is not None:
        request["json"] = body
    if call.files:
        request["files"] = upload(world, row)
    if call.headers:
        request["headers"] = call.headers(world)
    if call.params:
        request["params"] = call.params(world) if callable(call.params) else call.params
    return request


async def _page_request(world: World, row: Row, call: Call, objects: dict[str, str],
                        role: str) -> dict:
    """A browser's form post: the session cookie of the role (none for anonymous) and a CSRF
    token that matches, so the refusals seen are the pages' own."""
    cookies = {"adopte_csrf": CSRF_TOKEN}
    if (person := world.person(role)) is not None:
        cookies["adopte_session"] = person.token
    request: dict = {
        "headers": {"Cookie": "; ".join(f"{name}={value}" for name, value in cookies.items())},
    }
    if row.method == "GET":
        request["params"] = call.params(world) if callable(call.params) else call.params
        return request
    request["data"] = {**(await _body(world, call, objects) or {}), "csrf_token": CSRF_TOKEN}
    if call.files:
        request["files"] = upload(world, row)
    return request


@pytest.mark.asyncio(loop_scope="module")
async def test_the_tables_compared_show_a_change(world: World):
    """Else "a refused request changed nothing" would prove nothing."""
    before = world.snapshot()
    changed = await world.call("PATCH", f"/catalog/api/v1/products/{world.ids['other_product_id']}",
                               world.person("other_shop_owner"), json={"tags": ["témoin"]})
    assert changed.status_code == 200, changed.text
    after = world.snapshot()
    assert "catalog.products" in {table for table in after if after[table] != before[table]}


@pytest.mark.asyncio(loop_scope="module")
async def test_an_admin_named_staff_again_loses_the_admins_rights_in_every_service(world: World):
    """Each service keeps its own copy of who runs a hub, from HubStaffAssigned: a demotion must
    reach them all, not only the service that made it."""
    hub_id, shop_id = world.ids["hub_id"], world.ids["shop_id"]
    spare = world.person("spare")
    admins_only = [("GET", f"/pickup/api/v1/hubs/{hub_id}/report"),
                   ("GET", f"/catalog/api/v1/shops/{shop_id}/audit"),
                   ("GET", f"/orders/api/v1/shops/{shop_id}/sales"),
                   ("GET", f"/payments/api/v1/hubs/{hub_id}/terms")]
    platform = world.person("platform_admin")

    for role, status in (("admin", 200), ("staff", 403)):
        named = await world.call("POST", f"/pickup/api/v1/hubs/{hub_id}/staff", platform,
                                 json={"email": spare.email, "role": role})
        assert named.status_code in (200, 201), named.text
        for method, path in admins_only:
            await world.until(method, path, spare, status)


@pytest.mark.asyncio(loop_scope="module")
async def test_lists_show_the_callers_own_and_no_one_elses(world: World):
    """Allowed to list is not allowed to see everything: the resident's order is in no one
    else's list, and the other hub's desk finds none of this hub's pickups."""
    order_id = world.ids["order_id"]
    for role in ROLES[1:]:
        mine = await world.call("GET", "/orders/api/v1/orders", world.person(role), expect=200)
        listed = {order["id"] for order in mine.json()}
        assert (order_id in listed) == (role == "resident"), role
    other_hub = world.ids["other_hub_id"]
    desk = world.person("other_hub_staff")
    for path, params in ((f"/pickup/api/v1/hubs/{other_hub}/pickups/search", {"q": "resident"}),
                         (f"/pickup/api/v1/hubs/{other_hub}/pickups", {})):
        found = await world.call("GET", path, desk, expect=200, params=params)
        assert order_id not in found.text, path
    searched = await world.call("GET", f"/pickup/api/v1/hubs/{world.ids['hub_id']}/pickups/search",
                                world.person("hub_staff"), expect=200, params={"q": "resident"})
    assert searched.json(), "the search finds the hub's own pickups, so its emptiness elsewhere means"


def test_every_route_of_every_service_has_a_row(tmp_path):
    host = EmbeddedHost(tmp_path, seed_demo=False)
    routes = {f"{method.upper()} {path}"
              for _, app in host.apps for path, operations in app.openapi()["paths"].items()
              for method in operations}
    rows = {row.key for row in ROWS}
    assert len({row.name for row in ROWS}) == len(ROWS), "a row is there twice"
    assert sorted(routes - rows) == [], "API routes without a row in the authorization matrix"
    assert sorted(rows - routes) == [], "rows for API routes that do not exist"


def test_every_page_of_every_service_has_a_row(tmp_path):
    host = EmbeddedHost(tmp_path, seed_demo=False)
    forms = {f"{method} {prefix}{route.path}"
             for prefix, app in host.apps for router in app.state.runtime.definition.routers
             for route in router.routes if not route.include_in_schema
             for method in route.methods if method != "HEAD"}
    rows = {row.key for row in PAGE_ROWS}
    assert len({row.name for row in PAGE_ROWS}) == len(PAGE_ROWS), "a row is there twice"
    assert sorted(forms - rows) == [], "page routes without a row in the authorization matrix"
    assert sorted(rows - forms) == [], "rows for page routes that do not exist"


def test_every_way_of_asking_belongs_to_a_row():
    assert sorted((set(CALLS) | set(CROSSED_CALLS)) - {row.key for row in ROWS}) == []
    assert sorted(set(PAGE_CALLS) - {row.key for row in PAGE_ROWS}) == []
