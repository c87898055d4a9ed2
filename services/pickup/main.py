"""The pickup service's app: ``adopte serve pickup``, or mounted in the embedded runtime."""

from __future__ import annotations

from fastapi import FastAPI

from libs.kit.app import create_service_app
from libs.messaging.port import EventBus
from services.pickup import bootstrap


def create_app(settings: bootstrap.PickupSettings | None = None, bus: EventBus | None = None
               ) -> FastAPI:
    return create_service_app(lambda: bootstrap.build(settings, bus))
