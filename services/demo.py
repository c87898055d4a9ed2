"""Demo data for the embedded runtime, written through the services' own use cases so that it
flows through the same events as real data. Seeded once: a restart adds nothing."""

from __future__ import annotations

from services.pickup import use_cases as pickup
from services.pickup.domain import HubDetails

DEMO_HUB = HubDetails(name="La Fabrique du Centre", town="Lannion", address="12 rue des Halles")


async def seed_demo(host) -> None:
    runtime = host.runtime("pickup")
    if not await pickup.list_hubs(runtime):
        await pickup.open_hub(runtime, DEMO_HUB)
