"""The pickup code as a QR code: for the resident whose order it is and the hub's staff."""

from __future__ import annotations

from uuid import uuid4

from services.pickup.desk.domain import code_qr_svg
from tests.services.pickup.desk.support import cookie_of, residents_order


async def test_the_resident_and_the_hubs_staff_get_the_code_as_a_qr_code(pickup):
    hub_id = await pickup.open_hub()
    staff = await pickup.hub_member(hub_id)
    resident_id = await pickup.register("lou@example.org", "Lou Martin")
    resident = pickup.headers(user_id=resident_id, email="lou@example.org")
    order_id = await residents_order(pickup, hub_id, [uuid4()], resident_id)
    code = await pickup.code_of(order_id)
    url = f"/pickup/pickups/{order_id}/code.svg"

    own = await pickup.client.get(url, headers=resident)
    on_the_page = await pickup.client.get(url, headers=cookie_of(resident))
    at_the_desk = await pickup.client.get(url, headers=staff)

    assert own.status_code == 200, own.text
    assert own.headers["content-type"] == "image/svg+xml"
    assert own.headers["cache-control"].startswith("private")
    assert own.content.startswith(b"<svg") and f"Code de retrait {code}".encode() in own.content
    assert own.content == code_qr_svg(code)
    assert (on_the_page.status_code, at_the_desk.status_code) == (200, 200)


async def test_nobody_else_gets_the_code(pickup):
    hub_id, other_hub_id = await pickup.open_hub(), await pickup.open_hub()
    other_staff = await pickup.hub_member(other_hub_id)
    order_id = await residents_order(pickup, hub_id, [uuid4()], uuid4())
    url = f"/pickup/pickups/{order_id}/code.svg"

    stranger = await pickup.client.get(url, headers=pickup.headers())
    elsewhere = await pickup.client.get(url, headers=other_staff)
    anonymous = await pickup.client.get(url)
    unknown = await pickup.client.get(f"/pickup/pickups/{uuid4()}/code.svg",
                                      headers=pickup.headers())

    assert (stranger.status_code, elsewhere.status_code) == (404, 404)
    assert (anonymous.status_code, unknown.status_code) == (401, 404)
    assert b"<svg" not in stranger.content


def test_the_qr_code_reads_back_the_code_alone():
    svg = code_qr_svg("ACD347").decode()

    assert svg.startswith("<svg") and "<title>Code de retrait ACD347</title>" in svg
    assert code_qr_svg("ACD347") != code_qr_svg("ACD349")
