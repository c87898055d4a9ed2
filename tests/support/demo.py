"""The demo hub that `adopte dev` seeds, served on a free port, for the tests that walk its pages
with the demo accounts the README documents."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import httpx

from services.demo import PASSWORD, RESIDENT, SHOPS
from tests.support.processes import ServiceProcess
from tests.support.waiting import eventually


@contextlib.contextmanager
def running_demo_hub(folder: Path) -> Iterator[str]:
    """`adopte dev` with its demo data in ``folder``; yields its base URL."""
    process = ServiceProcess(["dev", "--data-dir", str(folder / "data")], env={},
                             log_path=folder / "hub.log").start()
    try:
        yield process.url
    finally:
        process.stop()


async def seeded_demo_hub_id(api: httpx.AsyncClient) -> str:
    """Waits until every demo product is listed and the resident can sign in; the hub's id."""
    hub_ids: list[str] = []

    async def demo_seeded() -> bool:
        hubs = (await api.get("/pickup/api/v1/hubs")).json()
        if not hubs:
            return False
        products = (await api.get("/catalog/api/v1/products",
                                  params={"hub_id": hubs[0]["id"]})).json()
        hub_ids.append(hubs[0]["id"])
        if len(products) != sum(len(shop[2]) for shop in SHOPS):
            return False
        # Only once the demo is nearly there: failed sign-ins, counted, would lock the account.
        signed_in = await api.post("/accounts/api/v1/token",
                                   json={"email": RESIDENT[0], "password": PASSWORD})
        return signed_in.status_code == 200

    await eventually(demo_seeded, timeout=60, message="the demo data")
    return hub_ids[-1]
